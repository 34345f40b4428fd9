use crate::classify;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use bridge_domain::PortError;
use bridge_domain::ports::{MessageQueue, OutboundMessage};

/// SQS queues, addressed by queue URL.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
}

impl SqsQueue {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(queue)
            .message_body(&message.body);
        if message.delay_seconds > 0 {
            request = request.delay_seconds(message.delay_seconds.min(900) as i32);
        }
        for (name, value) in &message.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::permanent("sqs.send", e.to_string()))?;
            request = request.message_attributes(name, attribute);
        }
        let output = request.send().await.map_err(|e| classify("sqs.send", e))?;
        Ok(output.message_id.unwrap_or_default())
    }

    async fn delay(
        &self,
        queue: &str,
        receipt_handle: &str,
        seconds: i32,
    ) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(queue)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| classify("sqs.delay", e))?;
        Ok(())
    }
}

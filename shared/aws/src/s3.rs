use crate::classify;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bridge_domain::PortError;
use bridge_domain::ports::ObjectStore;

/// One S3 bucket as an object store.
#[derive(Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// An object's bytes, `None` if there is no such key.
pub(crate) async fn get_object(
    client: &Client,
    bucket: &str,
    key: &str,
    operation: &'static str,
) -> Result<Option<Vec<u8>>, PortError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => {
            let bytes = output.body.collect().await.map_err(|e| {
                PortError::retryable(operation, "reading the object body failed").with_source(e)
            })?;
            Ok(Some(bytes.into_bytes().to_vec()))
        }
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(err) => Err(classify(operation, err)),
    }
}

pub(crate) async fn put_object(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    operation: &'static str,
) -> Result<(), PortError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| classify(operation, e))?;
    Ok(())
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        put_object(
            &self.client,
            &self.bucket,
            key,
            body,
            content_type,
            "s3.put",
        )
        .await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        // A claim check whose object is gone will not come back: permanent.
        get_object(&self.client, &self.bucket, key, "s3.get")
            .await?
            .ok_or_else(|| PortError::permanent("s3.get", format!("no object {key}")))
    }
}

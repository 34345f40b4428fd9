//! The queues an SQS consumer reads, from its configuration: where each one's failures go
//! and which events belong on it. One definition for every consumer.

use crate::batch::BatchFailed;
use crate::{Classified, Config, ConfigError};
use aws_lambda_events::event::sqs::SqsEvent;
use bridge_domain::{ErrorClass, Route};
use std::collections::HashMap;

/// Environment variables naming one consumed queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueVariables {
    pub arn: &'static str,
    /// The queue's URL, for consumers that change a message's visibility (backoff).
    pub url: Option<&'static str>,
    pub dead_letter_queue: &'static str,
    pub route: Route,
}

/// A queue a consumer reads.
#[derive(Debug, Clone)]
pub struct ConsumedQueue {
    pub url: Option<String>,
    pub dead_letter_queue: String,
    /// The route whose events belong on this queue.
    pub route: Route,
}

/// Consumed queues by ARN.
#[derive(Debug, Clone, Default)]
pub struct ConsumedQueues(HashMap<String, ConsumedQueue>);

impl ConsumedQueues {
    pub fn from_config(config: &Config, variables: &[QueueVariables]) -> Result<Self, ConfigError> {
        variables
            .iter()
            .map(|v| {
                let queue = ConsumedQueue {
                    url: v.url.map(|name| config.required(name)).transpose()?,
                    dead_letter_queue: config.required(v.dead_letter_queue)?,
                    route: v.route,
                };
                Ok((config.required(v.arn)?, queue))
            })
            .collect::<Result<_, ConfigError>>()
            .map(Self)
    }

    /// The consumed queue that carries `route`.
    pub fn of_route(&self, route: Route) -> Option<&ConsumedQueue> {
        self.0.values().find(|queue| queue.route == route)
    }

    /// The queue a batch came from (Lambda never mixes queues in one batch): `Ok(None)`
    /// for an empty batch, an error for a queue this consumer is not configured for.
    pub fn of_batch(&self, event: &SqsEvent) -> Result<Option<&ConsumedQueue>, ConsumeError> {
        let Some(first) = event.records.first() else {
            return Ok(None);
        };
        let arn = first.event_source_arn.clone().unwrap_or_default();
        self.0
            .get(&arn)
            .map(Some)
            .ok_or(ConsumeError::UnknownSourceQueue(arn))
    }
}

/// Why a consumer could not settle a batch of its queues.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("messages from {0} arrived, but no dead-letter queue is configured for that queue")]
    UnknownSourceQueue(String),
    #[error(transparent)]
    BatchFailed(#[from] BatchFailed),
}

impl Classified for ConsumeError {
    fn class(&self) -> ErrorClass {
        match self {
            // A wiring mistake: the messages would fail the same way again.
            ConsumeError::UnknownSourceQueue(_) => ErrorClass::Permanent,
            ConsumeError::BatchFailed(_) => ErrorClass::Retryable,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            ConsumeError::UnknownSourceQueue(_) => "UnknownSourceQueue",
            ConsumeError::BatchFailed(_) => "BatchFailed",
        }
    }
}

//! What every function binary shares: structured JSON logs, EMF metrics, the SQS
//! partial-batch driver and configuration lookup. Knows Lambda event shapes; knows no
//! business rule.

pub mod batch;
pub mod config;
pub mod envelope;
pub mod logging;
pub mod metrics;
pub mod prefetch;
pub mod queues;
pub mod s3_events;
pub mod scratch;

pub use batch::{Backoff, BatchSettings, MessageError, MessageOutcome, process_batch};
pub use config::{Config, ConfigError};
pub use metrics::Metrics;
pub use prefetch::Prefetch;
pub use queues::{ConsumedQueue, ConsumedQueues, QueueVariables};

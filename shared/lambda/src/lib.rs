//! What every function binary shares: the function contract (`function`: init check,
//! clients once, handlers, one error mapping), structured JSON logs, EMF metrics, the SQS
//! partial-batch driver and configuration lookup. Knows Lambda event shapes; knows no
//! business rule.

pub mod batch;
pub mod config;
pub mod envelope;
pub mod function;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod prefetch;
pub mod queues;
pub mod refresh;
pub mod s3_events;
pub mod scratch;

pub use batch::{Backoff, BatchSettings, MessageError, MessageOutcome, process_batch};
pub use config::{Config, ConfigError};
pub use function::{Classified, Failure, Function, Handler, InitError, Registration};
pub use metrics::Metrics;
pub use prefetch::Prefetch;
pub use queues::{ConsumeError, ConsumedQueue, ConsumedQueues, QueueVariables};
pub use refresh::Refreshing;

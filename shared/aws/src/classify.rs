use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use bridge_domain::PortError;

/// Error codes that mean "try again later" across the SDKs we use.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestThrottled",
    "KMSThrottlingException",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Classifies an SDK error by its kind and code.
pub fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            RETRYABLE_CODES.contains(&code)
        }
        SdkError::ConstructionFailure(_) => false,
        _ => true,
    };
    let message = match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("ServiceError"),
            service.message().unwrap_or("no message")
        ),
        None => err.to_string(),
    };
    let port_error = if retryable {
        PortError::retryable(operation, message)
    } else {
        PortError::permanent(operation, message)
    };
    port_error.with_source(err)
}

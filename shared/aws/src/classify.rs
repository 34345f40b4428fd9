use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use bridge_domain::PortError;

/// Error codes that mean "try again later" across the SDKs we use.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalError",
    "InternalServiceError",
    "ServiceUnavailable",
    "RequestTimeout",
    "SlowDown",
    "RequestThrottled",
    "KMSThrottlingException",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Codes of a deployment fault (a missing table or queue, a denied permission, an
/// unusable key). Retrying one message will not help, but neither is the message at
/// fault: it must not be dead-lettered as "bad data" on its first delivery, so these count
/// as retryable and surface as failing invocations, which alarm.
const INFRASTRUCTURE_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchBucket",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
    "KmsException",
];

/// Classifies an SDK error by its kind, its HTTP status and its code.
pub fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            status >= 500
                || status == 429
                || TRANSIENT_CODES.contains(&code)
                || INFRASTRUCTURE_CODES.contains(&code)
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

/// A conditional DynamoDB write's outcome: true if written, false if its condition did not
/// hold (an answer, not an error); any other failure classified.
pub(crate) fn written<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(err) => Err(classify(operation, err)),
    }
}

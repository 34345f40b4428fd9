//! API Gateway HTTP API (payload 2.0) / Function URL events to and from the intake.

use crate::{Intake, IntakeRequest, IntakeResponse};
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use bridge_lambda::http::{json_response, request_parts};

/// Turns the API event into an [`IntakeRequest`]. A body that is not valid base64 where
/// the event says it is becomes an empty body, which then fails verification.
pub fn request_from_event(event: ApiGatewayV2httpRequest) -> IntakeRequest {
    let source = event.path_parameters.get("source").cloned();
    let parts = request_parts(event);
    let source = source
        .or_else(|| {
            parts
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default();
    IntakeRequest {
        method: parts.method,
        source,
        headers: parts.headers.into_iter().collect(),
        body: parts.body,
    }
}

pub fn response_to_event(response: IntakeResponse) -> ApiGatewayV2httpResponse {
    json_response(
        response.status,
        response
            .headers
            .into_iter()
            .map(|(name, value)| (name.to_string(), value)),
        response.body.to_string(),
    )
}

/// The Lambda handler: one API event in, one API response out.
pub async fn handle_event(
    intake: &Intake,
    event: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let response = intake
        .handle(request_from_event(event), chrono::Utc::now())
        .await;
    response_to_event(response)
}

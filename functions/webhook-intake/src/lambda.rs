//! API Gateway HTTP API (payload 2.0) / Function URL events to and from the intake.

use crate::{Intake, IntakeRequest, IntakeResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine;

/// Turns the API event into an [`IntakeRequest`]. A body that is not valid base64 where
/// the event says it is becomes an empty body, which then fails verification.
pub fn request_from_event(event: ApiGatewayV2httpRequest) -> IntakeRequest {
    let source = event
        .path_parameters
        .get("source")
        .cloned()
        .or_else(|| {
            event
                .raw_path
                .as_deref()
                .and_then(|p| p.trim_end_matches('/').rsplit('/').next())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let headers = event
        .headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let body = match (event.body, event.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.into_bytes(),
        (Some(text), true) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default(),
    };
    IntakeRequest {
        method: event.request_context.http.method.to_string(),
        source,
        headers,
        body,
    }
}

pub fn response_to_event(response: IntakeResponse) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in response.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = i64::from(response.status);
    event.headers = headers;
    event.body = Some(Body::Text(response.body.to_string()));
    event
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

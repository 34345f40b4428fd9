//! HTTP API (payload 2.0) events to and from the read API.

use crate::{ApiRequest, ApiResponse, ShopApi};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;

/// A body that is not valid base64 where the event says it is becomes an empty body, which
/// then fails validation.
pub fn request_from_event(event: ApiGatewayV2httpRequest) -> ApiRequest {
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
    ApiRequest {
        method: event.request_context.http.method.to_string(),
        path: event
            .raw_path
            .or(event.request_context.http.path)
            .unwrap_or_default(),
        query: event.raw_query_string.unwrap_or_default(),
        headers,
        body,
        request_id: event.request_context.request_id.unwrap_or_default(),
    }
}

pub fn response_to_event(response: ApiResponse) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = i64::from(response.status);
    event.headers = headers;
    event.body = Some(Body::Text(response.body.to_string()));
    event
}

pub async fn handle_event(
    api: &ShopApi,
    event: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    response_to_event(
        api.handle(request_from_event(event), chrono::Utc::now())
            .await,
    )
}

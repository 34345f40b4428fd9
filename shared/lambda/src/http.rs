//! HTTP API (payload 2.0) events: what every HTTP function reads of a request, and its JSON
//! answer. A body that is not valid base64 where the event says it is becomes an empty
//! body, which each function's validation then refuses.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;

/// A request's parts, headers named in lower case.
#[derive(Debug, Clone, Default)]
pub struct RequestParts {
    pub method: String,
    /// The raw path (percent-encoded as sent).
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// API Gateway's request id (empty when the event has none).
    pub request_id: String,
}

pub fn request_parts(event: ApiGatewayV2httpRequest) -> RequestParts {
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
    RequestParts {
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

/// A JSON answer with `headers` beside its content type (a header that is not a valid
/// name or value is left out).
pub fn json_response(
    status: u16,
    headers: impl IntoIterator<Item = (String, String)>,
    body: String,
) -> ApiGatewayV2httpResponse {
    let mut map = HeaderMap::new();
    map.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.insert(name, value);
        }
    }
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = i64::from(status);
    event.headers = map;
    event.body = Some(Body::Text(body));
    event
}

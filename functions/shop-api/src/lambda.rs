//! HTTP API (payload 2.0) events to and from the read API.

use crate::{ApiRequest, ApiResponse, ShopApi};
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use bridge_lambda::http::{json_response, request_parts};

pub fn request_from_event(event: ApiGatewayV2httpRequest) -> ApiRequest {
    let parts = request_parts(event);
    ApiRequest {
        method: parts.method,
        path: parts.path,
        query: parts.query,
        headers: parts.headers.into_iter().collect(),
        body: parts.body,
        request_id: parts.request_id,
    }
}

pub fn response_to_event(response: ApiResponse) -> ApiGatewayV2httpResponse {
    json_response(response.status, response.headers, response.body.to_string())
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

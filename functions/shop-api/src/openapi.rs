//! The published OpenAPI 3.1 document of the read API (`docs/contract/shop-api.openapi.json`),
//! generated here: the schemas from the types the handlers serialize ([`crate::answers`]),
//! the examples by running the handler on the fixture's data. A test fails while the
//! published file is not what this generates (`UPDATE_OPENAPI=1 cargo test -p shop-api`
//! writes it), and another while the handler and the document disagree on the routes.

use crate::answers::{
    AvailabilityAnswer, CreditAnswer, ErrorAnswer, ResolveAnswer, ResolveRequestDoc,
};
use crate::fixture::{KEY, STOCK_ONLY_KEY, api, now, request};
use crate::{ApiRequest, Route};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

const PUBLISHED: &str = "../../docs/contract/shop-api.openapi.json";

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

async fn example(request: ApiRequest) -> (u16, Value) {
    let (api, _) = api().await;
    let response = api.handle(request, now()).await;
    (response.status, response.body)
}

fn content(schema: Value, example: Value) -> Value {
    json!({"application/json": {"schema": schema, "example": example}})
}

fn error_response(description: &str, error: &Value, example: Value) -> Value {
    json!({"description": description, "content": content(error.clone(), example)})
}

fn cache_header(description: &str) -> Value {
    json!({"Cache-Control": {"description": description, "schema": {"type": "string"}}})
}

pub async fn document() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let mut generator = settings.into_generator();
    let error = schema::<ErrorAnswer>(&mut generator);
    let resolve_request = schema::<ResolveRequestDoc>(&mut generator);
    let resolve_answer = schema::<ResolveAnswer>(&mut generator);
    let availability_answer = schema::<AvailabilityAnswer>(&mut generator);
    let credit_answer = schema::<CreditAnswer>(&mut generator);

    let cart = json!({"customer_id": "C-1001", "lines": [
        {"sku": "BOLT-M8", "quantity": 250},
        {"sku": "NUT-M8", "quantity": "500"},
        {"sku": "DRILL-9", "quantity": 1}
    ]});
    let resolve =
        |body: Value, key: Option<&str>| request("POST", "/v1/prices/resolve", key, Some(body));
    let (_, priced) = example(resolve(cart.clone(), Some(KEY))).await;
    let (_, invalid) = example(resolve(
        json!({"customer_id": "C-1001", "lines": [{"sku": "BOLT-M8", "quantity": "-5"}]}),
        Some(KEY),
    ))
    .await;
    let (_, unknown) = example(resolve(
        json!({"customer_id": "C-404", "lines": [{"sku": "BOLT-M8", "quantity": 1}]}),
        Some(KEY),
    ))
    .await;
    let (_, unauthorized) = example(resolve(cart.clone(), None)).await;
    let (_, availability) = example(request(
        "GET",
        "/v1/availability?sku=BOLT-M8&sku=DRILL-9",
        Some(KEY),
        None,
    ))
    .await;
    let (_, bad_query) = example(request(
        "GET",
        "/v1/availability?sku=BOLT%20M8",
        Some(KEY),
        None,
    ))
    .await;
    let (_, credit) = example(request(
        "GET",
        "/v1/customers/C-1001/credit",
        Some(KEY),
        None,
    ))
    .await;
    let (_, forbidden) = example(request(
        "GET",
        "/v1/customers/C-1001/credit",
        Some(STOCK_ONLY_KEY),
        None,
    ))
    .await;
    let unavailable =
        json!({"error": "unavailable", "message": "the data could not be read; retry"});

    let common = |extra: Vec<(&str, Value)>| {
        let mut responses = Map::new();
        for (status, response) in extra {
            responses.insert(status.to_string(), response);
        }
        responses.insert(
            "401".into(),
            json!({
                "description": "No `Authorization: Bearer <key>`, or a key no client has.",
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                "content": content(error.clone(), unauthorized.clone()),
            }),
        );
        responses.insert(
            "403".into(),
            error_response(
                "The key is not allowed this endpoint.",
                &error,
                forbidden.clone(),
            ),
        );
        responses.insert(
            "429".into(),
            json!({
                "description": "This client sent more requests this second than it may (its `requests_per_second` in the key secret, else the stack's `ShopApiClientRatePerSecond`), or the API's own throttle refused the request; retry after `Retry-After` seconds.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": content(error.clone(), json!({"error": "too_many_requests", "message": "this client may send 50 requests a second"})),
            }),
        );
        responses.insert(
            "503".into(),
            json!({
                "description": "The tables could not be read; retry after `Retry-After` seconds.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": content(error.clone(), unavailable.clone()),
            }),
        );
        Value::Object(responses)
    };

    let mut paths = Map::new();
    paths.insert(
        "/v1/prices/resolve".into(),
        json!({"post": {
            "operationId": "resolvePrices",
            "summary": "What this customer pays for these lines at a date",
            "description": "Each line as `bridgectl price` and the order checks resolve it: the customer's price lists in priority order, the window in force at `at`, the tier with the highest `min_qty` not above the quantity. A line no list prices is `on_request`, never 0.",
            "requestBody": {"required": true, "content": content(resolve_request, cart)},
            "responses": common(vec![
                ("200", json!({
                    "description": "One answer per line, in the order asked.",
                    "headers": cache_header("`private, max-age=N`: at most the configured price age, and never past the next start or end of a price window."),
                    "content": content(resolve_answer, priced),
                })),
                ("400", error_response("Not JSON, or a field breaks the contract (more than 200 lines, a quantity not above 0, a malformed sku); `field` points at it.", &error, invalid)),
                ("404", error_response("No `customer.changed` for this customer has been applied.", &error, unknown)),
                ("413", error_response("The body is larger than 256 KiB.", &error, json!({"error": "payload_too_large", "message": "the body may have 262144 bytes"}))),
            ]),
        }}),
    );
    paths.insert(
        "/v1/availability".into(),
        json!({"get": {
            "operationId": "availability",
            "summary": "Stock per sku and warehouse",
            "parameters": [
                {"name": "sku", "in": "query", "required": true, "style": "form", "explode": true,
                 "description": "1 to 200 skus: `?sku=A&sku=B`.",
                 "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 200}},
                {"name": "warehouse", "in": "query", "required": false,
                 "description": "Only this warehouse's level.", "schema": {"type": "string"}}
            ],
            "responses": common(vec![
                ("200", json!({
                    "description": "Per sku asked, its warehouses' levels; `stale` where `as_of` is older than the stock SLA or unknown.",
                    "headers": cache_header("`private, max-age=N`: at most the configured stock age, and never past the moment a level turns stale."),
                    "content": content(availability_answer, availability),
                })),
                ("400", error_response("A malformed sku or an unknown parameter; `field` is `/sku/<index>` or `/<parameter>`.", &error, bad_query)),
            ]),
        }}),
    );
    paths.insert(
        "/v1/customers/{id}/credit".into(),
        json!({"get": {
            "operationId": "credit",
            "summary": "Whether an order can pass the credit check",
            "description": "The exposure the order checks hold the customer to: open items plus orders the ERP has (or is being sent) and has not invoiced.",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": common(vec![
                ("200", json!({
                    "description": "The customer's credit now.",
                    "headers": cache_header("`no-store`: every order changes it."),
                    "content": content(credit_answer, credit),
                })),
                ("404", error_response("No `customer.changed` for this customer has been applied.", &error, json!({"error": "customer_not_found", "message": "customer C-404 is not known", "field": "/customer_id"}))),
            ]),
        }}),
    );

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "B2B bridge: shop read API",
            "version": "1.0.0",
            "description": "Live prices, availability and credit for a shop backend at cart and checkout time (contract section 7). Decimals are JSON strings with their exact digits; timestamps RFC 3339. Every error is `{\"error\", \"message\", \"field\"}`.",
        },
        "servers": [{"url": "https://{api}.execute-api.{region}.amazonaws.com",
                     "variables": {"api": {"default": "abc123"}, "region": {"default": "eu-central-1"}}}],
        "security": [{"bearerKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerKey": {
                "type": "http", "scheme": "bearer",
                "description": "A client's key from the stack's ShopApiKeys secret (two may be active while rotating)."
            }},
            "schemas": generator.definitions().clone(),
        },
    })
}

#[tokio::test]
async fn the_published_document_is_what_the_types_and_handlers_give() {
    let generated = serde_json::to_string_pretty(&document().await).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PUBLISHED);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "{} is not what the answers' types and the handler give; run UPDATE_OPENAPI=1 cargo test -p shop-api and review the diff",
        path.display()
    );
}

#[tokio::test]
async fn the_document_and_the_handler_serve_the_same_routes_and_answers() {
    let document = document().await;
    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    documented.sort();
    let mut routed: Vec<(String, String)> = Route::ALL
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);
    let (api, _) = api().await;
    for (method, path) in &routed {
        let concrete = path.replace("{id}", "C-1001");
        let route = Route::of_path(&concrete).expect("routed");
        assert_eq!(route.method(), method);
        // Every documented status's example body has the documented error shape or answer.
        let operation = &paths[path][method.to_lowercase()];
        for (status, response) in operation["responses"].as_object().unwrap() {
            let example = &response["content"]["application/json"]["example"];
            if status.starts_with('2') {
                continue;
            }
            let parsed: crate::answers::ErrorAnswer = serde_json::from_value(example.clone())
                .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}"));
            assert!(!parsed.error.is_empty());
        }
        let unauthenticated = api
            .handle(request(method, &concrete, None, None), now())
            .await;
        assert_eq!(unauthenticated.status, 401, "{method} {path}");
    }
    // The 200 examples are the answers' types, read back.
    let example = |path: &str, method: &str| {
        paths[path][method]["responses"]["200"]["content"]["application/json"]["example"].clone()
    };
    serde_json::from_value::<ResolveAnswer>(example("/v1/prices/resolve", "post")).unwrap();
    serde_json::from_value::<AvailabilityAnswer>(example("/v1/availability", "get")).unwrap();
    serde_json::from_value::<CreditAnswer>(example("/v1/customers/{id}/credit", "get")).unwrap();
}

//! What the emulator tests share: finding the emulator (or saying how to start it), a
//! project of their own per test, a raw client to arrange and inspect the shop, and a
//! recording proxy between the connector and the emulator.
//!
//! The proxy is how the tests see what the connector sent (every request, its body) and how
//! they make the world misbehave without a test seam in the connector: a concurrent edit
//! made through the emulator between the connector's read and its write, a token the
//! emulator never issued (its own 401 answers), a 429. Every other answer is the emulator's.

#![allow(dead_code)] // each test binary uses its own part

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bridge_commercetools::{CommercetoolsConfig, CommercetoolsShop};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The emulator's URL (`. scripts/ctmock.sh LOG` exports it), or `None` after saying how to
/// run the tests. With `BRIDGE_REQUIRE_CTMOCK=1` (CI) a missing emulator fails the test, so
/// a suite that skipped everything cannot pass.
pub fn emulator_url() -> Option<String> {
    match std::env::var("BRIDGE_CTMOCK_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim_end_matches('/').to_string()),
        _ => {
            if std::env::var("BRIDGE_REQUIRE_CTMOCK").as_deref() == Ok("1") {
                panic!(
                    "BRIDGE_REQUIRE_CTMOCK=1 but BRIDGE_CTMOCK_URL is not set: source scripts/ctmock.sh first"
                );
            }
            eprintln!(
                "skipped: no commercetools emulator. Run: scripts/ctmock.sh install && \
                 . scripts/ctmock.sh ctmock-tests.log && cargo test -p bridge-commercetools"
            );
            None
        }
    }
}

/// Starts a test against its own project, or returns from it when there is no emulator.
#[macro_export]
macro_rules! world {
    () => {
        match support::World::start().await {
            Some(world) => world,
            None => return,
        }
    };
}

/// One test's project on the emulator, with the proxy in front of it.
pub struct World {
    pub project: String,
    pub raw: Raw,
    pub proxy: Proxy,
}

impl World {
    pub async fn start() -> Option<World> {
        let upstream = emulator_url()?;
        // The emulator takes any project key: one per test, so tests run in parallel.
        let project = format!("test-{}", uuid::Uuid::new_v4().simple());
        let raw = Raw::new(&upstream, &project).await;
        let proxy = Proxy::start(&upstream, raw.clone()).await;
        Some(World {
            project,
            raw,
            proxy,
        })
    }

    /// A connector with the `CTP_*` settings of the environment, aimed at the proxy and at
    /// this test's project.
    pub fn shop(&self) -> CommercetoolsShop {
        self.shop_at(&self.proxy.url, &self.proxy.url)
    }

    pub fn shop_at(&self, api_url: &str, auth_url: &str) -> CommercetoolsShop {
        let config = CommercetoolsConfig::from_lookup(|name| match name {
            "CTP_API_URL" => Some(api_url.to_string()),
            "CTP_AUTH_URL" => Some(auth_url.to_string()),
            "CTP_PROJECT_KEY" => Some(self.project.clone()),
            "CTP_SCOPES" => Some(format!("manage_project:{}", self.project)),
            other => std::env::var(other)
                .ok()
                .or_else(|| Some("local".to_string())),
        })
        .expect("test config");
        CommercetoolsShop::new(&config).expect("connector builds")
    }

    /// `/{project}/{path}`.
    pub fn path(&self, path: &str) -> String {
        format!("/{}/{path}", self.project)
    }
}

/// A client of the emulator beside the connector: arranges and inspects the project.
#[derive(Clone)]
pub struct Raw {
    http: reqwest::Client,
    upstream: String,
    project: String,
    token: String,
}

impl Raw {
    async fn new(upstream: &str, project: &str) -> Raw {
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!(
                "{upstream}/oauth/token?grant_type=client_credentials&scope=manage_project:{project}"
            ))
            .basic_auth("raw", Some("raw"))
            .send()
            .await
            .expect("emulator answers")
            .json()
            .await
            .expect("token JSON");
        Raw {
            http,
            upstream: upstream.to_string(),
            project: project.to_string(),
            token: answer["access_token"].as_str().expect("token").to_string(),
        }
    }

    /// `GET /{project}/{path}` → (status, body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/{}/{path}", self.upstream, self.project))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("emulator answers");
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// `POST /{project}/{path}` → (status, body).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/{}/{path}", self.upstream, self.project))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("emulator answers");
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// `DELETE /{project}/{path}` → (status, body).
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .delete(format!("{}/{}/{path}", self.upstream, self.project))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("emulator answers");
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// The only inventory entry of `sku` (panics on none or several).
    pub async fn entry(&self, sku: &str) -> Value {
        let (status, page) = self
            .get(&format!("inventory?where=sku%3D%22{sku}%22"))
            .await;
        assert_eq!(status, 200, "{page}");
        let results = page["results"].as_array().expect("results");
        assert_eq!(results.len(), 1, "entries of {sku}: {page}");
        results[0].clone()
    }

    /// Changes the resource at `/{project}/{path}` with `actions` under its current version,
    /// as a merchant in the Merchant Center or a second bridge would.
    pub async fn edit(&self, path: &str, actions: Value) -> Value {
        let (status, current) = self.get(path).await;
        assert_eq!(status, 200, "{current}");
        let (status, updated) = self
            .post(
                path,
                &json!({"version": current["version"], "actions": actions}),
            )
            .await;
        assert_eq!(status, 200, "{updated}");
        updated
    }
}

/// A request the connector made, as the proxy saw it, with the status it got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, percent-decoded (`/p/inventory?where=sku="A" and ...`).
    pub target: String,
    pub body: Value,
    pub correlation_id: Option<String>,
    pub status: u16,
}

impl Seen {
    pub fn line(&self) -> String {
        format!("{} {} -> {}", self.method, self.target, self.status)
    }
}

/// What the proxy does to a matching request instead of forwarding it as it is.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this, without asking the emulator.
    Respond {
        status: u16,
        retry_after: Option<u64>,
        body: Value,
    },
    /// Forward with a bearer token the emulator never issued (as an expired one would be).
    CorruptToken,
    /// First change the resource at the request's path through the emulator with these
    /// actions (as a merchant or a second bridge would), then forward: the request's
    /// version is stale.
    ConcurrentEdit { actions: Value },
    /// A `ConcurrentEdit` of an inventory entry that changes something every time
    /// (`setRestockableInDays` to a new count), so every edit bumps the version.
    EverChangingEdit,
}

struct Rule {
    method: Method,
    /// Matches the request's path (without query).
    path: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// How many matching requests it applies to.
    remaining: usize,
    fault: Fault,
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    state: Arc<ProxyState>,
}

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    raw: Raw,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    edits: Mutex<u64>,
}

impl Proxy {
    async fn start(upstream: &str, raw: Raw) -> Proxy {
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            http: reqwest::Client::new(),
            raw,
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            edits: Mutex::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Proxy { url, state }
    }

    /// Applies `fault` to the next `times` requests with `method` whose path `path` accepts.
    pub fn on(
        &self,
        method: Method,
        path: impl Fn(&str) -> bool + Send + Sync + 'static,
        times: usize,
        fault: Fault,
    ) {
        self.state.rules.lock().unwrap().push(Rule {
            method,
            path: Box::new(path),
            remaining: times,
            fault,
        });
    }

    /// The API requests so far (token fetches left out), and forgets them.
    pub fn take_api_requests(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.state.seen.lock().unwrap())
            .into_iter()
            .filter(|seen| !seen.target.starts_with("/oauth/"))
            .collect()
    }

    pub fn lines(requests: &[Seen]) -> Vec<String> {
        requests.iter().map(Seen::line).collect()
    }
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    // Read before the first await: a borrow of the request (its body is not Sync) must
    // not live across one.
    let (authorization, content_type, correlation_id) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (
            header("authorization"),
            header("content-type"),
            header("x-correlation-id"),
        )
    };
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .expect("request body");

    let fault = {
        let mut rules = state.rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|rule| rule.remaining > 0 && rule.method == method && (rule.path)(&path))
            .map(|rule| {
                rule.remaining -= 1;
                rule.fault.clone()
            })
    };
    let mut authorization = authorization;
    let answer = match fault {
        Some(Fault::Respond {
            status,
            retry_after,
            body,
        }) => Some((status, retry_after, serde_json::to_vec(&body).unwrap())),
        Some(Fault::CorruptToken) => {
            authorization = Some("Bearer never-issued-by-the-emulator".to_string());
            None
        }
        Some(fault @ (Fault::ConcurrentEdit { .. } | Fault::EverChangingEdit)) => {
            let actions = match fault {
                Fault::ConcurrentEdit { actions } => actions,
                _ => {
                    let mut edits = state.edits.lock().unwrap();
                    *edits += 1;
                    json!([{"action": "setRestockableInDays", "restockableInDays": *edits}])
                }
            };
            // The request's path is `/{project}/{resource}/{id}`; Raw adds the project.
            let below_project = path
                .splitn(3, '/')
                .nth(2)
                .expect("project path")
                .to_string();
            state.raw.edit(&below_project, actions).await;
            None
        }
        None => None,
    };
    let (status, retry_after, response_body) = match answer {
        Some(answer) => answer,
        None => {
            let mut upstream = state
                .http
                .request(
                    method.clone(),
                    format!("{}{path_and_query}", state.upstream),
                )
                .body(body.to_vec());
            for (name, value) in [
                ("authorization", &authorization),
                ("content-type", &content_type),
                ("x-correlation-id", &correlation_id),
            ] {
                if let Some(value) = value {
                    upstream = upstream.header(name, value);
                }
            }
            let response = upstream.send().await.expect("emulator answers the proxy");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("emulator body").to_vec();
            (status, None, bytes)
        }
    };
    state.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        target: percent_decode(&path_and_query),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        correlation_id,
        status,
    });
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    response
        .body(Body::from(response_body))
        .expect("proxy response")
}

/// `%22` → `"`, `+` → space: how a reader writes the query.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(byte) => {
                    out.push(byte);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

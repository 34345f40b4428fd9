//! The client of an HTTP API the bridge calls with a bearer token (the ERP's sales orders
//! and changes; the next connectors'): one place for its timeouts, base URL and auth.

use std::time::Duration;

/// How long to wait for a connection: an ERP that does not accept one in this time is down,
/// whatever the request's own timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct ApiClient {
    client: reqwest::Client,
    base_url: String,
    token: String,
}

impl ApiClient {
    /// `base_url` without a trailing slash is where paths are appended; `timeout` bounds a
    /// whole request.
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(CONNECT_TIMEOUT)
                .build()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// `GET {base}{path}` with the token.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
    }

    /// `POST {base}{path}` with the token.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and read as absent).
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

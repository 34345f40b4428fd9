//! The one way the connector talks to commercetools: JSON in and out, a bearer token from
//! the client credentials flow (cached, renewed before it expires and once on a 401), every
//! request counted, every failure classified (`error.rs`).

use crate::config::CommercetoolsConfig;
use crate::error::{ShopError, classify_status};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A shop that accepts no connection in this time is down, whatever the request's timeout
/// (the value bridge-http uses for the ERP).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole request, body included. commercetools answers single-resource calls in well
/// under a second; ten leave room for a slow moment without holding a batch for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Renew this long before `expires_in` at most, so a token never expires in flight.
const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(60);
const MAX_TOKEN_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// One publish's requests: how many it made (token fetches excluded) and the correlation id
/// it forwards, so the shop's logs can be joined to the bridge's.
pub(crate) struct Call<'a> {
    pub requests: u32,
    pub correlation_id: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// A correlation id that cannot be a header value is dropped, not sent: tracing is no
    /// reason to fail a publish.
    pub fn new(correlation_id: Option<&'a str>) -> Self {
        let correlation_id = correlation_id.filter(|id| {
            let fits = (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
            if !fits {
                tracing::debug!(correlation_id = id, "not forwarded as X-Correlation-ID");
            }
            fits
        });
        Self {
            requests: 0,
            correlation_id,
        }
    }
}

struct CachedToken {
    access_token: String,
    renew_at: Instant,
}

pub(crate) struct Client {
    http: reqwest::Client,
    /// `{api_url}/{project_key}`: every resource path is below it.
    project_url: Url,
    token_url: Url,
    client_id: String,
    client_secret: crate::config::ClientSecret,
    /// Held while a token is fetched, so concurrent publishes wait for one fetch.
    token: Mutex<Option<CachedToken>>,
    requests_made: AtomicU64,
    token_fetches: AtomicU64,
}

/// The connector could not be built from its config (at init, before any request).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot form a URL from the config: {0}")]
    Url(String),
}

impl Client {
    pub fn new(config: &CommercetoolsConfig) -> Result<Self, BuildError> {
        let base = |name: &str, url: &str, last: &[&str]| {
            let mut parsed =
                Url::parse(url).map_err(|e| BuildError::Url(format!("{name} {url:?}: {e}")))?;
            parsed
                .path_segments_mut()
                .map_err(|()| BuildError::Url(format!("{name} {url:?} cannot have a path")))?
                .pop_if_empty()
                .extend(last);
            Ok::<_, BuildError>(parsed)
        };
        let project_url = base("api_url", &config.api_url, &[&config.project_key])?;
        let mut token_url = base("auth_url", &config.auth_url, &["oauth", "token"])?;
        // The scope goes in the query string as the API reference writes it; a form body
        // would do for commercetools, but the emulator only reads the query.
        token_url
            .query_pairs_mut()
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", &config.scopes);
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!("erp-bridge/", env!("CARGO_PKG_VERSION")))
                .build()?,
            project_url,
            token_url,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            token: Mutex::new(None),
            requests_made: AtomicU64::new(0),
            token_fetches: AtomicU64::new(0),
        })
    }

    pub fn requests_made(&self) -> u64 {
        self.requests_made.load(Ordering::Relaxed)
    }

    pub fn token_fetches(&self) -> u64 {
        self.token_fetches.load(Ordering::Relaxed)
    }

    /// `{api_url}/{project}/{segments...}`, each segment percent-encoded (a warehouse code
    /// may hold `/`).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.project_url.clone();
        url.path_segments_mut()
            .expect("project URL is a base")
            .extend(segments);
        url
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        call: &mut Call<'_>,
        url: Url,
    ) -> Result<T, ShopError> {
        self.send(call, Method::GET, url, None::<&()>).await
    }

    /// A GET whose 404 means "there is none".
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        call: &mut Call<'_>,
        url: Url,
    ) -> Result<Option<T>, ShopError> {
        match self.get(call, url).await {
            Ok(found) => Ok(Some(found)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        call: &mut Call<'_>,
        url: Url,
        body: &impl Serialize,
    ) -> Result<T, ShopError> {
        self.send(call, Method::POST, url, Some(body)).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        call: &mut Call<'_>,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
    ) -> Result<T, ShopError> {
        let request = describe(&method, &url);
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ShopError::Unexpected {
                request: request.clone(),
                reason: format!("cannot encode the request body: {e}"),
            })?;
        let token = self.bearer_token().await?;
        let mut answer = self
            .send_once(call, &method, &url, body.as_deref(), &token)
            .await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            // Expired or revoked before we expected: one fresh token, one more try.
            self.forget_token(&token).await;
            let token = self.bearer_token().await?;
            answer = self
                .send_once(call, &method, &url, body.as_deref(), &token)
                .await?;
        }
        if !answer.status.is_success() {
            return Err(classify_status(
                request,
                answer.status.as_u16(),
                &answer.body,
                answer.retry_after,
            ));
        }
        serde_json::from_slice(&answer.body).map_err(|e| ShopError::Unexpected {
            request,
            reason: format!(
                "{} with a body the API reference does not describe: {e}",
                answer.status
            ),
        })
    }

    async fn send_once(
        &self,
        call: &mut Call<'_>,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        token: &str,
    ) -> Result<Answer, ShopError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(id) = call.correlation_id {
            request = request.header("X-Correlation-ID", id);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        call.requests += 1;
        self.requests_made.fetch_add(1, Ordering::Relaxed);
        read_answer(request.send().await, || describe(method, url)).await
    }

    /// The cached token, or a new one when there is none or it is due for renewal.
    async fn bearer_token(&self) -> Result<String, ShopError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.access_token.clone());
        }
        let fresh = self.fetch_token().await?;
        let access_token = fresh.access_token.clone();
        *cached = Some(fresh);
        Ok(access_token)
    }

    /// Drops `rejected` unless another request has replaced it meanwhile.
    async fn forget_token(&self, rejected: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.access_token == rejected) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, ShopError> {
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: u64,
        }
        self.token_fetches.fetch_add(1, Ordering::Relaxed);
        // The secret stays out of the description: the URL carries only grant and scope.
        let describe_fetch = || describe(&Method::POST, &self.token_url);
        let started = Instant::now();
        let sent = self
            .http
            .post(self.token_url.clone())
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .send()
            .await;
        let answer = read_answer(sent, describe_fetch).await?;
        if !answer.status.is_success() {
            // 400/401: the client or its scopes are wrong; records wait for an operator.
            return Err(classify_status(
                describe_fetch(),
                answer.status.as_u16(),
                &answer.body,
                answer.retry_after,
            )
            .into_token_refusal());
        }
        let token: TokenResponse =
            serde_json::from_slice(&answer.body).map_err(|e| ShopError::Unexpected {
                request: describe_fetch(),
                reason: format!("token response without access_token/expires_in: {e}"),
            })?;
        // commercetools issues 48 h tokens; a week bounds an absurd `expires_in`.
        let lifetime = Duration::from_secs(token.expires_in.min(MAX_TOKEN_LIFETIME_SECS));
        Ok(CachedToken {
            access_token: token.access_token,
            renew_at: started + lifetime - renewal_margin(lifetime),
        })
    }
}

/// How long before expiry a token is renewed: 60 s, or a tenth of a shorter lifetime
/// (a 30 s token renewed 60 s early would never be used).
pub(crate) fn renewal_margin(lifetime: Duration) -> Duration {
    MAX_RENEWAL_MARGIN.min(lifetime / 10)
}

struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

async fn read_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    describe: impl Fn() -> String,
) -> Result<Answer, ShopError> {
    let unavailable = |e: reqwest::Error| ShopError::Unavailable {
        request: describe(),
        reason: transport_reason(&e),
        retry_after: None,
    };
    let response = sent.map_err(unavailable)?;
    let status = response.status();
    let retry_after = bridge_http::retry_after(&response);
    let body = response.bytes().await.map_err(unavailable)?.to_vec();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// What kind of transport failure, in words an operator reads (with reqwest's own chain).
fn transport_reason(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut reason = format!("{kind}: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// `METHOD /path?query` of a request, for error messages.
fn describe(method: &Method, url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{method} {}?{query}", url.path()),
        None => format!("{method} {}", url.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_minute_early_or_a_tenth_of_a_short_lifetime() {
        assert_eq!(
            renewal_margin(Duration::from_secs(172_800)),
            Duration::from_secs(60)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(renewal_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn urls_are_below_the_project_with_segments_encoded() {
        let config = CommercetoolsConfig::from_lookup(|name| {
            Some(
                match name {
                    "CTP_API_URL" => "https://api.example.com/",
                    "CTP_AUTH_URL" => "https://auth.example.com",
                    "CTP_SCOPES" => "manage_project:shop view_products:shop",
                    _ => "shop",
                }
                .to_string(),
            )
        })
        .unwrap();
        let client = Client::new(&config).unwrap();
        assert_eq!(
            client.url(&["channels", "key=W/1"]).as_str(),
            "https://api.example.com/shop/channels/key=W%2F1"
        );
        assert_eq!(
            client.token_url.as_str(),
            "https://auth.example.com/oauth/token?grant_type=client_credentials&scope=manage_project%3Ashop+view_products%3Ashop"
        );
    }
}

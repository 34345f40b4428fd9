//! Where the shop is and how the bridge signs in: the `CTP_*` settings the commercetools
//! tools and SDKs use, so a project's API client export can be pasted as it is.

use reqwest::Url;
use std::fmt;

pub const CTP_API_URL: &str = "CTP_API_URL";
pub const CTP_AUTH_URL: &str = "CTP_AUTH_URL";
pub const CTP_PROJECT_KEY: &str = "CTP_PROJECT_KEY";
pub const CTP_CLIENT_ID: &str = "CTP_CLIENT_ID";
pub const CTP_CLIENT_SECRET: &str = "CTP_CLIENT_SECRET";
pub const CTP_SCOPES: &str = "CTP_SCOPES";

/// The API client's secret. Its `Debug` prints no part of it, so a config can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set (or empty); the commercetools connector needs it")]
    Missing { name: &'static str },
    #[error("{name} is not an http(s) URL: {reason}")]
    InvalidUrl { name: &'static str, reason: String },
}

/// One commercetools API client: the API and auth hosts of its region, the project and the
/// client credentials with their scopes (space-separated, as commercetools lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommercetoolsConfig {
    /// e.g. `https://api.europe-west1.gcp.commercetools.com`, without the project key.
    pub api_url: String,
    /// e.g. `https://auth.europe-west1.gcp.commercetools.com`, without `/oauth/token`.
    pub auth_url: String,
    pub project_key: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub scopes: String,
}

impl CommercetoolsConfig {
    /// All six `CTP_*` settings from `lookup` (the environment, or a function's config).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = ClientSecret::new(required(&lookup, CTP_CLIENT_SECRET)?);
        Self::from_lookup_with_secret(lookup, secret)
    }

    /// The settings from `lookup` except the secret, which comes from elsewhere (Secrets
    /// Manager); `CTP_CLIENT_SECRET` is not read.
    pub fn from_lookup_with_secret(
        lookup: impl Fn(&str) -> Option<String>,
        client_secret: ClientSecret,
    ) -> Result<Self, ConfigError> {
        if client_secret.expose().trim().is_empty() {
            return Err(ConfigError::Missing {
                name: CTP_CLIENT_SECRET,
            });
        }
        Ok(Self {
            api_url: url(&lookup, CTP_API_URL)?,
            auth_url: url(&lookup, CTP_AUTH_URL)?,
            project_key: required(&lookup, CTP_PROJECT_KEY)?,
            client_id: required(&lookup, CTP_CLIENT_ID)?,
            client_secret,
            scopes: required(&lookup, CTP_SCOPES)?,
        })
    }
}

fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    lookup(name)
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
        .ok_or(ConfigError::Missing { name })
}

/// A base URL, checked here so a typo fails the function's init and not its first publish.
/// Stored without a trailing slash: paths are appended to it.
fn url(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    let value = required(lookup, name)?;
    let parsed = Url::parse(&value).map_err(|e| ConfigError::InvalidUrl {
        name,
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(ConfigError::InvalidUrl {
            name,
            reason: format!("{value:?} has no http(s) host"),
        });
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (CTP_API_URL, "https://api.example.com/"),
            (CTP_AUTH_URL, "https://auth.example.com"),
            (CTP_PROJECT_KEY, "shop"),
            (CTP_CLIENT_ID, "id"),
            (CTP_CLIENT_SECRET, "very-secret"),
            (CTP_SCOPES, "manage_project:shop"),
        ])
    }

    fn lookup(map: &HashMap<&'static str, &'static str>) -> impl Fn(&str) -> Option<String> {
        |name| map.get(name).map(|v| v.to_string())
    }

    #[test]
    fn all_six_settings_are_read_and_urls_lose_their_trailing_slash() {
        let map = settings();
        let config = CommercetoolsConfig::from_lookup(lookup(&map)).unwrap();
        assert_eq!(config.api_url, "https://api.example.com");
        assert_eq!(config.client_secret.expose(), "very-secret");
        assert_eq!(config.scopes, "manage_project:shop");
    }

    #[test]
    fn a_missing_or_empty_setting_is_named() {
        for name in [CTP_API_URL, CTP_CLIENT_SECRET, CTP_SCOPES] {
            let mut map = settings();
            map.remove(name);
            assert_eq!(
                CommercetoolsConfig::from_lookup(lookup(&map)).unwrap_err(),
                ConfigError::Missing { name }
            );
            map.insert(name, "  ");
            let err = CommercetoolsConfig::from_lookup(lookup(&map)).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn the_secret_can_come_separately() {
        let mut map = settings();
        map.remove(CTP_CLIENT_SECRET);
        let config =
            CommercetoolsConfig::from_lookup_with_secret(lookup(&map), ClientSecret::new("s3"))
                .unwrap();
        assert_eq!(config.client_secret.expose(), "s3");
        assert!(
            CommercetoolsConfig::from_lookup_with_secret(lookup(&map), ClientSecret::new(""))
                .is_err()
        );
    }

    #[test]
    fn a_url_that_is_not_http_is_refused_at_init() {
        let mut map = settings();
        map.insert(CTP_AUTH_URL, "auth.example.com");
        assert!(matches!(
            CommercetoolsConfig::from_lookup(lookup(&map)).unwrap_err(),
            ConfigError::InvalidUrl {
                name: CTP_AUTH_URL,
                ..
            }
        ));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let map = settings();
        let config = CommercetoolsConfig::from_lookup(lookup(&map)).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}

//! The connector as a function builds it: `CTP_*` from the function's configuration, the
//! client secret from Secrets Manager (`CTP_CLIENT_SECRET_ID`) or, where a local run has no
//! secret store, `CTP_CLIENT_SECRET`. Every function that talks to the shop wires it here.

use crate::{ClientSecret, CommercetoolsConfig, CommercetoolsShop};
use bridge_lambda::{Config, InitError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The Secrets Manager id of the API client's secret.
pub const CTP_CLIENT_SECRET_ID: &str = "CTP_CLIENT_SECRET_ID";

fn shop_config(config: &Config, secret: ClientSecret) -> Result<CommercetoolsConfig, InitError> {
    Ok(CommercetoolsConfig::from_lookup_with_secret(
        |name| config.optional(name),
        secret,
    )?)
}

/// What needs no network, checked at init: every `CTP_*` setting, and a way to the secret.
pub fn check(config: &Config) -> Result<(), InitError> {
    // Everything but the secret, which only `connect` reads.
    shop_config(config, ClientSecret::new("read at build"))?;
    if config.optional(CTP_CLIENT_SECRET_ID).is_none()
        && config.optional(crate::CTP_CLIENT_SECRET).is_none()
    {
        return Err(format!(
            "neither {CTP_CLIENT_SECRET_ID} nor {} is set",
            crate::CTP_CLIENT_SECRET
        )
        .into());
    }
    Ok(())
}

/// Whether the secret lives in Secrets Manager (and so may change while the process runs).
pub fn secret_is_managed(config: &Config) -> bool {
    config.optional(CTP_CLIENT_SECRET_ID).is_some()
}

/// The shop client with the client secret as it is now.
pub async fn connect(
    config: &Config,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<CommercetoolsShop, InitError> {
    let secret = match config.optional(CTP_CLIENT_SECRET_ID) {
        Some(id) => bridge_aws::load_secret_string(secrets, &id).await?,
        None => config.required(crate::CTP_CLIENT_SECRET)?,
    };
    Ok(CommercetoolsShop::new(&shop_config(
        config,
        ClientSecret::new(secret),
    )?)?)
}

/// Builds the shop client again with the client secret read again (an operator put the
/// real one after the client's credentials were refused).
pub type Reconnect<T> = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Arc<T>, String>> + Send>>
        + Send
        + Sync,
>;

/// How often refused credentials make a function read the secret again, at most.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(60);

/// A shop client (behind one of the shop ports) that is built again, with the secret read
/// again, when the shop refuses its credentials: no restart after the secret is put.
pub struct Reconnecting<T: ?Sized> {
    current: RwLock<Arc<T>>,
    reconnect: Option<Reconnect<T>>,
    last: Mutex<Option<Instant>>,
}

impl<T: ?Sized> Reconnecting<T> {
    /// A client that is never rebuilt (its secret cannot change: a local run's
    /// `CTP_CLIENT_SECRET`, a test).
    pub fn fixed(client: Arc<T>) -> Self {
        Self {
            current: RwLock::new(client),
            reconnect: None,
            last: Mutex::new(None),
        }
    }

    /// A client rebuilt through `reconnect` at most every [`RECONNECT_EVERY`].
    pub fn new(client: Arc<T>, reconnect: Reconnect<T>) -> Self {
        Self {
            reconnect: Some(reconnect),
            ..Self::fixed(client)
        }
    }

    pub fn current(&self) -> Arc<T> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Call when the shop refused the credentials: rebuilds the client unless that was
    /// done within [`RECONNECT_EVERY`].
    pub async fn credentials_refused(&self) {
        let Some(reconnect) = &self.reconnect else {
            return;
        };
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < RECONNECT_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        match reconnect().await {
            Ok(client) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = client;
                tracing::info!(
                    "the shop refused the API client's credentials; the client secret was read again"
                );
            }
            Err(err) => {
                tracing::error!(error = %err, "reading the shop's client secret again failed")
            }
        }
    }
}

/// Whether `err` is the shop refusing the API client's credentials or scopes.
pub fn is_credentials(err: &bridge_domain::PortError) -> bool {
    err.operation == crate::CREDENTIALS_OPERATION
}

/// The shop client as a function builds it: rebuilt with the secret read again when the
/// shop refuses it, where the secret is in Secrets Manager. `wrap` turns the client into
/// the port the function uses.
pub async fn connect_reconnecting<T: ?Sized + Send + Sync + 'static>(
    config: &Config,
    secrets: &aws_sdk_secretsmanager::Client,
    wrap: fn(CommercetoolsShop) -> Arc<T>,
) -> Result<Reconnecting<T>, InitError> {
    let client = wrap(connect(config, secrets).await?);
    if !secret_is_managed(config) {
        // A secret from the environment cannot change while the process runs.
        return Ok(Reconnecting::fixed(client));
    }
    let (config, secrets) = (config.clone(), secrets.clone());
    let reconnect: Reconnect<T> = Arc::new(move || {
        let (config, secrets) = (config.clone(), secrets.clone());
        Box::pin(async move {
            connect(&config, &secrets)
                .await
                .map(wrap)
                .map_err(|e| e.to_string())
        })
    });
    Ok(Reconnecting::new(client, reconnect))
}

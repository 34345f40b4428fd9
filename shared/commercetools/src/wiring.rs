//! The connector as a function builds it: `CTP_*` from the function's configuration, the
//! client secret from Secrets Manager (`CTP_CLIENT_SECRET_ID`) or, where a local run has no
//! secret store, `CTP_CLIENT_SECRET`. Every function that talks to the shop wires it here.

use crate::{ClientSecret, CommercetoolsConfig, CommercetoolsShop};
use bridge_lambda::{Config, InitError};

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

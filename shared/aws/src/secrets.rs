use crate::classify;
use bridge_domain::PortError;

/// Reads a secret's string value (once per cold start, by the caller).
pub async fn load_secret_string(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, PortError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| classify("secrets.get", e))?;
    output.secret_string.ok_or_else(|| {
        PortError::permanent("secrets.get", format!("{secret_id} has no string value"))
    })
}

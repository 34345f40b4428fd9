//! How the functions build their AWS configuration and SDK clients, once per cold start.
//!
//! Cold start is where the SDK costs most (docs/performance.md): with its defaults every
//! service client builds its own HTTPS client, each of which parses every system root
//! certificate at construction, and the default credential chain builds an STS client
//! for web identity. A function on Lambda needs none of that: its credentials and region
//! are in its environment, and every endpoint it calls chains to an Amazon root. So the
//! functions load their configuration with [`load_function_config`]: environment
//! credentials and region, and one shared HTTPS client whose trust store is the five
//! Amazon Trust Services roots, compiled in.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use std::sync::OnceLock;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2 (amazontrust.com/repository):
/// every SQS, DynamoDB, S3 and Secrets Manager endpoint chains to one of them.
const AMAZON_TRUST_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-roots.pem");

/// `BRIDGE_TLS_ROOTS=system` also trusts the system's roots (an HTTPS endpoint override
/// such as a TLS-terminating proxy or emulator); an `https://` `AWS_ENDPOINT_URL` does too.
pub const TLS_ROOTS: &str = "BRIDGE_TLS_ROOTS";

/// One HTTPS client for every AWS client of a function: one connection pool, and a trust
/// store of the Amazon roots only (no certificate files read, nothing else trusted).
pub fn https_client() -> SharedHttpClient {
    let system_roots = std::env::var(TLS_ROOTS).is_ok_and(|v| v == "system")
        || std::env::var("AWS_ENDPOINT_URL").is_ok_and(|url| url.starts_with("https://"));
    let trust = TrustStore::empty()
        .with_pem_certificate(AMAZON_TRUST_ROOTS)
        .with_native_roots(system_roots);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context from a fixed trust store builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// The configuration of a function on Lambda: region and credentials from the
/// environment Lambda sets (no profile, web identity, container or instance lookups), the
/// shared HTTPS client, the time limits of [`crate::timeouts`]. `AWS_ENDPOINT_URL` is
/// honoured as by the SDK's defaults (the local stack and the tests use it).
pub async fn load_function_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .http_client(https_client())
        .timeout_config(crate::timeouts())
        .load()
        .await
}

/// Interceptors every client built here carries (the bench counts requests with one).
static INTERCEPTORS: OnceLock<Vec<SharedInterceptor>> = OnceLock::new();

/// Adds `interceptors` to every client built by this module from now on. Only the first
/// call takes effect: diagnostics for a whole process, such as the request-cost bench.
pub fn intercept_all(interceptors: Vec<SharedInterceptor>) {
    let _ = INTERCEPTORS.set(interceptors);
}

fn interceptors() -> impl Iterator<Item = SharedInterceptor> {
    INTERCEPTORS.get().into_iter().flatten().cloned()
}

pub fn sqs_client(config: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(config);
    for interceptor in interceptors() {
        builder.push_interceptor(interceptor);
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

pub fn dynamodb_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
    for interceptor in interceptors() {
        builder.push_interceptor(interceptor);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

pub fn secrets_client(config: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(config);
    for interceptor in interceptors() {
        builder.push_interceptor(interceptor);
    }
    aws_sdk_secretsmanager::Client::from_conf(builder.build())
}

/// An S3 client; path-style addressing when an endpoint is overridden (emulators do not
/// resolve `bucket.127.0.0.1`).
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some());
    for interceptor in interceptors() {
        builder.push_interceptor(interceptor);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled roots must parse: a broken bundle would only fail at the first request.
    #[test]
    fn the_amazon_roots_bundle_builds_a_connector() {
        let trust = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_ROOTS);
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .unwrap();
        let _connector = aws_smithy_http_client::Connector::builder()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build();
        let certificates = String::from_utf8_lossy(AMAZON_TRUST_ROOTS)
            .matches("-----BEGIN CERTIFICATE-----")
            .count();
        assert_eq!(certificates, 5);
    }
}

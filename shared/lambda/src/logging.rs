//! Structured JSON logs. Every line carries the spans it was written in, so the
//! function name, the event id and the correlation id appear on each line.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (once; later calls are ignored). Level from `RUST_LOG`,
/// default `info`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Installs the JSON subscriber writing to `writer` instead of stdout (the local stack
/// keeps its functions' logs in a file so that its own output stays readable).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .try_init();
}

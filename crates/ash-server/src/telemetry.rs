//! Logging (from `logging.yaml`, level changeable by hot reload) and the Prometheus recorder.

use std::sync::OnceLock;

use ash_config::{LogFormat, LoggingConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Changes the log level at run time.
pub(crate) type LogHandle = reload::Handle<EnvFilter, Registry>;

fn filter(config: &LoggingConfig) -> EnvFilter {
    // `RUST_LOG`, when set, wins (debugging a live process); else the configured level, with the
    // noisy dependencies kept at warn.
    EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = config.filter_directive().unwrap_or("info");
        EnvFilter::new(format!("{level},ort=warn,hyper=warn,tower=warn"))
    })
}

/// Installs the global subscriber; returns the handle that changes its level.
pub(crate) fn init_logging(config: &LoggingConfig) -> Option<LogHandle> {
    let (filter_layer, handle) = reload::Layer::new(filter(config));
    let registry = tracing_subscriber::registry().with(filter_layer);
    let installed = match config.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
        LogFormat::Human => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
    };
    installed.ok().map(|()| handle)
}

/// Applies a reloaded logging level.
pub(crate) fn apply_logging(handle: &LogHandle, config: &LoggingConfig) {
    if let Err(e) = handle.reload(filter(config)) {
        tracing::warn!(error = %e, "cannot change the log level");
    }
}

/// The process's Prometheus recorder (installed once).
pub(crate) fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
                )
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("ash_model_batch_size".into()), &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]));
            match builder.and_then(|b| b.install_recorder()) {
                Ok(handle) => handle,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

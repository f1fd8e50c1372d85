//! Logging (from `logging.yaml`, level changeable by hot reload) and the Prometheus recorder.

use std::sync::OnceLock;

use ash_config::{LogFormat, LoggingConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Changes the log level at run time.
pub(crate) type LogHandle = reload::Handle<EnvFilter, Registry>;

/// The workspace's crates (and the binary): the only log targets allowed below `warn`.
const OWN_TARGETS: &[&str] = &[
    "ash_nlp",
    "ash_server",
    "ash_models",
    "ash_analysis",
    "ash_config",
    "ash_response",
];

/// Caps every other crate at `warn`, whatever the configured level or `RUST_LOG` ask for.
///
/// Our crates never put message text in a log line (tested); dependencies promise nothing of the
/// kind: at debug or trace, tokenizers and ort see the text itself, hyper, h2, axum and tower the
/// request bodies, redis the commands that carry corrections. Capping all but our own, rather than
/// a list of names, also covers a dependency added later. Warnings and errors report failures, not
/// data, so they still show.
fn third_party_cap() -> Targets {
    OWN_TARGETS
        .iter()
        .fold(Targets::new().with_default(LevelFilter::WARN), |t, own| {
            t.with_target(*own, LevelFilter::TRACE)
        })
}

fn filter(config: &LoggingConfig) -> EnvFilter {
    // `RUST_LOG`, when set, wins (debugging a live process); else the configured level. Either way
    // `third_party_cap` applies on top.
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.filter_directive().unwrap_or("info")))
}

/// Installs the global subscriber; returns the handle that changes its level.
pub(crate) fn init_logging(config: &LoggingConfig) -> Option<LogHandle> {
    let (filter_layer, handle) = reload::Layer::new(filter(config));
    // Two global filters: an event must pass both (the level asked for, and the cap).
    let registry = tracing_subscriber::registry()
        .with(filter_layer)
        .with(third_party_cap());
    let installed = match config.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
        // Colour only on a terminal: a log file or collector gets plain text.
        LogFormat::Human => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stdout)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
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

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::third_party_cap;

    #[test]
    fn dependencies_are_capped_at_warn_and_our_crates_are_not() {
        let cap = third_party_cap();
        for target in [
            "tokenizers::tokenizer",
            "ort::session",
            "hyper::proto::h1::io",
            "hyper_util::client",
            "h2::codec",
            "tower_http::trace",
            "axum::rejection",
            "redis::cmd",
            "tokio::task",
            "log",
        ] {
            assert!(!cap.would_enable(target, &Level::INFO), "{target}");
            assert!(!cap.would_enable(target, &Level::TRACE), "{target}");
            assert!(cap.would_enable(target, &Level::WARN), "{target}");
        }
        for target in ["ash_server::middleware", "ash_models::worker", "ash_nlp"] {
            assert!(cap.would_enable(target, &Level::TRACE), "{target}");
        }
    }
}

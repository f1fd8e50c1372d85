//! Which settings a running server applies on reload, and which wait for a restart.
//!
//! Everything a request reads comes from its [`Pipeline`](crate::state::Pipeline) snapshot and so
//! applies at once: analysis, patterns, features, labels, the risk head, message and batch limits,
//! the body limit and read timeout, the request deadline, keys and allow-lists, and the log level;
//! connection timeouts are read when a connection is accepted, the drain delay at shutdown. The settings
//! below build things once at start (the listener, the admission semaphore, the rate limiter, the
//! CORS layer, model sessions, the correction store, the file watcher, the log format); a reload
//! that changes one reports it as `restart_required` instead of claiming it applied.

use ash_config::Config;

/// The start-only settings that differ between the configuration the server started with and
/// `now`, by key.
pub(crate) fn restart_required(start: &Config, now: &Config) -> Vec<&'static str> {
    let (a, b) = (&*start.server, &*now.server);
    let checks = [
        ("server.host", a.host != b.host),
        ("server.port", a.port != b.port),
        (
            "server.max_concurrent_requests",
            a.max_concurrent_requests != b.max_concurrent_requests,
        ),
        (
            "server.allow_degraded_start",
            a.allow_degraded_start != b.allow_degraded_start,
        ),
        (
            "server.shutdown_grace_ms",
            a.shutdown_grace_ms != b.shutdown_grace_ms,
        ),
        ("server.cors", a.cors != b.cors),
        ("server.rate_limit", a.rate_limit != b.rate_limit),
        ("models", start.models != now.models),
        (
            "storage.backend",
            start.storage.backend != now.storage.backend,
        ),
        (
            "storage.data_dir",
            start.storage.data_dir != now.storage.data_dir,
        ),
        (
            "storage.redis_url",
            start.storage.redis_url != now.storage.redis_url,
        ),
        ("logging.format", start.logging.format != now.logging.format),
        (
            "performance.reload",
            start.performance.reload != now.performance.reload,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
}

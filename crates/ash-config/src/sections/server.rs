//! `server.yaml`: network, limits, CORS, rate limiting, access control.

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::validate::{Validate, Validator};

/// HTTP server settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Bind address.
    pub host: String,
    /// Bind port.
    pub port: u16,
    /// Whole-request deadline; past it the client gets 503 and the analysis is marked timed out.
    pub request_timeout_ms: u64,
    /// Requests analysed at once. Beyond it a batch gets 503 with `Retry-After` at once; a single
    /// message waits up to `admission_wait_ms`, then gets a pattern-only answer marked degraded.
    pub max_concurrent_requests: usize,
    /// How long a single `/analyze` waits for a place under `max_concurrent_requests` before it is
    /// answered degraded. Keep it well under the clients' timeout (the bot waits 5 s).
    pub admission_wait_ms: u64,
    /// Longest message accepted, in characters (Unicode scalar values).
    pub max_message_chars: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most messages in one `/analyze/batch` call.
    pub max_batch_messages: usize,
    /// Start even when a model fails to load, answering from patterns only and saying so.
    pub allow_degraded_start: bool,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_ms: u64,
    /// After a shutdown signal, how long the service keeps accepting and answering while `/health`
    /// and `/ready` say `draining` (503), so a load balancer stops sending before it stops.
    pub shutdown_drain_delay_ms: u64,
    /// A request whose headers have begun arriving but are not complete within this is closed,
    /// so a slow or stalled client cannot hold a connection.
    pub header_read_timeout_ms: u64,
    /// A keep-alive connection with nothing in flight for this long is closed. Keep it above the
    /// clients' own pool keep-alive, so they close first and never reuse a closed connection.
    pub idle_timeout_ms: u64,
    /// A request body that has not fully arrived within this is answered 408.
    pub body_read_timeout_ms: u64,
    pub cors: CorsConfig,
    pub rate_limit: RateLimitConfig,
    pub security: SecurityConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8881,
            request_timeout_ms: 10_000,
            max_concurrent_requests: 256,
            admission_wait_ms: 1_000,
            max_message_chars: 10_000,
            max_body_bytes: 4 * 1024 * 1024,
            max_batch_messages: 100,
            allow_degraded_start: false,
            shutdown_grace_ms: 10_000,
            shutdown_drain_delay_ms: 0,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 75_000,
            body_read_timeout_ms: 5_000,
            cors: CorsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            security: SecurityConfig::default(),
        }
    }
}

/// Cross-origin access for browser clients (Ash-Bot itself does not need it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    pub enabled: bool,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_origins: Vec::new(),
            allowed_methods: vec!["GET".into(), "POST".into(), "OPTIONS".into()],
            allowed_headers: vec!["content-type".into(), "authorization".into()],
        }
    }
}

/// Per-client rate limiting. Off by default: Ash-Bot is one client carrying a whole community,
/// and throttling it would drop crisis messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Per client address.
    pub requests_per_minute: u32,
    pub burst: u32,
    /// Clients that present the API key, or whose address is in
    /// `security.feedback_allowed_ips`, are not limited: the bot carries a whole community and
    /// must not be throttled like one noisy user.
    pub exempt_trusted_clients: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            requests_per_minute: 600,
            burst: 150,
            exempt_trusted_clients: true,
        }
    }
}

/// Who may call the admin and feedback endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Key for `/admin/*` (and accepted on feedback endpoints). Admin is refused when unset.
    pub api_key: Option<Secret>,
    /// Client addresses or CIDR ranges allowed to post feedback without a key (Ash-Bot v3.1
    /// cannot send one). Empty: a key is always required.
    pub feedback_allowed_ips: Vec<String>,
    /// `/analyze` and `/analyze/batch` need the key too (`x-api-key`, `Authorization: Bearer` or
    /// `X-Ash-Internal-Key`). Off by default: the v3.1 bot sends no key.
    pub analyze_requires_key: bool,
}

impl Validate for ServerConfig {
    fn validate(&self, v: &mut Validator) {
        v.ensure(
            !self.host.trim().is_empty(),
            "host",
            &self.host,
            "must not be empty",
        );
        v.ensure(
            self.port != 0,
            "port",
            self.port,
            "must be between 1 and 65535",
        );
        v.range("request_timeout_ms", self.request_timeout_ms, 10, 600_000);
        v.range(
            "max_concurrent_requests",
            self.max_concurrent_requests,
            1,
            100_000,
        );
        v.range("admission_wait_ms", self.admission_wait_ms, 0, 60_000);
        v.range("max_message_chars", self.max_message_chars, 1, 1_000_000);
        v.range(
            "max_body_bytes",
            self.max_body_bytes,
            1024,
            256 * 1024 * 1024,
        );
        v.range("max_batch_messages", self.max_batch_messages, 1, 1000);
        v.range("shutdown_grace_ms", self.shutdown_grace_ms, 0, 600_000);
        v.range(
            "shutdown_drain_delay_ms",
            self.shutdown_drain_delay_ms,
            0,
            600_000,
        );
        v.range(
            "header_read_timeout_ms",
            self.header_read_timeout_ms,
            100,
            600_000,
        );
        v.range("idle_timeout_ms", self.idle_timeout_ms, 100, 3_600_000);
        v.range(
            "body_read_timeout_ms",
            self.body_read_timeout_ms,
            100,
            600_000,
        );
        v.at("rate_limit", |v| {
            v.range(
                "requests_per_minute",
                self.rate_limit.requests_per_minute,
                1,
                1_000_000,
            );
            v.range("burst", self.rate_limit.burst, 1, 1_000_000);
        });
        v.at("security", |v| {
            if self.security.analyze_requires_key && self.security.api_key.is_none() {
                v.problem(
                    "analyze_requires_key",
                    None,
                    "needs api_key (NLP_SECURITY_API_KEY): with no key nobody could analyse",
                );
            }
            if let Some(key) = &self.security.api_key {
                // The value is never echoed.
                if key.expose().len() < 16 {
                    v.problem("api_key", None, "must be at least 16 characters");
                }
            }
            for (i, entry) in self.security.feedback_allowed_ips.iter().enumerate() {
                if parse_ip_or_cidr(entry).is_none() {
                    v.problem(
                        &format!("feedback_allowed_ips[{i}]"),
                        Some(entry.clone()),
                        "must be an IP address or a CIDR range such as 10.0.0.0/8",
                    );
                }
            }
        });
    }
}

/// Parses `1.2.3.4`, `::1` or `10.0.0.0/8` into a network (a bare address is a /32 or /128).
pub fn parse_ip_or_cidr(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

//! Accepting and serving connections (HTTP/1.1 through hyper), with the connection timeouts and
//! the shutdown a production service needs.
//!
//! Hand-rolled around hyper's connection API rather than `axum::serve`, which offers no timeouts,
//! and because hyper has one timer for two jobs: its header-read timeout also starts when a
//! keep-alive connection goes idle, so it cannot keep idle connections longer than half-sent
//! requests. A watchdog per connection tells the two apart:
//!
//! - **header read** (`server.header_read_timeout_ms`): a request whose first bytes arrived but
//!   whose headers did not complete within it is closed; a slow or stalled client cannot hold a
//!   connection (or shutdown).
//! - **idle** (`server.idle_timeout_ms`): a keep-alive connection with nothing in flight and
//!   nothing arriving for this long is closed gracefully. It should stay above the clients' pool
//!   keep-alive, so that they close first and never reuse a connection closed under them.
//! - **shutdown**: the service says `draining` for `server.shutdown_drain_delay_ms` while still
//!   answering, then stops accepting and tells every connection to finish: idle ones close at
//!   once, in-flight requests complete (the caller bounds this by `server.shutdown_grace_ms`).
//!
//! The timeouts are read from the live configuration when a connection is accepted, so a reload
//! applies them to new connections.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::state::{AppState, Phase};

/// Serves `app` on `listener` until `shutdown` resolves, then drains: returns once every
/// connection has closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let (finish, finish_rx) = watch::channel(false);
    let (closed, closed_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut drain_until: Option<tokio::time::Instant> = None;
    loop {
        let drain_over = async {
            match drain_until {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let timeouts = Timeouts::of(&state);
                    let connection = Connection { app: app.clone(), remote, timeouts };
                    tokio::spawn(connection.run(stream, finish_rx.clone(), closed_rx.clone()));
                }
                Err(error) => accept_failed(&error).await,
            },
            () = &mut shutdown, if drain_until.is_none() => {
                state.set_phase(Phase::Draining);
                let delay = Duration::from_millis(state.config().server.shutdown_drain_delay_ms);
                tracing::info!(drain_delay_ms = delay.as_millis() as u64, "shutdown requested; draining");
                drain_until = Some(tokio::time::Instant::now() + delay);
            }
            () = drain_over => break,
        }
    }
    drop(listener);
    let open = closed.receiver_count() - 1;
    tracing::info!(
        open_connections = open,
        "no longer accepting; finishing in-flight requests"
    );
    let _ = finish.send(true);
    drop(closed_rx);
    closed.closed().await;
}

/// Errors of `accept` are about one connection (reset before it was taken) or about the process
/// (out of file descriptors); the second kind is waited out rather than spun on.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %error, "cannot accept connections; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The timeouts of one connection.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    header_read: Duration,
    idle: Duration,
}

impl Timeouts {
    fn of(state: &AppState) -> Self {
        let server = &state.config().server;
        Self {
            header_read: Duration::from_millis(server.header_read_timeout_ms),
            idle: Duration::from_millis(server.idle_timeout_ms),
        }
    }

    /// How often the watchdog looks: a quarter of the shorter timeout, between 50 ms and 1 s.
    fn tick(self) -> Duration {
        (self.header_read.min(self.idle) / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

/// One accepted connection.
struct Connection {
    app: Router,
    remote: SocketAddr,
    timeouts: Timeouts,
}

/// What the watchdog decides about a connection.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    /// Nothing in flight, nothing arriving, for the idle timeout.
    Idle,
    /// A request's headers began arriving and did not complete within the header-read timeout.
    HeaderTimedOut,
}

impl Connection {
    async fn run(
        self,
        stream: TcpStream,
        mut finish: watch::Receiver<bool>,
        closed: watch::Receiver<()>,
    ) {
        // Answers are small and written whole: no reason to let Nagle hold the last segment.
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let service = {
            let activity = Arc::clone(&activity);
            let (app, remote) = (self.app, self.remote);
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                let in_flight = activity.begin();
                request.extensions_mut().insert(ConnectInfo(remote));
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(axum::body::Body::new)).await;
                    drop(in_flight);
                    response
                }
            })
        };
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
        let mut connection = pin!(connection);
        let mut closing = false;
        let mut watchdog = tokio::time::interval(self.timeouts.tick());
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(error = %error, "connection ended with an error");
                    }
                    break;
                }
                changed = finish.changed(), if !closing => {
                    if changed.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                    closing = true;
                }
                _ = watchdog.tick() => match activity.verdict(activity.now_ms(), self.timeouts) {
                    Verdict::HeaderTimedOut => {
                        metrics::counter!("ash_connections_closed_total", "reason" => "header_read_timeout").increment(1);
                        tracing::debug!("closing a connection whose request headers did not arrive in time");
                        break;
                    }
                    Verdict::Idle if !closing => {
                        metrics::counter!("ash_connections_closed_total", "reason" => "idle").increment(1);
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    _ => {}
                },
            }
        }
        drop(closed);
    }
}

/// Marks "no time" in the millisecond fields of [`Activity`].
const NEVER: u64 = u64::MAX;

/// What one connection is doing, as the watchdog reads it.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// When the last request was answered (or the connection opened), in ms since `opened`.
    idle_since_ms: AtomicU64,
    /// When bytes of a new request first arrived while nothing was in flight, or [`NEVER`].
    head_started_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NEVER),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    /// Bytes arrived at `now_ms`: with nothing in flight, a new request has begun.
    fn received(&self, now_ms: u64) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started_ms.compare_exchange(
                NEVER,
                now_ms,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// A request's headers are complete and it is being answered, until the guard drops.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started_ms.store(NEVER, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    fn verdict(&self, now: u64, timeouts: Timeouts) -> Verdict {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Keep;
        }
        let head_started = self.head_started_ms.load(Ordering::Acquire);
        if head_started != NEVER {
            return if now.saturating_sub(head_started) >= timeouts.header_read.as_millis() as u64 {
                Verdict::HeaderTimedOut
            } else {
                Verdict::Keep
            };
        }
        let idle_since = self.idle_since_ms.load(Ordering::Acquire);
        if now.saturating_sub(idle_since) >= timeouts.idle.as_millis() as u64 {
            Verdict::Idle
        } else {
            Verdict::Keep
        }
    }
}

/// A request being answered; dropping it marks the connection idle from now.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .idle_since_ms
            .store(activity.now_ms(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, telling the watchdog when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.received(this.activity.now_ms());
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_millis(30),
        idle: Duration::from_millis(60),
    };

    #[test]
    fn a_started_head_times_out_sooner_than_an_idle_connection() {
        let activity = Arc::new(Activity::new());
        assert_eq!(activity.verdict(10, TIMEOUTS), Verdict::Keep);
        activity.received(10);
        // A second read of the same head does not restart its clock.
        activity.received(25);
        assert_eq!(activity.verdict(39, TIMEOUTS), Verdict::Keep);
        assert_eq!(activity.verdict(40, TIMEOUTS), Verdict::HeaderTimedOut);
    }

    #[test]
    fn a_request_in_flight_is_never_timed_out_and_its_end_starts_the_idle_clock() {
        let activity = Arc::new(Activity::new());
        activity.received(0);
        let request = activity.begin();
        // Body bytes of the request in flight are not a new head.
        activity.received(5);
        assert_eq!(activity.verdict(1_000, TIMEOUTS), Verdict::Keep);
        drop(request);
        let idle_since = activity.idle_since_ms.load(Ordering::Acquire);
        assert_eq!(activity.verdict(idle_since + 59, TIMEOUTS), Verdict::Keep);
        assert_eq!(activity.verdict(idle_since + 60, TIMEOUTS), Verdict::Idle);
    }

    #[test]
    fn a_quiet_connection_is_idle_from_the_start() {
        let activity = Activity::new();
        assert_eq!(activity.verdict(59, TIMEOUTS), Verdict::Keep);
        assert_eq!(activity.verdict(60, TIMEOUTS), Verdict::Idle);
    }
}

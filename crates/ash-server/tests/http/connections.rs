//! Connections: stalled and idle ones are closed, slow bodies are answered 408, and shutdown
//! neither waits for idle connections nor stops answering during its drain delay.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{Options, Server};

/// Reads `stream` until the server closes it or `limit` passes: what arrived, and whether it
/// was closed.
fn read_for(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// Waits (up to `limit`) for the server to close `stream`.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Result<String, String> {
    match read_for(stream, limit) {
        (received, true) => Ok(received),
        (_, false) => Err(format!("still open after {limit:?}")),
    }
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.address()).expect("connect")
}

/// A complete keep-alive request on `stream`; returns the status line.
fn round_trip(stream: &mut TcpStream) -> String {
    let body = r#"{"message":"hello"}"#;
    write!(
        stream,
        "POST /analyze HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut buf = [0u8; 8192];
    let n = stream.read(&mut buf).expect("response");
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_half_sent_request_is_closed_after_the_header_timeout_while_an_idle_connection_stays() {
    let server = Server::start_with(
        Options::default()
            .env("NLP_SERVER_HEADER_READ_TIMEOUT_MS", "500")
            .env("NLP_SERVER_IDLE_TIMEOUT_MS", "60000"),
    );
    let mut idle = connect(&server);
    let mut stalled = connect(&server);
    stalled
        .write_all(b"POST /analyze HTTP/1.1\r\nHost: test\r\nContent-Type: appl")
        .expect("write");
    let started = Instant::now();
    read_until_closed(&mut stalled, Duration::from_secs(15))
        .expect("the stalled request is closed");
    eprintln!("half-sent request closed after {:?}", started.elapsed());
    // The connection that sent nothing is idle, not stalled: it still serves a request.
    assert!(round_trip(&mut idle).contains("200"));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = Server::start_with(Options::default().env("NLP_SERVER_IDLE_TIMEOUT_MS", "700"));
    let mut stream = connect(&server);
    assert!(round_trip(&mut stream).contains("200"));
    read_until_closed(&mut stream, Duration::from_secs(15)).expect("the idle connection is closed");
}

#[test]
fn a_body_that_stops_arriving_is_answered_408() {
    let server =
        Server::start_with(Options::default().env("NLP_SERVER_BODY_READ_TIMEOUT_MS", "500"));
    let mut stream = connect(&server);
    stream
        .write_all(
            b"POST /analyze HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"message\": ",
        )
        .expect("write");
    let (answer, _) = read_for(&mut stream, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
}

#[test]
fn shutdown_closes_idle_connections_at_once_instead_of_waiting_out_the_grace_period() {
    let mut server = Server::start_with(
        Options::default()
            .file("server.yaml", "shutdown_grace_ms: 60000\n")
            .env("NLP_SERVER_IDLE_TIMEOUT_MS", "600000"),
    );
    let mut idle: Vec<TcpStream> = (0..50).map(|_| connect(&server)).collect();
    for stream in idle.iter_mut().take(10) {
        assert!(round_trip(stream).contains("200"));
    }
    let started = Instant::now();
    server.send_term();
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", server.log());
    eprintln!(
        "50 idle connections: exited {:?} after SIGTERM",
        started.elapsed()
    );
    for stream in &mut idle {
        read_until_closed(stream, Duration::from_secs(5)).expect("closed by the shutdown");
    }
}

#[test]
fn during_the_drain_delay_health_says_draining_and_requests_are_still_answered() {
    let mut server =
        Server::start_with(Options::default().env("NLP_SERVER_SHUTDOWN_DRAIN_DELAY_MS", "3000"));
    server.send_term();
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        let reply = server.get("/health");
        if reply.json["status"] == "draining" || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(health.status, 503, "{}", health.text);
    assert_eq!(health.json["status"], "draining");
    let ready = server.get("/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json["ready"], false);
    assert_eq!(
        server
            .post("/analyze", &serde_json::json!({"message": "hi"}))
            .status,
        200
    );
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", server.log());
}

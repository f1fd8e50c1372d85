//! Runs the real `ash-nlp` binary on a free loopback port with the real default model.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const API_KEY: &str = "test-admin-key-0123456789";

pub use ash_tests::{cache_dir, repo_root};

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A running server and its temporary configuration and data.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub agent: ureq::Agent,
}

/// How to start a server.
pub struct Options {
    pub env: Vec<(String, String)>,
    /// Edits to config files: (file name, full new content).
    pub files: Vec<(String, String)>,
    pub wait_ready: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            env: vec![("NLP_SECURITY_API_KEY".into(), API_KEY.into())],
            files: Vec::new(),
            wait_ready: true,
        }
    }
}

impl Options {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn without_env(mut self, k: &str) -> Self {
        self.env.retain(|(key, _)| key != k);
        self
    }

    pub fn file(mut self, name: &str, content: &str) -> Self {
        self.files.push((name.into(), content.into()));
        self
    }

    pub fn no_wait(mut self) -> Self {
        self.wait_ready = false;
        self
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).expect("mkdir");
        for entry in std::fs::read_dir(repo_root().join("config")).expect("config") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, config.join(path.file_name().expect("name"))).expect("copy");
        }
        for (name, content) in &options.files {
            std::fs::write(config.join(name), content).expect("write config");
        }
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ash-nlp"));
        command
            .args([
                "--config",
                config.to_str().expect("utf8"),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .env("NLP_MODEL_CACHE_DIR", cache_dir())
            .env("NLP_STORAGE_DATA_DIR", dir.path().join("data"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log));
        for (k, v) in &options.env {
            command.env(k, v);
        }
        let child = command.spawn().expect("spawn ash-nlp");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            agent: agent(),
        };
        if options.wait_ready {
            server.wait_ready();
        }
        server
    }

    /// Waits until `/ready` answers 200 (panics with the log if the process dies or 60 s pass).
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("ash-nlp exited with {status} before ready:\n{}", self.log());
            }
            if let Ok(r) = self.agent.get(&format!("{}/ready", self.base)).call()
                && r.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ash-nlp not ready within 60 s:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs JSON; returns status, headers' retry-after and the body as JSON (Null if not JSON).
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.post_raw(path, "application/json", &body.to_string(), &[])
    }

    pub fn post_with(
        &self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.post_raw(path, "application/json", &body.to_string(), headers)
    }

    pub fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .agent
            .post(&self.url(path))
            .header("content-type", content_type);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from(request.send(body).expect("request"))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(&self.url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from(request.call().expect("request"))
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_term();
        self.wait_exit(Duration::from_secs(30))
    }

    /// Sends SIGTERM without waiting.
    pub fn send_term(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// `host:port`, for raw connections.
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ash-nlp did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub request_id: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
    pub json: serde_json::Value,
}

impl From<ureq::http::Response<ureq::Body>> for Reply {
    fn from(mut r: ureq::http::Response<ureq::Body>) -> Self {
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let request_id = header("x-request-id");
        let content_type = header("content-type");
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply {
            status: r.status().as_u16(),
            retry_after,
            request_id,
            content_type,
            text,
            json,
        }
    }
}

pub fn write_config(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).expect("write config");
}

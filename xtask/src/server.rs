//! Starting and stopping the real `ash-nlp` binary for the integration and performance suites.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running `ash-nlp`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM, then the exit status (killed after 30 s).
    pub(crate) fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("ash-nlp did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An HTTP client that returns error statuses as responses.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `binary` on a free loopback port with the repository's configuration and model cache,
/// storage in `data`, and `env`; returns it once `/ready` answers, with the seconds that took.
pub(crate) fn start_server(
    binary: &Path,
    root: &Path,
    data: &Path,
    env: &[(&str, &str)],
) -> Result<(Server, f64)> {
    let port = free_port()?;
    let started = Instant::now();
    let mut command = Command::new(binary);
    command
        .args([
            "--config",
            "config",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .current_dir(root)
        .env("NLP_MODEL_CACHE_DIR", crate::setup::cache_dir(root))
        .env("NLP_STORAGE_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let agent = agent();
    loop {
        if let Some(status) = server.child.try_wait()? {
            bail!("ash-nlp exited with {status} before ready");
        }
        if let Ok(r) = agent.get(&format!("{}/ready", server.base)).call()
            && r.status() == 200
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("ash-nlp not ready within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let ready = started.elapsed().as_secs_f64();
    Ok((server, ready))
}

//! Start-up and shutdown of the binary.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ash_config::{Config, ConfigLoader, ConfigStore, Environment};
use ash_models::{ModelCoordinator, ModelsState};

use crate::router::app;
use crate::state::{self, AppState, Phase};
use crate::{cli, learning, telemetry};

/// How often corrections past their retention are looked for.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the binary: returns the process exit code (0 clean, 1 start-up failure, 2 bad config).
pub fn main_with(args: cli::Args) -> ExitCode {
    let env = match &args.env_file {
        Some(path) => Environment::from_process_with_dotenv(path),
        None => Ok(Environment::from_process()),
    };
    let env = match env {
        Ok(env) => env,
        Err(e) => {
            eprintln!("ash-nlp: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        return match ConfigLoader::new(&args.config, env).and_then(|l| l.load().map(|c| (c, l))) {
            Ok((config, loader)) => {
                #[allow(clippy::print_stdout)]
                {
                    print!("{}", config.to_redacted_yaml());
                }
                for var in loader.unused_variables() {
                    eprintln!("ash-nlp: note: {var} is set but not used by this service");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ash-nlp: invalid configuration:\n{e}");
                ExitCode::from(2)
            }
        };
    }
    let store = match ConfigStore::open(&args.config, env) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("ash-nlp: invalid configuration, refusing to start:\n{e}");
            return ExitCode::from(2);
        }
    };
    let log_handle = telemetry::init_logging(&store.current().logging);
    for var in store.loader().unused_variables() {
        tracing::warn!(variable = %var, "environment variable is set but not used by this service");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ash-http")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args, store, log_handle))
}

/// Re-derives what depends on the configuration after a reload.
fn on_config_change(state: &AppState, config: &Arc<Config>, log: Option<&telemetry::LogHandle>) {
    // Runs inside the store's reload, so the generation read here is this configuration's.
    match state::Pipeline::build(Arc::clone(config), state.store.status().generation) {
        Ok(pipeline) => {
            state.replace_pipeline(pipeline);
            warn_if_head_trained_with_other_patterns(config);
            let pending = state.restart_required();
            if !pending.is_empty() {
                tracing::warn!(settings = ?pending, "reloaded; these settings apply only after a restart");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "patterns of the reloaded configuration do not compile; keeping the previous ones")
        }
    }
    if let Some(models) = state.models.load_full()
        && let Err(e) = models.apply_config(config)
    {
        tracing::error!(error = %e, "label sets of the reloaded configuration cannot be applied; keeping the previous ones");
    }
    if let Some(handle) = log {
        telemetry::apply_logging(handle, &config.logging);
    }
}

/// The risk head's family inputs mean what they meant when it was trained only while the patterns
/// are the same; an edited `patterns.yaml` needs a retrain. It still runs (refusing would turn a
/// pattern edit into an outage), and says so.
fn warn_if_head_trained_with_other_patterns(config: &Config) {
    if config.risk_head.is_present()
        && config.risk_head.trained_with(&config.patterns) == Some(false)
    {
        tracing::warn!(
            risk_head = %config.risk_head.version,
            patterns = %config.patterns.digest(),
            "the risk head was trained with other patterns than patterns.yaml holds now; retrain it with `cargo xtask train`"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn run(
    args: cli::Args,
    store: Arc<ConfigStore>,
    log: Option<telemetry::LogHandle>,
) -> ExitCode {
    let boot = Instant::now();
    let config = store.current();
    warn_if_head_trained_with_other_patterns(&config);
    if let Some(reason) = crate::auth::rate_limit_risk(&config) {
        tracing::warn!(
            requests_per_minute = config.server.rate_limit.requests_per_minute,
            reason,
            "the rate limit could throttle the bot, which carries a whole community: refused messages go unanalysed"
        );
    }
    let learning = match learning::Learning::open(&config) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(backend = ?config.storage.backend, error = %e, "cannot open the correction store");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(store = %learning.describe(), corrections = learning.count(), "correction store open");
    let state = match AppState::new(Arc::clone(&store), telemetry::metrics_handle(), learning) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the analysis pipeline");
            return ExitCode::FAILURE;
        }
    };
    let weak = Arc::downgrade(&state);
    store.on_change(move |_old, new| {
        if let Some(state) = weak.upgrade() {
            on_config_change(&state, new, log.as_ref());
        }
    });
    spawn_correction_sync(&state);
    let _watcher = config.performance.reload.watch.then(|| {
        store.watch(Duration::from_millis(
            config.performance.reload.poll_interval_ms,
        ))
    });
    let host = args
        .host
        .clone()
        .unwrap_or_else(|| config.server.host.clone());
    let port = args.port.unwrap_or(config.server.port);
    let listener = match tokio::net::TcpListener::bind((host.as_str(), port)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %host, port, error = %e, "cannot bind");
            return ExitCode::FAILURE;
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(address = %address, config_ms = boot.elapsed().as_millis() as u64, "listening; loading models");
    let stop = Arc::new(tokio::sync::Notify::new());
    let server = serve(listener, Arc::clone(&state), Arc::clone(&stop));
    // Models load on a blocking thread; the port already answers /health meanwhile.
    let exit = attach_models(&state, &config, boot).await;
    if exit.is_some() {
        stop.notify_one();
    }
    let stopped = wait_for_stop(
        &state,
        server,
        Duration::from_millis(config.server.shutdown_grace_ms),
    )
    .await;
    if let Some(Err(e)) = stopped {
        tracing::error!(error = %e, "server task failed");
        return ExitCode::FAILURE;
    }
    tracing::info!("stopped");
    exit.unwrap_or(ExitCode::SUCCESS)
}

type Server = tokio::task::JoinHandle<()>;

/// Serves the API until a signal (or `stop`), then drains (see [`crate::serve`]).
fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: Arc<tokio::sync::Notify>,
) -> Server {
    tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                () = shutdown_signal() => {},
                () = stop.notified() => {},
            }
        };
        crate::serve::serve(listener, app(Arc::clone(&state)), state, shutdown).await;
    })
}

/// Loads the models and makes the service ready; the exit code when it must not run (models
/// failed and a degraded start is not allowed, or loading crashed).
async fn attach_models(state: &AppState, config: &Arc<Config>, boot: Instant) -> Option<ExitCode> {
    let model_config = Arc::clone(config);
    let loaded = tokio::task::spawn_blocking(move || ModelCoordinator::start(&model_config)).await;
    let coordinator = match loaded {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "model loading crashed");
            return Some(ExitCode::FAILURE);
        }
    };
    let status = coordinator.status();
    let load_ms = boot.elapsed().as_millis() as u64;
    let failures = || {
        status
            .models
            .iter()
            .map(|m| (&m.name, &m.last_error))
            .collect::<Vec<_>>()
    };
    match status.state {
        ModelsState::Ready => {
            tracing::info!(startup_ms = load_ms, label_set = %status.label_set, "ready");
        }
        _ if config.server.allow_degraded_start => {
            tracing::error!(
                startup_ms = load_ms,
                runtime_error = ?status.runtime_error,
                models = ?failures(),
                "STARTED DEGRADED: some or all models failed to load; affected answers are pattern-only and marked is_degraded"
            );
            metrics::gauge!("ash_degraded_start").set(1.0);
        }
        _ => {
            tracing::error!(
                runtime_error = ?status.runtime_error,
                models = ?failures(),
                "models failed to load; refusing to start (set server.allow_degraded_start to run pattern-only)"
            );
            return Some(ExitCode::FAILURE);
        }
    }
    state.models.store(Some(Arc::new(coordinator)));
    state.set_phase(Phase::Ready);
    None
}

/// Waits for the server to stop (signal or failure), then gives in-flight requests the grace
/// period (after the drain delay); `None` when they did not finish within it.
async fn wait_for_stop(
    state: &AppState,
    mut server: Server,
    grace: Duration,
) -> Option<Result<(), tokio::task::JoinError>> {
    let stopping = async {
        while state.phase() != Phase::Draining {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        r = &mut server => Some(r),
        () = stopping => match tokio::time::timeout(
            grace + Duration::from_millis(state.config().server.shutdown_drain_delay_ms),
            &mut server,
        ).await {
            Ok(r) => Some(r),
            Err(_) => {
                tracing::warn!(grace_ms = grace.as_millis() as u64, "in-flight requests did not finish within the grace period");
                None
            }
        },
    }
}

/// Corrections made on other replicas (shared store) arrive within one sync interval; expired
/// ones are deleted at start and then hourly (reading them all is not free).
fn spawn_correction_sync(state: &Arc<AppState>) {
    let sync_state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut last_purge: Option<Instant> = None;
        loop {
            let Some(state) = sync_state.upgrade() else {
                break;
            };
            let interval = Duration::from_millis(state.config().storage.sync_interval_ms);
            let worker = Arc::clone(&state);
            drop(state);
            let purge = last_purge.is_none_or(|t: Instant| t.elapsed() >= PURGE_EVERY);
            if purge {
                last_purge = Some(Instant::now());
            }
            let synced = tokio::task::spawn_blocking(move || {
                let config = worker.config();
                if purge {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    worker.learning.purge_expired(&config, now)?;
                }
                worker.learning.sync(&config)
            })
            .await;
            if let Ok(Err(e)) = synced {
                tracing::warn!(error = %e, "cannot sync staff corrections");
            }
            tokio::time::sleep(interval).await;
        }
    });
}

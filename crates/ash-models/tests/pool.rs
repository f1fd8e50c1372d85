//! The session pool and the two lanes, on the real runtime and the embedded default model.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ash_config::Config;
use ash_models::{ModelCoordinator, ModelsState, Priority};
use common::shipped_config;

fn with_pool(sessions: usize, threads: usize) -> Arc<ModelCoordinator> {
    let base = shipped_config();
    let mut models = (*base.models).clone();
    models.runtime.sessions = sessions;
    models.runtime.intra_threads = threads;
    // Shared test machines are slow and noisy: the order is what is tested, not the speed.
    models.runtime.inference_timeout_ms = 300_000;
    models.runtime.bulk_inference_timeout_ms = 300_000;
    // The bulk deadline is capped under the request's.
    let mut server = (*base.server).clone();
    server.request_timeout_ms = 600_000;
    let config = Config {
        models: Arc::new(models),
        server: Arc::new(server),
        ..base
    };
    let coordinator = ModelCoordinator::start(&config);
    assert_eq!(coordinator.status().state, ModelsState::Ready);
    Arc::new(coordinator)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt")
}

#[test]
fn a_pool_of_sessions_answers_exactly_what_one_session_does() {
    let texts: Vec<String> = (0..24)
        .map(|i| format!("message {i}: long day, feeling a bit off but okay"))
        .collect();
    let one = with_pool(1, 1);
    let three = with_pool(3, 1);
    let rt = runtime();
    let answer = |c: &Arc<ModelCoordinator>| {
        rt.block_on(futures::future::join_all(texts.iter().map(|t| c.infer(t))))
    };
    for (a, b) in answer(&one).iter().zip(answer(&three)) {
        assert!(a.failures.is_empty() && b.failures.is_empty());
        let (ea, eb) = (
            a.embedding.as_ref().expect("a"),
            b.embedding.as_ref().expect("b"),
        );
        let diff = ea
            .iter()
            .zip(eb)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-4, "sessions disagree by {diff}");
    }
}

#[test]
fn a_message_someone_just_wrote_goes_before_queued_bulk_work() {
    let coordinator = with_pool(1, 1);
    let long = "so much going on this week, work and family and everything in between. ".repeat(6);
    let bulk: Vec<String> = (0..96).map(|i| format!("{i} {long}")).collect();
    let finished = Arc::new(AtomicUsize::new(0));
    let rt = runtime();
    let (bulk_rank, realtime_rank) = rt.block_on(async {
        let c = Arc::clone(&coordinator);
        let done = Arc::clone(&finished);
        let bulk_task = tokio::spawn(async move {
            let texts: Vec<&str> = bulk.iter().map(String::as_str).collect();
            let outs = c.infer_batch(&texts, Priority::Bulk).await;
            assert!(outs.iter().all(|o| o.failures.is_empty()));
            done.fetch_add(1, Ordering::SeqCst)
        });
        // Let the bulk work reach the queue first.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let out = coordinator
            .infer("i don't think i can do this anymore")
            .await;
        assert!(out.failures.is_empty());
        let realtime_rank = finished.fetch_add(1, Ordering::SeqCst);
        (bulk_task.await.expect("bulk"), realtime_rank)
    });
    assert_eq!(realtime_rank, 0, "the real-time message finished first");
    assert_eq!(bulk_rank, 1);
}

//! The inference threads of one model: a pool of sessions, each owned by its own thread, all fed
//! from one bounded queue; each thread batches whatever is waiting into one forward pass.
//!
//! At low load a request runs alone as soon as it arrives (no artificial delay unless
//! `max_wait_us` asks for one); under load, requests that queued during the previous run go
//! together in the next one. A full queue is refused at once (`Overloaded`), never waited on.
//!
//! **Real-time before bulk.** There are two lanes. A single message someone just wrote
//! ([`Priority::RealTime`]) is always taken before batch work ([`Priority::Bulk`]), and bulk work
//! runs in small pieces (at most `bulk_max_batch_size` sequences and, estimated from the text's
//! length, `bulk_max_tokens_per_run` tokens), because a run cannot be paused: a real-time request waits at
//! most for one such piece per session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use crate::error::ModelError;
use crate::onnx::{OnnxModel, SequenceInput};

/// Rows of output, one per input sequence.
pub type Rows = Vec<Vec<f32>>;

struct Job {
    inputs: Vec<SequenceInput>,
    /// Tokens `inputs` will take, estimated once when the job is cut (sizes bulk runs).
    tokens: usize,
    reply: oneshot::Sender<Result<Rows, ModelError>>,
}

/// Which lane a piece of work takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// A message someone just wrote: first in line.
    RealTime,
    /// Batches and back-fill: runs when no real-time work waits, in small pieces.
    Bulk,
}

/// Handle to a model's worker threads. Dropping every handle stops them.
#[derive(Clone, Debug)]
pub struct Worker {
    name: Arc<str>,
    realtime: Sender<Job>,
    bulk: Sender<Job>,
    /// The pool's batching, with the sizes clamped as its threads use them.
    batching: Batching,
}

/// How a worker pool batches.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub max_batch_size: usize,
    /// Most sequences in one bulk run (a real-time request waits at most for one).
    pub bulk_max_batch_size: usize,
    /// Most tokens (estimated from the text's length) in one bulk run: long messages go a few at a
    /// time.
    pub bulk_max_tokens: usize,
    /// The model's longest sequence in tokens (longer text is truncated).
    pub max_length: usize,
    pub max_wait: Duration,
    pub queue_capacity: usize,
}

impl Batching {
    /// Most sequences and most estimated tokens in one run of `priority`'s lane: the same bounds
    /// cut a request into jobs and gather jobs into a run.
    fn lane_limits(&self, priority: Priority) -> (usize, usize) {
        match priority {
            Priority::RealTime => (self.max_batch_size, usize::MAX),
            Priority::Bulk => (self.bulk_max_batch_size, self.bulk_max_tokens),
        }
    }
}

/// Tokens `input` will take, estimated without the tokenizer: chat text averages about four
/// bytes a subword token, and the model truncates at `max_length`. Only sizes bulk pieces, so a
/// rough figure is enough.
fn estimated_tokens(input: &SequenceInput, max_length: usize) -> usize {
    let bytes = match input {
        SequenceInput::Single(text) => text.len(),
        SequenceInput::Pair(a, b) => a.len() + b.len(),
    };
    (bytes / 4 + 2).min(max_length.max(1))
}

/// The two lanes, as one worker thread reads them.
struct Lanes {
    realtime: Receiver<Job>,
    bulk: Receiver<Job>,
}

impl Worker {
    /// Starts one thread per session in `sessions` (one model's pool), all reading the same two
    /// lanes.
    pub fn spawn(
        name: &str,
        sessions: Vec<OnnxModel>,
        batching: Batching,
    ) -> Result<Self, ModelError> {
        let (realtime, realtime_rx) = bounded::<Job>(batching.queue_capacity);
        let (bulk, bulk_rx) = bounded::<Job>(batching.queue_capacity);
        let max_batch_size = batching.max_batch_size.max(1);
        let bulk_max_batch_size = batching.bulk_max_batch_size.clamp(1, max_batch_size);
        let batching = Batching {
            max_batch_size,
            bulk_max_batch_size,
            ..batching
        };
        for (i, model) in sessions.into_iter().enumerate() {
            let thread_name = name.to_owned();
            let lanes = Lanes {
                realtime: realtime_rx.clone(),
                bulk: bulk_rx.clone(),
            };
            std::thread::Builder::new()
                .name(format!("infer-{name}-{i}"))
                .spawn(move || run_loop(&thread_name, model, &lanes, batching))
                .map_err(|e| ModelError::Load {
                    model: name.to_owned(),
                    reason: format!("cannot start inference thread: {e}"),
                })?;
        }
        Ok(Self {
            name: name.into(),
            realtime,
            bulk,
            batching,
        })
    }

    /// Requests waiting in both lanes.
    pub fn queue_depth(&self) -> usize {
        self.realtime.len() + self.bulk.len()
    }

    /// Queues `inputs` (split into batch-sized jobs) and returns the receivers, in order.
    ///
    /// Requests are refused at once when the queue is full (`wait_for_space == false`); internal
    /// work (warmup, label embeddings) waits for space instead, so a small queue cannot make
    /// start-up or a label switch fail.
    fn submit(
        &self,
        inputs: Vec<SequenceInput>,
        priority: Priority,
        wait_for_space: bool,
    ) -> Result<Vec<oneshot::Receiver<Result<Rows, ModelError>>>, ModelError> {
        let sender = match priority {
            Priority::RealTime => &self.realtime,
            Priority::Bulk => &self.bulk,
        };
        let (piece, max_tokens) = self.batching.lane_limits(priority);
        let mut receivers = Vec::new();
        let mut rest = inputs;
        while !rest.is_empty() {
            let (take, tokens) = piece_within_tokens(
                &rest[..rest.len().min(piece)],
                max_tokens,
                self.batching.max_length,
            );
            let tail = rest.split_off(take);
            let (reply, rx) = oneshot::channel();
            let job = Job {
                inputs: rest,
                tokens,
                reply,
            };
            let sent = if wait_for_space {
                sender
                    .send(job)
                    .map_err(|e| TrySendError::Disconnected(e.0))
            } else {
                sender.try_send(job)
            };
            match sent {
                Ok(()) => receivers.push(rx),
                Err(TrySendError::Full(_)) => {
                    return Err(ModelError::Overloaded {
                        model: self.name.to_string(),
                    });
                }
                Err(TrySendError::Disconnected(_)) => return Err(self.stopped()),
            }
            rest = tail;
        }
        Ok(receivers)
    }

    fn stopped(&self) -> ModelError {
        ModelError::Unavailable {
            model: self.name.to_string(),
            reason: "inference thread stopped".into(),
        }
    }

    /// Runs `inputs` in `priority`'s lane and waits (asynchronously) at most `timeout`.
    pub async fn run(
        &self,
        inputs: Vec<SequenceInput>,
        priority: Priority,
        timeout: Duration,
    ) -> Result<Rows, ModelError> {
        let receivers = self.submit(inputs, priority, false)?;
        let gather = async {
            let mut rows = Vec::new();
            for rx in receivers {
                rows.extend(rx.await.map_err(|_| self.stopped())??);
            }
            Ok(rows)
        };
        match tokio::time::timeout(timeout, gather).await {
            Ok(result) => result,
            Err(_) => Err(ModelError::Timeout {
                model: self.name.to_string(),
                after_ms: timeout.as_millis() as u64,
            }),
        }
    }

    /// Runs `inputs` from a plain thread (start-up, label building, tools), waiting for queue
    /// space. Must not be called on an async runtime thread.
    pub fn run_blocking(&self, inputs: Vec<SequenceInput>) -> Result<Rows, ModelError> {
        let mut rows = Vec::new();
        for rx in self.submit(inputs, Priority::RealTime, true)? {
            rows.extend(rx.blocking_recv().map_err(|_| self.stopped())??);
        }
        Ok(rows)
    }
}

/// How many of `inputs` (at least one) fit in `max_tokens`, and the tokens they take.
fn piece_within_tokens(
    inputs: &[SequenceInput],
    max_tokens: usize,
    max_length: usize,
) -> (usize, usize) {
    let (mut count, mut tokens) = (0, 0usize);
    for input in inputs {
        let more = estimated_tokens(input, max_length);
        if count > 0 && tokens.saturating_add(more) > max_tokens {
            break;
        }
        count += 1;
        tokens = tokens.saturating_add(more);
    }
    (count, tokens)
}

/// The next job: real-time first; `None` once every handle is dropped.
fn next_job(lanes: &Lanes) -> Option<(Job, Priority)> {
    use crossbeam_channel::TryRecvError::Disconnected;
    loop {
        let realtime = match lanes.realtime.try_recv() {
            Ok(job) => return Some((job, Priority::RealTime)),
            Err(e) => e == Disconnected,
        };
        let bulk = match lanes.bulk.try_recv() {
            Ok(job) => return Some((job, Priority::Bulk)),
            Err(e) => e == Disconnected,
        };
        if realtime && bulk {
            return None;
        }
        // Both empty: sleep until either has work (or is closed), then look again, real-time
        // first.
        let mut select = Select::new();
        select.recv(&lanes.realtime);
        select.recv(&lanes.bulk);
        select.ready();
    }
}

fn run_loop(name: &str, mut model: OnnxModel, lanes: &Lanes, batching: Batching) {
    let max_wait = batching.max_wait;
    let mut carried: Option<(Job, Priority)> = None;
    loop {
        // A bulk job carried over from the last run does not go before real-time work.
        let next = match carried.take() {
            Some(bulk @ (_, Priority::Bulk)) if !lanes.realtime.is_empty() => {
                carried = Some(bulk);
                next_job(lanes)
            }
            Some(job) => Some(job),
            None => next_job(lanes),
        };
        let Some((first, priority)) = next else {
            return; // every handle dropped: shut down
        };
        // A run takes jobs of one lane only: bulk pieces stay small, real-time runs stay fast.
        let receiver = match priority {
            Priority::RealTime => &lanes.realtime,
            Priority::Bulk => &lanes.bulk,
        };
        let (limit, max_tokens) = batching.lane_limits(priority);
        let mut jobs = vec![first];
        let mut size = jobs[0].inputs.len();
        let mut tokens = jobs[0].tokens;
        let deadline = Instant::now() + max_wait;
        while size < limit && tokens < max_tokens {
            let next = match receiver.try_recv() {
                Ok(job) => Some(job),
                Err(_) if max_wait.is_zero() => None,
                Err(_) => receiver
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok(),
            };
            let Some(job) = next else { break };
            if size + job.inputs.len() > limit || tokens.saturating_add(job.tokens) > max_tokens {
                carried = Some((job, priority));
                break;
            }
            size += job.inputs.len();
            tokens += job.tokens;
            jobs.push(job);
        }
        // Callers that gave up (timeout, disconnected client) are not worth a forward pass.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        run_jobs(name, &mut model, jobs, lanes);
    }
}

/// One forward pass over the jobs' inputs together; each job gets its own rows back (or the
/// error), and the batch size, queue depth and inference time go to the metrics.
fn run_jobs(name: &str, model: &mut OnnxModel, mut jobs: Vec<Job>, lanes: &Lanes) {
    let sizes: Vec<usize> = jobs.iter().map(|j| j.inputs.len()).collect();
    let inputs: Vec<SequenceInput> = jobs
        .iter_mut()
        .flat_map(|j| std::mem::take(&mut j.inputs))
        .collect();
    metrics::histogram!("ash_model_batch_size", "model" => name.to_owned())
        .record(inputs.len() as f64);
    metrics::gauge!("ash_model_queue_depth", "model" => name.to_owned())
        .set((lanes.realtime.len() + lanes.bulk.len()) as f64);
    let started = Instant::now();
    let result = model.run(&inputs);
    metrics::histogram!("ash_inference_duration_seconds", "model" => name.to_owned())
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(mut rows) => {
            for (job, size) in jobs.into_iter().zip(sizes).rev() {
                let tail = rows.split_off(rows.len() - size);
                let _ = job.reply.send(Ok(tail));
            }
        }
        Err(error) => {
            tracing::error!(error = %error, batch = inputs.len(), "inference failed");
            for job in jobs {
                let _ = job.reply.send(Err(error.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: usize) -> SequenceInput {
        SequenceInput::Single("a".repeat(bytes))
    }

    #[test]
    fn bulk_pieces_hold_many_short_messages_but_few_long_ones() {
        let short: Vec<SequenceInput> = (0..8).map(|_| text(40)).collect();
        assert_eq!(piece_within_tokens(&short, 512, 256), (8, 96));
        // A 2,000-byte message is truncated at 256 tokens: two fit in 512.
        let long: Vec<SequenceInput> = (0..8).map(|_| text(2_000)).collect();
        assert_eq!(piece_within_tokens(&long, 512, 256), (2, 512));
        // One always goes, however long.
        assert_eq!(piece_within_tokens(&long, 16, 256), (1, 256));
    }
}

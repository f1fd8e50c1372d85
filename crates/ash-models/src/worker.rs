//! The dedicated inference thread of one model, fed by a bounded queue, batching whatever is
//! waiting into one forward pass.
//!
//! At low load a request runs alone as soon as it arrives (no artificial delay unless
//! `max_wait_us` asks for one); under load, requests that queued during the previous run go
//! together in the next one. A full queue is refused at once (`Overloaded`), never waited on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use crate::error::ModelError;
use crate::onnx::{OnnxModel, SequenceInput};

/// Rows of output, one per input sequence.
pub type Rows = Vec<Vec<f32>>;

struct Job {
    inputs: Vec<SequenceInput>,
    reply: oneshot::Sender<Result<Rows, ModelError>>,
}

/// Handle to a model's worker thread. Dropping every handle stops the thread.
#[derive(Clone, Debug)]
pub struct Worker {
    name: Arc<str>,
    sender: Sender<Job>,
    max_batch_size: usize,
}

impl Worker {
    /// Starts the thread that owns `model`.
    pub fn spawn(
        name: &str,
        model: OnnxModel,
        max_batch_size: usize,
        max_wait: Duration,
        queue_capacity: usize,
    ) -> Result<Self, ModelError> {
        let (sender, receiver) = bounded::<Job>(queue_capacity);
        let max_batch_size = max_batch_size.max(1);
        let thread_name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("infer-{name}"))
            .spawn(move || run_loop(&thread_name, model, &receiver, max_batch_size, max_wait))
            .map_err(|e| ModelError::Load {
                model: name.to_owned(),
                reason: format!("cannot start inference thread: {e}"),
            })?;
        Ok(Self {
            name: name.into(),
            sender,
            max_batch_size,
        })
    }

    /// Requests waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.sender.len()
    }

    /// Queues `inputs` (split into batch-sized jobs) and returns the receivers, in order.
    ///
    /// Requests are refused at once when the queue is full (`wait_for_space == false`); internal
    /// work (warmup, label embeddings) waits for space instead, so a small queue cannot make
    /// start-up or a label switch fail.
    fn submit(
        &self,
        inputs: Vec<SequenceInput>,
        wait_for_space: bool,
    ) -> Result<Vec<oneshot::Receiver<Result<Rows, ModelError>>>, ModelError> {
        let mut receivers = Vec::new();
        let mut rest = inputs;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(self.max_batch_size));
            let (reply, rx) = oneshot::channel();
            let job = Job {
                inputs: rest,
                reply,
            };
            let sent = if wait_for_space {
                self.sender
                    .send(job)
                    .map_err(|e| TrySendError::Disconnected(e.0))
            } else {
                self.sender.try_send(job)
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

    /// Runs `inputs` and waits (asynchronously) at most `timeout`.
    pub async fn run(
        &self,
        inputs: Vec<SequenceInput>,
        timeout: Duration,
    ) -> Result<Rows, ModelError> {
        let receivers = self.submit(inputs, false)?;
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
        for rx in self.submit(inputs, true)? {
            rows.extend(rx.blocking_recv().map_err(|_| self.stopped())??);
        }
        Ok(rows)
    }
}

fn run_loop(
    name: &str,
    mut model: OnnxModel,
    receiver: &Receiver<Job>,
    max_batch_size: usize,
    max_wait: Duration,
) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match receiver.recv() {
                Ok(job) => job,
                Err(_) => return, // every handle dropped: shut down
            },
        };
        let mut jobs = vec![first];
        let mut size = jobs[0].inputs.len();
        let deadline = Instant::now() + max_wait;
        while size < max_batch_size {
            let next = match receiver.try_recv() {
                Ok(job) => Some(job),
                Err(_) if max_wait.is_zero() => None,
                Err(_) => receiver
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok(),
            };
            let Some(job) = next else { break };
            if size + job.inputs.len() > max_batch_size {
                carried = Some(job);
                break;
            }
            size += job.inputs.len();
            jobs.push(job);
        }
        // Callers that gave up (timeout, disconnected client) are not worth a forward pass.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let sizes: Vec<usize> = jobs.iter().map(|j| j.inputs.len()).collect();
        let inputs: Vec<SequenceInput> = jobs
            .iter_mut()
            .flat_map(|j| std::mem::take(&mut j.inputs))
            .collect();
        metrics::histogram!("ash_model_batch_size", "model" => name.to_owned())
            .record(inputs.len() as f64);
        metrics::gauge!("ash_model_queue_depth", "model" => name.to_owned())
            .set(receiver.len() as f64);
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
}

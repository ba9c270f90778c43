//! Technician-triggered reproduction on the agent side: run the playbook a `ReproduceRequest`
//! names and answer with its result. A request seen again (re-sent after a reconnect) gets the
//! answer already given instead of a second run; two run at a time, a few wait, and one more
//! is answered "busy" at once, so a flood of requests (a hostile collector's) cannot grow the
//! agent. Requests are bounded in size where they arrive (`wire.rs`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firstline_proto::v1 as pb;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::checks::Shared;
use crate::config::Settings;
use crate::playbooks::{self, Context, Playbook};

/// Answers remembered for re-sent requests.
const REMEMBERED: usize = 32;
/// A playbook that takes longer than this is cut off and reported as such.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// Requests run at once.
const RUNNING: usize = 2;
/// Requests running or waiting their turn; one more is answered "busy" at once.
pub const MAX_PENDING: usize = 8;

pub struct Reproducer {
    settings: Settings,
    shared: Arc<Shared>,
    turns: Semaphore,
    pending: Arc<Semaphore>,
    busy_total: AtomicU64,
    answered: Mutex<VecDeque<(String, pb::AgentMessage)>>,
}

/// What to do with a request: answer now, or run it and answer later.
pub enum Admission {
    /// The answer already given to this request, or "busy".
    Now(Box<pb::AgentMessage>),
    Later(Job),
}

/// An admitted request: it holds one of the [`MAX_PENDING`] places until answered.
pub struct Job {
    reproducer: Arc<Reproducer>,
    request_id: String,
    playbook: String,
    target: Option<String>,
    _place: OwnedSemaphorePermit,
}

impl Job {
    /// Runs the playbook (waiting for a turn) and returns the message that answers it.
    pub async fn answer(self) -> pb::AgentMessage {
        self.reproducer
            .answer(&self.request_id, &self.playbook, self.target.as_deref())
            .await
    }
}

impl std::fmt::Debug for Reproducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reproducer").finish_non_exhaustive()
    }
}

impl Reproducer {
    pub fn new(settings: Settings, shared: Arc<Shared>) -> Self {
        Self {
            settings,
            shared,
            turns: Semaphore::new(RUNNING),
            pending: Arc::new(Semaphore::new(MAX_PENDING)),
            busy_total: AtomicU64::new(0),
            answered: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes a request if there is room, without waiting: a request already answered gets
    /// that answer again, and one beyond [`MAX_PENDING`] an error saying the agent is busy.
    pub fn admit(
        self: &Arc<Self>,
        request_id: String,
        playbook: String,
        target: Option<String>,
    ) -> Admission {
        if let Some(answer) = self.remembered(&request_id) {
            return Admission::Now(Box::new(answer));
        }
        match self.pending.clone().try_acquire_owned() {
            Ok(place) => Admission::Later(Job {
                reproducer: self.clone(),
                request_id,
                playbook,
                target,
                _place: place,
            }),
            Err(_) => {
                let busy_total = self.busy_total.fetch_add(1, Ordering::Relaxed) + 1;
                if busy_total.is_power_of_two() {
                    tracing::warn!(request = %request_id, limit = MAX_PENDING, busy_total, "too many reproduce requests at once; answered busy");
                }
                Admission::Now(Box::new(crate::wire::reproduce_result(
                    &request_id,
                    String::new(),
                    format!(
                        "busy: this agent already has {MAX_PENDING} reproduce requests running or waiting; ask again when they have finished"
                    ),
                )))
            }
        }
    }

    /// Runs the request and returns the message that answers it.
    async fn answer(
        &self,
        request_id: &str,
        playbook: &str,
        target: Option<&str>,
    ) -> pb::AgentMessage {
        if let Some(answer) = self.remembered(request_id) {
            return answer;
        }
        let answer = match self.run(playbook, target).await {
            Ok(result_json) => {
                crate::wire::reproduce_result(request_id, result_json, String::new())
            }
            Err(error) => crate::wire::reproduce_result(request_id, String::new(), error),
        };
        let mut answered = self.lock();
        answered.push_back((request_id.to_owned(), answer.clone()));
        while answered.len() > REMEMBERED {
            answered.pop_front();
        }
        answer
    }

    async fn run(&self, playbook: &str, target: Option<&str>) -> Result<String, String> {
        let Some(playbook) = Playbook::parse(playbook) else {
            return Err(format!(
                "this agent does not know the playbook {playbook:?}"
            ));
        };
        let _turn = self
            .turns
            .acquire()
            .await
            .map_err(|_| "the agent is stopping".to_owned())?;
        let context = Context::from_settings(&self.settings, self.shared.facts().clock_skew_ms)?;
        tracing::info!(playbook = playbook.name(), target, "reproducing on request");
        let result = tokio::time::timeout(RUN_LIMIT, playbooks::run(playbook, target, &context))
            .await
            .map_err(|_| {
                format!(
                    "the {} playbook did not finish within {RUN_LIMIT:?}",
                    playbook.name()
                )
            })?;
        let mut json = serde_json::to_value(&result).map_err(|e| e.to_string())?;
        // The collector accepts 64 KiB; drop step evidence of passing steps, then all, to fit.
        for only_passing in [true, false] {
            if serde_json::to_string(&json).map_or(0, |s| s.len()) <= 60 * 1024 {
                break;
            }
            if let Some(steps) = json.get_mut("steps").and_then(|s| s.as_array_mut()) {
                for step in steps {
                    if !only_passing || step["outcome"] != "fail" {
                        step["evidence"] = serde_json::Value::Null;
                    }
                }
            }
        }
        serde_json::to_string(&json).map_err(|e| e.to_string())
    }

    fn remembered(&self, request_id: &str) -> Option<pb::AgentMessage> {
        self.lock()
            .iter()
            .find(|(id, _)| id == request_id)
            .map(|(_, answer)| answer.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, pb::AgentMessage)>> {
        // Pushes and pops only: a panic elsewhere cannot leave it inconsistent.
        self.answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn error_of(answer: &pb::AgentMessage) -> &str {
        match &answer.body {
            Some(pb::agent_message::Body::ReproduceResult(result)) => &result.error,
            other => panic!("not a reproduce result: {other:?}"),
        }
    }

    /// 50,000 requests from a hostile collector once grew the agent to ~526 MB: each became
    /// a task waiting its turn. Now a few wait and the rest are answered "busy" at once.
    #[tokio::test]
    async fn a_flood_of_requests_is_answered_busy_beyond_a_small_queue() {
        let settings = Settings::parse(
            "[checks.dns]\nsystem_resolver = false\n[checks.network]\nping_gateway = false\n",
            Path::new("agent.toml"),
        )
        .expect("settings");
        let reproducer = Arc::new(Reproducer::new(settings, Arc::new(Shared::default())));
        let mut jobs = Vec::new();
        let mut busy = 0;
        for i in 0..50_000 {
            match reproducer.admit(format!("request-{i}"), "clock".to_owned(), None) {
                Admission::Later(job) => jobs.push(job),
                Admission::Now(answer) => {
                    assert!(error_of(&answer).starts_with("busy: "), "{answer:?}");
                    busy += 1;
                }
            }
        }
        assert_eq!(jobs.len(), MAX_PENDING);
        assert_eq!(busy, 50_000 - MAX_PENDING);

        // An answered request frees its place, and its answer is remembered.
        let first = jobs.remove(0);
        let answer = first.answer().await;
        assert_eq!(error_of(&answer), "", "{answer:?}");
        let Admission::Now(again) =
            reproducer.admit("request-0".to_owned(), "clock".to_owned(), None)
        else {
            panic!("a re-sent request runs again");
        };
        assert_eq!(*again, answer);
        assert!(matches!(
            reproducer.admit("request-new".to_owned(), "clock".to_owned(), None),
            Admission::Later(_)
        ));
    }
}

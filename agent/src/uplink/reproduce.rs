//! Technician-triggered reproduction on the agent side: run the playbook a `ReproduceRequest`
//! names and answer with its result. A request seen again (re-sent after a reconnect) gets the
//! answer already given instead of a second run; two run at a time, the rest wait.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firstline_proto::v1 as pb;
use tokio::sync::Semaphore;

use crate::checks::Shared;
use crate::config::Settings;
use crate::playbooks::{self, Context, Playbook};

/// Answers remembered for re-sent requests.
const REMEMBERED: usize = 32;
/// A playbook that takes longer than this is cut off and reported as such.
const RUN_LIMIT: Duration = Duration::from_secs(150);

pub struct Reproducer {
    settings: Settings,
    shared: Arc<Shared>,
    turns: Semaphore,
    answered: Mutex<VecDeque<(String, pb::AgentMessage)>>,
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
            turns: Semaphore::new(2),
            answered: Mutex::new(VecDeque::new()),
        }
    }

    /// Runs the request and returns the message that answers it.
    pub async fn answer(
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

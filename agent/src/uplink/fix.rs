//! Fix requests on the agent side: validate ([`crate::fixes::prepare`]), run one at a time,
//! answer with the report. A request seen again (re-sent after a reconnect) gets the answer
//! already given instead of a second run; a few wait their turn and one more is answered
//! "busy" at once, so a flood of requests cannot grow the agent or run fixes in parallel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use firstline_proto::v1 as pb;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Settings;
use crate::fixes::limits::DailyRuns;
use crate::fixes::{self, FixReport, Outcome};
use crate::wire::FixAsk;

/// Answers remembered for re-sent requests.
const REMEMBERED: usize = 32;
/// Requests running or waiting; one more is answered "busy".
pub const MAX_PENDING: usize = 4;

pub struct Fixer {
    settings: crate::config::Live,
    runs: Arc<DailyRuns>,
    /// One fix at a time: two changes at once could not be told apart in their verification.
    turn: Arc<Semaphore>,
    pending: Arc<Semaphore>,
    answered: Mutex<VecDeque<(String, pb::AgentMessage)>>,
    /// Requests admitted and not yet answered: a copy re-sent meanwhile (after a reconnect)
    /// is not run a second time.
    in_flight: Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Fixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixer").finish_non_exhaustive()
    }
}

pub enum Admission {
    Now(Box<pb::AgentMessage>),
    Later(FixJob),
    /// A copy of a request still running: its answer comes from the first copy, or, if that
    /// stream closed meanwhile, from the remembered answer when the collector asks again.
    AlreadyRunning,
}

pub struct FixJob {
    fixer: Arc<Fixer>,
    ask: FixAsk,
    _place: OwnedSemaphorePermit,
}

impl Drop for FixJob {
    /// Answered or abandoned, the request is no longer in flight.
    fn drop(&mut self) {
        self.fixer
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.ask.request_id);
    }
}

impl FixJob {
    pub async fn answer(self) -> pb::AgentMessage {
        self.fixer.answer(self.ask.clone()).await
    }
}

impl Fixer {
    /// Runs per day are counted in `STATE_DIR/fix-runs.json`.
    pub fn new(settings: Settings) -> Self {
        let runs = DailyRuns::load(settings.state_dir.join("fix-runs.json"));
        Self::with_runs(settings, runs)
    }

    /// Runs with `settings` as they change from then on.
    #[must_use]
    pub fn following(mut self, settings: crate::config::Live) -> Self {
        self.settings = settings;
        self
    }

    pub fn with_runs(settings: Settings, runs: DailyRuns) -> Self {
        Self {
            settings: crate::config::fixed(settings),
            runs: Arc::new(runs),
            turn: Arc::new(Semaphore::new(1)),
            pending: Arc::new(Semaphore::new(MAX_PENDING)),
            answered: Mutex::new(VecDeque::new()),
            in_flight: Mutex::new(std::collections::HashSet::new()),
        }
    }

    fn remembered(&self, request_id: &str) -> Option<pb::AgentMessage> {
        let answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        answered
            .iter()
            .find(|(id, _)| id == request_id)
            .map(|(_, answer)| answer.clone())
    }

    pub fn admit(self: &Arc<Self>, ask: FixAsk) -> Admission {
        if let Some(answer) = self.remembered(&ask.request_id) {
            return Admission::Now(Box::new(answer));
        }
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ask.request_id.clone())
        {
            tracing::info!(request = %ask.request_id, fix = %ask.fix, "fix request re-sent while it runs; not run twice");
            return Admission::AlreadyRunning;
        }
        match self.pending.clone().try_acquire_owned() {
            Ok(place) => Admission::Later(FixJob {
                fixer: self.clone(),
                ask,
                _place: place,
            }),
            Err(_) => {
                self.in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&ask.request_id);
                // Failed, not refused: nothing was wrong with the request, and the collector
                // tries a failed one again later (a refused one never).
                let mut busy = FixReport::refused(
                    &ask.fix,
                    format!(
                        "busy: this agent already has {MAX_PENDING} fixes running or waiting; ask again when they have finished"
                    ),
                );
                busy.outcome = Outcome::Failed;
                Admission::Now(Box::new(crate::wire::fix_result(&ask.request_id, &busy)))
            }
        }
    }

    async fn answer(&self, ask: FixAsk) -> pb::AgentMessage {
        if let Some(answer) = self.remembered(&ask.request_id) {
            return answer;
        }
        let report = self.run(&ask).await;
        match report.outcome {
            Outcome::Refused => {
                tracing::warn!(request = %ask.request_id, fix = %ask.fix, allowed_by = %ask.authority.allowed_by, error = ?report.error, "fix refused")
            }
            outcome => {
                tracing::info!(request = %ask.request_id, fix = %ask.fix, allowed_by = %ask.authority.allowed_by, outcome = outcome.as_str(), bytes_freed = report.bytes_freed(), "fix ran")
            }
        }
        let answer = crate::wire::fix_result(&ask.request_id, &report);
        let mut answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        answered.push_back((ask.request_id.clone(), answer.clone()));
        while answered.len() > REMEMBERED {
            answered.pop_front();
        }
        answer
    }

    async fn run(&self, ask: &FixAsk) -> FixReport {
        let Ok(turn) = self.turn.clone().acquire_owned().await else {
            return FixReport::refused(&ask.fix, "the agent is stopping".to_owned());
        };
        let settings = self.settings.borrow().clone();
        let runs = self.runs.clone();
        let limit = settings.fixes.run_limit;
        let task_ask = ask.clone();
        let work = tokio::task::spawn_blocking(move || {
            // The turn is held by the work itself: a fix past its time limit is answered
            // "failed", but the next one starts only when this one has really stopped.
            let _turn = turn;
            match fixes::prepare(
                &task_ask.fix,
                task_ask.parameters.clone(),
                &task_ask.authority,
                &settings,
            ) {
                Ok(prepared) => match fixes::spec(&task_ask.fix) {
                    Some(spec) => fixes::run::run_fix(spec, prepared, &runs),
                    None => FixReport::refused(&task_ask.fix, "unknown fix".to_owned()),
                },
                Err(error) => FixReport::refused(&task_ask.fix, error),
            }
        });
        match tokio::time::timeout(limit, work).await {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => FixReport {
                outcome: Outcome::Failed,
                error: Some(format!("the fix stopped unexpectedly: {e}")),
                ..FixReport::refused(&ask.fix, String::new())
            },
            Err(_) => FixReport {
                outcome: Outcome::Failed,
                error: Some(format!(
                    "the fix did not finish within {limit:?} ([fixes] run_limit); what it changed so far is not known"
                )),
                ..FixReport::refused(&ask.fix, String::new())
            },
        }
    }
}

// Linux only: the fixes are built for Linux, and the config tests use Linux paths.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn ask(id: &str, fix: &str, parameters: &[(&str, &str)]) -> FixAsk {
        FixAsk {
            request_id: id.to_owned(),
            fix: fix.to_owned(),
            parameters: parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            authority: crate::fixes::Authority {
                allowed_by: "technician:alice".to_owned(),
                consent_account: None,
            },
        }
    }

    fn outcome(answer: &pb::AgentMessage) -> (String, String) {
        match &answer.body {
            Some(pb::agent_message::Body::FixResult(result)) => {
                (result.outcome.clone(), result.error.clone())
            }
            other => panic!("not a fix result: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_refused_fix_is_answered_with_why_and_a_resent_request_is_not_run_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings::parse(
            &format!(
                "state_dir = {:?}\n[fixes]\nenabled = true\n",
                dir.path().display().to_string()
            ),
            std::path::Path::new("agent.toml"),
        )
        .expect("config");
        let fixer = Arc::new(Fixer::with_runs(settings, DailyRuns::in_memory()));
        let Admission::Later(job) =
            fixer.admit(ask("f-1", "service.restart", &[("service", "sshd")]))
        else {
            panic!("not admitted");
        };
        // The same request re-sent (a reconnect) while the first copy waits: not run twice.
        assert!(matches!(
            fixer.admit(ask("f-1", "service.restart", &[("service", "sshd")])),
            Admission::AlreadyRunning
        ));
        let (verdict, error) = outcome(&job.answer().await);
        assert_eq!(verdict, "refused");
        assert!(error.contains("not on this device's list"), "{error}");
        let Admission::Now(again) =
            fixer.admit(ask("f-1", "service.restart", &[("service", "sshd")]))
        else {
            panic!("a re-sent request ran again");
        };
        assert_eq!(outcome(&again).0, "refused");
    }
}

//! Bounded writes on PostgreSQL: no collector, frozen or cut off in the middle of a transaction,
//! may hold the others hostage through the locks it took (`check_locks`, rows).
//!
//! Two layers. The database ends what a stalled collector left behind: every pooled session
//! carries `lock_timeout`, `statement_timeout` and `idle_in_transaction_session_timeout`, so a
//! collector stopped (SIGSTOP, a VM paused, a long GC-like stall) with a transaction open loses
//! its session and its locks after `IDLE_IN_TRANSACTION_TIMEOUT`, and a waiter gives up after
//! `LOCK_TIMEOUT` at most. The collector bounds its own writers: each write transaction of the
//! group commit, the sweep and staff actions runs within `WRITE_TRANSACTION_DEADLINE`, and one
//! that stalls (past the deadline, or ended by one of those timeouts) is rolled back, its
//! connection closed rather than returned to the pool, logged and counted in `/metrics`. And a
//! collector's own writers take turns per check in memory (`CheckTurns`), so that a frozen one
//! has at most one session per check in the database's lock queue to be killed.

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;

use super::tickets::StaffError;
use super::{Backend, Store, StoreError};

/// How long a statement waits for a lock before it fails (`lock_timeout`). Longer than any lock
/// is held by a transaction that is making progress (a group commit of 1,000 findings deciding
/// its tickets takes a few seconds on two cores), short enough that a waiter gives up in
/// seconds when the holder is not making progress.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one statement may run (`statement_timeout`): ours take milliseconds; this is the
/// backstop for one that does not, REST reads included.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a session may sit in an open transaction without sending anything
/// (`idle_in_transaction_session_timeout`) before the database ends it, rolling back and
/// releasing its locks. Our transactions send their statements back to back (the ticket
/// engine decides in microseconds between them), so only a collector that stopped running
/// is idle this long: what a frozen collector costs the others.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write transaction may take, from taking its connection to its commit, before
/// the collector abandons it. Covers what the session settings cannot see: a database that
/// stopped answering, a network that dropped packets without resetting the connection.
pub const WRITE_TRANSACTION_DEADLINE: Duration = Duration::from_secs(30);

/// How long a write past its deadline is still given to finish or fail by itself.
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// The session settings as PostgreSQL startup options, in the order they are applied.
const SESSION_SETTINGS: [(&str, Duration); 3] = [
    ("lock_timeout", LOCK_TIMEOUT),
    ("statement_timeout", STATEMENT_TIMEOUT),
    (
        "idle_in_transaction_session_timeout",
        IDLE_IN_TRANSACTION_TIMEOUT,
    ),
];

/// `options` with the session settings above, except any the operator already set in the
/// database URL's `options` (`?options=-c%20lock_timeout%3D20s`): theirs wins.
pub(super) fn with_session_timeouts(options: PgConnectOptions) -> PgConnectOptions {
    let given = options.get_options().unwrap_or_default().to_owned();
    let missing: Vec<(&str, String)> = SESSION_SETTINGS
        .iter()
        .filter(|(name, _)| !given.contains(&format!("{name}=")))
        .map(|(name, value)| (*name, format!("{}ms", value.as_millis())))
        .collect();
    if missing.is_empty() {
        options
    } else {
        options.options(missing)
    }
}

/// The collector's writers whose transactions are bounded, as logs and `/metrics` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// `commit.rs`: agents' finding batches and heartbeats.
    GroupCommit,
    /// The periodic ticket sweep (stale devices, holds, flapping, SLA).
    Sweep,
    /// A person's action on a ticket.
    StaffAction,
    /// A batch of the retention pass (`store/retention.rs`).
    Retention,
}

impl Writer {
    pub const ALL: [Writer; 4] = [
        Writer::GroupCommit,
        Writer::Sweep,
        Writer::StaffAction,
        Writer::Retention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Writer::GroupCommit => "group_commit",
            Writer::Sweep => "sweep",
            Writer::StaffAction => "staff_action",
            Writer::Retention => "retention",
        }
    }
}

impl Display for Writer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Why a write transaction was abandoned: what it was waiting on, as far as is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// Still running at `WRITE_TRANSACTION_DEADLINE`.
    Deadline,
    /// A lock it waited for past `lock_timeout` (SQLSTATE 55P03).
    LockTimeout,
    /// A statement past `statement_timeout`, or cancelled (57014).
    StatementTimeout,
    /// The session is gone: ended by the database (idle in transaction too long, 25P03; an
    /// administrator's `pg_terminate_backend` or a shutdown, 57P0x) or the connection lost.
    SessionKilled,
}

impl Stall {
    pub const ALL: [Stall; 4] = [
        Stall::Deadline,
        Stall::LockTimeout,
        Stall::StatementTimeout,
        Stall::SessionKilled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stall::Deadline => "deadline",
            Stall::LockTimeout => "lock_timeout",
            Stall::StatementTimeout => "statement_timeout",
            Stall::SessionKilled => "session_killed",
        }
    }
}

impl Display for Stall {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl StoreError {
    /// What stalled the transaction this error ended, when it was a stall rather than the
    /// data or the device: worth trying again (on a new connection), and worth counting.
    pub fn stall(&self) -> Option<Stall> {
        match self {
            StoreError::Abandoned { stall, .. } => Some(*stall),
            StoreError::Database(sqlx::Error::Io(_)) => Some(Stall::SessionKilled),
            StoreError::Database(sqlx::Error::Database(database)) => {
                let code = database
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?
                    .code();
                match code {
                    "55P03" => Some(Stall::LockTimeout),
                    "57014" => Some(Stall::StatementTimeout),
                    "25P03" | "57P01" | "57P02" | "57P03" => Some(Stall::SessionKilled),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Errors a bounded write may end with.
pub(crate) trait Stalled: From<StoreError> + Display {
    fn stall(&self) -> Option<Stall>;
}

impl Stalled for StoreError {
    fn stall(&self) -> Option<Stall> {
        StoreError::stall(self)
    }
}

impl Stalled for StaffError {
    fn stall(&self) -> Option<Stall> {
        match self {
            StaffError::Store(error) => error.stall(),
            StaffError::Refused(_) => None,
        }
    }
}

/// Stripes of the in-process turns per check (`CheckTurns`): enough that unrelated checks
/// rarely share one, few enough to be a fixed array whatever check names agents send.
const CHECK_TURN_STRIPES: usize = 64;

/// This collector's own writers take turns per check in memory before they take the check's
/// lock in the database, so at most one session of a collector waits in the database's lock
/// queue for a check (or holds it). Without this, a collector frozen with one writer holding a
/// check's lock and others queued behind it costs the rest one idle-in-transaction timeout per
/// queued writer: the lock passes from one frozen session to the next, each killed only after
/// sitting on it for `IDLE_IN_TRANSACTION_TIMEOUT`.
#[derive(Debug)]
pub(super) struct CheckTurns {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for CheckTurns {
    fn default() -> Self {
        CheckTurns {
            stripes: (0..CHECK_TURN_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }
}

impl CheckTurns {
    /// Waits for this process's turn on every check named, in stripe order (so two writers
    /// never wait on each other crosswise); the turns last as long as the guards. Taken before
    /// the transaction begins: a session waiting here is not idle in a transaction.
    pub(super) async fn take<'a>(
        &self,
        checks: impl Iterator<Item = &'a str>,
    ) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = checks
            .map(|check| {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                check.hash(&mut hasher);
                // The remainder is below CHECK_TURN_STRIPES, so it fits a usize.
                usize::try_from(hasher.finish() % CHECK_TURN_STRIPES as u64).unwrap_or(0)
            })
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(self.stripes[stripe].lock().await);
        }
        guards
    }
}

/// How long a writer waits for its turn on SQLite's write lock (`WriteTurns`) before it goes
/// on without one and waits in SQLite's busy handler as before: the connection's
/// `busy_timeout`, so a turn held by a writer that never ends delays the others, never
/// stops them.
const WRITE_TURN_WAIT: Duration = Duration::from_secs(10);

/// SQLite has one write lock, and a writer that finds it taken waits in SQLite's busy handler,
/// which sleeps and tries again rather than queueing: a writer that comes back often (a
/// retention pass's next batch, 50 ms after the last) keeps winning it, while the group
/// commit, whose agents wait for its answer, sleeps seconds in between. So this process's
/// writers take turns in memory, first come first served (tokio's mutex is fair), before they
/// begin a write transaction; the busy handler is left for other processes (the sqlite3
/// shell, a backup). PostgreSQL writers need none: its lock waits queue.
#[derive(Debug, Default)]
pub(super) struct WriteTurns {
    queue: tokio::sync::Mutex<()>,
    /// Turns not had within `WRITE_TURN_WAIT`, for the log and tests.
    waited_out: AtomicU64,
}

impl Store {
    /// This writer's turn on SQLite's write lock (see `WriteTurns`), held until the guard
    /// drops: taken right before a write transaction begins and dropped with it, never held
    /// across another's. None on PostgreSQL, and when the turn did not come within
    /// `WRITE_TURN_WAIT` (logged).
    pub(super) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if !matches!(self.backend, Backend::Sqlite(_)) {
            return None;
        }
        match tokio::time::timeout(WRITE_TURN_WAIT, self.write_turns.queue.lock()).await {
            Ok(turn) => Some(turn),
            Err(_) => {
                self.write_turns.waited_out.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    waited_ms = millis(WRITE_TURN_WAIT),
                    "a write transaction did not get its turn in time; it goes on to wait for SQLite's lock itself"
                );
                None
            }
        }
    }

    /// How many writers went on without their turn (`write_turn`).
    #[cfg(test)]
    pub(crate) fn write_turns_waited_out(&self) -> u64 {
        self.write_turns.waited_out.load(Ordering::Relaxed)
    }
}

/// Abandoned transactions by writer and stall, since this process started.
#[derive(Debug, Default)]
pub(super) struct AbandonedCounts {
    counts: [[AtomicU64; Stall::ALL.len()]; Writer::ALL.len()],
}

impl AbandonedCounts {
    fn count(&self, writer: Writer, stall: Stall) {
        self.counts[writer as usize][stall as usize].fetch_add(1, Ordering::Relaxed);
    }
}

impl Store {
    /// Runs `work`, one write transaction of `writer`, within `WRITE_TRANSACTION_DEADLINE` on
    /// PostgreSQL (SQLite has one writer and its own `busy_timeout`: unbounded here, as
    /// before). A stalled one is logged and counted; the caller closes its connection (see
    /// `bounded_transaction!`).
    pub(super) async fn bounded<T, E: Stalled>(
        &self,
        writer: Writer,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let outcome = match self.backend {
            Backend::Sqlite(_) => work.await,
            Backend::Postgres(_) => {
                let mut work = std::pin::pin!(work);
                match tokio::time::timeout(self.write_deadline, &mut work).await {
                    Ok(outcome) => outcome,
                    // A collector that was itself frozen wakes past its deadline, its session
                    // perhaps ended by the database meanwhile: a moment more lets the
                    // connection say so (the truer cause), or deliver the commit's answer.
                    Err(_) => match tokio::time::timeout(DEADLINE_GRACE, &mut work).await {
                        Ok(outcome) => outcome,
                        // Dropping `work` drops its transaction mid-statement: the connection
                        // is in an unknown state, and the caller closes it.
                        Err(_) => Err(E::from(StoreError::Abandoned {
                            writer,
                            stall: Stall::Deadline,
                            after_ms: millis(started.elapsed()),
                        })),
                    },
                }
            }
        };
        if let Err(error) = &outcome
            && let Some(stall) = error.stall()
        {
            self.abandoned.count(writer, stall);
            tracing::warn!(
                writer = writer.as_str(),
                took_ms = millis(started.elapsed()),
                waiting_on = stall.as_str(),
                error = %error,
                "write transaction abandoned and rolled back; its connection is closed"
            );
        }
        outcome
    }

    /// How many write transactions this process abandoned, by writer and stall (zeros
    /// included), for `/metrics`.
    pub fn abandoned_transactions(&self) -> Vec<(Writer, Stall, u64)> {
        let mut all = Vec::with_capacity(Writer::ALL.len() * Stall::ALL.len());
        for writer in Writer::ALL {
            for stall in Stall::ALL {
                let count =
                    self.abandoned.counts[writer as usize][stall as usize].load(Ordering::Relaxed);
                all.push((writer, stall, count));
            }
        }
        all
    }

    /// Bounds this store's write transactions by `deadline` instead of
    /// `WRITE_TRANSACTION_DEADLINE` (tests make one stall in milliseconds).
    #[cfg(test)]
    pub(crate) fn with_write_deadline(mut self, deadline: Duration) -> Self {
        self.write_deadline = deadline;
        self
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Severity};
    use crate::store::tests::backends;
    use crate::store::{FindingBatch, NewDevice};
    use sqlx::{Connection, PgConnection};

    /// PostgreSQL options for the test database, in a schema of its own, or None (the SKIP is
    /// printed by `backends`).
    async fn postgres_options() -> Option<(Vec<crate::store::tests::TestStore>, PgConnectOptions)> {
        let stores = backends().await;
        let (options, schema) = stores.iter().find_map(|s| s.cleanup.clone())?;
        let options = options.options([("search_path", schema.as_str())]);
        Some((stores, options))
    }

    /// Waits (10 s at most) until the backend `pid` is gone from `pg_stat_activity`.
    async fn wait_session_gone(watcher: &mut PgConnection, pid: i32, what: &str) {
        let started = Instant::now();
        loop {
            let gone: bool = sqlx::query_scalar(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
            )
            .bind(pid)
            .fetch_one(&mut *watcher)
            .await
            .expect("pg_stat_activity");
            if gone {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (10 s at most) for a session named `application_name` to wait on a lock; its pid.
    async fn wait_lock_waiter(watcher: &mut PgConnection, application_name: &str) -> i32 {
        let started = Instant::now();
        loop {
            let pid: Option<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            )
            .bind(application_name)
            .fetch_optional(&mut *watcher)
            .await
            .expect("pg_stat_activity");
            if let Some(pid) = pid {
                return pid;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {application_name} to wait on a lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn batch(device_id: &str) -> FindingBatch {
        FindingBatch {
            device_id: device_id.to_owned(),
            findings: vec![Finding {
                sequence: 1,
                check: "disk.free_low".to_owned(),
                resource: "/".to_owned(),
                severity: Severity::Warning,
                summary: "low".to_owned(),
                evidence_json: "{}".to_owned(),
                observed_at_ms: 1,
            }],
            acknowledged_through: 1,
            received_at_ms: 1,
            health: None,
        }
    }

    /// Locks `disk.free_low` in `check_locks` (its row committed first) on a connection of its own, as a collector frozen
    /// mid-transaction would.
    async fn hold_check_lock(options: &PgConnectOptions) -> PgConnection {
        let mut holder = PgConnection::connect_with(options)
            .await
            .expect("holder connects");
        sqlx::query(
            "INSERT INTO check_locks (check_name) VALUES ('disk.free_low') ON CONFLICT DO NOTHING",
        )
        .execute(&mut holder)
        .await
        .expect("lock row");
        sqlx::query("BEGIN")
            .execute(&mut holder)
            .await
            .expect("begin");
        sqlx::query(
            "SELECT check_name FROM check_locks WHERE check_name = 'disk.free_low' FOR UPDATE",
        )
        .execute(&mut holder)
        .await
        .expect("lock");
        holder
    }

    #[tokio::test]
    async fn writers_of_one_process_take_turns_per_check() {
        let turns = CheckTurns::default();
        let first = turns
            .take(["disk.free_low", "dns.resolve"].into_iter())
            .await;
        // Polled once (a zero timeout): a check already taken is not this writer's turn yet…
        assert!(
            tokio::time::timeout(Duration::ZERO, turns.take(["dns.resolve"].into_iter()))
                .await
                .is_err()
        );
        // …and naming a check twice, or in another order, never deadlocks with itself.
        drop(first);
        let again = tokio::time::timeout(
            Duration::ZERO,
            turns.take(["dns.resolve", "disk.free_low", "dns.resolve"].into_iter()),
        )
        .await
        .expect("free once the first writer is done");
        assert!(!again.is_empty());
    }

    /// Regression: SQLite's busy handler sleeps and polls, so a retention pass's batches kept
    /// winning the write lock while the group commit slept seconds (`cargo xtask bench prune`).
    /// Every writer of the process queues for its turn first, and gets it in the order it came.
    #[tokio::test]
    async fn sqlite_writers_queue_for_the_write_lock_in_the_order_they_came() {
        for crate::store::tests::TestStore { store, .. } in &backends().await {
            if !matches!(store.backend, Backend::Sqlite(_)) {
                continue;
            }
            store.insert_token(b"t", 0, i64::MAX).await.expect("token");
            store
                .enroll_device(
                    b"t",
                    1,
                    &NewDevice {
                        id: "a".to_owned(),
                        hostname: "pc-a".to_owned(),
                        agent_version: "test".to_owned(),
                        certificate_serial: "01".to_owned(),
                        certificate_not_after_ms: i64::MAX,
                    },
                )
                .await
                .expect("enroll");
            let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let held = store
                .write_turn()
                .await
                .expect("SQLite's writers take turns");
            // A group commit (a bounded transaction), then the health probe (a plain one).
            let commit = tokio::spawn({
                let (store, done) = (store.clone(), done.clone());
                async move {
                    let outcome = store.store_finding_batches(&[batch("a")]).await;
                    done.lock().expect("order").push("commit");
                    outcome
                }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            let probe = tokio::spawn({
                let (store, done) = (store.clone(), done.clone());
                async move {
                    let outcome = store.probe_write(2).await;
                    done.lock().expect("order").push("probe");
                    outcome
                }
            });
            // Nobody holds SQLite's lock: only the turn keeps them waiting.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(done.lock().expect("order").is_empty(), "wrote out of turn");
            drop(held);
            assert_eq!(
                commit.await.expect("commit task").expect("commits"),
                vec![1]
            );
            probe.await.expect("probe task").expect("probe writes");
            assert_eq!(*done.lock().expect("order"), ["commit", "probe"]);
            assert_eq!(store.write_turns_waited_out(), 0);
        }
    }

    #[tokio::test]
    async fn every_pooled_session_has_the_timeouts_unless_the_url_sets_its_own() {
        let Some((_stores, options)) = postgres_options().await else {
            return;
        };
        for (given, expected_lock_timeout) in [(None, "10s"), (Some("20s"), "20s")] {
            let options = match given {
                Some(value) => options.clone().options([("lock_timeout", value)]),
                None => options.clone(),
            };
            let store = Store::connect_postgres_with(options, "test")
                .await
                .expect("connect");
            let Backend::Postgres(pool) = &store.backend else {
                unreachable!("connected to PostgreSQL");
            };
            let mut shown = Vec::new();
            for setting in [
                "lock_timeout",
                "statement_timeout",
                "idle_in_transaction_session_timeout",
            ] {
                let value: String =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
                        .fetch_one(pool)
                        .await
                        .expect("show");
                shown.push(value);
            }
            assert_eq!(
                shown,
                [expected_lock_timeout, "30s", "5s"],
                "URL's lock_timeout: {given:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_database_s_timeouts_are_told_apart() {
        let Some((_stores, options)) = postgres_options().await else {
            return;
        };
        let stall_of = |error: sqlx::Error| StoreError::Database(error).stall();

        // A lock held elsewhere, waited for past lock_timeout.
        let mut holder = hold_check_lock(&options).await;
        let mut waiter = PgConnection::connect_with(&options).await.expect("waiter");
        sqlx::query("SET lock_timeout = '50ms'")
            .execute(&mut waiter)
            .await
            .expect("set");
        let error = sqlx::query(
            "SELECT check_name FROM check_locks WHERE check_name = 'disk.free_low' FOR UPDATE",
        )
        .execute(&mut waiter)
        .await
        .expect_err("the lock is held");
        assert_eq!(stall_of(error), Some(Stall::LockTimeout));
        sqlx::query("ROLLBACK")
            .execute(&mut holder)
            .await
            .expect("release");

        // A statement past statement_timeout.
        sqlx::query("SET statement_timeout = '50ms'")
            .execute(&mut waiter)
            .await
            .expect("set");
        let error = sqlx::query("SELECT pg_sleep(5)")
            .execute(&mut waiter)
            .await
            .expect_err("too slow");
        assert_eq!(stall_of(error), Some(Stall::StatementTimeout));

        // A session idle in its transaction past the limit is ended by the database.
        let mut idle = PgConnection::connect_with(&options).await.expect("idle");
        sqlx::query("SET idle_in_transaction_session_timeout = '100ms'")
            .execute(&mut idle)
            .await
            .expect("set");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut idle)
            .await
            .expect("pid");
        sqlx::query("BEGIN")
            .execute(&mut idle)
            .await
            .expect("begin");
        wait_session_gone(&mut waiter, pid, "the idle session to be ended").await;
        let error = sqlx::query("SELECT 1")
            .execute(&mut idle)
            .await
            .expect_err("the session is gone");
        assert_eq!(stall_of(error), Some(Stall::SessionKilled));

        // What the data or the device did is no stall.
        let error = sqlx::query("SELECT 1/0")
            .execute(&mut waiter)
            .await
            .expect_err("division by zero");
        assert_eq!(stall_of(error), None);
        assert_eq!(
            StoreError::DeviceRevoked {
                device_id: "a".to_owned()
            }
            .stall(),
            None
        );
    }

    #[tokio::test]
    async fn a_write_past_its_deadline_is_abandoned_counted_and_its_session_closed() {
        let Some((_stores, options)) = postgres_options().await else {
            return;
        };
        let name = format!("bounded-test-{}", std::process::id());
        let store = Store::connect_postgres_with(options.clone().application_name(&name), "test")
            .await
            .expect("connect");
        store.insert_token(b"t", 0, i64::MAX).await.expect("token");
        store
            .enroll_device(
                b"t",
                1,
                &NewDevice {
                    id: "a".to_owned(),
                    hostname: "pc-a".to_owned(),
                    agent_version: "test".to_owned(),
                    certificate_serial: "01".to_owned(),
                    certificate_not_after_ms: i64::MAX,
                },
            )
            .await
            .expect("enroll");
        let mut holder = hold_check_lock(&options).await;
        let impatient = store
            .clone()
            .with_write_deadline(Duration::from_millis(300));

        let started = Instant::now();
        let batches = [batch("a")];
        let mut watcher = PgConnection::connect_with(&options).await.expect("watcher");
        // The group commit's session waits for the lock the holder has.
        let (outcome, pid) = tokio::join!(
            impatient.store_finding_batches(&batches),
            wait_lock_waiter(&mut watcher, &name)
        );
        let took = started.elapsed();
        assert!(
            matches!(
                outcome,
                Err(StoreError::Abandoned {
                    writer: Writer::GroupCommit,
                    stall: Stall::Deadline,
                    ..
                })
            ),
            "{outcome:?}"
        );
        assert!(took < LOCK_TIMEOUT, "abandoned after {took:?}");
        assert!(
            store
                .abandoned_transactions()
                .contains(&(Writer::GroupCommit, Stall::Deadline, 1)),
            "{:?}",
            store.abandoned_transactions()
        );

        // Its session is closed, not returned to the pool: once the lock is free the backend
        // finds its client gone and ends (a pooled one would stay, idle).
        sqlx::query("ROLLBACK")
            .execute(&mut holder)
            .await
            .expect("release");
        wait_session_gone(&mut watcher, pid, "the abandoned session to end").await;
        // Nothing of it was stored, and the same batch commits now.
        assert!(
            store
                .recent_findings("a", 10)
                .await
                .expect("findings")
                .is_empty()
        );
        assert_eq!(
            store
                .store_finding_batches(&[batch("a")])
                .await
                .expect("commits"),
            vec![1]
        );
    }
}

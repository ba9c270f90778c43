//! "No one can hold the others hostage" on PostgreSQL: a collector frozen (SIGSTOP) in the
//! middle of a transaction that holds a check's lock must cost the collectors beside it seconds,
//! not the whole freeze, and once resumed it must recover by itself with every acked finding
//! stored exactly once. Needs FIRSTLINE_TEST_POSTGRES_URL and permission to signal the
//! collector processes it starts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firstline_agent::identity::Identity;
use firstline_collector::store::Store;
use firstline_proto::v1 as pb;
use pb::agent_message::Body as AgentBody;
use pb::collector_message::Body as CollectorBody;

use crate::postgres::{CollectorProcess, Schema, sqlx_admin};
use crate::support::{SimulatedDevice, http_call, open_stream};

/// Simulated devices streaming to each collector.
const DEVICES_PER_COLLECTOR: usize = 3;
/// Findings per batch: every one on the same check, so every transaction of both collectors
/// takes that check's lock.
const FINDINGS_PER_BATCH: u64 = 20;
/// The check every finding is on.
const CHECK: &str = "disk.free_low";
/// How long the frozen collector stays stopped once it is seen holding the lock.
const FREEZE: Duration = Duration::from_secs(30);
/// The most the other collector may go without committing because of the frozen one.
const HOSTAGE_BOUND: Duration = Duration::from_secs(15);
/// How long a device waits for an ack before giving up on its stream (longer than the freeze:
/// a frozen collector's devices simply wait).
const ACK_PATIENCE: Duration = Duration::from_secs(90);

/// Which collector a device streams to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Frozen,
    Other,
}

/// Every ack the devices received, with when.
#[derive(Default)]
struct AckLog {
    acks: Mutex<Vec<(Side, Instant)>>,
}

impl AckLog {
    fn record(&self, side: Side) {
        if let Ok(mut acks) = self.acks.lock() {
            acks.push((side, Instant::now()));
        }
    }

    fn times(&self, side: Side) -> Vec<Instant> {
        self.acks
            .lock()
            .map(|acks| {
                acks.iter()
                    .filter(|(s, _)| *s == side)
                    .map(|(_, at)| *at)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn count(&self, side: Side) -> usize {
        self.times(side).len()
    }
}

/// One device's findings, batch after batch, each sent again (from the collector's committed
/// sequence) on a new stream when its stream fails: what a real agent's outbox does.
async fn stream_findings(
    url: String,
    identity: Identity,
    side: Side,
    device_number: usize,
    stop: Arc<AtomicBool>,
    acks: Arc<AckLog>,
    acked_through: Arc<AtomicU64>,
) {
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let (mut stream, welcome) = open_stream(&url, &identity).await;
        let mut next = welcome.committed_sequence + 1;
        'stream: while !stop.load(Ordering::Relaxed) {
            round += 1;
            // Each round flips the device's resources between firing and clear, so every
            // finding is a change the ticket engine decides on.
            let severity = if round.is_multiple_of(2) {
                pb::Severity::Ok
            } else {
                pb::Severity::Warning
            };
            let last = next + FINDINGS_PER_BATCH - 1;
            let findings = (next..=last)
                .map(|sequence| pb::Finding {
                    sequence,
                    check: CHECK.to_owned(),
                    resource: format!("/data{device_number}-{}", sequence % 4),
                    severity: severity as i32,
                    summary: format!("round {round}"),
                    evidence_json: format!(r#"{{"sequence": {sequence}}}"#),
                    observed_at_unix_ms: firstline_collector::model::now_ms(),
                })
                .collect();
            let sent = stream
                .outbound
                .send(pb::AgentMessage {
                    body: Some(AgentBody::Findings(pb::FindingBatch { findings })),
                })
                .await;
            if sent.is_err() {
                break 'stream;
            }
            loop {
                match tokio::time::timeout(ACK_PATIENCE, stream.inbound.message()).await {
                    Ok(Ok(Some(message))) => match message.body {
                        Some(CollectorBody::Ack(ack)) if ack.sequence >= last => {
                            assert!(ack.refused.is_empty(), "refused: {:?}", ack.refused);
                            acked_through.store(ack.sequence, Ordering::Relaxed);
                            acks.record(side);
                            next = ack.sequence + 1;
                            break;
                        }
                        // Anything else (a config push, a reproduce request) is not the ack.
                        _ => continue,
                    },
                    // The stream ended (the collector told it to reconnect, or died): a new
                    // stream resends from what the collector committed.
                    Ok(Ok(None)) | Ok(Err(_)) => break 'stream,
                    Err(_) => panic!("no ack within {ACK_PATIENCE:?} from the {side:?} collector"),
                }
            }
        }
    }
}

/// Sends a signal to a process the test started.
fn signal(process: &CollectorProcess, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(process.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed: {status}");
}

/// True when a session of the frozen collector sits idle in a transaction holding a lock on
/// `check_locks` and a session of the other collector waits for it: the hostage situation.
async fn held_hostage(admin: &sqlx::PgPool, check_locks: &str) -> bool {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity frozen \
           JOIN pg_locks held ON held.pid = frozen.pid AND held.granted AND held.relation = to_regclass($1) \
           JOIN pg_stat_activity other ON other.application_name = 'hostage-other' \
             AND frozen.pid = ANY (pg_blocking_pids(other.pid)) \
         WHERE frozen.application_name = 'hostage-frozen' AND frozen.state LIKE 'idle in transaction%')",
    )
    .bind(check_locks)
    .fetch_one(admin)
    .await
    .expect("query pg_stat_activity")
}

/// The sum of `firstline_store_transactions_abandoned_total` samples for `writer`.
async fn abandoned(process: &CollectorProcess, writer: &str) -> u64 {
    let (status, _, body) = http_call(process.http, "GET", "/metrics", &[], None).await;
    assert_eq!(status, 200, "/metrics");
    let needle = format!("firstline_store_transactions_abandoned_total{{writer=\"{writer}\"");
    body.as_str()
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with(&needle))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_collector_holding_check_locks_stalls_the_other_collectors_ingest() {
    let Some((schema, url)) = Schema::create().await else {
        return;
    };
    let signals = std::process::Command::new("kill")
        .arg("-0")
        .arg(std::process::id().to_string())
        .status();
    if !signals.is_ok_and(|status| status.success()) {
        crate::support::skip("no kill(1) to stop and continue a collector (Debian's procps)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let frozen = CollectorProcess::start(
        dir.path(),
        "frozen",
        &format!("{url}&application_name=hostage-frozen"),
        None,
    )
    .await;
    let other = CollectorProcess::start(
        dir.path(),
        "other",
        &format!("{url}&application_name=hostage-other"),
        Some(&frozen.data_dir),
    )
    .await;
    let store = Store::connect_postgres(&url).await.expect("shared store");
    let ca_pem = std::fs::read_to_string(frozen.data_dir.join("ca.pem")).expect("ca.pem");
    let admin = sqlx_admin(&url).await;
    let check_locks = format!("{}.check_locks", schema.name);

    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AckLog::default());
    let mut devices = Vec::new();
    let mut streaming = tokio::task::JoinSet::new();
    for n in 0..DEVICES_PER_COLLECTOR * 2 {
        let (side, collector) = if n % 2 == 0 {
            (Side::Frozen, &frozen)
        } else {
            (Side::Other, &other)
        };
        let token = firstline_collector::enrollment::create_token(
            &store,
            &ca_pem,
            Duration::from_secs(600),
        )
        .await
        .expect("token")
        .token;
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            token,
            &dir.path().join(format!("device-{n}")),
        )
        .await;
        let acked_through = Arc::new(AtomicU64::new(0));
        devices.push((side, identity.device_id().to_owned(), acked_through.clone()));
        streaming.spawn(stream_findings(
            collector.url(),
            identity,
            side,
            n,
            stop.clone(),
            acks.clone(),
            acked_through,
        ));
    }

    // Freeze the collector until it is caught holding a check's lock in an open transaction
    // with the other collector waiting for it (a freeze between two transactions proves
    // nothing: thaw, let it take up the load again, and try again).
    let mut caught = None;
    for _attempt in 0..8 {
        let before = acks.count(Side::Frozen);
        crate::support::wait_for("the collector to be frozen to commit under load", || {
            let acks = acks.clone();
            async move { (acks.count(Side::Frozen) >= before + 2).then_some(()) }
        })
        .await;
        signal(&frozen, "STOP");
        let frozen_at = (Instant::now(), firstline_collector::model::now_ms());
        while frozen_at.0.elapsed() < Duration::from_secs(4) {
            if held_hostage(&admin, &check_locks).await {
                caught = Some(frozen_at);
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if caught.is_some() {
            break;
        }
        signal(&frozen, "CONT");
    }
    let Some((frozen_at, frozen_at_ms)) = caught else {
        panic!("never caught the frozen collector holding a check lock that the other waited for");
    };
    tokio::time::sleep_until(tokio::time::Instant::from_std(frozen_at + FREEZE)).await;

    // Still frozen: what did the other collector commit and decide meanwhile?
    let other_acks: Vec<Instant> = acks
        .times(Side::Other)
        .into_iter()
        .filter(|at| *at > frozen_at && *at <= frozen_at + FREEZE)
        .collect();
    let other_ids: Vec<String> = devices
        .iter()
        .filter(|(side, _, _)| *side == Side::Other)
        .map(|(_, id, _)| id.clone())
        .collect();
    let decided: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.conditions WHERE device_id = ANY($1) AND updated_at_ms > $2",
        schema.name
    )))
    .bind(&other_ids)
    .bind(frozen_at_ms)
    .fetch_one(&admin)
    .await
    .expect("conditions decided during the freeze");
    signal(&frozen, "CONT");
    let thawed_at = Instant::now();
    // The longest the other collector went without an ack while the first was frozen (acks
    // already in flight when the freeze began do not count as progress made during it).
    let mut marks = vec![frozen_at];
    marks.extend(other_acks.iter().copied());
    marks.push(frozen_at + FREEZE);
    let longest_stall = marks
        .windows(2)
        .map(|pair| pair[1].saturating_duration_since(pair[0]))
        .max()
        .unwrap_or(FREEZE);
    eprintln!(
        "hostage: during a {FREEZE:?} freeze the other collector acked {} batches and decided {decided} conditions; its longest stall {longest_stall:?}",
        other_acks.len()
    );
    assert!(
        longest_stall <= HOSTAGE_BOUND,
        "the other collector committed nothing for {longest_stall:?} of a {FREEZE:?} freeze (bound {HOSTAGE_BOUND:?}): held hostage"
    );
    assert!(decided > 0, "no condition decided during the freeze");

    // Thawed, the frozen collector recovers by itself: its devices are acked again.
    let through_at_thaw: Vec<u64> = devices
        .iter()
        .map(|(_, _, acked)| acked.load(Ordering::Relaxed))
        .collect();
    let frozen_devices: Vec<usize> = (0..devices.len())
        .filter(|n| devices[*n].0 == Side::Frozen)
        .collect();
    let recover = Instant::now();
    loop {
        let recovered = frozen_devices.iter().all(|n| {
            devices[*n].2.load(Ordering::Relaxed) >= through_at_thaw[*n] + 2 * FINDINGS_PER_BATCH
        });
        if recovered {
            break;
        }
        assert!(
            recover.elapsed() < Duration::from_secs(60),
            "the thawed collector's devices were not acked again within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "hostage: the thawed collector acked its devices again after {:?}",
        thawed_at.elapsed()
    );
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = streaming.join_next().await {
        done.expect("device task");
    }

    // Nothing acked was lost, nothing stored twice, no key with two open tickets.
    for (side, id, acked) in &devices {
        let acked = acked.load(Ordering::Relaxed);
        let (stored, highest, committed): (i64, Option<i64>, i64) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT (SELECT count(*) FROM {0}.findings WHERE device_id = $1), \
                    (SELECT max(sequence) FROM {0}.findings WHERE device_id = $1), \
                    (SELECT committed_sequence FROM {0}.devices WHERE id = $1)",
                schema.name
            )))
            .bind(id)
            .fetch_one(&admin)
            .await
            .expect("findings of a device");
        assert!(acked > 0, "{side:?} device {id} was never acked");
        let acked = i64::try_from(acked).expect("a test's sequence fits");
        assert_eq!(
            (stored, highest, committed),
            (acked, Some(acked), acked),
            "{side:?} device {id}: every acked finding stored once, nothing beyond"
        );
    }
    let doubled: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM (SELECT ticket_key FROM {}.tickets WHERE open_key IS NOT NULL \
         GROUP BY ticket_key HAVING count(*) > 1) AS doubled",
        schema.name
    )))
    .fetch_one(&admin)
    .await
    .expect("open tickets per key");
    assert_eq!(doubled, 0, "a key with two open tickets");

    // The freeze is on record where an operator looks: the thawed collector counted the
    // transactions it lost (its idle session killed by the database, or past its deadline).
    let lost = abandoned(&frozen, "group_commit").await;
    let log = std::fs::read_to_string(dir.path().join("frozen.log")).unwrap_or_default();
    let logged: Vec<&str> = log
        .lines()
        .filter(|line| {
            line.contains("write transaction abandoned") || line.contains("stalled group commit")
        })
        .collect();
    eprintln!(
        "hostage: the thawed collector counted {lost} abandoned group commits and logged:\n{}",
        logged.join("\n")
    );
    assert!(
        lost > 0,
        "the thawed collector did not count its abandoned group commit"
    );
    assert!(
        logged.iter().any(|line| line.contains("group_commit")),
        "the thawed collector did not log its abandoned group commit"
    );
    drop(other);
}

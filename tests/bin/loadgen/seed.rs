//! `firstline-loadgen seed`: a year of history written straight into a fresh collector
//! database made by the collector's own migrations: devices over sites with their scopes,
//! findings spread over the period, device tickets, incidents and user reports with their
//! timelines, conditions, the solutions log, feedback, staff users, a session and an API key.
//! It prints what the bench needs (credentials, ids to look at) as one JSON object.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use firstline_collector::model::Role;
use sqlx::AssertSqlSafe;

use super::{Flags, SITES};

/// The (check, resource) pairs every device has conditions for, and what their findings say.
const CONDITIONS: [(&str, &str); 8] = [
    ("disk.used_pct", "/"),
    ("disk.used_pct", "/home"),
    ("memory.pressure", "ram"),
    ("cpu.saturated", "cpu"),
    ("dns.resolve", "intranet.example.com"),
    ("network.loss", "gateway"),
    ("service.stopped", "cups"),
    ("clock.skew_secs", "ntp"),
];
/// Solutions technicians wrote, per condition (index as in `CONDITIONS`).
const SOLUTIONS: [&str; 8] = [
    "cleared /var/log/journal and old kernels",
    "moved the user's downloads to the file server",
    "closed the leaking browser tabs; restarted the session",
    "stopped the runaway indexer",
    "flushed the resolver cache",
    "replaced the patch cable",
    "restarted cups",
    "re-enabled time sync",
];
/// Rows per INSERT statement, and rows per transaction.
const ROWS_PER_STATEMENT: usize = 500;
const ROWS_PER_TRANSACTION: u64 = 50_000;
const DAY_MS: i64 = 86_400_000;
const TECHNICIANS: usize = 10;
/// The password of every seeded person (a bench database, never a real one).
const PASSWORD: &str = "bench-history-password";

struct Plan {
    devices: usize,
    findings: u64,
    tickets: usize,
    open: usize,
    days: i64,
    now_ms: i64,
}

impl Plan {
    fn from_flags(flags: &Flags) -> anyhow::Result<Self> {
        let plan = Plan {
            devices: flags.number("devices", 5000)?,
            findings: flags.number("findings", 5_000_000)?,
            tickets: flags.number("tickets", 100_000)?,
            open: flags.number("open", 1000)?,
            days: flags.number("days", 365)?,
            now_ms: super::now_ms(),
        };
        if plan.devices < SITES {
            bail!(
                "--devices {} must be at least {SITES} (one per site)",
                plan.devices
            );
        }
        if plan.open > plan.tickets {
            bail!(
                "--open {} is more than --tickets {}",
                plan.open,
                plan.tickets
            );
        }
        if plan.open > plan.devices * CONDITIONS.len() / 2 {
            bail!(
                "--open {} is too many for {} devices (at most {})",
                plan.open,
                plan.devices,
                plan.devices * CONDITIONS.len() / 2
            );
        }
        if !(1..=3660).contains(&plan.days) {
            bail!("--days {} must be between 1 and 3660", plan.days);
        }
        Ok(plan)
    }

    fn start_ms(&self) -> i64 {
        self.now_ms - self.days * DAY_MS
    }
}

/// splitmix64: a fixed seed, so every run seeds the same history.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One connection to either database, taking whole statements as text: every value in them
/// is generated here, and strings go through `quote`.
enum Database {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Database {
    async fn execute(&mut self, sql: String) -> anyhow::Result<()> {
        let result = match self {
            Database::Sqlite(connection) => sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut **connection)
                .await
                .map(drop),
            Database::Postgres(connection) => sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut **connection)
                .await
                .map(drop),
        };
        result.with_context(|| {
            let head: String = sql.chars().take(160).collect();
            format!("seeding: {head} …")
        })
    }

    fn postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_or_null(text: Option<&str>) -> String {
    text.map_or_else(|| "NULL".to_owned(), quote)
}

fn number_or_null(number: Option<i64>) -> String {
    number.map_or_else(|| "NULL".to_owned(), |n| n.to_string())
}

/// Buffered multi-row inserts, one buffer per table, all in the current transaction; a
/// transaction is committed every `ROWS_PER_TRANSACTION` rows. Tables are flushed in the
/// order they were first used, so a row is never written before the row it refers to.
struct Writer {
    database: Database,
    tables: Vec<(String, Vec<String>)>,
    in_transaction: u64,
    written: u64,
    started: Instant,
    last_progress: Instant,
    phase: &'static str,
}

impl Writer {
    async fn begin(database: Database) -> anyhow::Result<Self> {
        let mut writer = Writer {
            database,
            tables: Vec::new(),
            in_transaction: 0,
            written: 0,
            started: Instant::now(),
            last_progress: Instant::now(),
            phase: "",
        };
        writer.database.execute("BEGIN".to_owned()).await?;
        Ok(writer)
    }

    /// Adds a row (`(…)` text) to the insert `head` (e.g. `INSERT INTO t (a, b)`).
    async fn row(&mut self, head: &str, values: String) -> anyhow::Result<()> {
        let index = match self.tables.iter().position(|(h, _)| h == head) {
            Some(index) => index,
            None => {
                self.tables.push((head.to_owned(), Vec::new()));
                self.tables.len() - 1
            }
        };
        self.tables[index].1.push(values);
        if self.tables[index].1.len() >= ROWS_PER_STATEMENT {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        for index in 0..self.tables.len() {
            let rows = std::mem::take(&mut self.tables[index].1);
            if rows.is_empty() {
                continue;
            }
            let count = rows.len() as u64;
            let sql = format!("{} VALUES {}", self.tables[index].0, rows.join(","));
            self.database.execute(sql).await?;
            self.in_transaction += count;
            self.written += count;
        }
        if self.in_transaction >= ROWS_PER_TRANSACTION {
            self.database.execute("COMMIT".to_owned()).await?;
            self.database.execute("BEGIN".to_owned()).await?;
            self.in_transaction = 0;
        }
        Ok(())
    }

    /// Says how far it got, every two seconds.
    fn progress(&mut self, done: u64, total: u64) {
        if self.last_progress.elapsed().as_secs() >= 2 {
            self.last_progress = Instant::now();
            eprintln!(
                "seed: {} {done}/{total}; {} rows in {:.0} s ({:.0} rows/s)",
                self.phase,
                self.written,
                self.started.elapsed().as_secs_f64(),
                self.written as f64 / self.started.elapsed().as_secs_f64()
            );
        }
    }

    async fn commit(mut self) -> anyhow::Result<Database> {
        self.flush().await?;
        self.database.execute("COMMIT".to_owned()).await?;
        Ok(self.database)
    }
}

struct SeededDevice {
    id: String,
    hostname: String,
    site: usize,
    account: String,
}

/// What a ticket left behind for the tables written after all tickets.
#[derive(Default)]
struct Aftermath {
    /// (device, condition) → the open ticket holding that condition.
    open_conditions: HashMap<(usize, usize), i64>,
    /// (condition, solution) → (worked count, first, last).
    solutions: HashMap<usize, (u64, i64, i64)>,
    open_ids: Vec<i64>,
    closed_ids: Vec<i64>,
    incident_ids: Vec<i64>,
}

pub(super) async fn seed(flags: &Flags) -> anyhow::Result<()> {
    let plan = Plan::from_flags(flags)?;
    let started = Instant::now();
    // The collector's own migrations make the schema; then its own code adds people,
    // a session and an API key.
    let sqlite_dir = flags.optional("sqlite-dir").map(PathBuf::from);
    let (store, database) = if let Some(url) = flags.optional("postgres") {
        let store = firstline_collector::store::Store::connect_postgres(url)
            .await
            .with_context(|| format!("--postgres {url}: connecting and migrating"))?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        (store, Database::Postgres(pool.acquire().await?))
    } else {
        let dir = PathBuf::from(
            flags
                .text("sqlite-dir")
                .context("--sqlite-dir DIR or --postgres URL is required")?,
        );
        if dir.join(firstline_collector::store::DATABASE_FILE).exists() {
            bail!(
                "--sqlite-dir {}: a database is already there; seed only a fresh one",
                dir.display()
            );
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = firstline_collector::store::Store::open(&dir).await?;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join(firstline_collector::store::DATABASE_FILE))
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        (store, Database::Sqlite(pool.acquire().await?))
    };
    let mut random = Random(0x5eed_f1e5_71ee_2026);
    let mut writer = Writer::begin(database).await?;

    let devices = seed_devices(&plan, &mut random, &mut writer).await?;
    let aftermath = seed_tickets(&plan, &devices, &mut random, &mut writer).await?;
    seed_conditions(&plan, &devices, &aftermath, &mut random, &mut writer).await?;
    seed_solutions(&aftermath, &mut writer).await?;
    seed_findings(&plan, &devices, &mut random, &mut writer).await?;
    let written = writer.written;
    let mut database = writer.commit().await?;
    if database.postgres() {
        // Tickets were written with their ids; the identity continues after them. And a
        // server running for a year has been analysed by autovacuum.
        database
            .execute(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT MAX(id) FROM tickets))"
                    .to_owned(),
            )
            .await?;
        eprintln!("seed: ANALYZE …");
        database.execute("ANALYZE".to_owned()).await?;
    }

    let now = super::now_ms();
    let hash = firstline_collector::auth::hash_password(PASSWORD)
        .map_err(|e| anyhow::anyhow!("hashing the seeded password: {e}"))?;
    store
        .insert_user("bench-supervisor", Role::Supervisor, &hash, now)
        .await?;
    for technician in 1..=TECHNICIANS {
        store
            .insert_user(&format!("tech{technician}"), Role::Technician, &hash, now)
            .await?;
    }
    let (session, csrf) = firstline_collector::auth::new_session_tokens();
    store
        .create_session(
            &firstline_collector::random::sha256(&session),
            "bench-supervisor",
            &csrf,
            now,
            now + DAY_MS,
        )
        .await?;
    let api_key =
        firstline_collector::http::create_api_key(&store, "bench-history", Role::Supervisor)
            .await?;
    let pick = |ids: &[i64], count: usize| -> Vec<i64> {
        let step = (ids.len() / count.max(1)).max(1);
        ids.iter().step_by(step).take(count).copied().collect()
    };
    let (database_bytes, findings_bytes) = sizes(&mut database, sqlite_dir.as_deref()).await?;
    let device_step = (devices.len() / 10).max(1);
    let secs = started.elapsed().as_secs_f64();
    eprintln!("seed: {written} rows in {secs:.0} s");
    println!(
        "{}",
        serde_json::json!({
            "devices": plan.devices,
            "findings": plan.findings,
            "tickets": plan.tickets,
            "open": plan.open,
            "days": plan.days,
            "rows": written,
            "seed_secs": secs,
            "database_bytes": database_bytes,
            "findings_bytes": findings_bytes,
            "api_key": api_key,
            "session_cookie": format!("{}={session}", firstline_collector::auth::SESSION_COOKIE),
            "open_tickets": pick(&aftermath.open_ids, 5),
            "closed_tickets": pick(&aftermath.closed_ids, 5),
            "incidents": pick(&aftermath.incident_ids, 3),
            "sample_devices": devices.iter().step_by(device_step).take(10).map(|d| d.id.clone()).collect::<Vec<_>>(),
        })
    );
    Ok(())
}

async fn seed_devices(
    plan: &Plan,
    random: &mut Random,
    writer: &mut Writer,
) -> anyhow::Result<Vec<SeededDevice>> {
    writer.phase = "devices";
    let mut devices = Vec::with_capacity(plan.devices);
    let findings_per_device = plan.findings / plan.devices as u64;
    for index in 0..plan.devices {
        let site = index % SITES;
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            random.next() as u32,
            random.next() as u16,
            random.below(0x1000),
            random.below(0x1000),
            random.next() & 0xffff_ffff_ffff
        );
        let hostname = format!("pc-{site:02}-{index:05}");
        let account = format!("user{index:05}");
        let site_name = format!("site-{site:02}");
        let gateway = format!("10.{site}.0.1");
        let dns = [format!("10.{site}.0.53"), "10.255.0.53".to_owned()];
        let inventory = firstline_collector::model::Inventory {
            hostname: hostname.clone(),
            os_name: "Debian GNU/Linux".to_owned(),
            os_version: "12".to_owned(),
            kernel_version: "6.1.0-28-amd64".to_owned(),
            architecture: "x86_64".to_owned(),
            cpu_model: "Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz".to_owned(),
            cpu_logical_cores: 12,
            cpu_physical_cores: 6,
            memory_total_bytes: 16 << 30,
            swap_total_bytes: 2 << 30,
            uptime_secs: random.below(30 * 86_400),
            agent_version: "0.1.0".to_owned(),
            site: site_name.clone(),
            gateways: vec![gateway.clone()],
            dns_servers: dns.to_vec(),
            users: vec![firstline_collector::model::DeviceUser {
                account: account.clone(),
                line: ":0".to_owned(),
                kind: firstline_collector::model::SessionKind::Graphical,
                login_at_ms: plan.now_ms - random.below(8 * 3_600_000) as i64,
                remote_host: String::new(),
            }],
            last_user: account.clone(),
            ..Default::default()
        };
        let inventory_json = serde_json::to_string(&inventory)?;
        let users_json = serde_json::to_string(&[&account])?;
        let findings =
            findings_per_device + u64::from((index as u64) < plan.findings % plan.devices as u64);
        let enrolled = plan.start_ms() - random.below(30) as i64 * DAY_MS;
        writer
            .row(
                "INSERT INTO devices (id, hostname, agent_version, enrolled_at_ms, certificate_serial, \
                 certificate_not_after_ms, os_name, os_version, inventory_json, inventory_at_ms, \
                 last_seen_at_ms, committed_sequence, site, vip, users_json, agent_cycle_ms, \
                 agent_rss_bytes, agent_outbox_depth, agent_metrics_at_ms)",
                format!(
                    "({}, {}, '0.1.0', {enrolled}, '{:016x}', {}, 'Debian GNU/Linux', '12', {}, {}, {}, \
                     {findings}, {}, {}, {}, {}, {}, 0, {})",
                    quote(&id),
                    quote(&hostname),
                    random.next(),
                    plan.now_ms + 300 * DAY_MS,
                    quote(&inventory_json),
                    plan.now_ms - DAY_MS,
                    plan.now_ms - random.below(60_000) as i64,
                    quote(&site_name),
                    i64::from(random.chance(1)),
                    quote(&users_json),
                    200 + random.below(400),
                    (12 << 20) + random.below(4 << 20),
                    plan.now_ms - random.below(60_000) as i64,
                ),
            )
            .await?;
        devices.push(SeededDevice {
            id,
            hostname,
            site,
            account,
        });
        writer.progress(index as u64, plan.devices as u64);
    }
    writer.flush().await?;
    for device in &devices {
        let scopes = firstline_collector::tickets::device_scopes(
            &format!("site-{:02}", device.site),
            &[format!("10.{}.0.1", device.site)],
            &[format!("10.{}.0.53", device.site), "10.255.0.53".to_owned()],
        );
        for scope in scopes {
            writer
                .row(
                    "INSERT INTO device_scopes (device_id, scope)",
                    format!("({}, {})", quote(&device.id), quote(&scope)),
                )
                .await?;
        }
    }
    writer.flush().await?;
    Ok(devices)
}

/// Tickets over the period, oldest first (ids grow with time, as the collector's do); the
/// open ones are every other ticket of the most recent `2 × open`.
async fn seed_tickets(
    plan: &Plan,
    devices: &[SeededDevice],
    random: &mut Random,
    writer: &mut Writer,
) -> anyhow::Result<Aftermath> {
    writer.phase = "tickets";
    let mut aftermath = Aftermath::default();
    let span = plan.days * DAY_MS;
    let start = plan.start_ms();
    let first_open = plan.tickets.saturating_sub(2 * plan.open);
    let mut open_count = 0usize;
    let head = format!(
        "INSERT INTO tickets (id, kind, ticket_key, open_key, state, title, description, check_name, \
         resource, device_id, scope, fingerprint, severity, impact, urgency, priority, tier, assignee, \
         staff_owned, vip, device_count, opened_at_ms, updated_at_ms, resolved_at_ms, closed_at_ms, \
         first_response_at_ms, response_due_ms, resolution_due_ms, pending_since_ms, response_breached, \
         resolution_breached, reopen_count, resolution, requester, requester_uid){}",
        if writer.database.postgres() {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        }
    );
    for index in 0..plan.tickets {
        let id = index as i64 + 1;
        let opened = start + (span as f64 * (index as f64 + 0.5) / plan.tickets as f64) as i64;
        let open =
            index >= first_open && (index - first_open).is_multiple_of(2) && open_count < plan.open;
        let kind = if index % 50 == 7 {
            "incident"
        } else if index % 20 == 3 {
            "report"
        } else {
            "device"
        };
        // Open tickets take distinct conditions (one open ticket per key); closed ones any.
        let (device_index, condition) = if open {
            let j = open_count;
            open_count += 1;
            (
                (j * 7) % devices.len(),
                (j * 7 / devices.len()) % CONDITIONS.len(),
            )
        } else {
            (
                random.below(devices.len() as u64) as usize,
                random.below(CONDITIONS.len() as u64) as usize,
            )
        };
        let device = &devices[device_index];
        let (check, resource) = CONDITIONS[condition];
        let priority = match random.below(100) {
            0..2 => 1,
            2..10 => 2,
            10..40 => 3,
            40..80 => 4,
            _ => 5,
        };
        let level = ["high", "medium", "low"][random.below(3) as usize];
        let severity = if priority <= 2 { "critical" } else { "warning" };
        let (key, check_name, resource_name, device_id, scope, fingerprint, title, requester) =
            match kind {
                "incident" => {
                    let site = if open {
                        (aftermath.incident_ids.len()) % SITES
                    } else {
                        device.site
                    };
                    let scope = format!("site=site-{site:02}");
                    (
                        format!("incident:{check}:{scope}"),
                        check.to_owned(),
                        resource.to_owned(),
                        None,
                        Some(scope.clone()),
                        format!("{check}:{resource}"),
                        format!("{check} on many devices of {scope}"),
                        None,
                    )
                }
                "report" => {
                    let report = format!("r-{id}");
                    (
                        format!("report:{}:{report}", device.id),
                        "user.report".to_owned(),
                        report,
                        Some(device.id.as_str()),
                        None,
                        "user.report:web:dns".to_owned(),
                        format!(
                            "{} cannot reach the intranet (DNS) on {}",
                            device.account, device.hostname
                        ),
                        Some(device.account.as_str()),
                    )
                }
                _ => (
                    format!("device:{}:{check}:{resource}", device.id),
                    check.to_owned(),
                    resource.to_owned(),
                    Some(device.id.as_str()),
                    None,
                    format!("{check}:{resource}"),
                    format!("{check} on {resource} ({})", device.hostname),
                    None,
                ),
            };
        let response_due = opened + priority * 3_600_000;
        let resolution_due = opened + priority * 8 * 3_600_000;
        let assignee = (random.chance(40) || (open && random.chance(50)))
            .then(|| format!("tech{}", 1 + random.below(TECHNICIANS as u64)));
        let first_response = assignee
            .as_ref()
            .map(|_| opened + random.below(2 * priority as u64 * 3_600_000) as i64);
        let (state, resolved, closed, resolution) = if open {
            let state = match (&assignee, random.below(4)) {
                (None, _) => "new",
                (Some(_), 0) => "assigned",
                (Some(_), 1) => "pending",
                _ => "in_progress",
            };
            (state, None, None, None)
        } else {
            let resolved = opened + 600_000 + random.below(3 * DAY_MS as u64) as i64;
            let auto = assignee.is_none() && kind != "report";
            let resolution = if auto {
                "auto-resolved: the condition cleared".to_owned()
            } else {
                SOLUTIONS[condition].to_owned()
            };
            if !auto {
                let entry = aftermath
                    .solutions
                    .entry(condition)
                    .or_insert((0, resolved, resolved));
                entry.0 += 1;
                entry.2 = resolved;
            }
            match random.below(100) {
                0..5 => ("cancelled", None, None, Some("cancelled".to_owned())),
                5..35 => ("resolved", Some(resolved), None, Some(resolution)),
                _ => (
                    "closed",
                    Some(resolved),
                    Some(resolved + 3 * DAY_MS),
                    Some(resolution),
                ),
            }
        };
        let updated = closed.or(resolved).unwrap_or(opened + 60_000);
        // Open tickets past their targets were already marked breached by the sweep.
        let now = plan.now_ms;
        let response_breached =
            first_response.map_or(open && response_due < now, |at| at > response_due);
        let resolution_breached =
            resolved.map_or(open && resolution_due < now, |at| at > resolution_due);
        let ticket_devices: Vec<usize> = if kind == "incident" {
            let site = scope
                .as_deref()
                .and_then(|s| s.strip_prefix("site=site-"))
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(0);
            let count = 3 + random.below(18) as usize;
            (0..count)
                .map(|k| (site + SITES * (k * 13 + index)) % devices.len())
                .filter(|d| d % SITES == site)
                .chain((site < devices.len()).then_some(site))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            vec![device_index]
        };
        writer
            .row(
                &head,
                format!(
                    "({id}, '{kind}', {key}, {open_key}, '{state}', {title}, {description}, {check}, {resource}, \
                     {device}, {scope}, {fingerprint}, '{severity}', '{level}', '{level}', {priority}, {tier}, \
                     {assignee}, {staff_owned}, 0, {device_count}, {opened}, {updated}, {resolved}, {closed}, \
                     {first_response}, {response_due}, {resolution_due}, {pending}, {response_breached}, \
                     {resolution_breached}, {reopens}, {resolution}, {requester}, NULL)",
                    key = quote(&key),
                    open_key = if open { quote(&key) } else { "NULL".to_owned() },
                    title = quote(&title),
                    description = quote(&format!(
                        "{title}. Opened by Firstline from the device's findings; see the timeline for evidence."
                    )),
                    check = quote(&check_name),
                    resource = quote(&resource_name),
                    device = quote_or_null(device_id),
                    scope = quote_or_null(scope.as_deref()),
                    fingerprint = quote(&fingerprint),
                    tier = 1 + u64::from(priority <= 2),
                    assignee = quote_or_null(assignee.as_deref()),
                    staff_owned = i64::from(assignee.is_some()),
                    device_count = ticket_devices.len(),
                    resolved = number_or_null(resolved),
                    closed = number_or_null(closed),
                    first_response = number_or_null(first_response),
                    pending = number_or_null((state == "pending").then_some(opened + 3_600_000)),
                    response_breached = i64::from(response_breached),
                    resolution_breached = i64::from(resolution_breached),
                    reopens = u64::from(random.chance(3)),
                    resolution = quote_or_null(resolution.as_deref()),
                    requester = quote_or_null(requester),
                ),
            )
            .await?;
        for &member in &ticket_devices {
            writer
                .row(
                    "INSERT INTO ticket_devices (ticket_id, device_id, added_at_ms, recovered_at_ms)",
                    format!(
                        "({id}, {}, {opened}, {})",
                        quote(&devices[member].id),
                        number_or_null(resolved)
                    ),
                )
                .await?;
        }
        seed_timeline(
            id,
            opened,
            &check_name,
            &resource_name,
            assignee.as_deref(),
            resolved.map(|at| (at, resolution.as_deref().unwrap_or(""))),
            closed,
            random,
            writer,
        )
        .await?;
        if kind == "report" {
            writer
                .row(
                    "INSERT INTO report_links (device_id, report_id, ticket_id, how, requester, group_key, \
                     check_first, at_ms)",
                    format!(
                        "({}, {}, {id}, 'opened', {}, 'web:dns', {}, {opened})",
                        quote(&device.id),
                        quote(&resource_name),
                        quote(&device.account),
                        u64::from(random.chance(30))
                    ),
                )
                .await?;
            // Linked once to a ticket a check had opened meanwhile.
            writer
                .row(
                    "INSERT INTO ticket_links (ticket_id, linked_id)",
                    format!("({id}, {})", id - 1),
                )
                .await?;
            if let Some(resolved) = resolved.filter(|_| random.chance(60)) {
                let fixed = random.chance(85);
                writer
                    .row(
                        "INSERT INTO ticket_feedback (ticket_id, account, answer, rating, words, at_ms)",
                        format!(
                            "({id}, {}, '{}', {}, '', {})",
                            quote(&device.account),
                            if fixed { "fixed" } else { "not_fixed" },
                            if fixed { 4 + random.below(2) } else { 1 + random.below(3) },
                            resolved + 3_600_000
                        ),
                    )
                    .await?;
            }
        }
        if open {
            aftermath.open_ids.push(id);
            if kind == "device" {
                aftermath
                    .open_conditions
                    .insert((device_index, condition), id);
            }
        } else {
            aftermath.closed_ids.push(id);
        }
        if kind == "incident" {
            aftermath.incident_ids.push(id);
        }
        writer.progress(index as u64, plan.tickets as u64);
    }
    writer.flush().await?;
    Ok(aftermath)
}

/// A ticket's timeline: opened with its evidence, more evidence, who took it, what they
/// said, and how it ended.
#[allow(clippy::too_many_arguments)]
async fn seed_timeline(
    id: i64,
    opened: i64,
    check: &str,
    resource: &str,
    assignee: Option<&str>,
    resolved: Option<(i64, &str)>,
    closed: Option<i64>,
    random: &mut Random,
    writer: &mut Writer,
) -> anyhow::Result<()> {
    const HEAD: &str = "INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json)";
    let evidence = |value: u64| {
        quote(
            &serde_json::json!({
                "check": check,
                "resource": resource,
                "severity": if value > 95 { "critical" } else { "warning" },
                "evidence": {"resource": resource, "value_pct": value, "threshold_pct": 90,
                             "top": [{"path": "/var/log/journal", "bytes": 4_294_967_296u64},
                                     {"path": "/home/user/Downloads", "bytes": 2_147_483_648u64}]},
            })
            .to_string(),
        )
    };
    writer
        .row(
            HEAD,
            format!(
                "({id}, {opened}, 'opened', NULL, {}, {})",
                quote(&format!("Opened: {check} on {resource}")),
                evidence(91 + random.below(9))
            ),
        )
        .await?;
    for k in 0..1 + random.below(3) {
        writer
            .row(
                HEAD,
                format!(
                    "({id}, {}, 'evidence', NULL, {}, {})",
                    opened + 300_000 * (k as i64 + 1),
                    quote(&format!("Still failing: {check} on {resource}")),
                    evidence(90 + random.below(10))
                ),
            )
            .await?;
    }
    if let Some(assignee) = assignee {
        let actor = quote(assignee);
        writer
            .row(
                HEAD,
                format!(
                    "({id}, {}, 'assignment', {actor}, {}, NULL)",
                    opened + 1_800_000,
                    quote(&format!("Assigned to {assignee}")),
                ),
            )
            .await?;
        writer
            .row(
                HEAD,
                format!(
                    "({id}, {}, 'comment', {actor}, {}, NULL)",
                    opened + 2_400_000,
                    quote("Looked at it remotely; the user is aware."),
                ),
            )
            .await?;
    }
    if let Some((at, resolution)) = resolved {
        writer
            .row(
                HEAD,
                format!(
                    "({id}, {at}, 'state', {}, {}, NULL)",
                    quote_or_null(assignee),
                    quote(&format!("Resolved: {resolution}"))
                ),
            )
            .await?;
    }
    if let Some(at) = closed {
        writer
            .row(HEAD, format!("({id}, {at}, 'state', NULL, 'Closed', NULL)"))
            .await?;
    }
    Ok(())
}

/// Every device's conditions: firing where an open ticket holds them, else resolved.
async fn seed_conditions(
    plan: &Plan,
    devices: &[SeededDevice],
    aftermath: &Aftermath,
    random: &mut Random,
    writer: &mut Writer,
) -> anyhow::Result<()> {
    writer.phase = "conditions";
    for (device_index, device) in devices.iter().enumerate() {
        for (condition, (check, resource)) in CONDITIONS.iter().enumerate() {
            let ticket = aftermath.open_conditions.get(&(device_index, condition));
            let since = plan.now_ms - random.below(plan.days as u64 * DAY_MS as u64) as i64;
            let (state, severity) = match ticket {
                Some(_) => ("firing", "warning"),
                None => ("resolved", "ok"),
            };
            writer
                .row(
                    "INSERT INTO conditions (device_id, check_name, resource, state, observed_firing, severity, \
                     summary, evidence_json, since_ms, updated_at_ms, changes_json, changed_at_ms, ticket_id)",
                    format!(
                        "({}, '{check}', '{resource}', '{state}', {}, '{severity}', {}, {}, {since}, {since}, '[]', {since}, {})",
                        quote(&device.id),
                        i64::from(ticket.is_some()),
                        quote(&format!("{check} on {resource}: {}", severity.to_uppercase())),
                        quote(&format!(r#"{{"resource":"{resource}","value_pct":93,"threshold_pct":90}}"#)),
                        number_or_null(ticket.copied()),
                    ),
                )
                .await?;
        }
        writer.progress(device_index as u64, devices.len() as u64);
    }
    writer.flush().await
}

/// The solutions log (what worked, per fingerprint) and a flagged problem.
async fn seed_solutions(aftermath: &Aftermath, writer: &mut Writer) -> anyhow::Result<()> {
    for (&condition, &(worked, first, last)) in &aftermath.solutions {
        let (check, resource) = CONDITIONS[condition];
        writer
            .row(
                "INSERT INTO solutions (fingerprint, solution, check_name, worked_count, first_at_ms, last_at_ms)",
                format!(
                    "('{check}:{resource}', {}, '{check}', {worked}, {first}, {last})",
                    quote(SOLUTIONS[condition])
                ),
            )
            .await?;
    }
    let (check, resource) = CONDITIONS[0];
    writer
        .row(
            "INSERT INTO problems (fingerprint, check_name, flagged_at_ms)",
            format!("('{check}:{resource}', '{check}', 0)"),
        )
        .await?;
    writer.flush().await
}

/// Each device's findings, its sequences in order over the period: in time order across
/// the fleet, as the collector receives them.
async fn seed_findings(
    plan: &Plan,
    devices: &[SeededDevice],
    random: &mut Random,
    writer: &mut Writer,
) -> anyhow::Result<()> {
    writer.phase = "findings";
    let start = plan.start_ms();
    let span = (plan.days * DAY_MS) as f64;
    let per_device = plan.findings / devices.len() as u64;
    let extra = plan.findings % devices.len() as u64;
    let mut done = 0u64;
    // Round by round, each device's next finding: rows arrive in time order, spread over
    // devices, as they do at a collector.
    let rounds = per_device + u64::from(extra > 0);
    for round in 0..rounds {
        for (index, device) in devices.iter().enumerate() {
            let count = per_device + u64::from((index as u64) < extra);
            if round >= count {
                continue;
            }
            let condition = random.below(CONDITIONS.len() as u64) as usize;
            let (check, resource) = CONDITIONS[condition];
            let severity = match random.below(10) {
                0..5 => "warning",
                5..7 => "critical",
                _ => "ok",
            };
            let value = 80 + random.below(20);
            let observed = start
                + (span * (round as f64 + (index as f64 / devices.len() as f64)) / count as f64)
                    as i64;
            writer
                .row(
                    "INSERT INTO findings (device_id, sequence, check_name, resource, severity, summary, \
                     evidence_json, observed_at_ms, received_at_ms)",
                    format!(
                        "({}, {}, '{check}', '{resource}', '{severity}', '{check} on {resource}: {} ({value}%)', \
                         '{{\"resource\":\"{resource}\",\"value_pct\":{value},\"threshold_pct\":90}}', {observed}, {})",
                        quote(&device.id),
                        round + 1,
                        severity.to_uppercase(),
                        observed + 40 + random.below(200) as i64
                    ),
                )
                .await?;
            done += 1;
        }
        writer.progress(done, plan.findings);
    }
    writer.flush().await
}

/// The database's size on disk, and the findings table's with its indexes (`None` where
/// the database cannot say: SQLite without the dbstat table).
async fn sizes(
    database: &mut Database,
    sqlite_dir: Option<&std::path::Path>,
) -> anyhow::Result<(u64, Option<u64>)> {
    use sqlx::Row;
    match (database, sqlite_dir) {
        (Database::Postgres(connection), _) => {
            let row = sqlx::query(
                "SELECT pg_database_size(current_database()) AS total, \
                 pg_total_relation_size('findings') AS findings",
            )
            .fetch_one(&mut **connection)
            .await?;
            let total: i64 = row.try_get("total")?;
            let findings: i64 = row.try_get("findings")?;
            Ok((total as u64, Some(findings as u64)))
        }
        (Database::Sqlite(connection), Some(dir)) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut **connection)
                .await?;
            let file = dir.join(firstline_collector::store::DATABASE_FILE);
            let mut total = std::fs::metadata(&file)
                .with_context(|| format!("reading the size of {}", file.display()))?
                .len();
            if let Ok(wal) = std::fs::metadata(
                dir.join(format!("{}-wal", firstline_collector::store::DATABASE_FILE)),
            ) {
                total += wal.len();
            }
            let findings = sqlx::query(
                "SELECT SUM(pgsize) AS bytes FROM dbstat WHERE name = 'findings' \
                 OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'findings' AND type = 'index')",
            )
            .fetch_one(&mut **connection)
            .await
            .ok()
            .and_then(|row| row.try_get::<i64, _>("bytes").ok())
            .map(|bytes| bytes as u64);
            Ok((total, findings))
        }
        (Database::Sqlite(_), None) => bail!("--sqlite-dir is required"),
    }
}

//! The collector's durable state: devices, enrollment tokens, findings, API keys, in SQLite
//! (WAL, one collector) or PostgreSQL (several collectors). Every write an agent is acked for
//! has committed before the method returns.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use crate::model::{Device, Finding, Inventory, Role, Severity, StoredFinding};

/// The database file inside the data dir.
pub const DATABASE_FILE: &str = "firstline.db";

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening database {location}: {source}")]
    Open {
        location: String,
        source: sqlx::Error,
    },
    #[error("migrating database {location}: {source}")]
    Migrate {
        location: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("{what} named {name:?} already exists")]
    DuplicateName { what: &'static str, name: String },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    /// A batch for a device revoked (or removed) since its stream opened: nothing of the
    /// batch is stored, and its stream must end.
    #[error("device {device_id} is revoked or no longer enrolled")]
    DeviceRevoked { device_id: String },
    /// SQLite's `quick_check` found damage: nothing may write to the file.
    #[error(
        "the database {} is damaged, so the collector will not write to it (quick_check: {findings}).\n\
         To recover: stop the collector and keep a copy of the file (with any -wal and -shm beside it); \
         then either restore your last backup of it, or salvage what is readable with \
         `sqlite3 {0} .recover | sqlite3 recovered.db` and move recovered.db in its place. \
         Start the collector again: agents keep their unacknowledged findings meanwhile and send them \
         when it is back.",
        path.display()
    )]
    Damaged {
        path: std::path::PathBuf,
        findings: String,
    },
    /// A write transaction that stalled and was given up (rolled back, its connection
    /// closed): see `bounded.rs`. Nothing of it is stored; trying again may succeed.
    #[error("{writer} transaction abandoned after {after_ms} ms ({stall})")]
    Abandoned {
        writer: Writer,
        stall: Stall,
        after_ms: u64,
    },
}

impl StoreError {
    /// True when the database refused the data itself (a value it cannot store, a constraint
    /// it breaks), so the same data would fail again: not worth retrying, unlike a lost
    /// connection or a lock timeout.
    pub fn is_data_error(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Encode(_) => true,
            sqlx::Error::Database(database) => {
                use sqlx::error::ErrorKind;
                // Not a foreign key: that is a device removed meanwhile, not its data.
                let constraint = matches!(
                    database.kind(),
                    ErrorKind::UniqueViolation
                        | ErrorKind::NotNullViolation
                        | ErrorKind::CheckViolation
                );
                // PostgreSQL's class 22 is "data exception" (bad encoding, value out of range).
                let data_exception = database
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|pg| pg.code().starts_with("22"));
                // SQLite: SQLITE_TOOBIG (18) and SQLITE_MISMATCH (20), plain or extended.
                let sqlite_data = database
                    .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                    .is_some()
                    && database
                        .code()
                        .and_then(|code| code.parse::<i32>().ok())
                        .is_some_and(|code| matches!(code & 0xff, 18 | 20));
                constraint || data_exception || sqlite_data
            }
            _ => false,
        }
    }
}

impl StoreError {
    /// True when the store itself failed (a full disk, a read-only or broken file, a lost or
    /// shut-down database server), as opposed to the data (see [`StoreError::is_data_error`])
    /// or contention (a lock or statement timeout, a serialization failure), which say
    /// nothing about whether the next commit can succeed.
    pub fn is_storage_failure(&self) -> bool {
        let StoreError::Database(error) = self else {
            return matches!(self, StoreError::Open { .. });
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed
            | sqlx::Error::InvalidSavePointStatement => true,
            sqlx::Error::Database(database) => {
                if let Some(pg) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    let code = pg.code();
                    // 53: insufficient resources (disk full, out of memory); 58: system
                    // error (I/O); 08: connection; 57P01-03: shut down or starting; XX:
                    // internal (data corrupted); 25006: the server is read-only.
                    return ["53", "58", "08", "XX"]
                        .iter()
                        .any(|class| code.starts_with(class))
                        || matches!(code, "57P01" | "57P02" | "57P03" | "25006");
                }
                // SQLite: READONLY (8), IOERR (10), CORRUPT (11), FULL (13), CANTOPEN (14),
                // NOTADB (26), plain or extended. BUSY (5) is contention.
                sqlite_primary_code(database.as_ref())
                    .is_some_and(|code| matches!(code, 8 | 10 | 11 | 13 | 14 | 26))
            }
            _ => false,
        }
    }

    /// True when the disk under the database is full (SQLite's FULL, PostgreSQL's 53100).
    pub fn is_disk_full(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(database)) = self else {
            return false;
        };
        if let Some(pg) = database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            return pg.code() == "53100";
        }
        sqlite_primary_code(database.as_ref()) == Some(13)
    }
}

fn sqlite_error_code(error: &StoreError) -> Option<i32> {
    match error {
        StoreError::Database(sqlx::Error::Database(database)) => {
            sqlite_primary_code(database.as_ref())
        }
        _ => None,
    }
}

fn sqlite_primary_code(database: &dyn sqlx::error::DatabaseError) -> Option<i32> {
    database.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    database
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff)
}

/// Why a token could not be redeemed; each is reported to the agent in its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the enrollment token is not known to this collector")]
    Unknown,
    #[error("the enrollment token was already used (tokens are one-time)")]
    AlreadyUsed,
    #[error("the enrollment token expired")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Refused(#[from] TokenRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for EnrollError {
    fn from(error: sqlx::Error) -> Self {
        EnrollError::Store(StoreError::Database(error))
    }
}

/// A device about to be created by a successful enrollment.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    pub hostname: String,
    pub agent_version: String,
    pub certificate_serial: String,
    pub certificate_not_after_ms: i64,
}

/// See [`Store::device_standing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceStanding {
    pub revoked: bool,
    pub committed_sequence: u64,
}

/// Which database, and how to talk to it.
#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Backend {
    /// SQLite: take the write lock at once, so that two writers racing on one row serialise
    /// instead of both reading it stale. PostgreSQL locks rows with `FOR UPDATE` instead.
    fn begin_statement(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "BEGIN IMMEDIATE",
            Backend::Postgres(_) => "BEGIN",
        }
    }
}

/// Runs `$body` with `$pool` bound to whichever pool the store has; the body is compiled once
/// per backend, so the SQL in it must suit both (placeholders are `$1`, `$2`, … everywhere).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Inside `with_pool!`: runs `$body` as one write transaction of `$writer` (`$transaction`,
/// begun with the backend's BEGIN on a connection of its own), bounded by `Store::bounded`,
/// and evaluates to its outcome (`Result<_, $error>`). A transaction that stalled leaves its
/// connection in an unknown state, or already dead: it is closed, never returned to the pool.
macro_rules! bounded_transaction {
    ($store:expr, $pool:expr, $writer:expr, $error:ty, |$transaction:ident| $body:expr) => {{
        let _turn = $store.write_turn().await;
        let mut connection = $pool.acquire().await?;
        let outcome = $store
            .bounded::<_, $error>($writer, async {
                #[allow(unused_mut)]
                let mut $transaction = sqlx::Connection::begin_with(
                    &mut *connection,
                    $store.backend.begin_statement(),
                )
                .await?;
                $body
            })
            .await;
        if let Err(error) = &outcome
            && crate::store::bounded::Stalled::stall(error).is_some()
        {
            connection.close_on_drop();
        }
        outcome
    }};
}

pub mod agent_metrics;
pub mod alerts;
pub mod articles;
pub mod bounded;
pub mod budgets;
pub mod channels;
pub mod device_list;
pub mod findings_days;
pub mod fixes;
pub mod fleet;
pub mod health;
pub mod help;
pub mod metrics;
pub mod people;
pub mod reports;
pub mod reproduce;
pub mod retention;
pub mod search;
pub mod staff;
pub mod stats;
pub mod sync;
pub mod tickets;

pub use bounded::{Stall, Writer};
pub use tickets::{
    AssigneeFilter, SweepReport, TicketDetail, TicketFilter, TicketOrder, TicketRecord,
    TimelineEntry,
};

/// Rows per multi-row INSERT: well under both engines' limits on bound parameters.
const INSERT_ROWS_PER_STATEMENT: usize = 200;

/// One device's findings to commit, as its stream delivered them.
#[derive(Debug, Clone)]
pub struct FindingBatch {
    pub device_id: String,
    pub findings: Vec<Finding>,
    /// The highest sequence in the message, refused findings included: everything up to it
    /// is acknowledged once this commits.
    pub acknowledged_through: u64,
    pub received_at_ms: i64,
    /// What the agent said about itself in a heartbeat, stored with the batch.
    pub health: Option<crate::model::AgentHealth>,
}

impl FindingBatch {
    /// A heartbeat: no findings, the device seen at `received_at_ms`, and what its agent said
    /// about itself. It goes through the same group commit as findings.
    pub fn heartbeat(
        device_id: &str,
        health: crate::model::AgentHealth,
        received_at_ms: i64,
    ) -> Self {
        FindingBatch {
            device_id: device_id.to_owned(),
            findings: Vec::new(),
            acknowledged_through: 0,
            received_at_ms,
            health: Some(health),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// Whether commits go through; shared by every clone.
    health: std::sync::Arc<health::StoreHealth>,
    /// The rules findings become tickets by; set once at start.
    policy: std::sync::Arc<crate::tickets::Policy>,
    /// Who may start which fix (`[fixes]`); set once at start.
    fix_policy: std::sync::Arc<crate::fixes::FixPolicy>,
    /// Write transactions given up, for `/metrics` (`bounded.rs`).
    abandoned: std::sync::Arc<bounded::AbandonedCounts>,
    /// How long a write transaction may take on PostgreSQL (`bounded.rs`).
    write_deadline: Duration,
    /// This process's writers' turns per check on PostgreSQL (`bounded.rs`).
    check_turns: std::sync::Arc<bounded::CheckTurns>,
    /// This process's writers' turns on SQLite's one write lock (`bounded.rs`).
    write_turns: std::sync::Arc<bounded::WriteTurns>,
}

impl Store {
    /// How many group-commit writers suit the backend: SQLite has one writer at a time
    /// anyway; PostgreSQL lets transactions on different checks proceed side by side.
    pub fn writer_count(&self) -> usize {
        match self.backend {
            Backend::Sqlite(_) => 1,
            Backend::Postgres(_) => 4,
        }
    }

    /// Opens (creating if needed) the SQLite database in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DATABASE_FILE);
        let open_error = |source| StoreError::Open {
            location: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_error)?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before the agent is acked, even across a power cut.
            // Batched findings keep the fsyncs few.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(|connection, _| Box::pin(discard_if_in_transaction(connection)))
            .connect_with(options)
            .await
            .map_err(|source| {
                // Damage can show before the quick check does: opening reads the schema.
                let damaged = StoreError::Database(source);
                match sqlite_error_code(&damaged) {
                    Some(11 | 26) => StoreError::Damaged {
                        path: path.clone(),
                        findings: damaged.to_string(),
                    },
                    _ => match damaged {
                        StoreError::Database(source) => open_error(source),
                        other => other,
                    },
                }
            })?;
        check_integrity(&pool, &path).await?;
        let store = Store {
            backend: Backend::Sqlite(pool),
            health: std::sync::Arc::new(health::StoreHealth::new(
                Some(path.clone()),
                path.display().to_string(),
                crate::model::now_ms(),
            )),
            policy: Default::default(),
            fix_policy: Default::default(),
            abandoned: Default::default(),
            write_deadline: bounded::WRITE_TRANSACTION_DEADLINE,
            check_turns: Default::default(),
            write_turns: Default::default(),
        };
        store.migrate(&path.display().to_string()).await?;
        Ok(store)
    }

    /// Connects to PostgreSQL at `url` (postgres://…) and applies migrations. Several
    /// collectors may share one database: correctness comes from its constraints and
    /// transactions, not from anything held in memory.
    pub async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        let location = redact(url);
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        Self::connect_postgres_with(options, &location).await
    }

    /// As [`Store::connect_postgres`], with options already built (a schema to work in, say).
    pub async fn connect_postgres_with(
        options: PgConnectOptions,
        location: &str,
    ) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            location: location.to_owned(),
            source,
        };
        // Migrations run on a session of their own without the timeouts: a collector waits
        // for another's migration (an advisory lock) as long as it takes, and an index built
        // on a big table may take minutes.
        let migrating = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        Store::with_postgres_pool(migrating.clone(), location)
            .migrate(location)
            .await?;
        migrating.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(bounded::with_session_timeouts(options))
            .await
            .map_err(open_error)?;
        Ok(Store::with_postgres_pool(pool, location))
    }

    fn with_postgres_pool(pool: PgPool, location: &str) -> Self {
        Store {
            backend: Backend::Postgres(pool),
            health: std::sync::Arc::new(health::StoreHealth::new(
                None,
                location.to_owned(),
                crate::model::now_ms(),
            )),
            policy: Default::default(),
            fix_policy: Default::default(),
            abandoned: Default::default(),
            write_deadline: bounded::WRITE_TRANSACTION_DEADLINE,
            check_turns: Default::default(),
            write_turns: Default::default(),
        }
    }

    async fn migrate(&self, location: &str) -> Result<(), StoreError> {
        // SQLite's migrator takes no lock: two processes migrating a fresh file at once (a
        // provisioning script running `token create` beside `serve`) can collide. The loser
        // tries again and finds the work done. (PostgreSQL's migrator takes an advisory lock.)
        let mut attempt = 0;
        loop {
            let outcome = match &self.backend {
                Backend::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await,
                Backend::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await,
            };
            match outcome {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(source) => {
                    return Err(StoreError::Migrate {
                        location: location.to_owned(),
                        source,
                    });
                }
            }
        }
    }

    /// Sets the ticket rules (from the config's `[tickets]`).
    pub fn with_policy(mut self, policy: crate::tickets::Policy) -> Self {
        self.policy = std::sync::Arc::new(policy);
        self
    }

    pub fn policy(&self) -> &crate::tickets::Policy {
        &self.policy
    }

    /// Sets who may start which fix (from the config's `[fixes]`).
    pub fn with_fix_policy(mut self, policy: crate::fixes::FixPolicy) -> Self {
        self.fix_policy = std::sync::Arc::new(policy);
        self
    }

    pub fn fix_policy(&self) -> &crate::fixes::FixPolicy {
        &self.fix_policy
    }

    /// "sqlite" or "postgres", for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Cheap read probe for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Whether commits go through (see [`health::StoreHealth`]).
    pub fn health(&self) -> &health::StoreHealth {
        &self.health
    }

    /// A small write that must reach the disk, its outcome recorded in [`Store::health`]: how
    /// a collector with nothing to commit still notices a full disk, and notices it is over.
    pub async fn probe_write(&self, now_ms: i64) -> Result<(), StoreError> {
        let begin = self.backend.begin_statement();
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let outcome: Result<(), StoreError> = async {
            with_pool!(self, pool => {
                let _turn = self.write_turn().await;
                let mut transaction = pool.begin_with(begin).await?;
                if postgres {
                    // Every collector rewrites the one row: a peer frozen while holding it is
                    // contention (a lock timeout), not this store failing.
                    sqlx::query("SET LOCAL lock_timeout = '1s'")
                        .execute(&mut *transaction)
                        .await?;
                }
                sqlx::query(
                    "INSERT INTO store_probe (id, written_at_ms) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET written_at_ms = excluded.written_at_ms",
                )
                .bind(now_ms)
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
            });
            Ok(())
        }
        .await;
        self.record_write(&outcome, now_ms);
        outcome
    }

    /// Notes a commit's outcome in [`Store::health`].
    fn record_write<T>(&self, outcome: &Result<T, StoreError>, now_ms: i64) {
        match outcome {
            Ok(_) => self.health.record_success(now_ms),
            Err(error) => self.health.record_failure(error, now_ms),
        }
    }

    pub async fn insert_token(
        &self,
        token_hash: &[u8],
        created_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO enrollment_tokens (token_hash, created_at_ms, expires_at_ms) VALUES ($1, $2, $3)")
                .bind(token_hash)
                .bind(created_at_ms)
                .bind(expires_at_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Whether a token could be redeemed now, without redeeming it.
    pub async fn check_token(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Result<(), TokenRefusal>, StoreError> {
        let state = with_pool!(self, pool => {
            let row = sqlx::query("SELECT expires_at_ms, used_at_ms FROM enrollment_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some((row.try_get::<i64, _>("expires_at_ms")?, row.try_get::<Option<i64>, _>("used_at_ms")?)),
                None => None,
            }
        });
        Ok(token_verdict(state, now_ms))
    }

    /// What a new stream needs to know about its device: whether it may connect, and the
    /// committed sequence. Reads two columns, not the whole inventory.
    pub async fn device_standing(
        &self,
        device_id: &str,
    ) -> Result<Option<DeviceStanding>, StoreError> {
        Ok(with_pool!(self, pool => {
            let row = sqlx::query("SELECT revoked_at_ms, committed_sequence FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some(DeviceStanding {
                    revoked: row.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
                    committed_sequence: sequence_from_sql(row.try_get("committed_sequence")?),
                }),
                None => None,
            }
        }))
    }

    /// Redeems a token and creates the device in one transaction: either both happen or
    /// neither does, so a token is never spent on a device that does not exist, and two agents
    /// racing with one token cannot both win.
    pub async fn enroll_device(
        &self,
        token_hash: &[u8],
        now_ms: i64,
        device: &NewDevice,
    ) -> Result<(), EnrollError> {
        let lock = match self.backend {
            Backend::Sqlite(_) => {
                "SELECT expires_at_ms, used_at_ms FROM enrollment_tokens WHERE token_hash = $1"
            }
            Backend::Postgres(_) => {
                "SELECT expires_at_ms, used_at_ms FROM enrollment_tokens WHERE token_hash = $1 FOR UPDATE"
            }
        };
        let begin = self.backend.begin_statement();
        with_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(begin).await?;
            let row = sqlx::query(lock).bind(token_hash).fetch_optional(&mut *transaction).await?;
            let state = match row {
                Some(row) => Some((row.try_get::<i64, _>("expires_at_ms")?, row.try_get::<Option<i64>, _>("used_at_ms")?)),
                None => None,
            };
            if let Err(refusal) = token_verdict(state, now_ms) {
                // Roll back now: a dropped transaction is only rolled back when its connection
                // is next used, and until then PostgreSQL keeps the token row locked.
                transaction.rollback().await?;
                return Err(refusal.into());
            }
            sqlx::query("UPDATE enrollment_tokens SET used_at_ms = $1, used_by_device = $2 WHERE token_hash = $3")
                .bind(now_ms)
                .bind(&device.id)
                .bind(token_hash)
                .execute(&mut *transaction)
                .await?;
            sqlx::query(
                "INSERT INTO devices (id, hostname, agent_version, enrolled_at_ms, certificate_serial, \
                 certificate_not_after_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&device.id)
            .bind(&device.hostname)
            .bind(&device.agent_version)
            .bind(now_ms)
            .bind(&device.certificate_serial)
            .bind(device.certificate_not_after_ms)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    pub async fn device(&self, device_id: &str) -> Result<Option<Device>, StoreError> {
        with_pool!(self, pool => {
            let row = sqlx::query("SELECT * FROM devices WHERE id = $1").bind(device_id).fetch_optional(pool).await?;
            row.as_ref().map(StoreRow::device).transpose()
        })
    }

    pub async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM devices ORDER BY hostname, id").fetch_all(pool).await?;
            rows.iter().map(StoreRow::device).collect()
        })
    }

    /// At most `limit` devices in id order, those after `after_id` (a page of
    /// `GET /api/v1/devices`): the primary key's order, so a page is a range of it and paging
    /// sees every device once even while devices enroll.
    pub async fn devices_after(
        &self,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Device>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM devices WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after_id.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(StoreRow::device).collect()
        })
    }

    /// Every device's id, hostname and site, without its inventory (for lists of tickets).
    pub async fn device_names(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query("SELECT id, hostname, site FROM devices").fetch_all(pool).await?;
            let mut names = Vec::with_capacity(rows.len());
            for row in &rows {
                names.push((row.try_get("id")?, row.try_get("hostname")?, row.try_get("site")?));
            }
            Ok(names)
        })
    }

    pub async fn store_inventory(
        &self,
        device_id: &str,
        inventory: &Inventory,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let inventory_json = serde_json::to_string(inventory).map_err(|e| StoreError::Corrupt {
            what: "inventory",
            detail: e.to_string(),
        })?;
        // The account names alone, for ticket lists (`tickets.rs`, affected users).
        let users_json =
            serde_json::to_string(&inventory.user_accounts()).map_err(|e| StoreError::Corrupt {
                what: "device users",
                detail: e.to_string(),
            })?;
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE devices SET hostname = $1, agent_version = $2, os_name = $3, os_version = $4, \
                 inventory_json = $5, inventory_at_ms = $6, last_seen_at_ms = $7, users_json = $9 WHERE id = $8",
            )
            .bind(&inventory.hostname)
            .bind(&inventory.agent_version)
            .bind(&inventory.os_name)
            .bind(&inventory.os_version)
            .bind(&inventory_json)
            .bind(now_ms)
            .bind(now_ms)
            .bind(device_id)
            .bind(&users_json)
            .execute(pool)
            .await?;
        });
        self.store_scopes(device_id, inventory).await
    }

    pub async fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE devices SET last_seen_at_ms = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(device_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Stores a batch of findings in one transaction and returns the device's committed
    /// sequence afterwards. A finding already stored (a redelivery) is left as it was.
    pub async fn store_findings(
        &self,
        device_id: &str,
        findings: &[Finding],
        acknowledged_through: u64,
        received_at_ms: i64,
    ) -> Result<u64, StoreError> {
        let batch = FindingBatch {
            device_id: device_id.to_owned(),
            findings: findings.to_vec(),
            acknowledged_through,
            received_at_ms,
            health: None,
        };
        let committed = self
            .store_finding_batches(std::slice::from_ref(&batch))
            .await?;
        Ok(committed.first().copied().unwrap_or(0))
    }

    /// Stores the batches of several devices in one transaction (group commit: one disk flush
    /// for all of them) and returns each device's committed sequence afterwards, in order.
    /// Each new finding is decided on (conditions, tickets) in the same transaction; a finding
    /// already stored (a redelivery) is left as it was and not decided again.
    pub async fn store_finding_batches(
        &self,
        batches: &[FindingBatch],
    ) -> Result<Vec<u64>, StoreError> {
        let outcome = self.commit_finding_batches(batches).await;
        self.record_write(&outcome, crate::model::now_ms());
        outcome
    }

    async fn commit_finding_batches(
        &self,
        batches: &[FindingBatch],
    ) -> Result<Vec<u64>, StoreError> {
        let advance = match self.backend {
            Backend::Sqlite(_) => "UPDATE devices SET committed_sequence = MAX",
            Backend::Postgres(_) => "UPDATE devices SET committed_sequence = GREATEST",
        };
        // Before the transaction begins, so that waiting for the turn is not idle in it.
        let _turns = match self.backend {
            Backend::Postgres(_) => {
                self.check_turns
                    .take(
                        batches
                            .iter()
                            .flat_map(|batch| batch.findings.iter())
                            .map(|finding| finding.check.as_str()),
                    )
                    .await
            }
            Backend::Sqlite(_) => Vec::new(),
        };
        let committed = with_pool!(self, pool => bounded_transaction!(self, pool, Writer::GroupCommit, StoreError, |transaction| {
            if let Backend::Postgres(_) = self.backend {
                tickets::lock_checks(
                    &mut transaction,
                    batches.iter().flat_map(|batch| batch.findings.iter()),
                )
                .await?;
            }
            // Store every batch's findings first (multi-row statements across batches), then
            // decide the new ones in order with the group's state in memory (`tickets::Group`),
            // then advance every device at once.
            let mut rows: Vec<(&str, i64, &Finding, i64)> = Vec::new();
            for batch in batches {
                for finding in &batch.findings {
                    rows.push((batch.device_id.as_str(), sequence_to_sql(finding.sequence)?, finding, batch.received_at_ms));
                }
            }
            let mut inserted: std::collections::HashSet<(String, i64)> = std::collections::HashSet::new();
            for chunk in rows.chunks(INSERT_ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO findings (device_id, sequence, check_name, resource, severity, summary, \
                     evidence_json, observed_at_ms, received_at_ms) ",
                );
                insert.push_values(chunk, |mut row, (device_id, sequence, finding, received_at_ms)| {
                    row.push_bind(*device_id)
                        .push_bind(*sequence)
                        .push_bind(finding.check.as_str())
                        .push_bind(finding.resource.as_str())
                        .push_bind(finding.severity.as_str())
                        .push_bind(finding.summary.as_str())
                        .push_bind(finding.evidence_json.as_str())
                        .push_bind(finding.observed_at_ms)
                        .push_bind(*received_at_ms);
                });
                insert.push(" ON CONFLICT (device_id, sequence) DO NOTHING RETURNING device_id, sequence");
                for row in insert.build().fetch_all(&mut *transaction).await? {
                    inserted.insert((row.try_get::<String, _>("device_id")?, row.try_get::<i64, _>("sequence")?));
                }
            }
            // A redelivered finding was decided on when it first arrived; one sent twice in
            // this group is decided once (the first claims it).
            let mut new_findings: Vec<Vec<&Finding>> = Vec::with_capacity(batches.len());
            for batch in batches {
                new_findings.push(
                    batch
                        .findings
                        .iter()
                        .filter(|f| {
                            sequence_to_sql(f.sequence)
                                .is_ok_and(|s| inserted.remove(&(batch.device_id.clone(), s)))
                        })
                        .collect(),
                );
            }
            // Every batch re-checks its device's standing, before anything is decided: one
            // revoked through another collector since its stream opened gets nothing more
            // stored (the transaction rolls back) and its stream ends. A device with two
            // batches in the group is answered its highest sequence for both: they commit
            // together.
            let mut devices: std::collections::BTreeMap<&str, (i64, i64)> = std::collections::BTreeMap::new();
            for batch in batches {
                let through = sequence_to_sql(batch.acknowledged_through)?;
                let entry = devices.entry(batch.device_id.as_str()).or_insert((through, batch.received_at_ms));
                *entry = (entry.0.max(through), entry.1.max(batch.received_at_ms));
            }
            let devices: Vec<(&str, (i64, i64))> = devices.into_iter().collect();
            let mut sequences: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
            for chunk in devices.chunks(INSERT_ROWS_PER_STATEMENT) {
                let mut advance = sqlx::QueryBuilder::new(advance);
                advance.push("(committed_sequence, CASE id");
                for (id, (through, _)) in chunk {
                    advance.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*through);
                }
                advance.push(" ELSE committed_sequence END), last_seen_at_ms = CASE id");
                for (id, (_, at)) in chunk {
                    advance.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*at);
                }
                advance.push(" ELSE last_seen_at_ms END WHERE revoked_at_ms IS NULL AND id IN (");
                let mut list = advance.separated(", ");
                for (id, _) in chunk {
                    list.push_bind(*id);
                }
                advance.push(") RETURNING id, committed_sequence");
                for row in advance.build().fetch_all(&mut *transaction).await? {
                    sequences.insert(row.try_get("id")?, row.try_get("committed_sequence")?);
                }
            }
            let mut committed = Vec::with_capacity(batches.len());
            for batch in batches {
                let device_id = batch.device_id.as_str();
                let sequence = *sequences
                    .get(device_id)
                    .ok_or_else(|| StoreError::DeviceRevoked { device_id: device_id.to_owned() })?;
                committed.push(sequence_from_sql(sequence));
            }
            let deciding: Vec<(&str, &Finding)> = batches
                .iter()
                .zip(&new_findings)
                .flat_map(|(batch, findings)| findings.iter().map(|f| (batch.device_id.as_str(), *f)))
                .collect();
            if !deciding.is_empty() {
                let mut group = tickets::Group::load(&mut transaction, &deciding).await?;
                for (batch, findings) in batches.iter().zip(&new_findings) {
                    if findings.is_empty() {
                        continue;
                    }
                    if let Some(device) = tickets::device_facts(&mut group, &batch.device_id).await? {
                        for finding in findings {
                            tickets::observe(&mut group, &self.policy, &device, finding, batch.received_at_ms, true).await?;
                        }
                    }
                }
                group.flush().await?;
            }
            for batch in batches {
                let device_id = batch.device_id.as_str();
                if let Some(health) = batch.health.as_ref().filter(|health| !health.is_empty()) {
                    let [cycle, memory, outbox] = agent_metrics::health_columns(health);
                    sqlx::query(agent_metrics::UPDATE_HEALTH)
                        .bind(batch.received_at_ms)
                        .bind(cycle)
                        .bind(memory)
                        .bind(outbox)
                        .bind(batch.received_at_ms)
                        .bind(device_id)
                        .execute(&mut *transaction)
                        .await?;
                }
            }
            transaction.commit().await?;
            Ok(committed)
        }))?;
        Ok(committed)
    }

    /// The device's most recent `limit` findings, oldest first.
    pub async fn recent_findings(
        &self,
        device_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM (SELECT * FROM findings WHERE device_id = $1 ORDER BY sequence DESC LIMIT $2) AS recent \
                 ORDER BY sequence",
            )
            .bind(device_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(StoreRow::finding).collect()
        })
    }

    pub async fn insert_api_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &[u8],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let result = with_pool!(self, pool => {
            sqlx::query("INSERT INTO api_keys (key_hash, name, role, created_at_ms) VALUES ($1, $2, $3, $4)")
                .bind(key_hash)
                .bind(name)
                .bind(role.as_str())
                .bind(now_ms)
                .execute(pool)
                .await
                .map(drop)
        });
        unique_name(result, "an API key", name)
    }

    /// The name and role of a live API key, if `key_hash` belongs to one.
    pub async fn api_key(&self, key_hash: &[u8]) -> Result<Option<(String, Role)>, StoreError> {
        let found: Option<(String, String)> = with_pool!(self, pool => {
            let row = sqlx::query("SELECT name, role FROM api_keys WHERE key_hash = $1 AND revoked_at_ms IS NULL")
                .bind(key_hash)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some((row.try_get("name")?, row.try_get("role")?)),
                None => None,
            }
        });
        let Some((name, role)) = found else {
            return Ok(None);
        };
        let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
            what: "api key role",
            detail: role.clone(),
        })?;
        Ok(Some((name, role)))
    }
}

/// Pool hook: a connection still inside a transaction when it comes back (its COMMIT failed
/// and SQLite had already rolled back on its own, as it does on a full disk, so the rollback
/// on drop failed too) is closed instead of reused: reused, every later `BEGIN` on it fails
/// and the store stays dead after the disk has room again. The ping first lets the rollback
/// queued on drop run.
async fn discard_if_in_transaction<C: sqlx::Connection>(
    connection: &mut C,
) -> Result<bool, sqlx::Error> {
    connection.ping().await?;
    if connection.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a failed transaction");
        return Ok(false);
    }
    Ok(true)
}

/// SQLite's quick integrity check, at start: a damaged database is refused, before anything
/// writes to it (and makes the damage worse), with what to do about it.
async fn check_integrity(pool: &SqlitePool, path: &Path) -> Result<(), StoreError> {
    let rows: Vec<String> = match sqlx::query_scalar("PRAGMA quick_check(20)")
        .fetch_all(pool)
        .await
    {
        Ok(rows) => rows,
        Err(source) => {
            // Damage can stop the check itself ("database disk image is malformed").
            let error = StoreError::Database(source);
            if matches!(sqlite_error_code(&error), Some(11 | 26)) {
                vec![error.to_string()]
            } else {
                return Err(error);
            }
        }
    };
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Damaged {
        path: path.to_owned(),
        findings: rows.join("; "),
    })
}

/// An insert's outcome, with a unique-key clash said as "`what` named `name` already exists".
fn unique_name(
    result: Result<(), sqlx::Error>,
    what: &'static str,
    name: &str,
) -> Result<(), StoreError> {
    match result {
        Ok(()) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::DuplicateName {
                what,
                name: name.to_owned(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a token in the given state (expiry, use) may be redeemed at `now_ms`.
fn token_verdict(state: Option<(i64, Option<i64>)>, now_ms: i64) -> Result<(), TokenRefusal> {
    match state {
        None => Err(TokenRefusal::Unknown),
        Some((_, Some(_))) => Err(TokenRefusal::AlreadyUsed),
        Some((expires_at_ms, None)) if expires_at_ms <= now_ms => Err(TokenRefusal::Expired),
        Some(_) => Ok(()),
    }
}

/// A database URL fit for logs: no password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// SQLite integers are signed; sequences beyond i64::MAX are refused at the edge, so this only
/// fails if that validation is bypassed.
fn sequence_to_sql(sequence: u64) -> Result<i64, StoreError> {
    i64::try_from(sequence).map_err(|_| StoreError::Corrupt {
        what: "finding sequence",
        detail: format!("{sequence} exceeds the largest storable sequence"),
    })
}

fn sequence_from_sql(sequence: i64) -> u64 {
    u64::try_from(sequence).unwrap_or(0)
}

/// Reading domain types out of either backend's rows.
trait StoreRow {
    fn device(&self) -> Result<Device, StoreError>;
    fn finding(&self) -> Result<StoredFinding, StoreError>;
}

macro_rules! store_row {
    ($row:ty) => {
        impl StoreRow for $row {
            fn device(&self) -> Result<Device, StoreError> {
                // A stored inventory that no longer reads is shown as missing rather than
                // allowed to hide the device (its next connect stores a fresh one).
                let inventory_json: Option<String> = self.try_get("inventory_json")?;
                let inventory = inventory_json.and_then(|json| match serde_json::from_str::<Inventory>(&json) {
                    Ok(inventory) => Some(inventory),
                    Err(e) => {
                        tracing::warn!(error = %e, "a stored inventory does not read; ignoring it");
                        None
                    }
                });
                Ok(Device {
                    id: self.try_get("id")?,
                    hostname: self.try_get("hostname")?,
                    agent_version: self.try_get("agent_version")?,
                    enrolled_at_ms: self.try_get("enrolled_at_ms")?,
                    certificate_serial: self.try_get("certificate_serial")?,
                    certificate_not_after_ms: self.try_get("certificate_not_after_ms")?,
                    revoked_at_ms: self.try_get("revoked_at_ms")?,
                    os_name: self.try_get("os_name")?,
                    os_version: self.try_get("os_version")?,
                    inventory,
                    inventory_at_ms: self.try_get("inventory_at_ms")?,
                    last_seen_at_ms: self.try_get("last_seen_at_ms")?,
                    site: self.try_get("site")?,
                    vip: self.try_get::<i64, _>("vip")? != 0,
                    committed_sequence: sequence_from_sql(self.try_get("committed_sequence")?),
                    budget_note: self.try_get("budget_note")?,
                    budget_note_at_ms: self.try_get("budget_note_at_ms")?,
                    agent_health: agent_metrics::from_columns(
                        self.try_get("agent_metrics_at_ms")?,
                        self.try_get("agent_cycle_ms")?,
                        self.try_get("agent_rss_bytes")?,
                        self.try_get("agent_outbox_depth")?,
                    ),
                })
            }

            fn finding(&self) -> Result<StoredFinding, StoreError> {
                let severity: String = self.try_get("severity")?;
                Ok(StoredFinding {
                    device_id: self.try_get("device_id")?,
                    received_at_ms: self.try_get("received_at_ms")?,
                    finding: Finding {
                        sequence: sequence_from_sql(self.try_get("sequence")?),
                        check: self.try_get("check_name")?,
                        resource: self.try_get("resource")?,
                        severity: Severity::parse(&severity)
                            .ok_or_else(|| StoreError::Corrupt { what: "finding severity", detail: severity.clone() })?,
                        summary: self.try_get("summary")?,
                        evidence_json: self.try_get("evidence_json")?,
                        observed_at_ms: self.try_get("observed_at_ms")?,
                    },
                })
            }
        }
    };
}

store_row!(SqliteRow);
store_row!(PgRow);

#[cfg(test)]
mod tests {
    use super::*;

    /// The same suite runs on every backend: SQLite always; PostgreSQL when
    /// FIRSTLINE_TEST_POSTGRES_URL is set (CI sets it, and then an unreachable server fails
    /// the test rather than skipping it). Each PostgreSQL run gets a schema of its own.
    pub(crate) struct TestStore {
        pub store: Store,
        _dir: Option<tempfile::TempDir>,
        pub(crate) cleanup: Option<(PgConnectOptions, String)>,
    }

    impl Drop for TestStore {
        fn drop(&mut self) {
            if let Some((options, schema)) = self.cleanup.take() {
                // Best effort, on a runtime and connection of its own: the test's runtime is
                // the one being torn down.
                std::thread::spawn(move || {
                    use sqlx::Connection;
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(async move {
                            if let Ok(mut connection) =
                                sqlx::PgConnection::connect_with(&options).await
                            {
                                // Never wait forever on a lock a test left behind: a
                                // leftover schema is harmless, a hung test run is not.
                                let _ = sqlx::query("SET lock_timeout = '5s'")
                                    .execute(&mut connection)
                                    .await;
                                let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                                let _ = sqlx::query(sqlx::AssertSqlSafe(drop_schema))
                                    .execute(&mut connection)
                                    .await;
                            }
                        });
                    }
                })
                .join()
                .ok();
            }
        }
    }

    pub(crate) async fn backends() -> Vec<TestStore> {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = Store::open(dir.path()).await.expect("open SQLite");
        let mut stores = vec![TestStore {
            store: sqlite,
            _dir: Some(dir),
            cleanup: None,
        }];
        match std::env::var("FIRSTLINE_TEST_POSTGRES_URL") {
            Ok(url) => stores.push(postgres(&url).await),
            Err(_) => {
                // Past libtest's capture (it takes only the print macros), so the skip shows.
                use std::io::Write;
                assert!(
                    std::env::var_os("CI").is_none(),
                    "FIRSTLINE_TEST_POSTGRES_URL must be set in CI (.ci/run sets it)"
                );
                let test = std::thread::current().name().unwrap_or("a test").to_owned();
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIP {test} on PostgreSQL: FIRSTLINE_TEST_POSTGRES_URL is not set (SQLite only)"
                );
            }
        }
        stores
    }

    async fn postgres(url: &str) -> TestStore {
        let options = PgConnectOptions::from_str(url).expect("FIRSTLINE_TEST_POSTGRES_URL parses");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is unreachable: {e}", redact(url)));
        let mut suffix = [0u8; 6];
        crate::random::fill(&mut suffix);
        let schema = format!(
            "fl_test_{}",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let store = Store::connect_postgres_with(
            options.clone().options([("search_path", schema.as_str())]),
            &redact(url),
        )
        .await
        .expect("connect PostgreSQL");
        TestStore {
            store,
            _dir: None,
            cleanup: Some((options, schema)),
        }
    }

    fn new_device(id: &str) -> NewDevice {
        NewDevice {
            id: id.to_owned(),
            hostname: "pc-1".to_owned(),
            agent_version: "0.1.0".to_owned(),
            certificate_serial: "01".to_owned(),
            certificate_not_after_ms: 1,
        }
    }

    fn finding(sequence: u64, summary: &str) -> Finding {
        Finding {
            sequence,
            check: "disk.free_low".to_owned(),
            resource: "/".to_owned(),
            severity: Severity::Warning,
            summary: summary.to_owned(),
            evidence_json: "{}".to_owned(),
            observed_at_ms: 5,
        }
    }

    #[tokio::test]
    async fn tokens_are_one_time_and_expire() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store
                .insert_token(b"fresh", 0, 1_000)
                .await
                .expect("insert");
            store.insert_token(b"stale", 0, 500).await.expect("insert");
            type Case<'a> = (&'a [u8], i64, &'a str, Result<(), TokenRefusal>);
            let cases: [Case; 4] = [
                (b"fresh", 600, "a", Ok(())),
                (b"fresh", 601, "b", Err(TokenRefusal::AlreadyUsed)),
                (b"stale", 600, "c", Err(TokenRefusal::Expired)),
                (b"never", 600, "d", Err(TokenRefusal::Unknown)),
            ];
            for (token, now, device, expected) in cases {
                assert_eq!(
                    store.check_token(token, now).await.expect("check").is_ok(),
                    expected.is_ok() && device == "a"
                );
                let outcome = match store.enroll_device(token, now, &new_device(device)).await {
                    Ok(()) => Ok(()),
                    Err(EnrollError::Refused(refusal)) => Err(refusal),
                    Err(other) => panic!("{backend}: unexpected store error: {other}"),
                };
                assert_eq!(outcome, expected, "{backend}: token {token:?} at {now}");
            }
            let devices = store.devices().await.expect("devices");
            assert_eq!(
                devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                ["a"],
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn one_token_raced_by_many_enrolls_exactly_one_device() {
        for TestStore { store, .. } in &backends().await {
            store
                .insert_token(b"shared", 0, i64::MAX)
                .await
                .expect("insert");
            let attempts = (0..8).map(|index| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .enroll_device(b"shared", 1, &new_device(&format!("racer-{index}")))
                        .await
                })
            });
            let mut winners = 0;
            for attempt in attempts {
                match attempt.await.expect("task") {
                    Ok(()) => winners += 1,
                    Err(EnrollError::Refused(TokenRefusal::AlreadyUsed)) => {}
                    Err(other) => panic!("{}: {other}", store.backend_name()),
                }
            }
            assert_eq!(winners, 1, "{}", store.backend_name());
            assert_eq!(
                store.devices().await.expect("devices").len(),
                1,
                "{}",
                store.backend_name()
            );
        }
    }

    #[tokio::test]
    async fn redelivered_findings_are_stored_once_and_the_committed_sequence_only_grows() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store.insert_token(b"t", 0, i64::MAX).await.expect("insert");
            store
                .enroll_device(b"t", 1, &new_device("d"))
                .await
                .expect("enroll");
            let first = [finding(1, "first"), finding(2, "second")];
            assert_eq!(
                store
                    .store_findings("d", &first, 2, 10)
                    .await
                    .expect("store"),
                2,
                "{backend}"
            );
            let again = [finding(2, "changed"), finding(3, "third")];
            assert_eq!(
                store
                    .store_findings("d", &again, 3, 11)
                    .await
                    .expect("store"),
                3,
                "{backend}"
            );
            // A late, older batch never moves the committed sequence back.
            assert_eq!(
                store
                    .store_findings("d", &[finding(1, "late")], 1, 12)
                    .await
                    .expect("store"),
                3,
                "{backend}"
            );
            let stored = store.recent_findings("d", 10).await.expect("findings");
            let summaries: Vec<_> = stored.iter().map(|f| f.finding.summary.as_str()).collect();
            assert_eq!(summaries, ["first", "second", "third"], "{backend}");
            assert_eq!(
                store.recent_findings("d", 2).await.expect("findings").len(),
                2,
                "{backend}"
            );
            let standing = store
                .device_standing("d")
                .await
                .expect("standing")
                .expect("device");
            assert_eq!(
                standing,
                DeviceStanding {
                    revoked: false,
                    committed_sequence: 3
                },
                "{backend}"
            );
        }
    }

    #[tokio::test]
    async fn a_batch_for_a_revoked_device_stores_nothing_and_says_so() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store.insert_token(b"t", 0, i64::MAX).await.expect("insert");
            store
                .enroll_device(b"t", 1, &new_device("d"))
                .await
                .expect("enroll");
            store
                .store_findings("d", &[finding(1, "before")], 1, 10)
                .await
                .expect("store");
            assert!(store.revoke_device("d", 20).await.expect("revoke"));
            assert_eq!(
                store.revoked_since(20).await.expect("since"),
                ["d"],
                "{backend}"
            );
            assert!(
                store.revoked_since(21).await.expect("since").is_empty(),
                "{backend}"
            );
            let refused = store
                .store_findings("d", &[finding(2, "after")], 2, 30)
                .await
                .expect_err("revoked");
            assert!(
                matches!(refused, StoreError::DeviceRevoked { .. }),
                "{backend}: {refused}"
            );
            let stored = store.recent_findings("d", 10).await.expect("findings");
            assert_eq!(stored.len(), 1, "{backend}");
        }
    }

    #[tokio::test]
    async fn inventories_api_keys_and_devices_round_trip() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store.insert_token(b"t", 0, i64::MAX).await.expect("insert");
            store
                .enroll_device(b"t", 1, &new_device("d"))
                .await
                .expect("enroll");
            let inventory = Inventory {
                hostname: "pc-7".to_owned(),
                os_name: "Debian".to_owned(),
                cpu_logical_cores: 8,
                ..Inventory::default()
            };
            store
                .store_inventory("d", &inventory, 42)
                .await
                .expect("inventory");
            let device = store.device("d").await.expect("device").expect("exists");
            assert_eq!(
                (
                    device.hostname.as_str(),
                    device.inventory.as_ref(),
                    device.last_seen_at_ms
                ),
                ("pc-7", Some(&inventory), Some(42)),
                "{backend}"
            );
            store
                .insert_api_key("script", Role::Technician, b"hash", 1)
                .await
                .expect("key");
            assert!(
                matches!(
                    store
                        .insert_api_key("script", Role::Admin, b"other", 1)
                        .await,
                    Err(StoreError::DuplicateName { .. })
                ),
                "{backend}"
            );
            assert_eq!(
                store.api_key(b"hash").await.expect("key"),
                Some(("script".to_owned(), Role::Technician)),
                "{backend}"
            );
            assert_eq!(
                store.api_key(b"nope").await.expect("key"),
                None,
                "{backend}"
            );
            store.ping().await.expect("ping");
        }
    }

    #[test]
    fn database_urls_lose_their_password_in_logs() {
        assert_eq!(
            redact("postgres://fl:secret@db.example.com:5432/fl"),
            "postgres://fl@db.example.com:5432/fl"
        );
        assert_eq!(
            redact("postgres://db.example.com/fl"),
            "postgres://db.example.com/fl"
        );
    }
}

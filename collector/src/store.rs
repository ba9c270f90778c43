//! The collector's durable state in SQLite (WAL): devices, enrollment tokens, findings, API keys.
//! Every write that an agent is acked for has committed before the method returns.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use crate::model::{Device, Finding, Inventory, Role, Severity, StoredFinding};

/// The database file inside the data dir.
pub const DATABASE_FILE: &str = "firstline.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("migrating database {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("an API key named {0:?} already exists")]
    DuplicateName(String),
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
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

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?
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
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { path, source })?;
        Ok(Self { pool })
    }

    /// Cheap liveness probe for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn insert_token(
        &self,
        token_hash: &[u8],
        created_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO enrollment_tokens (token_hash, created_at_ms, expires_at_ms) VALUES (?, ?, ?)",
        )
        .bind(token_hash)
        .bind(created_at_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a token could be redeemed now, without redeeming it.
    pub async fn check_token(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Result<(), TokenRefusal>, StoreError> {
        let row = sqlx::query(
            "SELECT expires_at_ms, used_at_ms FROM enrollment_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        let expires_at_ms: i64 = row.try_get("expires_at_ms")?;
        let used_at_ms: Option<i64> = row.try_get("used_at_ms")?;
        Ok(if used_at_ms.is_some() {
            Err(TokenRefusal::AlreadyUsed)
        } else if expires_at_ms <= now_ms {
            Err(TokenRefusal::Expired)
        } else {
            Ok(())
        })
    }

    /// What a new stream needs to know about its device: whether it may connect, and the
    /// committed sequence. Reads two columns, not the whole inventory.
    pub async fn device_standing(
        &self,
        device_id: &str,
    ) -> Result<Option<DeviceStanding>, StoreError> {
        let row = sqlx::query("SELECT revoked_at_ms, committed_sequence FROM devices WHERE id = ?")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(DeviceStanding {
                revoked: row.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
                committed_sequence: sequence_from_sql(row.try_get("committed_sequence")?),
            })
        })
        .transpose()
    }

    /// Redeems a token and creates the device in one transaction: either both happen or
    /// neither does, so a token is never spent on a device that does not exist.
    pub async fn enroll_device(
        &self,
        token_hash: &[u8],
        now_ms: i64,
        device: &NewDevice,
    ) -> Result<(), EnrollError> {
        // IMMEDIATE takes the write lock up front, so two agents racing with one token
        // serialise here instead of both reading "unused".
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT expires_at_ms, used_at_ms FROM enrollment_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Err(TokenRefusal::Unknown.into());
        };
        let expires_at_ms: i64 = row.try_get("expires_at_ms")?;
        let used_at_ms: Option<i64> = row.try_get("used_at_ms")?;
        if used_at_ms.is_some() {
            return Err(TokenRefusal::AlreadyUsed.into());
        }
        if expires_at_ms <= now_ms {
            return Err(TokenRefusal::Expired.into());
        }
        sqlx::query(
            "UPDATE enrollment_tokens SET used_at_ms = ?, used_by_device = ? WHERE token_hash = ?",
        )
        .bind(now_ms)
        .bind(&device.id)
        .bind(token_hash)
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "INSERT INTO devices (id, hostname, agent_version, enrolled_at_ms, certificate_serial, \
             certificate_not_after_ms) VALUES (?, ?, ?, ?, ?, ?)",
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
        Ok(())
    }

    pub async fn device(&self, device_id: &str) -> Result<Option<Device>, StoreError> {
        let row = sqlx::query("SELECT * FROM devices WHERE id = ?")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| device_from_row(&row)).transpose()
    }

    pub async fn devices(&self) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query("SELECT * FROM devices ORDER BY hostname, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(device_from_row).collect()
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
        sqlx::query(
            "UPDATE devices SET hostname = ?, agent_version = ?, os_name = ?, os_version = ?, \
             inventory_json = ?, inventory_at_ms = ?, last_seen_at_ms = ? WHERE id = ?",
        )
        .bind(&inventory.hostname)
        .bind(&inventory.agent_version)
        .bind(&inventory.os_name)
        .bind(&inventory.os_version)
        .bind(inventory_json)
        .bind(now_ms)
        .bind(now_ms)
        .bind(device_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE devices SET last_seen_at_ms = ? WHERE id = ?")
            .bind(now_ms)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
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
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for finding in findings {
            sqlx::query(
                "INSERT INTO findings (device_id, sequence, check_name, resource, severity, summary, \
                 evidence_json, observed_at_ms, received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (device_id, sequence) DO NOTHING",
            )
            .bind(device_id)
            .bind(sequence_to_sql(finding.sequence)?)
            .bind(&finding.check)
            .bind(&finding.resource)
            .bind(finding.severity.as_str())
            .bind(&finding.summary)
            .bind(&finding.evidence_json)
            .bind(finding.observed_at_ms)
            .bind(received_at_ms)
            .execute(&mut *transaction)
            .await?;
        }
        sqlx::query(
            "UPDATE devices SET committed_sequence = MAX(committed_sequence, ?), last_seen_at_ms = ? \
             WHERE id = ?",
        )
        .bind(sequence_to_sql(acknowledged_through)?)
        .bind(received_at_ms)
        .bind(device_id)
        .execute(&mut *transaction)
        .await?;
        let committed: i64 = sqlx::query("SELECT committed_sequence FROM devices WHERE id = ?")
            .bind(device_id)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("committed_sequence")?;
        transaction.commit().await?;
        Ok(sequence_from_sql(committed))
    }

    /// The device's most recent `limit` findings, oldest first.
    pub async fn recent_findings(
        &self,
        device_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT * FROM findings WHERE device_id = ? ORDER BY sequence DESC LIMIT ?) \
             ORDER BY sequence",
        )
        .bind(device_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(finding_from_row).collect()
    }

    pub async fn insert_api_key(
        &self,
        name: &str,
        role: Role,
        key_hash: &[u8],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO api_keys (key_hash, name, role, created_at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(key_hash)
        .bind(name)
        .bind(role.as_str())
        .bind(now_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DuplicateName(name.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The name and role of a live API key, if `key_hash` belongs to one.
    pub async fn api_key(&self, key_hash: &[u8]) -> Result<Option<(String, Role)>, StoreError> {
        let row = sqlx::query(
            "SELECT name, role FROM api_keys WHERE key_hash = ? AND revoked_at_ms IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let name: String = row.try_get("name")?;
        let role: String = row.try_get("role")?;
        let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
            what: "api key role",
            detail: role.clone(),
        })?;
        Ok(Some((name, role)))
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

fn device_from_row(row: &SqliteRow) -> Result<Device, StoreError> {
    let inventory_json: Option<String> = row.try_get("inventory_json")?;
    let inventory = inventory_json
        .map(|json| serde_json::from_str::<Inventory>(&json))
        .transpose()
        .map_err(|e| StoreError::Corrupt {
            what: "device inventory",
            detail: e.to_string(),
        })?;
    Ok(Device {
        id: row.try_get("id")?,
        hostname: row.try_get("hostname")?,
        agent_version: row.try_get("agent_version")?,
        enrolled_at_ms: row.try_get("enrolled_at_ms")?,
        certificate_serial: row.try_get("certificate_serial")?,
        certificate_not_after_ms: row.try_get("certificate_not_after_ms")?,
        revoked_at_ms: row.try_get("revoked_at_ms")?,
        os_name: row.try_get("os_name")?,
        os_version: row.try_get("os_version")?,
        inventory,
        inventory_at_ms: row.try_get("inventory_at_ms")?,
        last_seen_at_ms: row.try_get("last_seen_at_ms")?,
        committed_sequence: sequence_from_sql(row.try_get("committed_sequence")?),
    })
}

fn finding_from_row(row: &SqliteRow) -> Result<StoredFinding, StoreError> {
    let severity: String = row.try_get("severity")?;
    Ok(StoredFinding {
        device_id: row.try_get("device_id")?,
        received_at_ms: row.try_get("received_at_ms")?,
        finding: Finding {
            sequence: sequence_from_sql(row.try_get("sequence")?),
            check: row.try_get("check_name")?,
            resource: row.try_get("resource")?,
            severity: Severity::parse(&severity).ok_or_else(|| StoreError::Corrupt {
                what: "finding severity",
                detail: severity.clone(),
            })?,
            summary: row.try_get("summary")?,
            evidence_json: row.try_get("evidence_json")?,
            observed_at_ms: row.try_get("observed_at_ms")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_device(id: &str) -> NewDevice {
        NewDevice {
            id: id.to_owned(),
            hostname: "pc-1".to_owned(),
            agent_version: "0.1.0".to_owned(),
            certificate_serial: "01".to_owned(),
            certificate_not_after_ms: 1,
        }
    }

    #[tokio::test]
    async fn tokens_are_one_time_and_expire() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).await.expect("open");
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
            let outcome = match store.enroll_device(token, now, &new_device(device)).await {
                Ok(()) => Ok(()),
                Err(EnrollError::Refused(refusal)) => Err(refusal),
                Err(other) => panic!("unexpected store error: {other}"),
            };
            assert_eq!(outcome, expected, "token {token:?} at {now}");
        }
        let devices = store.devices().await.expect("devices");
        assert_eq!(
            devices.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[tokio::test]
    async fn redelivered_findings_are_stored_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).await.expect("open");
        store.insert_token(b"t", 0, i64::MAX).await.expect("insert");
        store
            .enroll_device(b"t", 1, &new_device("d"))
            .await
            .expect("enroll");
        let finding = |sequence, summary: &str| Finding {
            sequence,
            check: "disk.free_low".to_owned(),
            resource: "/".to_owned(),
            severity: Severity::Warning,
            summary: summary.to_owned(),
            evidence_json: "{}".to_owned(),
            observed_at_ms: 5,
        };
        let first = [finding(1, "first"), finding(2, "second")];
        assert_eq!(
            store
                .store_findings("d", &first, 2, 10)
                .await
                .expect("store"),
            2
        );
        let again = [finding(2, "changed"), finding(3, "third")];
        assert_eq!(
            store
                .store_findings("d", &again, 3, 11)
                .await
                .expect("store"),
            3
        );
        let stored = store.recent_findings("d", 10).await.expect("findings");
        let summaries: Vec<_> = stored.iter().map(|f| f.finding.summary.as_str()).collect();
        assert_eq!(summaries, ["first", "second", "third"]);
    }
}

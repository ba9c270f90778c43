//! The devices page's list: every device with what a technician scans for — its health
//! (conditions firing), site, users, last contact, agent version and open tickets — in one
//! statement, without reading any inventory.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// A device as the devices page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceListing {
    pub id: String,
    pub hostname: String,
    pub site: String,
    /// Its users' accounts, from its latest inventory.
    pub users: Vec<String>,
    pub os: Option<String>,
    pub agent_version: String,
    pub last_seen_at_ms: Option<i64>,
    pub revoked: bool,
    /// Its conditions firing (or flapping) now.
    pub firing: u32,
    /// Open tickets it is part of.
    pub open_tickets: u32,
}

impl Store {
    /// Every device, by hostname.
    pub async fn device_list(&self) -> Result<Vec<DeviceListing>, StoreError> {
        let statement = "SELECT d.id, d.hostname, d.site, d.users_json, d.os_name, d.os_version, d.agent_version, \
             d.last_seen_at_ms, d.revoked_at_ms, COALESCE(c.firing, 0) AS firing, COALESCE(t.open_tickets, 0) AS open_tickets \
             FROM devices d \
             LEFT JOIN (SELECT device_id, COUNT(*) AS firing FROM conditions \
                        WHERE state IN ('firing', 'flapping') GROUP BY device_id) c ON c.device_id = d.id \
             LEFT JOIN (SELECT td.device_id, COUNT(*) AS open_tickets FROM ticket_devices td \
                        JOIN tickets tk ON tk.id = td.ticket_id \
                        WHERE tk.open_key IS NOT NULL AND td.recovered_at_ms IS NULL GROUP BY td.device_id) t \
                   ON t.device_id = d.id \
             ORDER BY d.hostname, d.id";
        with_pool!(self, pool => {
            let rows = sqlx::query(statement).fetch_all(pool).await?;
            let mut listed = Vec::with_capacity(rows.len());
            for row in &rows {
                let users: Option<String> = row.try_get("users_json")?;
                let os_name: Option<String> = row.try_get("os_name")?;
                let os_version: Option<String> = row.try_get("os_version")?;
                let revoked: Option<i64> = row.try_get("revoked_at_ms")?;
                let firing: i64 = row.try_get("firing")?;
                let open_tickets: i64 = row.try_get("open_tickets")?;
                listed.push(DeviceListing {
                    id: row.try_get("id")?,
                    hostname: row.try_get("hostname")?,
                    site: row.try_get("site")?,
                    users: users
                        .and_then(|list| serde_json::from_str(&list).ok())
                        .unwrap_or_default(),
                    os: match (os_name, os_version) {
                        (Some(name), Some(version)) => Some(format!("{name} {version}")),
                        (name, version) => name.or(version),
                    },
                    agent_version: row.try_get("agent_version")?,
                    last_seen_at_ms: row.try_get("last_seen_at_ms")?,
                    revoked: revoked.is_some(),
                    firing: u32::try_from(firing).unwrap_or(u32::MAX),
                    open_tickets: u32::try_from(open_tickets).unwrap_or(u32::MAX),
                });
            }
            Ok(listed)
        })
    }
}

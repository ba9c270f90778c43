//! What agents say about themselves in their heartbeats (check cycle time, resident memory,
//! outbox depth): the latest per device, on the device's own row.

use super::{FindingBatch, Store, StoreError};
use crate::model::AgentHealth;

impl Store {
    /// Records a heartbeat: the device was seen at `now_ms`, and said `health` about itself.
    /// The same write as a heartbeat in ingest's group commit (there it shares a transaction
    /// with other devices' batches): the device's row only, since heartbeats arrive from every
    /// agent every interval. A heartbeat saying nothing (an older agent) leaves the last
    /// report standing.
    pub async fn store_heartbeat(
        &self,
        device_id: &str,
        health: &AgentHealth,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        // The very write ingest's group commit makes for a heartbeat.
        let beat = FindingBatch::heartbeat(device_id, health.clone(), now_ms);
        self.store_finding_batches(std::slice::from_ref(&beat))
            .await
            .map(drop)
    }
}

/// One UPDATE of the device's row with what its agent said about itself; binds: seen at,
/// [`health_columns`], reported at, device id.
pub(super) const UPDATE_HEALTH: &str = "UPDATE devices SET last_seen_at_ms = $1, agent_cycle_ms = $2, \
     agent_rss_bytes = $3, agent_outbox_depth = $4, agent_metrics_at_ms = $5 WHERE id = $6";

/// Cycle time, resident memory and outbox depth as the columns hold them.
pub(super) fn health_columns(health: &AgentHealth) -> [Option<i64>; 3] {
    let column = |value: Option<u64>| value.map(|value| i64::try_from(value).unwrap_or(i64::MAX));
    [
        column(health.check_cycle_ms),
        column(health.resident_memory_bytes),
        column(health.outbox_depth),
    ]
}

/// The agent's health from a device row's columns; None when it never reported any.
pub(super) fn from_columns(
    reported_at_ms: Option<i64>,
    check_cycle_ms: Option<i64>,
    resident_memory_bytes: Option<i64>,
    outbox_depth: Option<i64>,
) -> Option<AgentHealth> {
    let unsigned = |value: Option<i64>| value.and_then(|value| u64::try_from(value).ok());
    Some(AgentHealth {
        check_cycle_ms: unsigned(check_cycle_ms),
        resident_memory_bytes: unsigned(resident_memory_bytes),
        outbox_depth: unsigned(outbox_depth),
        reported_at_ms: reported_at_ms?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewDevice;
    use crate::store::tests::{TestStore, backends};

    #[tokio::test]
    async fn the_latest_heartbeat_that_says_something_is_kept() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            store.insert_token(b"t", 0, i64::MAX).await.expect("token");
            let device = NewDevice {
                id: "dev-1".to_owned(),
                hostname: "pc".to_owned(),
                agent_version: "0.1.0".to_owned(),
                certificate_serial: "01".to_owned(),
                certificate_not_after_ms: i64::MAX,
            };
            store.enroll_device(b"t", 1, &device).await.expect("enroll");
            let read = async || store.device("dev-1").await.expect("read").expect("device");
            assert_eq!(
                read().await.agent_health,
                None,
                "{backend}: nothing reported yet"
            );

            let health = AgentHealth {
                check_cycle_ms: Some(42),
                resident_memory_bytes: Some(7 << 20),
                outbox_depth: None,
                reported_at_ms: 0,
            };
            store
                .store_heartbeat("dev-1", &health, 1_000)
                .await
                .expect("heartbeat");
            let device = read().await;
            assert_eq!(
                device.agent_health,
                Some(AgentHealth {
                    reported_at_ms: 1_000,
                    ..health.clone()
                }),
                "{backend}"
            );
            assert_eq!(device.last_seen_at_ms, Some(1_000), "{backend}");

            // An older agent's heartbeat marks the device seen and leaves the report as it was.
            store
                .store_heartbeat("dev-1", &AgentHealth::default(), 2_000)
                .await
                .expect("empty heartbeat");
            let device = read().await;
            assert_eq!(device.last_seen_at_ms, Some(2_000), "{backend}");
            assert_eq!(
                device.agent_health.map(|health| health.reported_at_ms),
                Some(1_000),
                "{backend}"
            );
        }
    }
}

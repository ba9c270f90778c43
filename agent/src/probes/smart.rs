//! SMART health through `smartctl --json` (smartmontools). No smartctl, or a disk without SMART
//! (most virtual disks), means no result rather than an error.

use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmartHealth {
    pub device: String,
    pub model: String,
    pub serial: String,
    pub passed: bool,
    pub temperature_c: Option<i64>,
    pub reallocated_sectors: Option<i64>,
    pub percentage_used: Option<i64>,
}

const SMARTCTL_TIMEOUT: Duration = Duration::from_secs(30);

async fn smartctl(arguments: &[&str]) -> Result<Option<serde_json::Value>, String> {
    let mut command = Command::new("smartctl");
    command
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(SMARTCTL_TIMEOUT, command.output()).await {
        Err(_) => return Err(format!("smartctl {} timed out", arguments.join(" "))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Ok(Err(e)) => return Err(format!("running smartctl {}: {e}", arguments.join(" "))),
        Ok(Ok(output)) => output,
    };
    // smartctl's exit status is a bit mask; its JSON is still the answer when it printed some.
    match serde_json::from_slice(&output.stdout) {
        Ok(json) => Ok(Some(json)),
        Err(_) => Ok(None),
    }
}

/// SMART health of every disk `smartctl --scan` finds.
pub async fn health() -> Result<Vec<SmartHealth>, String> {
    let Some(scan) = smartctl(&["--json", "--scan"]).await? else {
        return Ok(Vec::new());
    };
    let mut results = Vec::new();
    for device in scan["devices"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let (Some(name), Some(kind)) = (device["name"].as_str(), device["type"].as_str()) else {
            continue;
        };
        let Some(report) = smartctl(&["--json", "-H", "-A", "-i", "-d", kind, name]).await? else {
            continue;
        };
        if let Some(health) = parse(name, &report) {
            results.push(health);
        }
    }
    Ok(results)
}

/// Reads one `smartctl --json -H -A -i` report; None when the disk has no SMART status.
pub fn parse(device: &str, report: &serde_json::Value) -> Option<SmartHealth> {
    let passed = report["smart_status"]["passed"].as_bool()?;
    let reallocated = report["ata_smart_attributes"]["table"]
        .as_array()
        .and_then(|table| table.iter().find(|attribute| attribute["id"] == 5))
        .and_then(|attribute| attribute["raw"]["value"].as_i64());
    Some(SmartHealth {
        device: device.to_owned(),
        model: report["model_name"].as_str().unwrap_or_default().to_owned(),
        serial: report["serial_number"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        passed,
        temperature_c: report["temperature"]["current"].as_i64(),
        reallocated_sectors: reallocated,
        percentage_used: report["nvme_smart_health_information_log"]["percentage_used"].as_i64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_failing_ata_disk_and_skips_one_without_smart() {
        let report = serde_json::json!({
            "model_name": "ST2000DM008", "serial_number": "ZFL0", "smart_status": {"passed": false},
            "temperature": {"current": 41},
            "ata_smart_attributes": {"table": [{"id": 5, "raw": {"value": 128}}]}
        });
        let health = parse("/dev/sda", &report).expect("has SMART");
        assert!(!health.passed);
        assert_eq!(health.reallocated_sectors, Some(128));
        assert!(
            parse(
                "/dev/vda",
                &serde_json::json!({"smartctl": {"exit_status": 4}})
            )
            .is_none()
        );
    }
}

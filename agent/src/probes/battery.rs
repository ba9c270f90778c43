//! Battery health and charge cycles, from /sys/class/power_supply on Linux. Desktops and VMs
//! have no battery: that is an empty list, not an error.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Battery {
    pub name: String,
    /// Full capacity now as a share of design capacity.
    pub health_pct: Option<f64>,
    pub cycle_count: Option<u64>,
    pub charge_pct: Option<f64>,
    pub status: String,
}

pub fn batteries() -> Result<Vec<Battery>, String> {
    if cfg!(windows) {
        return Err(super::not_on_windows_yet("battery health"));
    }
    Ok(batteries_in(Path::new("/sys/class/power_supply")))
}

pub fn batteries_in(root: &Path) -> Vec<Battery> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut batteries: Vec<Battery> = entries
        .flatten()
        .filter_map(|entry| {
            let dir = entry.path();
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name))
                    .ok()
                    .map(|s| s.trim().to_owned())
            };
            let number = |name: &str| read(name).and_then(|s| s.parse::<f64>().ok());
            if read("type").as_deref() != Some("Battery") {
                return None;
            }
            let full = number("energy_full").or_else(|| number("charge_full"));
            let design = number("energy_full_design").or_else(|| number("charge_full_design"));
            let health_pct = match (full, design) {
                (Some(full), Some(design)) if design > 0.0 => {
                    Some((full * 100.0 / design).min(100.0))
                }
                _ => None,
            };
            Some(Battery {
                name: entry.file_name().to_string_lossy().into_owned(),
                health_pct,
                cycle_count: number("cycle_count").map(|c| c as u64).filter(|c| *c > 0),
                charge_pct: number("capacity"),
                status: read("status").unwrap_or_default(),
            })
        })
        .collect();
    batteries.sort_by(|a, b| a.name.cmp(&b.name));
    batteries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_worn_battery_from_sysfs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bat = dir.path().join("BAT0");
        std::fs::create_dir(&bat).expect("mkdir");
        for (file, value) in [
            ("type", "Battery\n"),
            ("energy_full", "30000000\n"),
            ("energy_full_design", "50000000\n"),
            ("cycle_count", "812\n"),
            ("capacity", "77\n"),
            ("status", "Discharging\n"),
        ] {
            std::fs::write(bat.join(file), value).expect("write");
        }
        let ac = dir.path().join("AC");
        std::fs::create_dir(&ac).expect("mkdir");
        std::fs::write(ac.join("type"), "Mains\n").expect("write");
        let batteries = batteries_in(dir.path());
        assert_eq!(batteries.len(), 1);
        assert_eq!(batteries[0].health_pct, Some(60.0));
        assert_eq!(batteries[0].cycle_count, Some(812));
    }
}

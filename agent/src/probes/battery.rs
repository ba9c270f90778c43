//! Battery health and charge cycles, from /sys/class/power_supply on Linux and the battery
//! driver's IOCTLs on Windows (`probes::windows::battery`). Desktops and VMs have no battery:
//! that is an empty list, not an error.

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

#[cfg(windows)]
pub fn batteries() -> Result<Vec<Battery>, String> {
    super::windows::battery::batteries()
}

#[cfg(not(windows))]
pub fn batteries() -> Result<Vec<Battery>, String> {
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

/// What a Windows battery driver answers: BATTERY_INFORMATION and BATTERY_STATUS, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowsBatteryReading {
    pub designed_capacity: u32,
    pub full_charged_capacity: u32,
    pub cycle_count: u32,
    /// Capacities in relative units (a percentage), not mWh: the wear cannot be told.
    pub relative: bool,
    /// BATTERY_STATUS.PowerState: BATTERY_POWER_ON_LINE 1, DISCHARGING 2, CHARGING 4.
    pub power_state: u32,
    /// BATTERY_STATUS.Capacity, BATTERY_UNKNOWN_CAPACITY (u32::MAX) when unknown.
    pub capacity_now: u32,
}

/// Windows' BATTERY_UNKNOWN_CAPACITY.
const UNKNOWN_CAPACITY: u32 = u32::MAX;

/// A Windows battery in the same terms as Linux's: health is the full-charge capacity as a
/// share of the design capacity, the status reads like sysfs ("Charging", "Full", …).
pub fn battery_from_windows(name: &str, reading: WindowsBatteryReading) -> Battery {
    let known = |capacity: u32| (capacity != UNKNOWN_CAPACITY && capacity > 0).then_some(capacity);
    let design = known(reading.designed_capacity);
    let full = known(reading.full_charged_capacity);
    let health_pct = match (full, design) {
        (Some(full), Some(design)) if !reading.relative => {
            Some((f64::from(full) * 100.0 / f64::from(design)).min(100.0))
        }
        _ => None,
    };
    let now = (reading.capacity_now != UNKNOWN_CAPACITY).then_some(reading.capacity_now);
    let charge_pct = match (now, full) {
        (Some(now), Some(full)) => Some((f64::from(now) * 100.0 / f64::from(full)).min(100.0)),
        _ => None,
    };
    let status = if reading.power_state & 4 != 0 {
        "Charging"
    } else if reading.power_state & 2 != 0 {
        "Discharging"
    } else if reading.power_state & 1 != 0 && charge_pct.is_some_and(|pct| pct >= 99.0) {
        "Full"
    } else if reading.power_state & 1 != 0 {
        "Not charging"
    } else {
        "Unknown"
    };
    Battery {
        name: name.to_owned(),
        health_pct,
        cycle_count: Some(u64::from(reading.cycle_count)).filter(|c| *c > 0),
        charge_pct,
        status: status.to_owned(),
    }
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

    #[test]
    fn windows_battery_readings_give_health_charge_and_status() {
        let worn = WindowsBatteryReading {
            designed_capacity: 50_000,
            full_charged_capacity: 30_000,
            cycle_count: 812,
            relative: false,
            power_state: 2,
            capacity_now: 15_000,
        };
        let cases = [
            (worn, Some(60.0), Some(812), Some(50.0), "Discharging"),
            // Charged above design (a new battery) is 100 % healthy.
            (
                WindowsBatteryReading {
                    full_charged_capacity: 52_000,
                    capacity_now: 52_000,
                    power_state: 1,
                    ..worn
                },
                Some(100.0),
                Some(812),
                Some(100.0),
                "Full",
            ),
            (
                WindowsBatteryReading {
                    power_state: 1 | 4,
                    cycle_count: 0,
                    ..worn
                },
                Some(60.0),
                None,
                Some(50.0),
                "Charging",
            ),
            (
                WindowsBatteryReading {
                    power_state: 1,
                    ..worn
                },
                Some(60.0),
                Some(812),
                Some(50.0),
                "Not charging",
            ),
            // Relative units say nothing about wear; unknown capacities say nothing at all.
            (
                WindowsBatteryReading {
                    designed_capacity: 100,
                    full_charged_capacity: 100,
                    relative: true,
                    capacity_now: 40,
                    ..worn
                },
                None,
                Some(812),
                Some(40.0),
                "Discharging",
            ),
            (
                WindowsBatteryReading {
                    designed_capacity: 0,
                    full_charged_capacity: u32::MAX,
                    capacity_now: u32::MAX,
                    power_state: 0,
                    ..worn
                },
                None,
                Some(812),
                None,
                "Unknown",
            ),
        ];
        for (reading, health, cycles, charge, status) in cases {
            let battery = battery_from_windows("BAT0", reading);
            assert_eq!(battery.health_pct, health, "{reading:?}");
            assert_eq!(battery.cycle_count, cycles, "{reading:?}");
            assert_eq!(battery.charge_pct, charge, "{reading:?}");
            assert_eq!(battery.status, status, "{reading:?}");
            assert_eq!(battery.name, "BAT0");
        }
    }
}

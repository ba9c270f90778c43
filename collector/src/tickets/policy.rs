//! The numbers the ticket rules run on: reopen window, flapping, staleness, fleet correlation,
//! the impact × urgency matrix, SLA targets (optionally in business hours) and problem
//! detection. Read from `[tickets]` in the collector config; defaults are in
//! `collector.example.toml`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::Severity;

/// High, medium or low: the scale of both impact and urgency.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    /// 1 for high … 3 for low.
    pub fn rank(self) -> u8 {
        match self {
            Level::High => 1,
            Level::Medium => 2,
            Level::Low => 3,
        }
    }

    pub fn from_rank(rank: u8) -> Self {
        match rank {
            0 | 1 => Level::High,
            2 => Level::Medium,
            _ => Level::Low,
        }
    }

    pub fn raised(self) -> Self {
        Level::from_rank(self.rank().saturating_sub(1))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "high" => Some(Level::High),
            "medium" => Some(Level::Medium),
            "low" => Some(Level::Low),
            _ => None,
        }
    }
}

/// P1 (most urgent) to P5: the ITIL 3×3 matrix, priority = impact rank + urgency rank − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct Priority(u8);

impl Priority {
    pub fn from_matrix(impact: Level, urgency: Level) -> Self {
        Priority(impact.rank() + urgency.rank() - 1)
    }

    pub fn from_number(number: u8) -> Option<Self> {
        (1..=5).contains(&number).then_some(Priority(number))
    }

    pub fn number(self) -> u8 {
        self.0
    }

    fn index(self) -> usize {
        usize::from(self.0 - 1)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.0)
    }
}

/// Response and resolution targets of one priority.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaTarget {
    pub response: Duration,
    pub resolution: Duration,
    /// Count only business hours (when `business_hours` is configured).
    pub business_hours: bool,
}

/// Working hours in one fixed UTC offset (no daylight-saving changes).
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    /// Monday = 0 … Sunday = 6.
    pub days: [bool; 7],
    pub start_minute: u32,
    pub end_minute: u32,
    pub utc_offset_minutes: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Findings below this severity update their condition but open no ticket.
    pub min_severity: Severity,
    /// A condition firing again this soon after its ticket resolved reopens that ticket.
    pub reopen_window: Duration,
    /// A user's report joins the open report ticket of the same requester, device and
    /// report fingerprint when that ticket's latest report is this recent.
    pub report_join_window: Duration,
    /// This many state changes within `flap_window` make a condition flapping; it settles
    /// after a whole `flap_window` without a change.
    pub flap_changes: u32,
    pub flap_window: Duration,
    /// A device silent this long has its firing conditions marked stale.
    pub stale_after: Duration,
    pub correlation: Correlation,
    /// An incident with at least this many devices has high impact.
    pub impact_high_devices: u32,
    /// Check-name prefix → urgency; the longest matching prefix wins.
    pub urgency: BTreeMap<String, Level>,
    pub sla: [SlaTarget; 5],
    pub business_hours: Option<BusinessHours>,
    /// A fingerprint with this many tickets within `problem_window` is a problem candidate.
    pub problem_after: u32,
    pub problem_window: Duration,
}

/// When devices of one scope firing one check become one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub min_devices: u32,
    /// Share of the scope's known devices that must be affected, in percent.
    pub min_share_pct: f64,
    /// Devices count towards a new incident when their condition fired within this window.
    pub window: Duration,
    /// How long a firing condition waits for an incident to form when others in its scope
    /// already fail the same way, before it opens a ticket of its own (zero: never waits).
    pub hold: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_file(TicketsFile::default())
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

impl Policy {
    /// Urgency of a check at a severity: the check's class, raised one step when critical.
    pub fn urgency(&self, check: &str, severity: Severity) -> Level {
        let class = self
            .urgency
            .iter()
            .filter(|(prefix, _)| check.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, level)| *level)
            .unwrap_or(Level::Medium);
        if severity == Severity::Critical {
            class.raised()
        } else {
            class
        }
    }

    /// Impact from how many devices are affected and whether one of them is a VIP's.
    pub fn impact(&self, incident: bool, devices: u32, vip: bool) -> Level {
        let base = if incident && devices >= self.impact_high_devices {
            Level::High
        } else if incident {
            Level::Medium
        } else {
            Level::Low
        };
        if vip { base.raised() } else { base }
    }

    pub fn sla_target(&self, priority: Priority) -> SlaTarget {
        self.sla[priority.index()]
    }

    /// When a target of `length` that starts at `start_ms` falls due.
    pub fn due_ms(&self, priority: Priority, start_ms: i64, length: Duration) -> i64 {
        let length_ms = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        match (
            &self.business_hours,
            self.sla_target(priority).business_hours,
        ) {
            (Some(hours), true) => hours.add(start_ms, length_ms),
            _ => start_ms.saturating_add(length_ms),
        }
    }
}

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

impl BusinessHours {
    /// `start_ms` plus `length_ms` of working time.
    pub fn add(&self, start_ms: i64, length_ms: i64) -> i64 {
        if !self.days.iter().any(|open| *open) || self.end_minute <= self.start_minute {
            return start_ms.saturating_add(length_ms);
        }
        let offset_ms = i64::from(self.utc_offset_minutes) * MINUTE_MS;
        let mut local_ms = start_ms + offset_ms;
        let mut remaining_ms = length_ms;
        // At most one year of walking: targets are hours or days, never years.
        for _ in 0..366 {
            let day = local_ms.div_euclid(DAY_MS);
            // 1970-01-01 was a Thursday (Monday = 0 → Thursday = 3).
            let weekday = usize::try_from((day + 3).rem_euclid(7)).unwrap_or(0);
            let open_ms = day * DAY_MS + i64::from(self.start_minute) * MINUTE_MS;
            let close_ms = day * DAY_MS + i64::from(self.end_minute) * MINUTE_MS;
            if self.days[weekday] && local_ms < close_ms {
                let from = local_ms.max(open_ms);
                let available = close_ms - from;
                if remaining_ms <= available {
                    return from + remaining_ms - offset_ms;
                }
                remaining_ms -= available;
            }
            local_ms = (day + 1) * DAY_MS;
        }
        local_ms + remaining_ms - offset_ms
    }
}

/// `[tickets]` as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsFile {
    min_severity: Severity,
    #[serde(with = "crate::config::humantime_serde_compat")]
    reopen_window: Duration,
    #[serde(with = "crate::config::humantime_serde_compat")]
    report_join_window: Duration,
    flap_changes: u32,
    #[serde(with = "crate::config::humantime_serde_compat")]
    flap_window: Duration,
    #[serde(with = "crate::config::humantime_serde_compat")]
    stale_after: Duration,
    correlation: CorrelationFile,
    impact_high_devices: u32,
    urgency: BTreeMap<String, Level>,
    sla: BTreeMap<String, SlaFile>,
    business_hours: Option<BusinessHoursFile>,
    problem_after: u32,
    #[serde(with = "crate::config::humantime_serde_compat")]
    problem_window: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CorrelationFile {
    min_devices: u32,
    min_share_pct: f64,
    #[serde(with = "crate::config::humantime_serde_compat")]
    window: Duration,
    #[serde(with = "crate::config::humantime_serde_compat")]
    hold: Duration,
}

impl Default for CorrelationFile {
    fn default() -> Self {
        Self {
            min_devices: 5,
            min_share_pct: 10.0,
            window: Duration::from_secs(15 * 60),
            hold: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaFile {
    #[serde(with = "crate::config::humantime_serde_compat")]
    response: Duration,
    #[serde(with = "crate::config::humantime_serde_compat")]
    resolution: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusinessHoursFile {
    days: Vec<String>,
    start: String,
    end: String,
    #[serde(default)]
    utc_offset: String,
    /// Priorities whose targets count business hours only; the others run around the clock.
    #[serde(default = "default_business_priorities")]
    priorities: Vec<String>,
}

fn default_business_priorities() -> Vec<String> {
    vec!["p3".to_owned(), "p4".to_owned(), "p5".to_owned()]
}

/// Default urgency by check class: what stops people working now is high.
const DEFAULT_URGENCY: [(&str, Level); 16] = [
    ("network.", Level::High),
    ("dns.", Level::High),
    ("https.", Level::High),
    ("tcp.", Level::High),
    ("smart.", Level::High),
    ("disk.", Level::Medium),
    ("memory.", Level::Medium),
    ("crash.", Level::Medium),
    ("log.", Level::Medium),
    ("services.", Level::Medium),
    ("clock.", Level::Medium),
    ("thermal.", Level::Medium),
    ("cpu.", Level::Low),
    ("battery.", Level::Low),
    ("reboot.", Level::Low),
    ("agent.", Level::Low),
];

/// (response, resolution) per priority, around the clock.
const DEFAULT_SLA_SECS: [(u64, u64); 5] = [
    (15 * 60, 4 * 3600),
    (30 * 60, 8 * 3600),
    (2 * 3600, 24 * 3600),
    (8 * 3600, 3 * 24 * 3600),
    (24 * 3600, 5 * 24 * 3600),
];

impl Default for TicketsFile {
    fn default() -> Self {
        Self {
            min_severity: Severity::Warning,
            reopen_window: Duration::from_secs(24 * 3600),
            report_join_window: Duration::from_secs(24 * 3600),
            flap_changes: 6,
            flap_window: Duration::from_secs(3600),
            stale_after: Duration::from_secs(10 * 60),
            correlation: CorrelationFile::default(),
            impact_high_devices: 25,
            urgency: BTreeMap::new(),
            sla: BTreeMap::new(),
            business_hours: None,
            problem_after: 3,
            problem_window: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl Policy {
    /// Validates `[tickets]`; errors name the key (the caller names the file).
    pub fn from_file(file: TicketsFile) -> Result<Self, String> {
        if file.flap_changes < 2 {
            return Err(format!(
                "tickets.flap_changes = {} must be at least 2",
                file.flap_changes
            ));
        }
        let correlation = file.correlation;
        if correlation.min_devices < 2 {
            return Err(format!(
                "tickets.correlation.min_devices = {} must be at least 2 (one device is a device ticket)",
                correlation.min_devices
            ));
        }
        if !(0.0..=100.0).contains(&correlation.min_share_pct) {
            return Err(format!(
                "tickets.correlation.min_share_pct = {} must be between 0 and 100",
                correlation.min_share_pct
            ));
        }
        for (name, duration) in [
            ("reopen_window", file.reopen_window),
            ("report_join_window", file.report_join_window),
            ("flap_window", file.flap_window),
            ("stale_after", file.stale_after),
            ("correlation.window", correlation.window),
            ("problem_window", file.problem_window),
        ] {
            if duration.is_zero() {
                return Err(format!("tickets.{name} must be longer than zero"));
            }
        }
        let mut urgency: BTreeMap<String, Level> = DEFAULT_URGENCY
            .iter()
            .map(|(prefix, level)| ((*prefix).to_owned(), *level))
            .collect();
        urgency.extend(file.urgency);
        let mut sla = DEFAULT_SLA_SECS.map(|(response, resolution)| SlaTarget {
            response: Duration::from_secs(response),
            resolution: Duration::from_secs(resolution),
            business_hours: false,
        });
        for (name, target) in file.sla {
            let index = priority_index(&name)
                .ok_or_else(|| format!("tickets.sla.{name}: priorities are p1 to p5"))?;
            if target.response.is_zero() || target.resolution < target.response {
                return Err(format!(
                    "tickets.sla.{name}: response must be longer than zero and no longer than resolution"
                ));
            }
            sla[index].response = target.response;
            sla[index].resolution = target.resolution;
        }
        let business_hours = match file.business_hours {
            None => None,
            Some(hours) => {
                for name in &hours.priorities {
                    let index = priority_index(name).ok_or_else(|| {
                        format!("tickets.business_hours.priorities: {name:?} is not p1 to p5")
                    })?;
                    sla[index].business_hours = true;
                }
                Some(BusinessHours::parse(&hours)?)
            }
        };
        Ok(Policy {
            min_severity: file.min_severity,
            reopen_window: file.reopen_window,
            report_join_window: file.report_join_window,
            flap_changes: file.flap_changes,
            flap_window: file.flap_window,
            stale_after: file.stale_after,
            correlation: Correlation {
                min_devices: correlation.min_devices,
                min_share_pct: correlation.min_share_pct,
                window: correlation.window,
                hold: correlation.hold,
            },
            impact_high_devices: file.impact_high_devices.max(1),
            urgency,
            sla,
            business_hours,
            problem_after: file.problem_after.max(2),
            problem_window: file.problem_window,
        })
    }
}

fn priority_index(name: &str) -> Option<usize> {
    let number: u8 = name.strip_prefix('p')?.parse().ok()?;
    Priority::from_number(number).map(Priority::index)
}

impl BusinessHours {
    fn parse(file: &BusinessHoursFile) -> Result<Self, String> {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut days = [false; 7];
        for day in &file.days {
            let index = NAMES
                .iter()
                .position(|name| day.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!("tickets.business_hours.days: {day:?} is not one of {NAMES:?}")
                })?;
            days[index] = true;
        }
        let minute = |key: &str, text: &str| -> Result<u32, String> {
            let parsed = text.split_once(':').and_then(|(hours, minutes)| {
                let hours: u32 = hours.parse().ok()?;
                let minutes: u32 = minutes.parse().ok()?;
                (hours <= 24 && minutes < 60 && hours * 60 + minutes <= 24 * 60)
                    .then_some(hours * 60 + minutes)
            });
            parsed.ok_or_else(|| format!("tickets.business_hours.{key}: {text:?} is not HH:MM"))
        };
        let start_minute = minute("start", &file.start)?;
        let end_minute = minute("end", &file.end)?;
        if end_minute <= start_minute {
            return Err("tickets.business_hours: end must be after start".to_owned());
        }
        let utc_offset_minutes = if file.utc_offset.is_empty() {
            0
        } else {
            let text = file.utc_offset.as_str();
            let (sign, rest) = match text.split_at_checked(1) {
                Some(("+", rest)) => (1, rest),
                Some(("-", rest)) => (-1, rest),
                _ => (0, text),
            };
            let minutes = i32::try_from(minute("utc_offset", rest)?).unwrap_or(0);
            if sign == 0 || minutes > 14 * 60 {
                return Err(format!(
                    "tickets.business_hours.utc_offset: {text:?} is not like \"+01:00\""
                ));
            }
            sign * minutes
        };
        Ok(BusinessHours {
            days,
            start_minute,
            end_minute,
            utc_offset_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, String> {
        let file: TicketsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Policy::from_file(file)
    }

    #[test]
    fn the_priority_matrix_is_itil_three_by_three() {
        use Level::*;
        let cases = [
            (High, High, 1),
            (High, Medium, 2),
            (Medium, High, 2),
            (High, Low, 3),
            (Medium, Medium, 3),
            (Low, High, 3),
            (Medium, Low, 4),
            (Low, Medium, 4),
            (Low, Low, 5),
        ];
        for (impact, urgency, expected) in cases {
            assert_eq!(
                Priority::from_matrix(impact, urgency).number(),
                expected,
                "{impact:?} × {urgency:?}"
            );
        }
    }

    #[test]
    fn impact_grows_with_devices_and_vips_and_urgency_with_the_check_class() {
        let policy = Policy::default();
        let cases = [
            (false, 1, false, Level::Low),
            (false, 1, true, Level::Medium),
            (true, 5, false, Level::Medium),
            (true, 25, false, Level::High),
            (true, 5, true, Level::High),
        ];
        for (incident, devices, vip, expected) in cases {
            assert_eq!(policy.impact(incident, devices, vip), expected);
        }
        let urgency = [
            ("dns.resolve", Severity::Warning, Level::High),
            ("disk.free_low", Severity::Warning, Level::Medium),
            ("disk.free_low", Severity::Critical, Level::High),
            ("battery.health", Severity::Warning, Level::Low),
            ("something.new", Severity::Warning, Level::Medium),
        ];
        for (check, severity, expected) in urgency {
            assert_eq!(policy.urgency(check, severity), expected, "{check}");
        }
        let overridden = parse("[urgency]\n\"disk.free\" = \"high\"\n").expect("parses");
        assert_eq!(
            overridden.urgency("disk.free_low", Severity::Warning),
            Level::High
        );
        assert_eq!(
            overridden.urgency("disk.inodes_low", Severity::Warning),
            Level::Medium
        );
    }

    #[test]
    fn business_hours_skip_nights_and_weekends() {
        let policy = parse(
            "[business_hours]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\nstart = \"08:00\"\nend = \"18:00\"\nutc_offset = \"+01:00\"\n",
        )
        .expect("parses");
        let hours = policy.business_hours.clone().expect("configured");
        // 2026-11-20 00:00 UTC was a Friday. 16:00 local (+01:00) = 15:00 UTC.
        let friday_1600_local = 1_795_132_800_000 + 15 * 3_600_000;
        let four_hours = 4 * 3_600_000;
        // Two hours on Friday, two on Monday from 08:00: Monday 10:00 local = 09:00 UTC.
        let monday_1000_local_utc = friday_1600_local + 3 * DAY_MS - 6 * 3_600_000;
        assert_eq!(
            hours.add(friday_1600_local, four_hours),
            monday_1000_local_utc
        );
        // P1 runs around the clock; P3 counts business hours by default.
        let p1 = Priority::from_number(1).expect("p1");
        let p3 = Priority::from_number(3).expect("p3");
        assert_eq!(
            policy.due_ms(p1, friday_1600_local, Duration::from_secs(4 * 3600)),
            friday_1600_local + four_hours
        );
        assert_eq!(
            policy.due_ms(p3, friday_1600_local, Duration::from_secs(4 * 3600)),
            monday_1000_local_utc
        );
    }

    #[test]
    fn bad_ticket_settings_name_the_key() {
        let cases = [
            ("flap_changes = 1", "tickets.flap_changes"),
            ("[correlation]\nmin_devices = 1", "correlation.min_devices"),
            ("[correlation]\nmin_share_pct = 150.0", "min_share_pct"),
            (
                "[sla.p9]\nresponse = \"1h\"\nresolution = \"2h\"",
                "tickets.sla.p9",
            ),
            (
                "[sla.p1]\nresponse = \"2h\"\nresolution = \"1h\"",
                "tickets.sla.p1",
            ),
            (
                "[business_hours]\ndays = [\"funday\"]\nstart = \"08:00\"\nend = \"18:00\"",
                "funday",
            ),
            (
                "[business_hours]\ndays = [\"mon\"]\nstart = \"18:00\"\nend = \"08:00\"",
                "end must be after start",
            ),
            ("reopen_window = \"0s\"", "reopen_window"),
            ("report_join_window = \"0s\"", "report_join_window"),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}

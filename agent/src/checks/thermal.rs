//! `thermal.temperature_c` per sensor: hot hardware throttles and then shuts down.

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::thermal::{self, Sensor};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThermalConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    pub temperature_c: ThresholdFile,
}

impl Default for ThermalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(60),
            temperature_c: ThresholdFile::default(),
        }
    }
}

pub const TEMPERATURE: &str = "thermal.temperature_c";

fn temperature_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 90.0,
        clear: 80.0,
        critical: Some(100.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(120),
        clear_after: Duration::from_secs(120),
    }
}

struct ThermalCheck {
    interval: Duration,
    rule: Rule,
}

pub fn build(config: &ThermalConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(ThermalCheck {
        interval: interval_at_least(config.interval, Duration::from_secs(1))?,
        rule: config
            .temperature_c
            .resolve(temperature_default())
            .map_err(|e| format!("temperature_c: {e}"))?,
    })))
}

impl Check for ThermalCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(TEMPERATURE, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[TEMPERATURE]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let sensors = tokio::task::spawn_blocking(thermal::sensors)
                .await
                .map_err(|e| e.to_string())?;
            Ok(evaluate(&sensors, self.rule))
        })
    }
}

fn evaluate(sensors: &[Sensor], rule: Rule) -> Vec<Observation> {
    sensors
        .iter()
        .filter(|sensor| sensor.temperature_c.is_finite() && sensor.temperature_c > 0.0)
        .map(|sensor| {
            // A sensor's own critical point is better than a generic one.
            let rule = match sensor.critical_c.filter(|c| c.is_finite() && *c > 30.0) {
                Some(critical) => {
                    let critical = f64::from(critical);
                    let raise = (critical - 5.0).min(rule.raise);
                    Rule {
                        raise,
                        clear: rule.clear.min(raise - 5.0),
                        critical: Some(critical),
                        ..rule
                    }
                }
                None => rule,
            };
            Observation {
                check: TEMPERATURE,
                resource: sensor.label.clone(),
                value: f64::from(sensor.temperature_c),
                rule,
                summary: format!("{} is at {:.0} °C", sensor.label, sensor.temperature_c),
                evidence: evidence! {
                    "sensor" => sensor.label,
                    "temperature_c" => sensor.temperature_c,
                    "max_c" => sensor.max_c,
                    "critical_c" => sensor.critical_c,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensor_near_its_own_critical_point_fires() {
        let sensor = Sensor {
            label: "Package id 0".to_owned(),
            temperature_c: 82.0,
            max_c: None,
            critical_c: Some(85.0),
        };
        let observations = evaluate(&[sensor], temperature_default());
        assert_eq!(observations[0].rule.raise, 80.0);
        assert_eq!(
            observations[0].rule.classify(observations[0].value),
            Severity::Warning
        );
        assert_eq!(observations[0].summary, "Package id 0 is at 82 °C");
    }
}

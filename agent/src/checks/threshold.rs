//! `raise`/`clear`/`critical`/`for`/`clear_for` as written in the config, merged over each
//! check's own defaults so that setting one key keeps the others.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::rule::Rule;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdFile {
    pub raise: Option<f64>,
    pub clear: Option<f64>,
    pub critical: Option<f64>,
    #[serde(rename = "for", default, deserialize_with = "optional_duration")]
    pub fire_after: Option<Duration>,
    #[serde(rename = "clear_for", default, deserialize_with = "optional_duration")]
    pub clear_after: Option<Duration>,
}

impl ThresholdFile {
    /// The check's `defaults` with whatever the file sets, validated.
    pub fn resolve(&self, defaults: Rule) -> Result<Rule, String> {
        let rule = Rule {
            raise: self.raise.unwrap_or(defaults.raise),
            clear: self.clear.unwrap_or(defaults.clear),
            critical: self.critical.or(defaults.critical),
            fire_after: self.fire_after.unwrap_or(defaults.fire_after),
            clear_after: self.clear_after.unwrap_or(defaults.clear_after),
            ..defaults
        };
        rule.validate()?;
        Ok(rule)
    }
}

/// `"30s"`-style durations.
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("{text:?} is not a duration like \"30s\": {e}"))
    })
}

fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::rule::Direction;
    use crate::finding::Severity;

    #[test]
    fn setting_one_key_keeps_the_other_defaults() {
        let defaults = Rule {
            direction: Direction::Above,
            raise: 90.0,
            clear: 85.0,
            critical: Some(95.0),
            severity: Severity::Warning,
            fire_after: Duration::from_secs(120),
            clear_after: Duration::from_secs(120),
        };
        let file: ThresholdFile =
            toml::from_str("raise = 80.0\nclear = 70.0\nfor = \"0s\"").expect("parses");
        let rule = file.resolve(defaults).expect("valid");
        assert_eq!(
            (rule.raise, rule.clear, rule.critical),
            (80.0, 70.0, Some(95.0))
        );
        assert_eq!(
            (rule.fire_after, rule.clear_after),
            (Duration::ZERO, Duration::from_secs(120))
        );
        let bad: ThresholdFile = toml::from_str("clear = 99.0").expect("parses");
        assert!(bad.resolve(defaults).is_err());
        assert!(toml::from_str::<ThresholdFile>("rise = 1.0").is_err());
    }
}

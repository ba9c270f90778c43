//! Temperatures of the sensors the OS exposes (sysinfo components); none in most VMs.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensor {
    pub label: String,
    pub temperature_c: f32,
    pub max_c: Option<f32>,
    pub critical_c: Option<f32>,
}

pub fn sensors() -> Vec<Sensor> {
    sysinfo::Components::new_with_refreshed_list()
        .map(|components| {
            components
                .iter()
                .filter_map(|component| {
                    Some(Sensor {
                        label: component.label().to_owned(),
                        temperature_c: component.temperature()?,
                        max_c: component.max(),
                        critical_c: component.critical(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

//! Inventory: what this machine is (OS, CPU, memory, disks, interfaces), gathered with sysinfo
//! and sent on every connect. Read-only; anything the OS will not tell us is left empty.

use serde::Serialize;
use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Inventory {
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel_version: String,
    pub architecture: String,
    pub cpu_model: String,
    pub cpu_logical_cores: u32,
    pub cpu_physical_cores: u32,
    pub memory_total_bytes: u64,
    pub swap_total_bytes: u64,
    pub disks: Vec<Disk>,
    pub interfaces: Vec<NetworkInterface>,
    pub uptime_secs: u64,
    pub agent_version: String,
    /// From the agent config; the collector groups devices of one site.
    pub site: String,
    pub gateways: Vec<String>,
    pub dns_servers: Vec<String>,
    /// Who has a session on the machine now, and who logged in last (`users.rs`).
    pub users: Vec<crate::users::DeviceUser>,
    pub last_user: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Disk {
    pub mount_point: String,
    pub device: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub removable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkInterface {
    pub name: String,
    pub mac_address: String,
    /// CIDR notation, e.g. "192.0.2.10/24".
    pub addresses: Vec<String>,
}

/// The machine's hostname, or "unknown" when the OS will not say.
pub fn hostname() -> String {
    System::host_name().unwrap_or_else(|_| "unknown".to_owned())
}

/// Gathers the inventory. Blocking (reads /proc and friends): call from `spawn_blocking`.
pub fn gather() -> Inventory {
    let refresh = RefreshKind::nothing()
        .with_memory(MemoryRefreshKind::everything())
        .with_cpu(CpuRefreshKind::nothing());
    let system = System::new_with_specifics(refresh)
        .inspect_err(|e| tracing::warn!(error = %e, "reading system information"))
        .ok();
    let (cpu_model, cpu_logical_cores, memory_total_bytes, swap_total_bytes) = match &system {
        Some(system) => (
            system
                .cpus()
                .first()
                .map(|cpu| cpu.brand().trim().to_owned())
                .unwrap_or_default(),
            u32::try_from(system.cpus().len()).unwrap_or(u32::MAX),
            system.total_memory(),
            system.total_swap(),
        ),
        None => (String::new(), 0, 0, 0),
    };
    let disks = match Disks::new_with_refreshed_list() {
        Ok(disks) => disks
            .iter()
            .map(|disk| Disk {
                mount_point: disk.mount_point().display().to_string(),
                device: disk.name().to_string_lossy().into_owned(),
                file_system: disk.file_system().to_string_lossy().into_owned(),
                total_bytes: disk.total_space(),
                available_bytes: disk.available_space(),
                removable: disk.is_removable(),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing disks");
            Vec::new()
        }
    };
    let mut interfaces: Vec<NetworkInterface> = match Networks::new_with_refreshed_list() {
        Ok(networks) => networks
            .iter()
            .map(|(name, data)| NetworkInterface {
                name: name.to_string_lossy().into_owned(),
                mac_address: data.mac_address().to_string(),
                addresses: data
                    .ip_networks()
                    .iter()
                    .map(|n| format!("{}/{}", n.addr, n.prefix))
                    .collect(),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing network interfaces");
            Vec::new()
        }
    };
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    let users = crate::users::gather();
    Inventory {
        hostname: hostname(),
        os_name: System::name().unwrap_or_default(),
        os_version: System::os_version().unwrap_or_default(),
        kernel_version: System::kernel_version().unwrap_or_default(),
        architecture: System::cpu_arch(),
        cpu_model,
        cpu_logical_cores,
        cpu_physical_cores: System::physical_core_count()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        memory_total_bytes,
        swap_total_bytes,
        disks,
        interfaces,
        uptime_secs: System::uptime().unwrap_or(0),
        agent_version: crate::AGENT_VERSION.to_owned(),
        site: String::new(),
        gateways: crate::probes::gateway::default_routes()
            .unwrap_or_default()
            .into_iter()
            .map(|route| route.gateway.to_string())
            .collect(),
        dns_servers: crate::probes::dns::system_servers()
            .unwrap_or_default()
            .into_iter()
            .map(|server| server.ip().to_string())
            .collect(),
        users: users.sessions,
        last_user: users.last_user,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_of_this_machine_is_plausible() {
        let inventory = gather();
        assert!(!inventory.hostname.is_empty());
        assert!(inventory.cpu_logical_cores >= 1, "{inventory:?}");
        assert!(inventory.memory_total_bytes > 0, "{inventory:?}");
        assert!(
            inventory.disks.iter().any(|d| d.total_bytes > 0),
            "{inventory:?}"
        );
        assert!(
            inventory
                .interfaces
                .iter()
                .any(|i| i.name == "lo" || !i.addresses.is_empty()),
            "{inventory:?}"
        );
        assert_eq!(inventory.agent_version, crate::AGENT_VERSION);
    }
}

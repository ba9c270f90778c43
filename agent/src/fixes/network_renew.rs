//! `network.renew`: brings a network link up again and renews its DHCP lease with whichever
//! client manages it (NetworkManager, systemd-networkd, dhclient, dhcpcd, or none for a static
//! address), guarded: when the collector answered before and does not afterwards, the previous
//! state is put back and the run fails saying so. Verified by the link being up with carrier
//! and an address (and the collector answering, when the config names one). Linux is built
//! here, with iproute2's `ip`; Windows (`IpRenewAddress` in iphlpapi.dll) is not built yet.

mod link;

use std::time::{Duration, Instant};

use super::run::{ProgramOutput, block_on, have_program, run_program};
use super::{Change, FixSpec, Parameters, Prepared, Verification};
use crate::checks::network::{COLLECTOR_UNREACHABLE, GATEWAY_MISSING};
use crate::config::Settings;
use crate::probes::{gateway, tcp};
use link::running_processes;
pub use link::{Address, LinkState, Manager, dhcp_client_of, parse_addresses, parse_nmcli_device};

pub const NAME: &str = "network.renew";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Brings a network link up again and renews its address, undoing it if the collector is lost.",
    answers: &[GATEWAY_MISSING, COLLECTOR_UNREACHABLE],
    max_runs_per_day: 4,
    needs_consent: false,
    undo: Some(
        "Takes the link down again (ip link set dev IF down); the fix does this itself when the collector stops answering.",
    ),
    platforms: &["linux"],
    not_built: &[
        (
            "windows",
            "it needs the IP Helper's IpReleaseAddress/IpRenewAddress per adapter with the same guard (the collector answering afterwards, else the previous state back)",
        ),
        (
            "macos",
            "it needs ipconfig set IF DHCP and the same guard; not built or tested without a Mac",
        ),
    ],
};

/// How long a link may take to come up with carrier and an address before the verification
/// looks once more.
const SETTLE: Duration = Duration::from_secs(10);

/// Each program the fix runs gets this long, except the DHCP clients' own waits below.
const PROGRAM_DEADLINE: Duration = Duration::from_secs(30);

/// Link types (`/sys/class/net/IF/type`, the kernel's ARPHRD_*) this fix refuses: loopback,
/// and the tunnels a VPN is made of, the link the agent may need to reach the collector at all.
const LOOPBACK_TYPE: u32 = 772;
const TUNNEL_TYPES: &[(u32, &str)] = &[
    (65534, "a tunnel without link layer (tun, WireGuard)"),
    (512, "a PPP link"),
    (768, "an IP-in-IP tunnel"),
    (769, "an IPv6 tunnel"),
    (776, "an IPv6-in-IPv4 tunnel"),
    (778, "a GRE tunnel"),
    (823, "an IPv6 GRE tunnel"),
];

/// A Linux interface name (at most 15 bytes, IFNAMSIZ less its NUL) in the letters the
/// distributions use: ASCII letters, digits and `-_.@`, not starting with `-` so it can never
/// be read as an option, and never `.` or `..`.
pub fn valid_interface_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:.40?} is not a network interface name"))
    }
}

/// Whether the link type may be renewed: `Err` says why not.
pub fn renewable_link_type(interface: &str, link_type: u32) -> Result<(), String> {
    if link_type == LOOPBACK_TYPE {
        return Err(format!("{interface} is the loopback interface"));
    }
    if let Some((_, what)) = TUNNEL_TYPES.iter().find(|(t, _)| *t == link_type) {
        return Err(format!(
            "{interface} is {what}: a VPN's link, which may be how this device reaches the \
             collector; network.renew only renews Ethernet and Wi-Fi links"
        ));
    }
    Ok(())
}

pub struct NetworkRenew {
    interface: String,
    /// "host:port" of the collector, from the config's collector_url.
    collector: Option<String>,
    connect_timeout: Duration,
    /// How long the collector may take to answer again after the renewal.
    wait: Duration,
    /// The default gateway used this link before the fix: the gateway check applies.
    gateway_before: bool,
}

pub fn prepare(parameters: &mut Parameters, settings: &Settings) -> Result<NetworkRenew, String> {
    let interface = parameters.required("interface")?;
    valid_interface_name(&interface)?;
    let wait_secs = parameters.number("wait_secs", 5..=120, 30)?;
    // The renewal, the guard's wait and the verification must end within the run limit, or
    // the report would say "not known" while the guard is still deciding.
    if Duration::from_secs(wait_secs) * 2 > settings.fixes.run_limit {
        return Err(format!(
            "parameter \"wait_secs\" ({wait_secs}) must be at most half of this device's \
             [fixes] run_limit ({:?})",
            settings.fixes.run_limit
        ));
    }
    let device = std::path::Path::new("/sys/class/net").join(&interface);
    let link_type = std::fs::read_to_string(device.join("type"))
        .map_err(|_| format!("there is no network interface {interface} on this device"))?;
    let link_type: u32 = link_type
        .trim()
        .parse()
        .map_err(|_| format!("{interface}: unreadable link type {link_type:.20?}"))?;
    renewable_link_type(&interface, link_type)?;
    // TAP devices are Ethernet to the kernel but a VPN's (OpenVPN's) link all the same.
    if device.join("tun_flags").exists() {
        return Err(format!(
            "{interface} is a TUN/TAP device: a VPN's link, which may be how this device reaches \
             the collector; network.renew only renews Ethernet and Wi-Fi links"
        ));
    }
    Ok(NetworkRenew {
        interface,
        collector: settings
            .collector_url
            .as_deref()
            .map(|url| url.trim_start_matches("https://").to_owned()),
        connect_timeout: settings.checks.network.timeout,
        wait: Duration::from_secs(wait_secs),
        gateway_before: false,
    })
}

impl NetworkRenew {
    fn look(&self) -> Result<LinkState, String> {
        let device = std::path::Path::new("/sys/class/net").join(&self.interface);
        let read = |file: &str| {
            std::fs::read_to_string(device.join(file))
                .map(|text| text.trim().to_owned())
                .map_err(|e| format!("reading {}: {e}", device.join(file).display()))
        };
        let flags = read("flags")?;
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16)
            .map_err(|_| format!("{}: unreadable flags {flags:.20?}", self.interface))?;
        // Reading carrier fails (EINVAL) while the link is down: no carrier.
        let carrier = read("carrier").is_ok_and(|c| c == "1");
        let output = run_program(
            "ip",
            &["-j", "addr", "show", "dev", &self.interface],
            PROGRAM_DEADLINE,
        )?;
        Ok(LinkState {
            admin_up: flags & 0x1 != 0,
            operstate: read("operstate").unwrap_or_else(|_| "unknown".to_owned()),
            carrier,
            addresses: parse_addresses(&output.stdout)?,
        })
    }

    fn manager(&self) -> Manager {
        if have_program("nmcli")
            && let Ok(output) = run_program(
                "nmcli",
                &[
                    "-t",
                    "-f",
                    "GENERAL.STATE,GENERAL.CONNECTION",
                    "device",
                    "show",
                    &self.interface,
                ],
                PROGRAM_DEADLINE,
            )
            && let Some(manager) = parse_nmcli_device(&output.stdout)
        {
            return manager;
        }
        if have_program("networkctl") && self.networkd_manages() {
            return Manager::Networkd;
        }
        dhcp_client_of(&running_processes(), &self.interface).unwrap_or(Manager::Unmanaged)
    }

    /// systemd-networkd keeps a state file per link it knows; "unmanaged" links are not its.
    fn networkd_manages(&self) -> bool {
        let device = std::path::Path::new("/sys/class/net").join(&self.interface);
        let Ok(index) = std::fs::read_to_string(device.join("ifindex")) else {
            return false;
        };
        let state = std::path::Path::new("/run/systemd/netif/links").join(index.trim());
        std::fs::read_to_string(state).is_ok_and(|text| {
            text.lines()
                .filter_map(|line| line.strip_prefix("ADMIN_STATE="))
                .any(|admin| admin != "unmanaged")
        })
    }

    /// One TCP connect to the collector: `Ok(ms)` or why not.
    fn collector_answers(&self, collector: &str) -> Result<f64, String> {
        let (result, _) = block_on(tcp::connect(collector, self.connect_timeout))?;
        result
            .connect_ms
            .ok_or_else(|| result.error.unwrap_or_else(|| "no answer".to_owned()))
    }

    /// Tries the collector until it answers or `wait` has passed.
    fn wait_for_collector(&self, collector: &str) -> Result<f64, String> {
        let started = Instant::now();
        loop {
            match self.collector_answers(collector) {
                Ok(ms) => return Ok(ms),
                Err(error) if started.elapsed() >= self.wait => return Err(error),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    fn ip_link(&self, state: &str) -> Result<ProgramOutput, String> {
        run_program(
            "ip",
            &["link", "set", "dev", &self.interface, state],
            PROGRAM_DEADLINE,
        )
    }

    /// Renews the lease with the manager that owns it: what was done, or why it failed.
    fn renew(&self, manager: &Manager) -> Result<String, String> {
        let interface = self.interface.as_str();
        match manager {
            Manager::NetworkManager { .. } => {
                run_program(
                    "nmcli",
                    &["--wait", "30", "device", "connect", interface],
                    Duration::from_secs(40),
                )?;
                Ok("renewed its address with NetworkManager (nmcli device connect)".to_owned())
            }
            Manager::Networkd => {
                run_program("networkctl", &["renew", interface], PROGRAM_DEADLINE)?;
                Ok("renewed its DHCP lease with systemd-networkd (networkctl renew)".to_owned())
            }
            Manager::Dhclient => {
                // dhclient has no "renew" for a running client: release (which also stops it),
                // then ask again once; it stays running as the link's client.
                run_program("dhclient", &["-r", interface], PROGRAM_DEADLINE)?;
                run_program("dhclient", &["-1", interface], Duration::from_secs(70))?;
                Ok("renewed its DHCP lease with dhclient (released, then asked again)".to_owned())
            }
            Manager::Dhcpcd => {
                run_program("dhcpcd", &["-n", interface], PROGRAM_DEADLINE)?;
                Ok("renewed its DHCP lease with dhcpcd (dhcpcd -n)".to_owned())
            }
            Manager::Unmanaged => Ok(
                "no DHCP client manages it (static address): nothing to renew, the link was only brought up"
                    .to_owned(),
            ),
        }
    }

    /// Puts back what the fix changed, as far as the manager allows; says what it did.
    fn restore(&self, previous: &LinkState, manager: &Manager) -> String {
        // What was done, or "could not <do it>" and why.
        let said = |result: Result<ProgramOutput, String>, done: String, to_do: String| match result
        {
            Ok(_) => done,
            Err(error) => format!("could not {to_do}: {error}"),
        };
        let mut done = Vec::new();
        match manager {
            Manager::NetworkManager {
                connection: Some(connection),
                connected: true,
            } => done.push(said(
                run_program(
                    "nmcli",
                    &[
                        "--wait",
                        "30",
                        "connection",
                        "up",
                        "id",
                        connection,
                        "ifname",
                        &self.interface,
                    ],
                    Duration::from_secs(40),
                ),
                format!("brought NetworkManager's connection {connection:?} back up"),
                format!("bring NetworkManager's connection {connection:?} back up"),
            )),
            Manager::NetworkManager {
                connected: false, ..
            } => done.push(said(
                run_program(
                    "nmcli",
                    &["device", "disconnect", &self.interface],
                    PROGRAM_DEADLINE,
                ),
                "disconnected it in NetworkManager again, as it was".to_owned(),
                "disconnect it in NetworkManager again".to_owned(),
            )),
            Manager::Networkd | Manager::Dhclient | Manager::Dhcpcd => {
                done.push("the renewed lease cannot be given back".to_owned());
            }
            Manager::NetworkManager { .. } | Manager::Unmanaged => {}
        }
        if previous.admin_up {
            done.push(format!("{} was up before and stays up", self.interface));
        } else {
            done.push(said(
                self.ip_link("down"),
                format!("took {} down again, as it was", self.interface),
                format!("take {} down again", self.interface),
            ));
        }
        done.join("; ")
    }
}

impl Prepared for NetworkRenew {
    fn before(&mut self) -> Result<String, String> {
        let routes = gateway::default_routes().unwrap_or_default();
        self.gateway_before = routes.iter().any(|r| r.interface == self.interface);
        self.look().map(|state| state.describe(&self.interface))
    }

    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let previous = self.look()?;
        let manager = self.manager();
        let answered_before = self
            .collector
            .as_deref()
            .map(|collector| (collector, self.collector_answers(collector)));
        let mut changes = Vec::new();
        let change = |action: String, error: Option<String>| Change {
            target: self.interface.clone(),
            action,
            bytes_freed: None,
            error,
        };
        if previous.admin_up {
            changes.push(change("the link was already up".to_owned(), None));
        } else {
            self.ip_link("up")
                .map_err(|e| format!("bringing {} up: {e}", self.interface))?;
            changes.push(change("brought the link up (it was down)".to_owned(), None));
        }
        match self.renew(&manager) {
            Ok(action) => changes.push(change(action, None)),
            Err(error) => changes.push(change("renewing its address".to_owned(), Some(error))),
        }
        match answered_before {
            Some((collector, Ok(_))) => match self.wait_for_collector(collector) {
                Ok(ms) => changes.push(Change {
                    target: format!("collector {collector}"),
                    action: format!(
                        "answered before and after the renewal ({ms:.0} ms): the guard kept the change"
                    ),
                    bytes_freed: None,
                    error: None,
                }),
                Err(error) => {
                    let restored = self.restore(&previous, &manager);
                    tracing::warn!(interface = %self.interface, %collector, %error, %restored, "network.renew undone by its guard");
                    return Err(format!(
                        "restored the previous state because the collector was unreachable afterwards: \
                         {collector} answered before the renewal of {} and not within {:?} after it ({error}); \
                         done: {}; undone: {restored}",
                        self.interface,
                        self.wait,
                        changes
                            .iter()
                            .map(|c| c.action.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ));
                }
            },
            Some((collector, Err(error))) => changes.push(Change {
                target: format!("collector {collector}"),
                action: format!(
                    "did not answer before the renewal ({error}): the guard had no connection to protect"
                ),
                bytes_freed: None,
                error: None,
            }),
            None => changes.push(Change {
                target: "collector".to_owned(),
                action: "none in this device's config: the guard had nothing to check".to_owned(),
                bytes_freed: None,
                error: None,
            }),
        }
        Ok(changes)
    }

    fn verify(&mut self) -> Verification {
        // A lease, a carrier or the collector's answer may take a moment: look until all is
        // well or SETTLE has passed, and report the last look.
        let started = Instant::now();
        loop {
            let look = self.look_again();
            let done = match &look {
                Ok((passed, _)) => *passed,
                Err(_) => true,
            };
            if done || started.elapsed() >= SETTLE {
                return Verification::from_look(look);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl NetworkRenew {
    /// The link, and the network check's own rules where they apply: the gateway if this
    /// link carried the default route before, the collector if the config names one.
    fn look_again(&self) -> Result<(bool, String), String> {
        let state = self.look()?;
        let mut passed = state.working();
        let mut detail = state.describe(&self.interface);
        if self.gateway_before {
            let routes = gateway::default_routes().unwrap_or_default();
            match routes.iter().find(|r| r.interface == self.interface) {
                Some(route) => detail.push_str(&format!("; default gateway {}", route.gateway)),
                None => {
                    passed = false;
                    detail.push_str("; no default gateway through it any more");
                }
            }
        }
        if let Some(collector) = &self.collector {
            match self.collector_answers(collector) {
                Ok(ms) => {
                    detail.push_str(&format!("; collector {collector} answers in {ms:.0} ms"))
                }
                Err(error) => {
                    passed = false;
                    detail.push_str(&format!("; collector {collector} unreachable: {error}"));
                }
            }
        }
        Ok((passed, detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_interface_names_are_taken() {
        for good in ["eth0", "enp0s31f6", "wlan0", "br-lan", "vlan.10", "veth@1"] {
            valid_interface_name(good).expect(good);
        }
        for bad in [
            "",
            ".",
            "..",
            "-up",
            "eth0 down",
            "a/b",
            "eth0:1",
            "sixteen-letters!",
            "abcdefghijklmnop",
            "$(reboot)",
        ] {
            assert!(valid_interface_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    // Through `prepare`, which refuses network.renew outright where it is not built.
    #[cfg(target_os = "linux")]
    #[test]
    fn requests_naming_no_renewable_interface_are_refused() {
        let settings = Settings::parse(
            "[fixes]\nenabled = true\n",
            std::path::Path::new("agent.toml"),
        )
        .expect("config");
        for (pairs, expected) in [
            (vec![], "\"interface\" is required"),
            (vec![("interface", "lo")], "loopback"),
            (
                vec![("interface", "eth0; reboot")],
                "not a network interface name",
            ),
            (
                vec![("interface", "flnone0")],
                "no network interface flnone0",
            ),
            (
                vec![("interface", "lo"), ("wait_secs", "600")],
                "must be 5 to 120",
            ),
            (
                vec![("interface", "lo"), ("wait_secs", "100")],
                "at most half of this device's [fixes] run_limit (120s)",
            ),
        ] {
            let parameters = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let error = super::super::prepare(NAME, parameters, &Default::default(), &settings)
                .err()
                .unwrap_or_else(|| panic!("{pairs:?} accepted"));
            assert!(error.contains(expected), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn loopback_and_tunnels_are_refused() {
        for (link_type, expected) in [
            (1, None),
            (772, Some("loopback")),
            (65534, Some("VPN")),
            (512, Some("PPP")),
            (778, Some("GRE")),
        ] {
            match (renewable_link_type("x0", link_type), expected) {
                (Ok(()), None) => {}
                (Err(error), Some(expected)) => assert!(error.contains(expected), "{error}"),
                (result, expected) => panic!("{link_type}: {result:?}, expected {expected:?}"),
            }
        }
    }
}

//! The link `network.renew` acts on, as the kernel and its managers see it: up or down,
//! carrier, addresses (`ip -j addr`), and which DHCP client, if any, owns its address.

/// One address on the link, as `ip -j addr` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// "10.0.0.2/24".
    pub cidr: String,
    /// Given for a limited time (a DHCP lease or a router advertisement), not set by hand.
    pub dynamic: bool,
    /// fe80::/10 and 169.254/16: every link has one; it reaches no other network.
    pub link_local: bool,
}

/// The link as the kernel sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Administratively up (`ip link set up`): IFF_UP.
    pub admin_up: bool,
    /// "up", "down", "dormant", "unknown", "lowerlayerdown".
    pub operstate: String,
    pub carrier: bool,
    pub addresses: Vec<Address>,
}

impl LinkState {
    fn usable_addresses(&self) -> Vec<&str> {
        self.addresses
            .iter()
            .filter(|a| !a.link_local)
            .map(|a| a.cidr.as_str())
            .collect()
    }

    /// Up, with carrier (or an operstate of up, for links that report no carrier), and an
    /// address that reaches beyond the link.
    pub fn working(&self) -> bool {
        self.admin_up
            && (self.carrier || self.operstate == "up")
            && !self.usable_addresses().is_empty()
    }

    pub fn describe(&self, interface: &str) -> String {
        let addresses = self.usable_addresses();
        format!(
            "{interface} is {}{}, {}",
            if self.admin_up { "up" } else { "down" },
            match (self.admin_up, self.carrier) {
                (false, _) => String::new(),
                (true, true) => " with carrier".to_owned(),
                (true, false) => format!(" without carrier (operstate {})", self.operstate),
            },
            if addresses.is_empty() {
                "without an address".to_owned()
            } else {
                format!("address {}", addresses.join(", "))
            }
        )
    }
}

/// Reads `ip -j addr show dev IF`'s JSON into addresses.
pub fn parse_addresses(json: &str) -> Result<Vec<Address>, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("reading ip -j addr: {e}"))?;
    let Some(infos) = value
        .get(0)
        .and_then(|link| link.get("addr_info"))
        .and_then(|infos| infos.as_array())
    else {
        return Ok(Vec::new());
    };
    Ok(infos
        .iter()
        .filter_map(|info| {
            let local = info.get("local")?.as_str()?;
            let prefix = info.get("prefixlen")?.as_u64()?;
            Some(Address {
                cidr: format!("{local}/{prefix}"),
                dynamic: info
                    .get("dynamic")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                link_local: info.get("scope").and_then(serde_json::Value::as_str) == Some("link"),
            })
        })
        .collect())
}

/// Who owns the link's address, so the renewal goes through it and not around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// NetworkManager manages the device; `connection` is the profile active on it, if any.
    NetworkManager {
        connection: Option<String>,
        connected: bool,
    },
    /// systemd-networkd configures the link.
    Networkd,
    /// A dhclient process names the interface.
    Dhclient,
    /// A dhcpcd process names the interface, or manages every interface.
    Dhcpcd,
    /// No DHCP client manages it: its addresses were set by hand (or by a client we do not know).
    Unmanaged,
}

/// What NetworkManager says of a device (`nmcli -t -f GENERAL.STATE,GENERAL.CONNECTION device
/// show IF`): `None` when it does not manage it.
pub fn parse_nmcli_device(text: &str) -> Option<Manager> {
    let mut state = None;
    let mut connection = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("GENERAL.STATE:") {
            state = value.split_whitespace().next()?.parse::<u32>().ok();
        } else if let Some(value) = line.strip_prefix("GENERAL.CONNECTION:") {
            let value = value.trim();
            if !value.is_empty() && value != "--" {
                connection = Some(value.to_owned());
            }
        }
    }
    // 10 is "unmanaged"; 0 "unknown".
    match state? {
        0 | 10 => None,
        state => Some(Manager::NetworkManager {
            connection,
            connected: state == 100,
        }),
    }
}

/// Which DHCP client among running processes (each its argv) manages `interface`.
pub fn dhcp_client_of(processes: &[Vec<String>], interface: &str) -> Option<Manager> {
    processes.iter().find_map(|argv| {
        let program = argv.first()?.rsplit('/').next()?;
        let names_it = argv.iter().skip(1).any(|a| a == interface);
        let names_none = argv.iter().skip(1).all(|a| a.starts_with('-'));
        match program {
            "dhclient" if names_it => Some(Manager::Dhclient),
            // dhcpcd without an interface runs as the manager of every interface.
            "dhcpcd" if names_it || names_none => Some(Manager::Dhcpcd),
            _ => None,
        }
    })
}

pub(super) fn running_processes() -> Vec<Vec<String>> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|cmdline| {
            cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_ip_json() {
        let json = r#"[{"ifindex":5,"ifname":"fln1","flags":["BROADCAST","MULTICAST"],
            "operstate":"DOWN","addr_info":[
              {"family":"inet","local":"10.0.0.2","prefixlen":24,"scope":"global","valid_life_time":4294967295},
              {"family":"inet","local":"192.168.1.20","prefixlen":24,"scope":"global","dynamic":true,"valid_life_time":3600},
              {"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]"#;
        assert_eq!(
            parse_addresses(json).expect("parsed"),
            vec![
                Address {
                    cidr: "10.0.0.2/24".to_owned(),
                    dynamic: false,
                    link_local: false
                },
                Address {
                    cidr: "192.168.1.20/24".to_owned(),
                    dynamic: true,
                    link_local: false
                },
                Address {
                    cidr: "fe80::1/64".to_owned(),
                    dynamic: false,
                    link_local: true
                },
            ]
        );
        assert_eq!(
            parse_addresses(r#"[{"ifname":"x","addr_info":[]}]"#),
            Ok(vec![])
        );
        assert!(parse_addresses("not json").is_err());
    }

    #[test]
    fn a_link_works_when_up_with_carrier_and_an_address_beyond_the_link() {
        let address = |cidr: &str, link_local| Address {
            cidr: cidr.to_owned(),
            dynamic: false,
            link_local,
        };
        let state = |admin_up, operstate: &str, carrier, addresses| LinkState {
            admin_up,
            operstate: operstate.to_owned(),
            carrier,
            addresses,
        };
        for (link, working, description) in [
            (
                state(true, "up", true, vec![address("10.0.0.2/24", false)]),
                true,
                "eth0 is up with carrier, address 10.0.0.2/24",
            ),
            (
                state(false, "down", false, vec![address("10.0.0.2/24", false)]),
                false,
                "eth0 is down, address 10.0.0.2/24",
            ),
            (
                state(
                    true,
                    "lowerlayerdown",
                    false,
                    vec![address("10.0.0.2/24", false)],
                ),
                false,
                "eth0 is up without carrier (operstate lowerlayerdown), address 10.0.0.2/24",
            ),
            (
                state(true, "up", true, vec![address("fe80::1/64", true)]),
                false,
                "eth0 is up with carrier, without an address",
            ),
        ] {
            assert_eq!(link.working(), working, "{link:?}");
            assert_eq!(link.describe("eth0"), description);
        }
    }

    #[test]
    fn the_manager_is_found_from_nmcli_and_the_running_dhcp_clients() {
        assert_eq!(
            parse_nmcli_device(
                "GENERAL.STATE:100 (connected)\nGENERAL.CONNECTION:Wired connection 1\n"
            ),
            Some(Manager::NetworkManager {
                connection: Some("Wired connection 1".to_owned()),
                connected: true
            })
        );
        assert_eq!(
            parse_nmcli_device("GENERAL.STATE:30 (disconnected)\nGENERAL.CONNECTION:\n"),
            Some(Manager::NetworkManager {
                connection: None,
                connected: false
            })
        );
        assert_eq!(
            parse_nmcli_device("GENERAL.STATE:10 (unmanaged)\nGENERAL.CONNECTION:--\n"),
            None
        );
        assert_eq!(parse_nmcli_device(""), None);

        let argv = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        for (processes, expected) in [
            (
                vec![argv("/sbin/dhclient -4 -v eth0")],
                Some(Manager::Dhclient),
            ),
            (vec![argv("/sbin/dhclient -4 -v eth1")], None),
            (vec![argv("dhcpcd -q eth0")], Some(Manager::Dhcpcd)),
            (vec![argv("/usr/sbin/dhcpcd -q -b")], Some(Manager::Dhcpcd)),
            (vec![argv("/usr/bin/vim eth0")], None),
            (vec![], None),
        ] {
            assert_eq!(
                dhcp_client_of(&processes, "eth0"),
                expected,
                "{processes:?}"
            );
        }
    }
}

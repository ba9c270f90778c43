//! The network adapters Windows knows, from `GetAdaptersAddresses`: name, state, IPv4 metric,
//! gateways and DNS servers. `probes::gateway` and `probes::dns` turn these records into the
//! default routes and the system's DNS servers (pure functions, tested on Linux).
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use windows_sys::Win32::Foundation::{ERROR_BUFFER_OVERFLOW, ERROR_NO_DATA, ERROR_SUCCESS};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GAA_FLAG_INCLUDE_GATEWAYS, GAA_FLAG_SKIP_ANYCAST, GAA_FLAG_SKIP_MULTICAST,
    GetAdaptersAddresses, IF_TYPE_SOFTWARE_LOOPBACK, IF_TYPE_TUNNEL, IP_ADAPTER_ADDRESSES_LH,
};
use windows_sys::Win32::NetworkManagement::Ndis::IfOperStatusUp;
use windows_sys::Win32::Networking::WinSock::{
    AF_INET, AF_INET6, AF_UNSPEC, SOCKADDR_IN, SOCKADDR_IN6, SOCKET_ADDRESS,
};

use crate::probes::gateway::AdapterRecord;

/// Microsoft's advice for the first try; the call says how much it needs when that is short.
const FIRST_BUFFER_BYTES: u32 = 15 * 1024;
/// No machine has this much adapter description; a larger "needed size" is not believed.
const MAX_BUFFER_BYTES: u32 = 4 * 1024 * 1024;
/// Adapters can appear between the sizing call and the real one: try a few times.
const ATTEMPTS: usize = 4;
/// Read at most this many adapters, gateways or servers from a list (they are linked lists).
const MAX_LIST: usize = 256;

/// Every adapter Windows lists (IPv4 and IPv6), in its order. No adapter at all is an empty
/// list, not an error.
pub fn adapters() -> Result<Vec<AdapterRecord>, String> {
    let flags = GAA_FLAG_INCLUDE_GATEWAYS | GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST;
    let mut size = FIRST_BUFFER_BYTES;
    for _ in 0..ATTEMPTS {
        // u64 elements: the records hold 8-byte fields and must be aligned for them.
        let mut buffer = vec![0u64; (size as usize).div_ceil(8)];
        let mut needed = size;
        // SAFETY: `buffer` is writable for `needed` bytes (at least: it was rounded up) and
        // 8-byte aligned; `needed` is a live u32 the call updates.
        let status = unsafe {
            GetAdaptersAddresses(
                u32::from(AF_UNSPEC),
                flags,
                std::ptr::null(),
                buffer.as_mut_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>(),
                &mut needed,
            )
        };
        match status {
            ERROR_SUCCESS => {
                // SAFETY: on success the buffer holds a linked list of records whose pointers
                // all point into the buffer, which lives until the end of this call.
                return Ok(unsafe { read_list(buffer.as_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>()) });
            }
            ERROR_NO_DATA => return Ok(Vec::new()),
            ERROR_BUFFER_OVERFLOW if needed > size && needed <= MAX_BUFFER_BYTES => size = needed,
            ERROR_BUFFER_OVERFLOW => {
                return Err(format!(
                    "GetAdaptersAddresses: asks for {needed} bytes (at most {MAX_BUFFER_BYTES})"
                ));
            }
            error => return Err(format!("GetAdaptersAddresses: error {error}")),
        }
    }
    Err(format!(
        "GetAdaptersAddresses: the adapters kept changing ({ATTEMPTS} tries)"
    ))
}

/// The records of the list starting at `first`.
///
/// # Safety
/// `first` is null or the head of a list `GetAdaptersAddresses` wrote, still alive.
unsafe fn read_list(first: *const IP_ADAPTER_ADDRESSES_LH) -> Vec<AdapterRecord> {
    let mut records = Vec::new();
    let mut next = first;
    while !next.is_null() && records.len() < MAX_LIST {
        // SAFETY: non-null and part of the list (the caller's promise).
        let adapter = unsafe { &*next };
        let mut gateways = Vec::new();
        let mut gateway = adapter.FirstGatewayAddress;
        while !gateway.is_null() && gateways.len() < MAX_LIST {
            // SAFETY: a non-null link of the same list.
            let entry = unsafe { &*gateway };
            // SAFETY: the entry's address as the call wrote it.
            if let Some(address) = unsafe { socket_address(&entry.Address) } {
                gateways.push(address.ip());
            }
            gateway = entry.Next;
        }
        let mut dns_servers = Vec::new();
        let mut server = adapter.FirstDnsServerAddress;
        while !server.is_null() && dns_servers.len() < MAX_LIST {
            // SAFETY: a non-null link of the same list.
            let entry = unsafe { &*server };
            // SAFETY: the entry's address as the call wrote it.
            if let Some(address) = unsafe { socket_address(&entry.Address) } {
                dns_servers.push(address);
            }
            server = entry.Next;
        }
        records.push(AdapterRecord {
            // SAFETY: FriendlyName is null or a NUL-terminated string in the buffer.
            name: unsafe { super::wide::from_wide(adapter.FriendlyName) },
            up: adapter.OperStatus == IfOperStatusUp,
            loopback_or_tunnel: adapter.IfType == IF_TYPE_SOFTWARE_LOOPBACK
                || adapter.IfType == IF_TYPE_TUNNEL,
            ipv4_metric: adapter.Ipv4Metric,
            gateways,
            dns_servers,
        });
        next = adapter.Next;
    }
    records
}

/// An IPv4 or IPv6 socket address; anything else (or too short) is `None`.
///
/// # Safety
/// `address.lpSockaddr` is null or points to `iSockaddrLength` readable bytes.
unsafe fn socket_address(address: &SOCKET_ADDRESS) -> Option<SocketAddr> {
    let pointer = address.lpSockaddr;
    let length = usize::try_from(address.iSockaddrLength).ok()?;
    if pointer.is_null() || length < size_of::<u16>() {
        return None;
    }
    // SAFETY: at least the family field is readable (checked above).
    let family = unsafe { (*pointer).sa_family };
    if family == AF_INET && length >= size_of::<SOCKADDR_IN>() {
        // SAFETY: an AF_INET address of the full SOCKADDR_IN size; unaligned read to be safe.
        let v4 = unsafe { pointer.cast::<SOCKADDR_IN>().read_unaligned() };
        // SAFETY: every variant of the union is the same four bytes.
        let octets = unsafe { v4.sin_addr.S_un.S_addr }.to_ne_bytes();
        Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(octets)),
            u16::from_be(v4.sin_port),
        ))
    } else if family == AF_INET6 && length >= size_of::<SOCKADDR_IN6>() {
        // SAFETY: an AF_INET6 address of the full SOCKADDR_IN6 size; unaligned read.
        let v6 = unsafe { pointer.cast::<SOCKADDR_IN6>().read_unaligned() };
        // SAFETY: every variant of the unions is the same bytes.
        let (octets, scope) = unsafe { (v6.sin6_addr.u.Byte, v6.Anonymous.sin6_scope_id) };
        Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(octets),
            u16::from_be(v6.sin6_port),
            v6.sin6_flowinfo,
            scope,
        )))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adapter_list_answers_and_its_routes_and_servers_are_plausible() {
        // Wine lists no adapters; real Windows at least a loopback. Either way the call works.
        let adapters = adapters().expect("GetAdaptersAddresses");
        for adapter in &adapters {
            assert!(!adapter.name.contains('\0'), "{adapter:?}");
        }
        let routes = crate::probes::gateway::default_routes().expect("default routes");
        assert!(
            routes.iter().all(|r| !r.gateway.is_unspecified()),
            "{routes:?}"
        );
        let servers = crate::probes::dns::system_servers().expect("DNS servers");
        assert!(servers.iter().all(|s| s.port() == 53), "{servers:?}");
    }
}

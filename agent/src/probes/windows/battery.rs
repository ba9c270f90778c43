//! The machine's batteries from their drivers: SetupAPI lists the battery device interfaces,
//! and each one answers IOCTL_BATTERY_QUERY_TAG, _QUERY_INFORMATION (design and full-charge
//! capacity, cycles) and _QUERY_STATUS (charge now). `probes::battery::battery_from_windows`
//! turns the answers into health and charge, as on Linux.
#![allow(unsafe_code)]

use windows_sys::Win32::Devices::DeviceAndDriverInstallation::{
    DIGCF_DEVICEINTERFACE, DIGCF_PRESENT, GUID_DEVCLASS_BATTERY, HDEVINFO,
    SP_DEVICE_INTERFACE_DATA, SP_DEVICE_INTERFACE_DETAIL_DATA_W, SetupDiDestroyDeviceInfoList,
    SetupDiEnumDeviceInterfaces, SetupDiGetClassDevsW, SetupDiGetDeviceInterfaceDetailW,
};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_INSUFFICIENT_BUFFER, ERROR_NO_MORE_ITEMS, GENERIC_READ, GENERIC_WRITE,
    GetLastError, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::DeviceIoControl;
use windows_sys::Win32::System::Power::{
    BATTERY_CAPACITY_RELATIVE, BATTERY_INFORMATION, BATTERY_QUERY_INFORMATION, BATTERY_STATUS,
    BATTERY_SYSTEM_BATTERY, BATTERY_WAIT_STATUS, BatteryInformation,
    IOCTL_BATTERY_QUERY_INFORMATION, IOCTL_BATTERY_QUERY_STATUS, IOCTL_BATTERY_QUERY_TAG,
};

use super::wide::{to_wide, until_nul};
use crate::probes::battery::{Battery, WindowsBatteryReading, battery_from_windows};

/// More batteries than this are not looked at (laptops have one or two).
const MAX_BATTERIES: u32 = 16;
/// A device path longer than this (in bytes) is not believed.
const MAX_DETAIL_BYTES: u32 = 64 * 1024;

/// A SetupAPI device list, destroyed when dropped.
struct DeviceList(HDEVINFO);

impl Drop for DeviceList {
    fn drop(&mut self) {
        // SAFETY: the list came from SetupDiGetClassDevsW and is destroyed only here.
        unsafe { SetupDiDestroyDeviceInfoList(self.0) };
    }
}

/// An open file handle, closed when dropped.
struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from CreateFileW and is closed only here.
        unsafe { CloseHandle(self.0) };
    }
}

fn last_error() -> u32 {
    // SAFETY: this thread's last error; no arguments.
    unsafe { GetLastError() }
}

/// The system batteries present, "BAT0", "BAT1", … in SetupAPI's order. None (a desktop) is an
/// empty list; a list that cannot be made is an error; a battery that cannot be read is left
/// out (logged).
pub fn batteries() -> Result<Vec<Battery>, String> {
    // SAFETY: a pointer to a constant GUID; null enumerator and window.
    let set = unsafe {
        SetupDiGetClassDevsW(
            &GUID_DEVCLASS_BATTERY,
            std::ptr::null(),
            std::ptr::null_mut(),
            DIGCF_PRESENT | DIGCF_DEVICEINTERFACE,
        )
    };
    if set == INVALID_HANDLE_VALUE as HDEVINFO {
        return Err(format!(
            "SetupDiGetClassDevsW (battery devices): error {}",
            last_error()
        ));
    }
    let set = DeviceList(set);
    let mut batteries = Vec::new();
    for index in 0..MAX_BATTERIES {
        let mut interface = SP_DEVICE_INTERFACE_DATA {
            cbSize: size_of::<SP_DEVICE_INTERFACE_DATA>() as u32,
            ..Default::default()
        };
        // SAFETY: a live list, a constant GUID and a live, sized out-structure.
        let ok = unsafe {
            SetupDiEnumDeviceInterfaces(
                set.0,
                std::ptr::null(),
                &GUID_DEVCLASS_BATTERY,
                index,
                &mut interface,
            )
        };
        if ok == 0 {
            match last_error() {
                ERROR_NO_MORE_ITEMS => break,
                error => {
                    return Err(format!(
                        "SetupDiEnumDeviceInterfaces (battery {index}): error {error}"
                    ));
                }
            }
        }
        let name = format!("BAT{}", batteries.len());
        match device_path(&set, &interface).and_then(|path| read_battery(&path)) {
            Ok(Some(reading)) => batteries.push(battery_from_windows(&name, reading)),
            Ok(None) => {}
            Err(e) => tracing::warn!(battery = index, error = %e, "reading a battery"),
        }
    }
    Ok(batteries)
}

/// The device path of the interface, to open with CreateFileW.
fn device_path(set: &DeviceList, interface: &SP_DEVICE_INTERFACE_DATA) -> Result<String, String> {
    let mut needed: u32 = 0;
    // SAFETY: a size query: null detail buffer of size 0, `needed` a live out-pointer.
    let ok = unsafe {
        SetupDiGetDeviceInterfaceDetailW(
            set.0,
            interface,
            std::ptr::null_mut(),
            0,
            &mut needed,
            std::ptr::null_mut(),
        )
    };
    let error = last_error();
    if ok != 0 || error != ERROR_INSUFFICIENT_BUFFER {
        return Err(format!(
            "SetupDiGetDeviceInterfaceDetailW (size): error {error}"
        ));
    }
    let header = size_of::<SP_DEVICE_INTERFACE_DETAIL_DATA_W>() as u32;
    if needed < header || needed > MAX_DETAIL_BYTES {
        return Err(format!(
            "SetupDiGetDeviceInterfaceDetailW: asks for {needed} bytes"
        ));
    }
    // u32 elements: the structure starts with a u32 and must be aligned for it.
    let mut buffer = vec![0u32; (needed as usize).div_ceil(4)];
    let detail = buffer
        .as_mut_ptr()
        .cast::<SP_DEVICE_INTERFACE_DETAIL_DATA_W>();
    // SAFETY: `buffer` has room for the header; cbSize is the fixed part's size, as required.
    unsafe { (*detail).cbSize = header };
    // SAFETY: `buffer` is writable for `needed` bytes and aligned; out-pointers are live.
    let ok = unsafe {
        SetupDiGetDeviceInterfaceDetailW(
            set.0,
            interface,
            detail,
            needed,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(format!(
            "SetupDiGetDeviceInterfaceDetailW: error {}",
            last_error()
        ));
    }
    // The path is the UTF-16 text after cbSize, up to its NUL.
    let units: Vec<u16> = buffer
        .iter()
        .flat_map(|word| word.to_ne_bytes())
        .collect::<Vec<u8>>()
        .chunks_exact(2)
        .skip(2)
        .map(|pair| u16::from_ne_bytes([pair[0], pair[1]]))
        .collect();
    Ok(until_nul(&units))
}

/// One DeviceIoControl call with a plain input and output structure.
fn ioctl<In, Out: Default>(
    device: &Handle,
    path: &str,
    code: (u32, &str),
    input: &In,
) -> Result<Out, String> {
    let mut output = Out::default();
    let mut returned: u32 = 0;
    // SAFETY: `input` and `output` are live, of the sizes given; no overlapped I/O.
    let ok = unsafe {
        DeviceIoControl(
            device.0,
            code.0,
            (input as *const In).cast(),
            size_of::<In>() as u32,
            (&mut output as *mut Out).cast(),
            size_of::<Out>() as u32,
            &mut returned,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(format!("{} {path}: error {}", code.1, last_error()));
    }
    if (returned as usize) < size_of::<Out>() {
        return Err(format!("{} {path}: only {returned} bytes", code.1));
    }
    Ok(output)
}

/// The battery at `path`; `None` when its slot is empty or it is not a system battery (a UPS).
fn read_battery(path: &str) -> Result<Option<WindowsBatteryReading>, String> {
    let wide = to_wide(path);
    // SAFETY: `wide` is NUL-terminated; null security and template.
    let handle = unsafe {
        CreateFileW(
            wide.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(format!("CreateFileW {path}: error {}", last_error()));
    }
    let device = Handle(handle);
    // Wait 0 ms: ask for the tag of the battery present now.
    let tag: u32 = ioctl(
        &device,
        path,
        (IOCTL_BATTERY_QUERY_TAG, "IOCTL_BATTERY_QUERY_TAG"),
        &0u32,
    )?;
    if tag == 0 {
        return Ok(None);
    }
    let query = BATTERY_QUERY_INFORMATION {
        BatteryTag: tag,
        InformationLevel: BatteryInformation,
        AtRate: 0,
    };
    let information: BATTERY_INFORMATION = ioctl(
        &device,
        path,
        (
            IOCTL_BATTERY_QUERY_INFORMATION,
            "IOCTL_BATTERY_QUERY_INFORMATION",
        ),
        &query,
    )?;
    if information.Capabilities & BATTERY_SYSTEM_BATTERY == 0 {
        return Ok(None);
    }
    let wait = BATTERY_WAIT_STATUS {
        BatteryTag: tag,
        ..Default::default()
    };
    let status: BATTERY_STATUS = ioctl(
        &device,
        path,
        (IOCTL_BATTERY_QUERY_STATUS, "IOCTL_BATTERY_QUERY_STATUS"),
        &wait,
    )?;
    Ok(Some(WindowsBatteryReading {
        designed_capacity: information.DesignedCapacity,
        full_charged_capacity: information.FullChargedCapacity,
        cycle_count: information.CycleCount,
        relative: information.Capabilities & BATTERY_CAPACITY_RELATIVE != 0,
        power_state: status.PowerState,
        capacity_now: status.Capacity,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_battery_enumeration_answers() {
        // Wine (like a desktop) has no battery devices: an empty list, not an error.
        let batteries = batteries().expect("SetupDiGetClassDevsW");
        assert!(batteries.len() <= MAX_BATTERIES as usize);
        for battery in &batteries {
            assert!(battery.name.starts_with("BAT"), "{battery:?}");
            assert!(
                battery
                    .health_pct
                    .is_none_or(|pct| (0.0..=100.0).contains(&pct))
            );
        }
        // A path that is no device is an error naming it, not a panic.
        let error = read_battery(r"\\.\FirstlineNoSuchBattery").expect_err("no such device");
        assert!(error.contains("FirstlineNoSuchBattery"), "{error}");
    }
}

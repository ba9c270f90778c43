//! Processor times from `GetSystemTimes`: the whole machine's idle, kernel and user time since
//! boot. Usage is the difference between two readings (`crate::probes::cpu::busy_pct_between`);
//! unlike sysinfo's global usage it needs no performance counters (PDH), which Wine only stubs.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::{FILETIME, GetLastError};
use windows_sys::Win32::System::Threading::GetSystemTimes;

use crate::probes::cpu::SystemTimes;

/// The machine's cumulative processor times now.
pub fn system_times() -> Result<SystemTimes, String> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut idle, mut kernel, mut user) = (zero, zero, zero);
    // SAFETY: the three pointers are to live, writable FILETIMEs owned by this frame.
    let ok = unsafe { GetSystemTimes(&mut idle, &mut kernel, &mut user) };
    if ok == 0 {
        // SAFETY: reads this thread's last error; no arguments.
        let error = unsafe { GetLastError() };
        return Err(format!("GetSystemTimes: error {error}"));
    }
    let ticks =
        |time: FILETIME| u64::from(time.dwHighDateTime) << 32 | u64::from(time.dwLowDateTime);
    Ok(SystemTimes {
        idle_ticks: ticks(idle),
        kernel_ticks: ticks(kernel),
        user_ticks: ticks(user),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_times_move_forward_and_kernel_time_includes_idle_time() {
        let before = system_times().expect("GetSystemTimes");
        // Burn a little CPU so that some time passes on every counter.
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(200) {
            spin = spin.wrapping_add(1);
        }
        std::hint::black_box(spin);
        let after = system_times().expect("GetSystemTimes");
        assert!(after.kernel_ticks >= after.idle_ticks, "{after:?}");
        assert!(
            after.kernel_ticks + after.user_ticks > before.kernel_ticks + before.user_ticks,
            "{before:?} then {after:?}"
        );
        let busy = crate::probes::cpu::busy_pct_between(before, after).expect("time passed");
        assert!((0.0..=100.0).contains(&busy), "{busy}");
    }
}

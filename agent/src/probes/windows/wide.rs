//! Windows strings: UTF-16 with a terminating NUL, to and from Rust strings, for the probes'
//! Win32 calls.
#![allow(unsafe_code)]

/// `text` as a NUL-terminated UTF-16 string for a `PCWSTR` argument.
pub fn to_wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// The longest string read from a pointer: names and paths are far shorter.
const MAX_UNITS: usize = 32 * 1024;

/// A NUL-terminated UTF-16 string (at most 32 Ki units), lossily; null is "".
///
/// # Safety
/// `text` is null or points to a NUL-terminated UTF-16 string.
pub unsafe fn from_wide(text: *const u16) -> String {
    if text.is_null() {
        return String::new();
    }
    let mut length = 0;
    // SAFETY: reads up to the terminating NUL, which the caller promises; capped.
    while length < MAX_UNITS && unsafe { *text.add(length) } != 0 {
        length += 1;
    }
    // SAFETY: the `length` units before the NUL were just read.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, length) })
}

/// The text of a UTF-16 buffer up to its first NUL (or its end), lossily.
pub fn until_nul(units: &[u16]) -> String {
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_go_to_utf16_and_back() {
        let wide = to_wide("Ethernet é");
        assert_eq!(wide.last(), Some(&0));
        // SAFETY: `wide` is NUL-terminated and alive.
        assert_eq!(unsafe { from_wide(wide.as_ptr()) }, "Ethernet é");
        // SAFETY: null is allowed.
        assert_eq!(unsafe { from_wide(std::ptr::null()) }, "");
        assert_eq!(until_nul(&[0x41, 0x42, 0, 0x43]), "AB");
        assert_eq!(until_nul(&[0x41]), "A");
    }
}

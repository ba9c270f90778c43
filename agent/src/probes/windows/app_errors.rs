//! Application crashes in the Event Log: Application Error (1000) and Windows Error Reporting
//! (1001) events of the Application log, read with EvtQuery / EvtNext / EvtRender as XML, which
//! `checks::wer` parses. The crash watch's second source beside WER's report folders.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_NO_MORE_ITEMS, ERROR_TIMEOUT, GetLastError,
};
use windows_sys::Win32::System::EventLog::{
    EVT_HANDLE, EvtClose, EvtNext, EvtQuery, EvtQueryChannelPath, EvtQueryForwardDirection,
    EvtRender, EvtRenderEventXml,
};

/// The log the crash events are in.
const CHANNEL: &str = "Application";
/// Event handles asked for per EvtNext.
const BATCH: usize = 16;
/// How long EvtNext may wait for the next batch.
const NEXT_TIMEOUT_MS: u32 = 1_000;
/// An event's XML is a few kilobytes; one larger than this is not read.
const MAX_EVENT_XML_BYTES: u32 = 256 * 1024;

/// An event log handle, closed when dropped.
struct Handle(EVT_HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        if self.0 != 0 {
            // SAFETY: the handle came from EvtQuery or EvtNext and is closed once, here.
            unsafe { EvtClose(self.0) };
        }
    }
}

/// The XML of the Application log's events matching the XPath `query`, oldest first, at most
/// `max` of them.
pub fn read_application_events(query: &str, max: usize) -> Result<Vec<String>, String> {
    let channel = wide(CHANNEL);
    let query_wide = wide(query);
    // SAFETY: both strings are NUL-terminated and outlive the call; session 0 is this computer.
    let results = unsafe {
        EvtQuery(
            0,
            channel.as_ptr(),
            query_wide.as_ptr(),
            EvtQueryChannelPath | EvtQueryForwardDirection,
        )
    };
    if results == 0 {
        return Err(format!(
            "EvtQuery({CHANNEL}, {query:?}): error {}",
            last_error()
        ));
    }
    let results = Handle(results);
    let mut rendered = Vec::new();
    while rendered.len() < max {
        let mut events: [EVT_HANDLE; BATCH] = [0; BATCH];
        let mut returned = 0u32;
        // SAFETY: `events` has room for the BATCH handles asked for; `returned` is a valid
        // out-pointer for the call's duration.
        let ok = unsafe {
            EvtNext(
                results.0,
                BATCH as u32,
                events.as_mut_ptr(),
                NEXT_TIMEOUT_MS,
                0,
                &mut returned,
            )
        };
        if ok == 0 {
            let error = last_error();
            if error == ERROR_NO_MORE_ITEMS || error == ERROR_TIMEOUT {
                break;
            }
            return Err(format!("EvtNext({CHANNEL}, {query:?}): error {error}"));
        }
        // Owned at once, so that every handle is closed whatever happens next.
        let events: Vec<Handle> = events
            .iter()
            .take((returned as usize).min(BATCH))
            .map(|event| Handle(*event))
            .collect();
        if events.is_empty() {
            break;
        }
        for event in &events {
            match render_xml(event) {
                Ok(xml) if rendered.len() < max => rendered.push(xml),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "an event that cannot be rendered"),
            }
        }
    }
    Ok(rendered)
}

/// One event as XML, the buffer sized by EvtRender's own answer (capped).
fn render_xml(event: &Handle) -> Result<String, String> {
    let mut needed = 0u32;
    let mut properties = 0u32;
    // SAFETY: a null buffer of size 0 asks for the size needed; the out-pointers are valid.
    let ok = unsafe {
        EvtRender(
            0,
            event.0,
            EvtRenderEventXml,
            0,
            std::ptr::null_mut(),
            &mut needed,
            &mut properties,
        )
    };
    if ok == 0 {
        let error = last_error();
        if error != ERROR_INSUFFICIENT_BUFFER {
            return Err(format!("EvtRender(EvtRenderEventXml): error {error}"));
        }
    }
    if needed > MAX_EVENT_XML_BYTES {
        return Err(format!(
            "EvtRender(EvtRenderEventXml): the event is {needed} bytes, more than {MAX_EVENT_XML_BYTES}"
        ));
    }
    let mut buffer = vec![0u16; (needed as usize).div_ceil(2)];
    let size = u32::try_from(buffer.len() * 2).unwrap_or(MAX_EVENT_XML_BYTES);
    // SAFETY: `buffer` is `size` bytes long and lives through the call; the out-pointers are
    // valid.
    let ok = unsafe {
        EvtRender(
            0,
            event.0,
            EvtRenderEventXml,
            size,
            buffer.as_mut_ptr().cast(),
            &mut needed,
            &mut properties,
        )
    };
    if ok == 0 {
        return Err(format!(
            "EvtRender(EvtRenderEventXml, {size} bytes): error {}",
            last_error()
        ));
    }
    let used = (needed as usize / 2).min(buffer.len());
    Ok(String::from_utf16_lossy(&buffer[..used])
        .trim_end_matches('\0')
        .to_owned())
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

fn last_error() -> u32 {
    // SAFETY: GetLastError only reads the calling thread's last-error value.
    unsafe { GetLastError() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs under Wine (`cargo xtask windows test`) and on Windows: the Application log is
    /// read, or refused with an error naming the call, never a crash of the agent.
    #[test]
    fn the_application_log_is_read_or_refused_with_the_call_named() {
        let query = crate::checks::wer::EventLogPosition::default()
            .query(std::time::Duration::from_secs(3600));
        match read_application_events(&query, 8) {
            Ok(events) => {
                assert!(events.len() <= 8);
                for xml in &events {
                    assert!(xml.contains("<Event"), "{xml}");
                }
            }
            Err(error) => assert!(
                error.starts_with("EvtQuery(Application")
                    || error.starts_with("EvtNext(Application"),
                "{error}"
            ),
        }
        // A query the Event Log cannot parse is an error, not a crash or a silent nothing.
        match read_application_events("*[System[(", 8) {
            Ok(events) => assert!(events.is_empty(), "{events:?}"),
            Err(error) => assert!(error.contains("EvtQuery(Application"), "{error}"),
        }
    }
}

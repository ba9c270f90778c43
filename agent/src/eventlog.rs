//! The Windows service's log: tracing events written to the Windows Event Log (Application
//! log, source "Firstline agent") instead of stderr, which the Service Control Manager
//! discards. The text of an event (its message and fields as one line) and its Event Log type
//! are plain functions, tested everywhere; writing and registering the source are Windows only.
//!
//! No message file of our own: the source's EventMessageFile is Windows' `netmsg.dll`, whose
//! message 3299 is only its insertion strings ("%1 %2 … %9"), so Event Viewer shows our text
//! as it is, without the "description for Event ID … cannot be found" preamble.
#![cfg_attr(windows, allow(unsafe_code))]

use std::fmt::Write as _;

/// The Event Log source: the service's display name.
pub const SOURCE: &str = crate::service::DISPLAY_NAME;
/// netmsg.dll's message that is nothing but its insertion strings %1 … %9.
pub const EVENT_ID: u32 = 3299;
/// The message file registered for [`SOURCE`] (REG_EXPAND_SZ).
pub const MESSAGE_FILE: &str = r"%SystemRoot%\System32\netmsg.dll";
/// Where event sources of the Application log are registered, under HKEY_LOCAL_MACHINE.
pub const APPLICATION_SOURCES_KEY: &str = r"SYSTEM\CurrentControlSet\Services\EventLog\Application";
/// ReportEventW takes at most 31,839 characters per string; the rest of a longer event is cut.
pub const MAX_EVENT_CHARS: usize = 31_000;

/// The Event Log's kinds of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Error,
    Warning,
    Information,
}

impl EntryType {
    /// Error and warning as they are; info, debug and trace as information.
    pub fn of(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => EntryType::Error,
            tracing::Level::WARN => EntryType::Warning,
            _ => EntryType::Information,
        }
    }
}

/// An event as one line: its message, then each field as `name=value` (a value with spaces
/// quoted), then where it came from, cut to [`MAX_EVENT_CHARS`].
#[derive(Debug, Default)]
pub struct EventText {
    message: String,
    fields: String,
}

impl EventText {
    pub fn of(event: &tracing::Event<'_>) -> String {
        let mut text = EventText::default();
        event.record(&mut text);
        text.finish(event.metadata().target())
    }

    fn finish(self, target: &str) -> String {
        let mut line = self.message;
        if !self.fields.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&self.fields);
        }
        let _ = write!(line, " ({target})");
        cut(line, MAX_EVENT_CHARS)
    }
}

impl tracing::field::Visit for EventText {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '"') {
            self.field(field.name(), format_args!("{value:?}"));
        } else {
            self.field(field.name(), format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.field(field.name(), format_args!("{value:?}"));
        }
    }
}

impl EventText {
    fn field(&mut self, name: &str, value: std::fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{name}={value}");
    }
}

/// `text` cut to at most `max_chars` characters, "…" marking the cut.
fn cut(text: String, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text,
        Some((end, _)) => {
            let mut cut = text[..end].to_owned();
            cut.pop();
            cut.push('…');
            cut
        }
    }
}

#[cfg(windows)]
pub use windows::*;

#[cfg(windows)]
mod windows {
    use std::ffi::OsStr;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS, HANDLE};
    use windows_sys::Win32::System::EventLog::{
        DeregisterEventSource, EVENTLOG_ERROR_TYPE, EVENTLOG_INFORMATION_TYPE,
        EVENTLOG_WARNING_TYPE, RegisterEventSourceW, ReportEventW,
    };
    use windows_sys::Win32::System::Registry::{
        HKEY, HKEY_LOCAL_MACHINE, KEY_SET_VALUE, REG_DWORD, REG_EXPAND_SZ, REG_OPTION_NON_VOLATILE,
        RegCloseKey, RegCreateKeyExW, RegDeleteKeyW, RegSetValueExW,
    };
    use windows_sys::core::PCWSTR;

    use super::{EVENT_ID, EntryType, EventText, MESSAGE_FILE, SOURCE};
    use crate::acl::{last_error, wide};

    /// A handle from RegisterEventSourceW, and how its writes went.
    pub struct EventSource {
        handle: HANDLE,
        written: AtomicU64,
        last_error: AtomicU32,
    }

    // SAFETY: an event log handle may be used from any thread (ReportEventW is thread-safe).
    unsafe impl Send for EventSource {}
    // SAFETY: as above; the counters are atomics.
    unsafe impl Sync for EventSource {}

    impl EventSource {
        /// RegisterEventSourceW on this computer for `source`.
        pub fn open(source: &str) -> Result<Self, String> {
            let name = wide(OsStr::new(source));
            // SAFETY: `name` is NUL-terminated and alive for the call; a null handle is an
            // error, checked below.
            let handle = unsafe { RegisterEventSourceW(std::ptr::null(), name.as_ptr()) };
            if handle.is_null() {
                return Err(format!(
                    "RegisterEventSourceW({source:?}): error {}",
                    last_error()
                ));
            }
            Ok(EventSource {
                handle,
                written: AtomicU64::new(0),
                last_error: AtomicU32::new(0),
            })
        }

        /// Writes one entry: `text` as the first insertion string of netmsg.dll's 3299, the
        /// other eight empty so that Event Viewer shows no "%2 … %9".
        pub fn write(&self, entry_type: EntryType, text: &str) -> Result<(), String> {
            let kind = match entry_type {
                EntryType::Error => EVENTLOG_ERROR_TYPE,
                EntryType::Warning => EVENTLOG_WARNING_TYPE,
                EntryType::Information => EVENTLOG_INFORMATION_TYPE,
            };
            let text = wide(OsStr::new(text));
            let empty = [0u16];
            let mut strings: [PCWSTR; 9] = [empty.as_ptr(); 9];
            strings[0] = text.as_ptr();
            // SAFETY: the handle is valid while `self` lives; the nine strings are
            // NUL-terminated and alive for the call; no user SID, no raw data.
            let ok = unsafe {
                ReportEventW(
                    self.handle,
                    kind,
                    0,
                    EVENT_ID,
                    std::ptr::null_mut(),
                    9,
                    0,
                    strings.as_ptr(),
                    std::ptr::null(),
                )
            };
            if ok == 0 {
                let error = last_error();
                self.last_error.store(error, Ordering::Relaxed);
                return Err(format!("ReportEventW: error {error}"));
            }
            self.written.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }

        /// Entries written so far, and the last write's error (0: none).
        pub fn written(&self) -> (u64, u32) {
            (
                self.written.load(Ordering::Relaxed),
                self.last_error.load(Ordering::Relaxed),
            )
        }
    }

    impl Drop for EventSource {
        fn drop(&mut self) {
            // SAFETY: the handle came from RegisterEventSourceW and is closed once.
            unsafe { DeregisterEventSource(self.handle) };
        }
    }

    /// The running service's source, once the service started ([`start_for_service`]).
    static SERVICE_LOG: OnceLock<EventSource> = OnceLock::new();

    /// Sends tracing events to the service's Event Log once [`start_for_service`] ran; until
    /// then (and in every console command) it does nothing.
    pub struct EventLogLayer {
        source: &'static OnceLock<EventSource>,
    }

    impl EventLogLayer {
        /// The layer the command line installs: the service's log.
        pub fn for_service() -> Self {
            EventLogLayer {
                source: &SERVICE_LOG,
            }
        }

        /// A layer writing to `source` (tests).
        pub fn to(source: &'static OnceLock<EventSource>) -> Self {
            EventLogLayer { source }
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventLogLayer {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if let Some(source) = self.source.get() {
                // A failed write cannot be logged anywhere else: it is counted on the source.
                let _ = source.write(
                    EntryType::of(*event.metadata().level()),
                    &EventText::of(event),
                );
            }
        }
    }

    /// Called on the service's own start: from now on events go to the Event Log, and no
    /// longer to stderr (see [`active`]).
    pub fn start_for_service() -> Result<(), String> {
        let source = EventSource::open(SOURCE)?;
        let _ = SERVICE_LOG.set(source);
        Ok(())
    }

    /// Whether events go to the Event Log (the agent runs as the service).
    pub fn active() -> bool {
        SERVICE_LOG.get().is_some()
    }

    /// `service install`: registers `source` in the Application log with netmsg.dll as its
    /// message file (error, warning and information entries).
    pub fn register_source(source: &str) -> Result<(), String> {
        let path = format!("{}\\{source}", super::APPLICATION_SOURCES_KEY);
        let key_name = wide(OsStr::new(&path));
        let mut key: HKEY = std::ptr::null_mut();
        // SAFETY: `key_name` is NUL-terminated; `key` receives a handle closed below.
        let error = unsafe {
            RegCreateKeyExW(
                HKEY_LOCAL_MACHINE,
                key_name.as_ptr(),
                0,
                std::ptr::null(),
                REG_OPTION_NON_VOLATILE,
                KEY_SET_VALUE,
                std::ptr::null(),
                &mut key,
                std::ptr::null_mut(),
            )
        };
        if error != ERROR_SUCCESS {
            return Err(format!("RegCreateKeyExW(HKLM\\{path}): error {error}"));
        }
        let file: Vec<u8> = wide(OsStr::new(MESSAGE_FILE))
            .iter()
            .flat_map(|unit| unit.to_le_bytes())
            .collect();
        let types = 7u32.to_le_bytes(); // EVENTLOG_ERROR_TYPE | WARNING | INFORMATION
        let values: [(&str, u32, &[u8]); 2] = [
            ("EventMessageFile", REG_EXPAND_SZ, &file),
            ("TypesSupported", REG_DWORD, &types),
        ];
        let mut outcome = Ok(());
        for (name, kind, data) in values {
            let value_name = wide(OsStr::new(name));
            // SAFETY: `key` is open; `data` holds the bytes passed; `value_name` is
            // NUL-terminated.
            let error = unsafe {
                RegSetValueExW(
                    key,
                    value_name.as_ptr(),
                    0,
                    kind,
                    data.as_ptr(),
                    u32::try_from(data.len()).unwrap_or(0),
                )
            };
            if error != ERROR_SUCCESS {
                outcome = Err(format!(
                    "RegSetValueExW(HKLM\\{path}, {name}): error {error}"
                ));
                break;
            }
        }
        // SAFETY: opened above, closed once.
        unsafe { RegCloseKey(key) };
        outcome
    }

    /// `service uninstall`: removes `source`'s registration; none is not an error. Whether
    /// there was one.
    pub fn remove_source(source: &str) -> Result<bool, String> {
        let path = format!("{}\\{source}", super::APPLICATION_SOURCES_KEY);
        let key_name = wide(OsStr::new(&path));
        // SAFETY: `key_name` is NUL-terminated; the source's key has no subkeys.
        match unsafe { RegDeleteKeyW(HKEY_LOCAL_MACHINE, key_name.as_ptr()) } {
            ERROR_SUCCESS => Ok(true),
            ERROR_FILE_NOT_FOUND => Ok(false),
            error => Err(format!("RegDeleteKeyW(HKLM\\{path}): error {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the text of every event, as the Event Log layer would write it.
    struct Texts(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Texts {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _context: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.lock().expect("lock").push(EventText::of(event));
        }
    }

    #[test]
    fn an_event_is_one_line_with_its_fields_and_where_it_came_from() {
        use tracing_subscriber::layer::SubscriberExt;
        let texts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Texts(texts.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(pipe = r"\\.\pipe\firstline-agent", error = %"access denied", "cannot listen");
            tracing::info!(uid = 1000, account = "", "report queued");
            tracing::error!("plain");
        });
        let texts = texts.lock().expect("lock");
        let target = module_path!();
        assert_eq!(
            *texts,
            [
                format!(
                    r#"cannot listen pipe=\\.\pipe\firstline-agent error=access denied ({target})"#
                ),
                format!(r#"report queued uid=1000 account="" ({target})"#),
                format!("plain ({target})"),
            ]
        );
    }

    #[test]
    fn levels_map_to_the_event_logs_three_types() {
        let cases = [
            (tracing::Level::ERROR, EntryType::Error),
            (tracing::Level::WARN, EntryType::Warning),
            (tracing::Level::INFO, EntryType::Information),
            (tracing::Level::DEBUG, EntryType::Information),
            (tracing::Level::TRACE, EntryType::Information),
        ];
        for (level, expected) in cases {
            assert_eq!(EntryType::of(level), expected, "{level}");
        }
    }

    #[test]
    fn a_long_event_is_cut_to_what_the_event_log_takes() {
        let cases = [
            ("short", 10, "short"),
            ("exactly10!", 10, "exactly10!"),
            ("eleven chars", 10, "eleven ch…"),
            ("ελληνικά κείμενα", 8, "ελληνικ…"),
        ];
        for (text, max, expected) in cases {
            assert_eq!(cut(text.to_owned(), max), expected, "{text}");
        }
    }

    /// Under Wine: the layer writes error, warning and information entries through
    /// ReportEventW without an error, and a source registers and unregisters.
    #[cfg(windows)]
    #[test]
    fn the_layer_writes_events_to_the_event_log() {
        use std::sync::OnceLock;
        use tracing_subscriber::layer::SubscriberExt;
        static SOURCE_FOR_TEST: OnceLock<EventSource> = OnceLock::new();
        let name = format!("Firstline agent test {}", uuid::Uuid::new_v4());
        register_source(&name).expect("register the source");
        let _ = SOURCE_FOR_TEST.set(EventSource::open(&name).expect("open the source"));
        let subscriber = tracing_subscriber::registry().with(EventLogLayer::to(&SOURCE_FOR_TEST));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(code = 1, "an error");
            tracing::warn!("a warning");
            tracing::info!(text = "ελληνικά", "information");
        });
        let source = SOURCE_FOR_TEST.get().expect("source");
        assert_eq!(source.written(), (3, 0));
        assert_eq!(remove_source(&name), Ok(true));
        assert_eq!(remove_source(&name), Ok(false));
    }
}

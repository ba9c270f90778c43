//! Windows Error Reporting's crash reports, read as the crash watch's evidence: a report
//! folder's `Report.wer` and the XML of an Application Error (1000) or Windows Error Reporting
//! (1001) event. Pure functions, tested on every OS; the reading of the Event Log itself is
//! `probes::windows::app_errors`.

use std::collections::HashMap;
use std::path::Path;

/// The file Windows Error Reporting writes into each report folder.
pub const REPORT_FILE: &str = "Report.wer";

/// At most this much of a `Report.wer` is read: real ones are a few kilobytes (the loaded
/// module list makes the longest); anything past it is not a report worth the memory.
pub const MAX_REPORT_BYTES: u64 = 256 * 1024;

/// Characters kept of one value (a path can be long; evidence stays small).
const MAX_VALUE_CHARS: usize = 260;

/// What one crash report says about the crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// The crashed program's file name, lower case ("outlook.exe"): the condition's resource,
    /// so that the same program's crashes on every device group together.
    pub application: String,
    pub version: Option<String>,
    /// The module the fault was in ("ntdll.dll", "mso.dll").
    pub module: Option<String>,
    /// The exception code, as Windows writes it ("c0000005").
    pub exception_code: Option<String>,
    /// The report's identifiers (WER's own and the integrator's): the same crash seen in its
    /// report folder and in the Event Log carries the same ones.
    pub report_ids: Vec<String>,
}

/// Reads and parses the `Report.wer` at `path` (a regular file, at most
/// [`MAX_REPORT_BYTES`]).
pub fn read_report(path: &Path) -> Result<CrashReport, String> {
    let bytes = crate::probes::files::read_head(path, MAX_REPORT_BYTES)
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse_report(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A `Report.wer`'s bytes: UTF-16LE with a byte-order mark as Windows writes it (UTF-16
/// without one, and UTF-8, are read too), `Key=Value` lines, the problem signature as
/// `Sig[N].Name` / `Sig[N].Value` pairs.
pub fn parse_report(bytes: &[u8]) -> Result<CrashReport, String> {
    let text = decode(bytes);
    let mut values: HashMap<&str, &str> = HashMap::new();
    let mut signature_names: HashMap<&str, &str> = HashMap::new();
    let mut signature_values: HashMap<&str, &str> = HashMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if let Some(index) = key
            .strip_prefix("Sig[")
            .and_then(|rest| rest.split_once("]."))
        {
            match index.1 {
                "Name" => signature_names.insert(index.0, value),
                "Value" => signature_values.insert(index.0, value),
                _ => None,
            };
        } else {
            values.entry(key).or_insert(value);
        }
    }
    let signature = |wanted: &str| {
        signature_names
            .iter()
            .find(|(_, name)| name.trim().eq_ignore_ascii_case(wanted))
            .and_then(|(index, _)| signature_values.get(index))
            .and_then(|value| clean(value))
    };
    let application = signature("Application Name")
        .or_else(|| values.get("AppPath").and_then(|path| file_name(path)))
        .or_else(|| values.get("OriginalFilename").and_then(|name| clean(name)))
        .map(|name| name.to_lowercase())
        .ok_or_else(|| {
            if values.is_empty() && signature_values.is_empty() {
                "not a Windows Error Reporting report (no Key=Value lines)".to_owned()
            } else {
                "the report names no application (no Application Name signature, no AppPath)"
                    .to_owned()
            }
        })?;
    Ok(CrashReport {
        application,
        version: signature("Application Version")
            .or_else(|| values.get("AppVersion").and_then(|v| clean(v))),
        module: signature("Fault Module Name"),
        exception_code: signature("Exception Code").map(|code| code.to_lowercase()),
        report_ids: ["ReportIdentifier", "IntegratorReportIdentifier"]
            .iter()
            .filter_map(|key| values.get(key).and_then(|id| clean(id)))
            .map(|id| id.to_lowercase())
            .collect(),
    })
}

/// The application a WER report folder is named after: `AppCrash_outlook.exe_<hash>_<ids>` →
/// `outlook.exe` (lower case); the whole name after the kind when it has no hash.
pub fn application_from_folder_name(folder: &str) -> Option<String> {
    let (_kind, rest) = folder.split_once('_')?;
    // The hash: an underscore followed by at least 16 hex digits up to the next underscore
    // or the end. Program names may contain underscores themselves.
    let mut cut = rest.len();
    for (at, _) in rest.match_indices('_') {
        let hash = rest[at + 1..].split('_').next().unwrap_or_default();
        if hash.len() >= 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            cut = at;
            break;
        }
    }
    clean(&rest[..cut]).map(|name| name.to_lowercase())
}

/// The XML of an Application Error event (1000: named `Data` elements) or of a Windows Error
/// Reporting event (1001: positional `Data` elements, the problem signature from the sixth),
/// as EvtRender gives it. Other events, and WER events that are not application crashes, are
/// refused with why.
pub fn parse_event_xml(xml: &str) -> Result<CrashReport, String> {
    let event_id = element_text(xml, "EventID")
        .ok_or("the event has no EventID")?
        .trim()
        .to_owned();
    let data = event_data(xml);
    match event_id.as_str() {
        "1000" => {
            let named = |name: &str| {
                data.iter()
                    .find(|(key, _)| key.as_deref() == Some(name))
                    .and_then(|(_, value)| clean(value))
            };
            let application = named("AppName")
                .or_else(|| named("AppPath").and_then(|path| file_name(&path)))
                .ok_or("event 1000 names no application (no AppName)")?;
            Ok(CrashReport {
                application: application.to_lowercase(),
                version: named("AppVersion"),
                module: named("ModuleName"),
                exception_code: named("ExceptionCode")
                    .map(|code| code.trim_start_matches("0x").to_lowercase()),
                report_ids: named("IntegratorReportId")
                    .map(|id| id.to_lowercase())
                    .into_iter()
                    .collect(),
            })
        }
        "1001" => {
            let at = |index: usize| data.get(index).and_then(|(_, value)| clean(value));
            let event_name = at(2).unwrap_or_default();
            if !event_name.eq_ignore_ascii_case("APPCRASH") {
                return Err(format!(
                    "event 1001 is about {event_name:?}, not an application crash"
                ));
            }
            let application = at(5).ok_or("event 1001 names no application (P1 is empty)")?;
            // The report id is the GUID among the fields after the signature.
            let report_ids = data
                .iter()
                .skip(15)
                .filter_map(|(_, value)| clean(value))
                .filter(|value| is_guid(value))
                .map(|id| id.to_lowercase())
                .collect();
            Ok(CrashReport {
                application: application.to_lowercase(),
                version: at(6),
                module: at(8),
                exception_code: at(11).map(|code| code.to_lowercase()),
                report_ids,
            })
        }
        other => Err(format!(
            "event {other} is not an application crash (1000 or 1001)"
        )),
    }
}

/// How far the Application log has been read: the query for what came after, and the crashes
/// among the events it returned.
#[derive(Debug, Default)]
pub struct EventLogPosition {
    /// The last event record read; none before the first read.
    last_record_id: Option<u64>,
    /// Whether a failure to read the log was logged already (once is enough: it repeats).
    pub warned: bool,
}

impl EventLogPosition {
    /// The XPath query for crash events after the last one read, or, at the first read, for
    /// those of the last `window` (as a crash folder's first start reports only its window).
    pub fn query(&self, window: std::time::Duration) -> String {
        let since = match self.last_record_id {
            Some(record) => format!("EventRecordID > {record}"),
            None => format!(
                "TimeCreated[timediff(@SystemTime) <= {}]",
                window.as_millis()
            ),
        };
        format!(
            "*[System[Provider[@Name='Application Error' or @Name='Windows Error Reporting'] \
             and (EventID=1000 or EventID=1001) and {since}]]"
        )
    }

    /// The application crashes among `events` (rendered XML, oldest first), each with a line
    /// saying where it came from; the position moves past every event, crash or not.
    pub fn take(&mut self, events: &[String]) -> Vec<(String, CrashReport)> {
        let mut crashes = Vec::new();
        for xml in events {
            let record = element_text(xml, "EventRecordID").and_then(|id| id.trim().parse().ok());
            if let Some(record) = record {
                self.last_record_id =
                    Some(self.last_record_id.map_or(record, |last| last.max(record)));
            }
            match parse_event_xml(xml) {
                Ok(report) => {
                    let event_id = element_text(xml, "EventID").unwrap_or_default().trim();
                    let detail = match record {
                        Some(record) => {
                            format!("Application log event {event_id} (record {record})")
                        }
                        None => format!("Application log event {event_id}"),
                    };
                    crashes.push((detail, report));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "an Application log event that is not a crash")
                }
            }
        }
        crashes
    }
}

/// Text of a report in whatever encoding it came: a BOM decides; without one, zero bytes in
/// the odd places mean UTF-16LE. A truncated last code unit is dropped.
fn decode(bytes: &[u8]) -> String {
    let utf16 = |bytes: &[u8], little: bool| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| {
                if little {
                    u16::from_le_bytes([pair[0], pair[1]])
                } else {
                    u16::from_be_bytes([pair[0], pair[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xff, 0xfe, rest @ ..] => utf16(rest, true),
        [0xfe, 0xff, rest @ ..] => utf16(rest, false),
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => {
            let sample = &bytes[..bytes.len().min(512)];
            let odd_zeros = sample
                .iter()
                .skip(1)
                .step_by(2)
                .filter(|b| **b == 0)
                .count();
            if sample.len() >= 4 && odd_zeros * 2 >= sample.len() / 2 {
                utf16(bytes, true)
            } else {
                String::from_utf8_lossy(bytes).into_owned()
            }
        }
    }
}

/// A value as evidence: trimmed, no control characters, bounded; `None` when empty.
fn clean(value: &str) -> Option<String> {
    let value: String = value
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE_CHARS)
        .collect();
    (!value.is_empty()).then_some(value)
}

/// The last part of a Windows (or any) path.
fn file_name(path: &str) -> Option<String> {
    clean(path.rsplit(['\\', '/']).next().unwrap_or(path))
}

fn is_guid(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.iter().map(|part| part.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The text inside the first `<name …>…</name>` element.
fn element_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(at) = xml[from..].find(&open) {
        let start = from + at + open.len();
        // `<EventID>` or `<EventID Qualifiers="0">`, not `<EventIDs>`.
        if xml[start..].starts_with(['>', ' ', '\t', '\r', '\n']) {
            let body = start + xml[start..].find('>')? + 1;
            let end = body + xml[body..].find(&format!("</{name}>"))?;
            return Some(&xml[body..end]);
        }
        from = start;
    }
    None
}

/// The `<Data>` elements of `<EventData>`, in order: each with its `Name` attribute (1000)
/// or none (1001), its text unescaped. An empty `<Data/>` is an empty value.
fn event_data(xml: &str) -> Vec<(Option<String>, String)> {
    let Some(section) = element_text(xml, "EventData") else {
        return Vec::new();
    };
    let mut data = Vec::new();
    let mut rest = section;
    while let Some(at) = rest.find("<Data") {
        rest = &rest[at + "<Data".len()..];
        let Some(tag_end) = rest.find('>') else {
            break;
        };
        let attributes = &rest[..tag_end];
        let name = attributes
            .split_once("Name=\"")
            .and_then(|(_, after)| after.split_once('"').map(|(name, _)| unescape(name)));
        if attributes.ends_with('/') {
            data.push((name, String::new()));
            rest = &rest[tag_end + 1..];
            continue;
        }
        let body = &rest[tag_end + 1..];
        let Some(end) = body.find("</Data>") else {
            break;
        };
        data.push((name, unescape(&body[..end])));
        rest = &body[end + "</Data>".len()..];
    }
    data
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut bytes = if bom { vec![0xff, 0xfe] } else { Vec::new() };
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        bytes
    }

    const REPORT: &str = "Version=1\r\nEventType=APPCRASH\r\nEventTime=133721280000000000\r\n\
        ReportType=2\r\nConsent=1\r\nReportIdentifier=0f6c1b2a-3d4e-4f50-8a9b-112233445566\r\n\
        Sig[0].Name=Application Name\r\nSig[0].Value=OUTLOOK.EXE\r\n\
        Sig[1].Name=Application Version\r\nSig[1].Value=16.0.17928.20114\r\n\
        Sig[2].Name=Application Timestamp\r\nSig[2].Value=66f2b7a1\r\n\
        Sig[3].Name=Fault Module Name\r\nSig[3].Value=mso20win32client.dll\r\n\
        Sig[4].Name=Fault Module Version\r\nSig[4].Value=0.0.0.0\r\n\
        Sig[6].Name=Exception Code\r\nSig[6].Value=C0000005\r\n\
        Sig[7].Name=Exception Offset\r\nSig[7].Value=00000000004a1b2c\r\n\
        LoadedModule[0]=C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\r\n\
        AppName=Microsoft Outlook\r\n\
        AppPath=C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\r\n";

    fn outlook() -> CrashReport {
        CrashReport {
            application: "outlook.exe".to_owned(),
            version: Some("16.0.17928.20114".to_owned()),
            module: Some("mso20win32client.dll".to_owned()),
            exception_code: Some("c0000005".to_owned()),
            report_ids: vec!["0f6c1b2a-3d4e-4f50-8a9b-112233445566".to_owned()],
        }
    }

    #[test]
    fn report_wer_files_name_the_application_version_module_and_exception() {
        let truncated = utf16le(REPORT, true);
        // Cut inside the module list: an odd number of bytes, half a code unit at the end.
        let cut = utf16le(REPORT, true).len() - 101;
        let no_signature = "Version=1\r\nEventType=APPCRASH\r\n\
            AppPath=C:\\Tools\\legacy_app.exe\r\n";
        let mut huge = utf16le(REPORT, true);
        huge.extend(utf16le(
            &"LoadedModule[9]=C:\\x.dll\r\n".repeat(20_000),
            false,
        ));
        let cases: Vec<(&str, Vec<u8>, Result<CrashReport, &str>)> = vec![
            ("UTF-16LE with a BOM", utf16le(REPORT, true), Ok(outlook())),
            (
                "UTF-16LE without a BOM",
                utf16le(REPORT, false),
                Ok(outlook()),
            ),
            ("UTF-8", REPORT.as_bytes().to_vec(), Ok(outlook())),
            (
                "truncated mid-file",
                truncated[..cut].to_vec(),
                Ok(outlook()),
            ),
            (
                "no signature: the file name of AppPath",
                utf16le(no_signature, true),
                Ok(CrashReport {
                    application: "legacy_app.exe".to_owned(),
                    ..CrashReport::default()
                }),
            ),
            ("huge", huge, Ok(outlook())),
            ("empty", Vec::new(), Err("no Key=Value lines")),
            (
                "garbage",
                vec![0x00, 0x13, 0x88, 0xfe, 0x01],
                Err("no Key=Value lines"),
            ),
            (
                "keys but no application",
                utf16le("Version=1\r\nEventType=APPCRASH\r\n", true),
                Err("names no application"),
            ),
        ];
        for (what, bytes, expected) in cases {
            match (parse_report(&bytes), expected) {
                (Ok(report), Ok(expected)) => assert_eq!(report, expected, "{what}"),
                (Err(error), Err(expected)) => assert!(error.contains(expected), "{what}: {error}"),
                (got, expected) => panic!("{what}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_huge_report_file_is_read_only_up_to_the_bound() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(REPORT_FILE);
        let mut bytes = utf16le(REPORT, true);
        bytes.resize(10 * 1024 * 1024, b'A');
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(read_report(&path), Ok(outlook()));
        let missing = read_report(&dir.path().join("gone").join(REPORT_FILE))
            .expect_err("a missing file is an error");
        assert!(missing.contains("gone"), "{missing}");
    }

    #[test]
    fn report_folders_are_named_after_the_application() {
        for (folder, expected) in [
            (
                "AppCrash_OUTLOOK.EXE_9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c_1f2e3d4c_0a1b2c3d",
                Some("outlook.exe"),
            ),
            (
                "AppCrash_my_tool.exe_0123456789abcdef0123456789abcdef01234567_cab_7a8b9c0d",
                Some("my_tool.exe"),
            ),
            ("AppHang_notepad.exe", Some("notepad.exe")),
            ("NoUnderscore", None),
            ("AppCrash_", None),
        ] {
            assert_eq!(
                application_from_folder_name(folder).as_deref(),
                expected,
                "{folder}"
            );
        }
    }

    #[test]
    fn the_event_log_is_read_from_the_window_then_after_the_last_record() {
        let mut position = EventLogPosition::default();
        let first = position.query(std::time::Duration::from_secs(3600));
        assert!(
            first.contains("timediff(@SystemTime) <= 3600000"),
            "{first}"
        );
        assert!(first.contains("EventID=1000 or EventID=1001"), "{first}");
        let hang = EVENT_1001
            .replace("APPCRASH", "AppHangB1")
            .replace(">48215<", ">48230<");
        let crashes = position.take(&[EVENT_1000.to_owned(), hang, "garbage".to_owned()]);
        assert_eq!(crashes.len(), 1, "{crashes:?}");
        assert_eq!(crashes[0].0, "Application log event 1000 (record 48213)");
        assert_eq!(crashes[0].1, outlook());
        let next = position.query(std::time::Duration::from_secs(3600));
        assert!(next.contains("EventRecordID > 48230"), "{next}");
        assert!(!next.contains("timediff"), "{next}");
    }

    /// An Application Error event as EvtRender gives it (shape of a real Windows 11 event;
    /// values changed).
    const EVENT_1000: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Application Error" Guid="{a0e9b465-b939-57d7-b27d-95d8e925ff57}"/><EventID>1000</EventID><Version>0</Version><Level>2</Level><Task>100</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime="2026-11-20T09:14:03.5512345Z"/><EventRecordID>48213</EventRecordID><Correlation/><Execution ProcessID="11820" ThreadID="9044"/><Channel>Application</Channel><Computer>PC-0042.corp.example</Computer><Security UserID="S-1-5-21-1-2-3-1001"/></System><EventData><Data Name="AppName">OUTLOOK.EXE</Data><Data Name="AppVersion">16.0.17928.20114</Data><Data Name="AppTimeStamp">66f2b7a1</Data><Data Name="ModuleName">mso20win32client.dll</Data><Data Name="ModuleVersion">0.0.0.0</Data><Data Name="ModuleTimeStamp">66f1c0de</Data><Data Name="ExceptionCode">c0000005</Data><Data Name="FaultingOffset">00000000004a1b2c</Data><Data Name="ProcessId">0x2e2c</Data><Data Name="ProcessCreationTime">0x1db3b2a9c8d7e6f</Data><Data Name="AppPath">C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE</Data><Data Name="ModulePath">C:\Program Files\Common Files\Microsoft Shared\Office16\mso20win32client.dll</Data><Data Name="IntegratorReportId">0f6c1b2a-3d4e-4f50-8a9b-112233445566</Data><Data Name="PackageFullName"></Data><Data Name="PackageRelativeAppId"></Data></EventData></Event>"#;

    /// A Windows Error Reporting event: positional data, the problem signature from the sixth.
    const EVENT_1001: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Windows Error Reporting"/><EventID Qualifiers="0">1001</EventID><Level>4</Level><TimeCreated SystemTime="2026-11-20T09:14:09.0012345Z"/><EventRecordID>48215</EventRecordID><Channel>Application</Channel><Computer>PC-0042.corp.example</Computer><Security/></System><EventData><Data>1754329871234567890</Data><Data>4</Data><Data>APPCRASH</Data><Data>Not available</Data><Data>0</Data><Data>OUTLOOK.EXE</Data><Data>16.0.17928.20114</Data><Data>66f2b7a1</Data><Data>mso20win32client.dll</Data><Data>0.0.0.0</Data><Data>66f1c0de</Data><Data>c0000005</Data><Data>00000000004a1b2c</Data><Data/><Data/><Data>\\?\C:\ProgramData\Microsoft\Windows\WER\Temp\WER1A2B.tmp.mdmp</Data><Data>\\?\C:\ProgramData\Microsoft\Windows\WER\ReportArchive\AppCrash_OUTLOOK.EXE_9b1c2d3e_1f2e3d4c</Data><Data>0</Data><Data>0f6c1b2a-3d4e-4f50-8a9b-112233445566</Data><Data>268435456</Data><Data>a1b2c3d4e5f60718293a4b5c6d7e8f90</Data><Data>0</Data></EventData></Event>"#;

    #[test]
    fn application_crash_events_name_the_same_crash_as_its_report_folder() {
        let hang = EVENT_1001.replace("APPCRASH", "AppHangB1");
        let other = EVENT_1000.replace("<EventID>1000<", "<EventID>1026<");
        let escaped = EVENT_1000.replace("OUTLOOK.EXE</Data>", "R&amp;D &lt;tool&gt;.exe</Data>");
        let cases: Vec<(&str, &str, Result<CrashReport, &str>)> = vec![
            ("Application Error 1000", EVENT_1000, Ok(outlook())),
            ("Windows Error Reporting 1001", EVENT_1001, Ok(outlook())),
            ("a hang is not a crash", &hang, Err("AppHangB1")),
            ("another event", &other, Err("event 1026")),
            ("not XML", "garbage <<<", Err("no EventID")),
            (
                "escaped characters",
                &escaped,
                Ok(CrashReport {
                    application: "r&d <tool>.exe".to_owned(),
                    ..outlook()
                }),
            ),
        ];
        for (what, xml, expected) in cases {
            match (parse_event_xml(xml), expected) {
                (Ok(report), Ok(expected)) => assert_eq!(report, expected, "{what}"),
                (Err(error), Err(expected)) => assert!(error.contains(expected), "{what}: {error}"),
                (got, expected) => panic!("{what}: got {got:?}, expected {expected:?}"),
            }
        }
    }
}

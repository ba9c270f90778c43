//! "This program keeps crashing": recent crash reports in the watched crash folders, for the
//! named application when there is one, with the version each report names.

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict};
use crate::checks::watch::{application_from_file_name, crash_report_version};

/// Crash reports older than this are history, not the current problem.
const RECENT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Applications people name when they report a crash, lower case; a name here that has no
/// crash report means "none of that application", not "any application's".
const KNOWN_APPLICATIONS: &[&str] = &[
    "excel",
    "word",
    "outlook",
    "powerpoint",
    "teams",
    "onenote",
    "chrome",
    "firefox",
    "safari",
    "zoom",
    "slack",
    "skype",
    "photoshop",
    "acrobat",
    "libreoffice",
    "thunderbird",
    "notepad",
    "explorer",
];

/// One crash report: the application, the file, its age and the version it names.
struct Crash {
    folder: usize,
    application: String,
    path: String,
    age_secs: u64,
    version: Option<String>,
}

pub async fn run(target: Option<&str>, context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    let words = target.map(str::to_lowercase).unwrap_or_default();
    let mut crashes: Vec<Crash> = Vec::new();
    // Per folder: (folder, started, readable).
    let mut folders = Vec::new();
    for (index, dir) in context.crash_dirs.iter().enumerate() {
        let started = Instant::now();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                steps.push(
                    "reports",
                    format!("read {}", dir.display()),
                    started,
                    Outcome::Skip,
                    e.to_string(),
                    json!({}),
                );
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only regular files: not symlinks (to what the user may not read), FIFOs or
            // devices that another local user left in a world-writable folder.
            if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
                continue;
            }
            let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default();
            if age > RECENT {
                continue;
            }
            crashes.push(Crash {
                folder: index,
                application: application_from_file_name(&name),
                path: entry.path().display().to_string(),
                age_secs: age.as_secs(),
                version: crash_report_version(&entry.path()),
            });
        }
        folders.push((index, dir, started));
    }
    // The applications the user named: those with crash reports first, else a well-known one
    // without any (then only its reports count, and there are none).
    let named_with_reports = crashes
        .iter()
        .any(|crash| mentions(&words, &crash.application));
    let named_without_reports = if named_with_reports {
        None
    } else {
        KNOWN_APPLICATIONS
            .iter()
            .find(|application| names_word(&words, application))
            .copied()
    };
    let relevant = |crash: &Crash| {
        if named_with_reports {
            mentions(&words, &crash.application)
        } else {
            named_without_reports.is_none()
        }
    };
    for (index, dir, started) in folders {
        let here: Vec<&Crash> = crashes.iter().filter(|c| c.folder == index).collect();
        let counted: Vec<&&Crash> = here.iter().filter(|c| relevant(c)).collect();
        let detail = match named_without_reports {
            Some(application) => format!(
                "{} crash report(s) from the last 7 days, none of them from {application}",
                here.len()
            ),
            None if named_with_reports => format!(
                "{} crash report(s) from the last 7 days, {} of them from the application named",
                here.len(),
                counted.len()
            ),
            None => format!("{} crash report(s) from the last 7 days", here.len()),
        };
        let mut evidence = json!({ "folder": dir });
        if !counted.is_empty() {
            evidence["crashes"] = json!(
                counted
                    .iter()
                    .take(20)
                    .map(|crash| json!({
                        "application": crash.application, "path": crash.path,
                        "age_secs": crash.age_secs, "app_version": crash.version,
                    }))
                    .collect::<Vec<_>>()
            );
        }
        steps.push(
            "reports",
            format!("look for crash reports in {}", dir.display()),
            started,
            if counted.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            detail,
            evidence,
        );
    }
    crashes.retain(|crash| relevant(crash));
    crashes.sort_by_key(|crash| crash.age_secs);
    let mut by_application: Vec<(String, usize)> = Vec::new();
    for crash in &crashes {
        match by_application
            .iter_mut()
            .find(|(name, _)| *name == crash.application)
        {
            Some((_, count)) => *count += 1,
            None => by_application.push((crash.application.clone(), 1)),
        }
    }
    let verdict = match (by_application.first(), named_without_reports) {
        (None, Some(application)) => Verdict::new(
            format!("No crash reports of {application} in the last 7 days: it may hang or close without leaving one; describe what you see."),
            msg!("said-crash-none-for", "program" => display_name(application)),
        )
        .advise(msg!("advice-crash-describe")),
        (None, None) => Verdict::new(
            "No crash reports in the last 7 days: the program may hang or close without leaving one; describe what you see.",
            msg!("said-crash-none"),
        )
        .advise(msg!("advice-crash-describe")),
        (Some((application, count)), _) => {
            let version = crashes
                .iter()
                .find(|crash| crash.application == *application && crash.version.is_some())
                .and_then(|crash| crash.version.clone());
            Verdict::new(
                format!(
                    "{application}{} crashed {count} time(s) in the last 7 days; the latest report is {}.",
                    version.map(|v| format!(" {v}")).unwrap_or_default(),
                    crashes
                        .first()
                        .map(|crash| crash.path.as_str())
                        .unwrap_or_default()
                ),
                msg!("said-crash-found", "program" => display_name(application), "count" => *count),
            )
            .advise(msg!("advice-crash-save-restart", "program" => display_name(application)))
        }
    };
    (steps.steps, verdict)
}

/// The application as its user knows it: "Excel" for "EXCEL.EXE", "gedit" for apport's
/// "_usr_bin_gedit".
fn display_name(application: &str) -> String {
    let base = application
        .rsplit(['_', '/', '\\'])
        .next()
        .unwrap_or(application);
    let base = base
        .strip_suffix(".exe")
        .or_else(|| base.strip_suffix(".EXE"))
        .unwrap_or(base);
    let mut chars = base.chars();
    match chars.next() {
        // "EXCEL", and a well-known name as the user typed it ("excel"): "Excel".
        Some(first)
            if base.chars().all(|c| !c.is_lowercase()) || KNOWN_APPLICATIONS.contains(&base) =>
        {
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect()
        }
        _ => base.to_owned(),
    }
}

/// Whether the user's words name the application ("outlook" for "OUTLOOK.EXE",
/// "gedit" for apport's "_usr_bin_gedit"), as a whole word.
fn mentions(words: &str, application: &str) -> bool {
    let application = application.to_lowercase();
    let base = application
        .trim_end_matches(".exe")
        .rsplit(['_', '/', '\\'])
        .next()
        .unwrap_or_default();
    base.len() >= 3 && names_word(words, base)
}

/// Whether `name` is a whole word of `words`: "excel" is in "excel crashes" and "Excel一直崩溃",
/// not in "excellent".
fn names_word(words: &str, name: &str) -> bool {
    words.match_indices(name).any(|(at, _)| {
        let before = words[..at].chars().next_back();
        let after = words[at + name.len()..].chars().next();
        before.is_none_or(|c| !c.is_ascii_alphanumeric())
            && after.is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_name_the_crashing_application() {
        let cases = [
            ("outlook keeps crashing", "OUTLOOK.EXE", true),
            ("gedit closes by itself", "_usr_bin_gedit", true),
            ("excel crashes", "OUTLOOK.EXE", false),
            ("it crashes", "a.exe", false),
            ("my excellent sheet crashes", "EXCEL.EXE", false),
        ];
        for (words, application, expected) in cases {
            assert_eq!(
                mentions(words, application),
                expected,
                "{words} / {application}"
            );
        }
    }

    #[test]
    fn the_application_is_named_as_its_user_knows_it() {
        for (file_name, expected) in [
            ("EXCEL.EXE", "Excel"),
            ("_usr_bin_gedit", "gedit"),
            ("Teams", "Teams"),
            ("excel", "Excel"),
        ] {
            assert_eq!(display_name(file_name), expected);
        }
    }

    /// The drill: "Excel keeps crashing" answered with Outlook's crash reports.
    #[tokio::test]
    async fn a_named_application_counts_only_its_own_crash_reports() {
        let folder = tempfile::tempdir().expect("temp dir");
        std::fs::write(folder.path().join("OUTLOOK.EXE.1.crash"), "x").expect("write");
        let mut context = crate::playbooks::tests::context("127.0.0.1:9", "127.0.0.1:9");
        context.crash_dirs = vec![folder.path().to_owned()];
        let (steps, verdict) = run(Some("Excel keeps crashing"), &context).await;
        assert!(
            steps.iter().all(|step| step.outcome != Outcome::Fail),
            "{steps:#?}"
        );
        assert_eq!(verdict.said.id, "said-crash-none-for");
        assert!(
            !verdict.conclusion.contains("OUTLOOK"),
            "{}",
            verdict.conclusion
        );
        // Without a name, any application's reports are the answer.
        let (_, verdict) = run(Some("it keeps crashing"), &context).await;
        assert_eq!(verdict.said.id, "said-crash-found");
        assert_eq!(
            verdict.said.args["program"],
            firstline_i18n::Arg::Text("Outlook".into())
        );
    }
}

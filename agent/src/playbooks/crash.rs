//! "This program keeps crashing": recent crash reports in the watched crash folders, for the
//! named application when there is one, with the version each report names.

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::{Context, Outcome, Step, Steps};
use crate::checks::watch::{application_from_file_name, crash_report_version};

/// Crash reports older than this are history, not the current problem.
const RECENT: Duration = Duration::from_secs(7 * 24 * 3600);

pub async fn run(target: Option<&str>, context: &Context) -> (Vec<Step>, String) {
    let mut steps = Steps::default();
    let words = target.map(str::to_lowercase).unwrap_or_default();
    let mut crashes: Vec<(String, String, u64, Option<String>)> = Vec::new();
    for dir in &context.crash_dirs {
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
        let mut found = 0;
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
            let application = application_from_file_name(&name);
            found += 1;
            crashes.push((
                application,
                entry.path().display().to_string(),
                age.as_secs(),
                crash_report_version(&entry.path()),
            ));
        }
        steps.push(
            "reports",
            format!("look for crash reports in {}", dir.display()),
            started,
            if found > 0 {
                Outcome::Fail
            } else {
                Outcome::Pass
            },
            format!("{found} crash report(s) from the last 7 days"),
            json!({ "folder": dir }),
        );
    }
    // Reports of the applications the user named, if any are named; else all of them.
    if crashes
        .iter()
        .any(|(application, ..)| mentions(&words, application))
    {
        crashes.retain(|(application, ..)| mentions(&words, application));
    }
    crashes.sort_by_key(|(_, _, age, _)| *age);
    let mut by_application: Vec<(String, usize)> = Vec::new();
    for (application, ..) in &crashes {
        match by_application
            .iter_mut()
            .find(|(name, _)| name == application)
        {
            Some((_, count)) => *count += 1,
            None => by_application.push((application.clone(), 1)),
        }
    }
    let conclusion = match by_application.first() {
        None => "No crash reports in the last 7 days: the program may hang or close without leaving one; describe what you see.".to_owned(),
        Some((application, count)) => {
            let version = crashes
                .iter()
                .find(|(name, _, _, version)| name == application && version.is_some())
                .and_then(|(_, _, _, version)| version.clone());
            format!(
                "{application}{} crashed {count} time(s) in the last 7 days; the latest report is {}.",
                version.map(|v| format!(" {v}")).unwrap_or_default(),
                crashes
                    .first()
                    .map(|(_, path, _, _)| path.as_str())
                    .unwrap_or_default()
            )
        }
    };
    if let Some(step) = steps
        .steps
        .iter_mut()
        .find(|step| step.outcome == Outcome::Fail)
    {
        step.evidence = json!({ "crashes": crashes.iter().take(20).map(|(application, path, age_secs, version)| json!({
            "application": application, "path": path, "age_secs": age_secs, "app_version": version,
        })).collect::<Vec<_>>() });
    }
    (steps.steps, conclusion)
}

/// Whether the user's words name the application ("outlook" for "OUTLOOK.EXE",
/// "gedit" for apport's "_usr_bin_gedit").
fn mentions(words: &str, application: &str) -> bool {
    let application = application.to_lowercase();
    let base = application
        .trim_end_matches(".exe")
        .rsplit(['_', '/', '\\'])
        .next()
        .unwrap_or_default();
    base.len() >= 3 && words.contains(base)
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
        ];
        for (words, application, expected) in cases {
            assert_eq!(
                mentions(words, application),
                expected,
                "{words} / {application}"
            );
        }
    }
}

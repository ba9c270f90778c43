//! "Disk full, can't save": space and inodes per mount, judged with the disk check's own
//! thresholds and ignore lists (`[checks.disk]`), and whether the user's own folders take a
//! new file.

use std::time::Instant;

use firstline_i18n::msg;
use serde_json::json;

use super::{Context, Outcome, Step, Steps, Verdict};
use crate::finding::Severity;
use crate::probes::disk;

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    let mut full = Vec::new();
    let mut nearly_full = Vec::new();
    let mut read_only = Vec::new();
    let mut unsaved = Vec::new();
    let started = Instant::now();
    let observed = disk::mounts().and_then(|mounts| {
        crate::checks::disk::observe(&context.checks.disk, &mounts)
            .map(|observations| (mounts, observations))
            .map_err(|e| format!("checks.disk: {e}"))
    });
    match observed {
        Ok((mounts, observations)) => {
            for observation in &observations {
                let severity = observation.rule.classify(observation.value);
                let place = observation.resource.as_str();
                let mount = mounts.iter().find(|m| m.mount_point == place);
                let outcome = match severity {
                    Severity::Critical => {
                        full.push((observation.summary.clone(), place.to_owned()));
                        Outcome::Fail
                    }
                    Severity::Warning => {
                        nearly_full.push((
                            observation.summary.clone(),
                            place.to_owned(),
                            observation.value,
                        ));
                        Outcome::Warn
                    }
                    _ if mount.is_some_and(|m| m.read_only)
                        && observation.check == crate::checks::disk::USED =>
                    {
                        read_only.push(place.to_owned());
                        Outcome::Fail
                    }
                    _ => Outcome::Pass,
                };
                let detail = if outcome == Outcome::Fail && severity == Severity::Ok {
                    format!("{place} is read-only")
                } else {
                    format!(
                        "{} (warning at {:.0}%, critical at {})",
                        observation.summary,
                        observation.rule.raise,
                        observation
                            .rule
                            .critical
                            .map_or_else(|| "-".to_owned(), |c| format!("{c:.0}%"))
                    )
                };
                steps.push(
                    "space",
                    format!("measure {place} ({})", observation.check),
                    started,
                    outcome,
                    detail,
                    serde_json::Value::Object(observation.evidence.clone()),
                );
            }
        }
        Err(e) => steps.push(
            "space",
            "list the disks",
            started,
            Outcome::Skip,
            e,
            json!({}),
        ),
    }
    // Can a file actually be written where the user saves?
    let mut places: Vec<std::path::PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")) {
        places.push(home.into());
    }
    places.push(std::env::temp_dir());
    for place in places {
        let started = Instant::now();
        let probe = place.join(format!(".firstline-write-test-{}", std::process::id()));
        let written =
            std::fs::write(&probe, b"firstline").and_then(|()| std::fs::remove_file(&probe));
        let (outcome, detail) = match written {
            Ok(()) => (
                Outcome::Pass,
                format!("a file can be saved in {}", place.display()),
            ),
            Err(e) => {
                let detail = format!("saving in {} fails: {e}", place.display());
                unsaved.push((detail.clone(), place.display().to_string()));
                (Outcome::Fail, detail)
            }
        };
        steps.push(
            "write",
            format!("save a small file in {}", place.display()),
            started,
            outcome,
            detail,
            json!({ "path": place }),
        );
    }
    (
        steps.steps,
        verdict(&full, &nearly_full, &read_only, &unsaved),
    )
}

/// The worst of what was found, for staff and for the user.
fn verdict(
    full: &[(String, String)],
    nearly_full: &[(String, String, f64)],
    read_only: &[String],
    unsaved: &[(String, String)],
) -> Verdict {
    let mut problems: Vec<String> = full.iter().map(|(summary, _)| summary.clone()).collect();
    problems.extend(
        read_only
            .iter()
            .map(|place| format!("{place} is read-only")),
    );
    problems.extend(unsaved.iter().map(|(detail, _)| detail.clone()));
    if let Some((_, place)) = full.first() {
        return Verdict::new(
            format!("Likely cause: {}.", problems.join("; ")),
            msg!("said-disk-full", "place" => place.as_str()),
        )
        .advise(msg!("advice-disk-save-elsewhere"))
        .advise(msg!("advice-disk-free-space"));
    }
    if let Some((_, place)) = unsaved.first() {
        return Verdict::new(
            format!("Likely cause: {}.", problems.join("; ")),
            msg!("said-disk-cannot-save", "place" => place.as_str()),
        )
        .advise(msg!("advice-disk-save-elsewhere"))
        .advise(msg!("advice-wait-for-it"));
    }
    if let Some(place) = read_only.first() {
        return Verdict::new(
            format!("Likely cause: {}.", problems.join("; ")),
            msg!("said-disk-read-only", "place" => place.as_str()),
        )
        .advise(msg!("advice-disk-save-elsewhere"))
        .advise(msg!("advice-wait-for-it"));
    }
    if let Some((summary, place, pct)) = nearly_full.first() {
        return Verdict::new(
            format!("Files can be saved, but {summary}: it will be full soon."),
            msg!("said-disk-nearly-full", "place" => place.as_str(), "pct" => pct.round()),
        )
        .advise(msg!("advice-disk-free-space"));
    }
    Verdict::new(
        "The disks have room and files can be saved. If one program cannot save, report that program and the folder.",
        msg!("said-disk-ok"),
    )
    .advise(msg!("advice-disk-name-program"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_never_says_room_enough_when_a_disk_is_full_or_filling() {
        let full = [("Disk / is 97% full".to_owned(), "/".to_owned())];
        let nearly = [(
            "Disk /home is 91% full".to_owned(),
            "/home".to_owned(),
            91.0,
        )];
        let cases = [
            (
                &full[..],
                &nearly[..],
                "said-disk-full",
                "advice-disk-save-elsewhere",
            ),
            (
                &[][..],
                &nearly[..],
                "said-disk-nearly-full",
                "advice-disk-free-space",
            ),
            (&[][..], &[][..], "said-disk-ok", "advice-disk-name-program"),
        ];
        for (full, nearly, said, advice) in cases {
            let verdict = verdict(full, nearly, &[], &[]);
            assert_eq!(verdict.said.id, said, "{verdict:?}");
            assert_eq!(verdict.advice[0].id, advice, "{verdict:?}");
            if said != "said-disk-ok" {
                assert!(!verdict.conclusion.contains("have room"), "{verdict:?}");
            }
        }
        let unsaved = [(
            "saving in /home/a fails: denied".to_owned(),
            "/home/a".to_owned(),
        )];
        let verdict = verdict(&[], &[], &[], &unsaved);
        assert_eq!(verdict.said.id, "said-disk-cannot-save");
        // No raw OS error in what the user reads.
        assert!(
            !verdict
                .said
                .text(firstline_i18n::Lang::En)
                .contains("denied")
        );
    }
}

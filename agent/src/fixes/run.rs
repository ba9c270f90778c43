//! Running a prepared fix: the daily cap, "before", the change, the verification, timed; and
//! running the few fixed programs a fix uses (no shell, arguments as a list, a deadline).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::limits::DailyRuns;
use super::{FixReport, FixSpec, Outcome, Prepared};

/// Runs `prepared` once if the daily cap allows, and says what happened. Blocking: call it
/// from a blocking task.
pub fn run_fix(spec: &FixSpec, mut prepared: Box<dyn Prepared>, runs: &DailyRuns) -> FixReport {
    let started = Instant::now();
    if let Err(error) = runs.admit(spec.name, spec.max_runs_per_day) {
        return FixReport::refused(spec.name, error);
    }
    let before = match prepared.before() {
        Ok(before) => Some(before),
        Err(error) => Some(format!("could not look before the fix: {error}")),
    };
    let (outcome, changes, verification, error) = match prepared.apply() {
        Ok(changes) => {
            let verification = prepared.verify();
            let outcome = if verification.passed {
                Outcome::Verified
            } else {
                Outcome::NotVerified
            };
            (outcome, changes, Some(verification), None)
        }
        Err(error) => (Outcome::Failed, Vec::new(), None, Some(error)),
    };
    FixReport {
        fix: spec.name.to_owned(),
        outcome,
        before,
        changes,
        verification,
        error,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// What a program printed, when it exited zero.
#[derive(Debug)]
pub struct ProgramOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` with `arguments` (no shell), waiting at most `deadline`. A non-zero exit is
/// an error naming the command and its first line of stderr.
pub fn run_program(
    program: &str,
    arguments: &[&str],
    deadline: Duration,
) -> Result<ProgramOutput, String> {
    let shown = || format!("{program} {}", arguments.join(" "));
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", shown()))?;
    // Read both pipes on threads so a chatty program cannot block on a full pipe.
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = std::io::Read::read_to_end(
                    &mut std::io::Read::take(&mut pipe, 256 * 1024),
                    &mut text,
                );
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not finish within {deadline:?}", shown()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {}: {e}", shown())),
        }
    };
    let output = ProgramOutput {
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !status.success() {
        let first_line = output.stderr.lines().next().unwrap_or("").trim();
        return Err(format!(
            "{} failed ({status}){}{:.200}",
            shown(),
            if first_line.is_empty() { "" } else { ": " },
            first_line
        ));
    }
    Ok(output)
}

/// Whether `program` can be found on PATH (or is a path that exists).
pub fn have_program(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_fails_says_its_command_and_error() {
        let error = run_program(
            "sh",
            &["-c", "echo broken >&2; exit 3"],
            Duration::from_secs(5),
        )
        .expect_err("fails");
        assert!(error.contains("sh -c"), "{error}");
        assert!(error.contains("broken"), "{error}");
    }

    #[test]
    fn a_program_past_its_deadline_is_stopped() {
        let started = Instant::now();
        let error = run_program("sleep", &["30"], Duration::from_millis(200)).expect_err("stopped");
        assert!(error.contains("did not finish"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

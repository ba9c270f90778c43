//! The agent's command line, built inside the test package so end-to-end tests can run it as a
//! real process (`CARGO_BIN_EXE_e2e-agent`): the same code as `firstline-agent`, except that
//! `FIRSTLINE_E2E_UTMP` / `FIRSTLINE_E2E_WTMP` point it at the test's utmp-format files (a
//! container's are empty or missing).

fn main() -> std::process::ExitCode {
    if let (Some(utmp), Some(wtmp)) = (
        std::env::var_os("FIRSTLINE_E2E_UTMP"),
        std::env::var_os("FIRSTLINE_E2E_WTMP"),
    ) {
        firstline_agent::users::read_instead(utmp.into(), wtmp.into());
    }
    firstline_agent::cli::main()
}

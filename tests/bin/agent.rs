//! The agent's command line, built inside the test package so end-to-end tests can run it as a
//! real process (`CARGO_BIN_EXE_e2e-agent`): the same code as `firstline-agent`, except that
//! `FIRSTLINE_E2E_UTMP` / `FIRSTLINE_E2E_WTMP` point it at the test's utmp-format files (a
//! container's are empty or missing), and `FIRSTLINE_E2E_RUN_USER` / `FIRSTLINE_E2E_HELP_COMMAND`
//! (a JSON array) at the test's session buses (`<dir>/<uid>/bus`) and a stand-in for `help`.

fn main() -> std::process::ExitCode {
    if let (Some(utmp), Some(wtmp)) = (
        std::env::var_os("FIRSTLINE_E2E_UTMP"),
        std::env::var_os("FIRSTLINE_E2E_WTMP"),
    ) {
        firstline_agent::users::read_instead(utmp.into(), wtmp.into());
    }
    let run_user = std::env::var_os("FIRSTLINE_E2E_RUN_USER");
    let help_command = std::env::var("FIRSTLINE_E2E_HELP_COMMAND").ok();
    if run_user.is_some() || help_command.is_some() {
        let help_command = help_command.map(|json| {
            serde_json::from_str::<Vec<String>>(&json).unwrap_or_else(|e| {
                panic!("FIRSTLINE_E2E_HELP_COMMAND is not a JSON array of strings: {e}")
            })
        });
        firstline_agent::notify::use_instead(run_user.map(Into::into), help_command);
    }
    firstline_agent::cli::main()
}

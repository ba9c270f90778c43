//! The agent's command line, built inside the test package so end-to-end tests can run it as a
//! real process (`CARGO_BIN_EXE_e2e-agent`): the same code as `firstline-agent`.

fn main() -> std::process::ExitCode {
    firstline_agent::cli::main()
}

//! The collector's command line, built inside the test package so end-to-end tests can run it
//! as a real process (`CARGO_BIN_EXE_e2e-collector`): the same code as `firstline-collector`.

fn main() -> std::process::ExitCode {
    firstline_collector::cli::main()
}

//! `firstline-collector`: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    firstline_collector::cli::main()
}

//! The `readysim` binary: parse arguments, call the library, map errors to exit codes.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let parsed = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                cli::EXIT_BAD_INPUT
            } else {
                0
            };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    cli::run(parsed)
}

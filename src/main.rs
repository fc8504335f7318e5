//! The `readysim` binary: parse arguments, call the library, map errors to exit codes.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    match cli::Cli::try_parse() {
        Ok(c) => cli::run(c),
        Err(e) => cli::usage_error(e),
    }
}

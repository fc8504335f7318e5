//! The `readysim` binary: parse arguments, call the library, map errors to exit codes.

mod cli;

use clap::Parser;

/// Counts heap bytes per thread, for `readysim bench`'s memory rows.
#[global_allocator]
static HEAP: readysim::bench::heap::Counting = readysim::bench::heap::Counting;

fn main() -> std::process::ExitCode {
    readysim::bench::heap::installed();
    match cli::Cli::try_parse() {
        Ok(c) => cli::run(c),
        Err(e) => cli::usage_error(e),
    }
}

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
            if code != 0 && std::env::args().any(|a| a == "--json") {
                // Bad arguments are bad input too: one JSON object, as for every other error.
                let text = e.render().to_string();
                let head = text.split("\n\n").next().unwrap_or("");
                let first = head
                    .trim_start_matches("error: ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                println!(
                    "{}",
                    serde_json::json!({
                        "error": first, "file": null, "line": null, "column": null,
                        "field": null, "usage": text,
                    })
                );
            } else {
                let _ = e.print();
            }
            return std::process::ExitCode::from(code);
        }
    };
    cli::run(parsed)
}

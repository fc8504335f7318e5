//! `readysim bench`: times the incident and the mixed set on both engines and prints the table.

use std::time::Duration;

use readysim::bench;

use super::{BadInput, Cli, Exit};

/// Runs the benchmark with `seconds` of wall-clock time per row.
pub fn run(cli: &Cli, seconds: f64) -> Result<Exit, BadInput> {
    if !(0.0..=3600.0).contains(&seconds) {
        return Err(BadInput::msg(format!(
            "--seconds {seconds}: expected a number of seconds from 0 to 3600"
        )));
    }
    let report = bench::run(&cli.scenarios, Duration::from_secs_f64(seconds));
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print!("{}", bench::table(&report));
    }
    Ok(Exit::Ok)
}

//! `readysim bench`: times the incident and the mixed set on both engines and prints the table.

use std::time::Duration;

use std::fmt::Write as _;

use readysim::bench;
use readysim::search::{self, classify};
use readysim::{scenario, Violation};

use super::{BadInput, Cli, Exit};

/// Runs the benchmark with `seconds` of wall-clock time per row.
pub fn run(cli: &Cli, seconds: f64) -> Result<Exit, BadInput> {
    if !(0.0..=3600.0).contains(&seconds) {
        return Err(BadInput::msg(format!(
            "--seconds {seconds}: expected a number of seconds from 0 to 3600"
        )));
    }
    // The rows take `seconds` each: say so before the wait.
    errln!(
        "bench: timing the incident and every scenario on both engines, {seconds} s per row (about {:.0} s)...",
        seconds * 20.0
    );
    let report = bench::run(&cli.scenarios, Duration::from_secs_f64(seconds));
    if cli.json {
        outln!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        out!("{}", bench::table(&report));
    }
    Ok(Exit::Ok)
}

/// The failure classes the shipped scenarios show: their preset, each default property they
/// violate (every violation when none is a default one), and for `ws-1011` its reasons.
fn shipped_classes(
    cli: &Cli,
) -> Vec<(
    String,
    readysim::Preset,
    Violation,
    Option<readysim::Reason>,
)> {
    let mut out = Vec::new();
    for p in scenario::files_under(&cli.scenarios) {
        let Ok(sc) = scenario::load(&p) else { continue };
        let rep = readysim::replay(&sc, readysim::EngineKind::Fast);
        for v in classify::target_of(&sc, readysim::EngineKind::Fast) {
            if v == Violation::Ws1011 {
                let mut reasons: Vec<_> = rep.client_reasons.iter().flatten().copied().collect();
                reasons.sort();
                reasons.dedup();
                for r in reasons {
                    out.push((sc.name.clone(), sc.policy.preset, v, Some(r)));
                }
            } else {
                out.push((sc.name.clone(), sc.policy.preset, v, None));
            }
        }
    }
    out
}

/// Runs `readysim bench search`.
pub fn search(cli: &Cli, seeds: &str, cases: u64, jobs: usize) -> Result<Exit, BadInput> {
    let seeds: Vec<u64> = seeds
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| BadInput::msg(format!("--seeds {seeds}: expected numbers like 1,2,3")))?;
    if seeds.is_empty() || cases == 0 || jobs == 0 {
        return Err(BadInput::msg(
            "--seeds, --cases and --jobs must each be at least 1".into(),
        ));
    }
    let classes = shipped_classes(cli);
    let r = search::bench::run(&seeds, cases, jobs, &classes);
    if cli.json {
        outln!("{}", serde_json::to_string_pretty(&r).expect("json"));
        return Ok(Exit::Ok);
    }
    let mut o = String::new();
    let show = |v: &[Option<u64>]| {
        v.iter()
            .map(|c| c.map_or("-".to_string(), |c| c.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        o,
        "cases to first failure per seed ({cases} cases per seed and preset; - = none)\n"
    );
    let _ = writeln!(
        o,
        "{:<10} {:<19} {:<15} {:>22} {:>22} {:>8}",
        "preset", "property", "reason", "swarm", "uniform", "ratio"
    );
    for c in &r.cells {
        let _ = writeln!(
            o,
            "{:<10} {:<19} {:<15} {:>22} {:>22} {:>8.2}",
            c.preset.name(),
            c.property.name(),
            c.reason.map_or("-", |r| r.name()),
            show(&c.swarm),
            show(&c.uniform),
            c.ratio
        );
    }
    let _ = writeln!(
        o,
        "\ngeometric mean of uniform/swarm: {:.2}x over {} cells; worst cell {:.2}x",
        r.geometric_mean,
        r.cells.len(),
        r.worst
    );
    let _ = writeln!(o, "\nshipped failure classes, swarm's first case per seed:");
    let mut missed = 0;
    for c in &r.classes {
        let all = c.found.iter().all(Option::is_some);
        missed += usize::from(!all);
        let _ = writeln!(
            o,
            "  {:<32} {:<10} {:<19} {:<15} {:>22} {}",
            c.scenario,
            c.preset.name(),
            c.property.name(),
            c.reason.map_or("-", |r| r.name()),
            show(&c.found),
            if all { "ok" } else { "MISSED" }
        );
    }
    let _ = writeln!(
        o,
        "{} of {} classes rediscovered in every seed",
        r.classes.len() - missed,
        r.classes.len()
    );
    out!("{o}");
    Ok(Exit::Ok)
}

//! `readysim bench`: times the incident and the mixed set on both engines and prints the table.

use std::time::Duration;

use std::fmt::Write as _;

use crate::bench;
use crate::search;

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

/// `readysim bench search`'s options, as given.
pub struct SearchArgs<'a> {
    /// Seeds, comma-separated.
    pub seeds: &'a str,
    /// Cases per seed and code.
    pub cases: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Cases of the reference run.
    pub reference_cases: u64,
    /// The workflow's seeds, comma-separated.
    pub workflow_seeds: &'a str,
    /// Record every new signature.
    pub record: bool,
}

fn seed_list(flag: &str, s: &str) -> Result<Vec<u64>, BadInput> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|x| x.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| BadInput::msg(format!("{flag} {s}: expected numbers like 1,2,3")))
}

/// Runs `readysim bench search`.
pub fn search(cli: &Cli, a: SearchArgs<'_>) -> Result<Exit, BadInput> {
    let seeds = seed_list("--seeds", a.seeds)?;
    if seeds.is_empty() || a.cases == 0 || a.jobs == 0 {
        return Err(BadInput::msg(
            "--seeds, --cases and --jobs must each be at least 1".into(),
        ));
    }
    let scratch = tempfile::Builder::new()
        .prefix("readysim-bench-search-")
        .tempdir()
        .map_err(|e| BadInput::msg(format!("cannot make a temporary folder: {e}")))?;
    let mut o = search::bench::BenchOptions::new(scratch.path());
    o.seeds = seeds;
    o.cases = a.cases;
    o.jobs = a.jobs;
    o.reference_cases = a.reference_cases;
    o.workflow_seeds = seed_list("--workflow-seeds", a.workflow_seeds)?;
    o.record = a.record;
    errln!(
        "bench search: {} seed(s) x {} code(s) x {} cases, twice (swarm, uniform){}{}{}...",
        o.seeds.len(),
        o.codes.len(),
        o.cases,
        if o.record {
            ", then recording every new signature per seed"
        } else {
            ""
        },
        if o.reference_cases > 0 {
            format!(", {} reference cases", o.reference_cases)
        } else {
            String::new()
        },
        if o.workflow_seeds.is_empty() {
            String::new()
        } else {
            format!(", the workflow on seeds {:?}", o.workflow_seeds)
        }
    );
    let r = search::bench::run(&o);
    if cli.json {
        outln!("{}", serde_json::to_string_pretty(&r).expect("json"));
        return Ok(Exit::Ok);
    }
    out!("{}", search_table(&r));
    Ok(Exit::Ok)
}

/// `bench search` as text.
fn search_table(r: &search::bench::SearchBench) -> String {
    let mut o = String::new();
    let show = |v: &[Option<u64>]| {
        v.iter()
            .map(|c| c.map_or("-".to_string(), |c| c.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let millis = |v: &[Option<f64>]| {
        v.iter()
            .map(|c| c.map_or("-".to_string(), |c| format!("{:.0}", c * 1000.0)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        o,
        "cases to first failure per seed ({} cases per seed and code, the code as it ships, the environment varied; - = none)\n",
        r.cases
    );
    let _ = writeln!(
        o,
        "{:<12} {:<17} {:<28} {:>36} {:>36} {:>7}",
        "code", "property", "place", "swarm", "uniform", "ratio"
    );
    for c in &r.cells {
        let _ = writeln!(
            o,
            "{:<12} {:<17} {:<28} {:>36} {:>36} {:>7.2}",
            c.code.as_str(),
            c.property.name(),
            c.place.map_or("(any)".to_string(), |p| p.slug()),
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
    let _ = writeln!(o, "\n1011 reasons: swarm's first case, its CPU ms, uniform's first case, recorded with the reason (per seed)");
    let mut short = 0;
    for t in &r.reasons {
        let met = t.found.iter().filter(|x| x.is_some()).count();
        let rec = t.recorded.iter().filter(|x| **x == Some(true)).count();
        let need = r.seeds.len().saturating_sub(1).max(1);
        let ok = met >= need && (t.recorded.iter().all(Option::is_none) || rec >= need);
        short += usize::from(!ok);
        let _ = writeln!(
            o,
            "  {:<12} {:<15} swarm {:>36}  cpu ms {:>36}  uniform {:>36}  recorded {} {}",
            t.code.as_str(),
            t.reason.name(),
            show(&t.found),
            millis(&t.cpu_s),
            show(&t.uniform),
            if t.recorded.iter().all(Option::is_none) {
                "-".to_string()
            } else {
                format!("{rec}/{}", t.recorded.len())
            },
            if ok { "ok" } else { "SHORT" }
        );
    }
    let _ = writeln!(
        o,
        "  {} of {} (code, reason) targets met in at least {} of {} seeds",
        r.reasons.len() - short,
        r.reasons.len(),
        r.seeds.len().saturating_sub(1).max(1),
        r.seeds.len()
    );
    let partial: Vec<String> = r
        .pairs
        .iter()
        .filter(|p| p.seeds < r.seeds.len())
        .map(|p| format!("{} {} ({}/{})", p.code, p.property, p.seeds, r.seeds.len()))
        .collect();
    let _ = writeln!(
        o,
        "\n(code, property) pairs met by some seed: {}; met in every seed: {}{}",
        r.pairs.len(),
        r.pairs.len() - partial.len(),
        if partial.is_empty() {
            String::new()
        } else {
            format!("; not in every seed: {}", partial.join(", "))
        }
    );
    if r.recorded.0 > 0 {
        let _ = writeln!(
            o,
            "recorded files that replay with their own signature: {} of {} ({:.1} %)",
            r.recorded.1,
            r.recorded.0,
            100.0 * r.recorded.1 as f64 / r.recorded.0 as f64
        );
    }
    if let Some(x) = &r.reference {
        let _ = writeln!(
            o,
            "reference, seed {}: {} failing case(s) in {} cases{}",
            x.seed,
            x.failures,
            x.cases,
            if x.signatures.is_empty() {
                String::new()
            } else {
                format!(": {}", x.signatures.join(", "))
            }
        );
    }
    for w in &r.workflow {
        let gated: Vec<&str> = w.gated.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(
            o,
            "workflow night, seed {}: {} new signature(s) for the gated code ({}); {} new over every preset (study, not gated)",
            w.seed,
            w.new_gated,
            gated.join(", "),
            w.new_all
        );
    }
    o
}

//! The benchmark behind `readysim bench`: scenarios per second on both engines, in one process.
//!
//! Wall-clock time is read here and nowhere else in the library: speed is measured and
//! reported, never asserted, and nothing it measures feeds back into a simulation.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::engine::EngineKind;
use crate::replay;
use crate::scenario::{self, Scenario};
use crate::trace;

pub mod heap;

/// The incident's name (its file is `scenarios/<name>.toml`).
pub const INCIDENT: &str = "incident-2025-09-09";

/// The incident file as shipped, compiled in: used when the scenarios folder lacks it.
const INCIDENT_TOML: &str = include_str!("../../scenarios/incident-2025-09-09.toml");

/// Whether a measured run renders and hashes the text trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trace {
    /// `replay::evaluate` only: the run and the oracles (what search does).
    None,
    /// The run, the oracles, then the rendered trace and its hash (what replay does once).
    Rendered,
}

/// One measured workload.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `incident` or `mixed`.
    pub workload: String,
    /// Scenarios in the workload (1 for the incident).
    pub scenarios: usize,
    /// `fast` or `tokio`.
    pub engine: &'static str,
    /// Whether the trace was rendered.
    pub trace: Trace,
    /// Scenario runs measured.
    pub runs: u64,
    /// Wall-clock seconds they took.
    pub seconds: f64,
    /// CPU seconds this thread spent on them (Linux `schedstat`), when the OS tells.
    pub cpu_seconds: Option<f64>,
    /// Runs per wall-clock second.
    pub per_second: f64,
    /// Runs per CPU second of this thread (per core), or per wall-clock second when unknown.
    pub per_cpu_second: f64,
    /// Mean CPU µs per run (wall-clock µs when CPU time is unknown).
    pub us_per_run: f64,
}

/// CPU time this thread has run, in ns (Linux only; None elsewhere). On a shared machine
/// wall-clock time also counts the time other processes held the core; CPU time does not.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// CPU time this process has run (every thread), in seconds (Linux only; None elsewhere):
/// `utime + stime` of `/proc/self/stat`, in clock ticks of 1/100 s.
pub fn process_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) start after its ')'.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The whole benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Where the incident came from (a file path, or `built-in`).
    pub incident_source: String,
    /// The mixed set's scenario names, in run order.
    pub mixed: Vec<String>,
    /// Files under the scenarios folder that did not load (skipped).
    pub skipped: Vec<String>,
    /// The measurements, in the order they ran.
    pub rows: Vec<Row>,
    /// fast (no trace) runs per CPU second over tokio's, for the incident.
    pub incident_ratio: f64,
    /// The same for the mixed set.
    pub mixed_ratio: f64,
    /// Search cases (generate, run, judge, coverage) per CPU second of one thread, over
    /// every preset: what `explore` costs per case, without shrinking or writing.
    pub explore_cases_per_cpu_second: f64,
    /// Bare replays (`replay::evaluate`) per CPU second of the same generated scenarios,
    /// generated beforehand and untimed.
    pub explore_replays_per_cpu_second: f64,
    /// `explore_replays_per_cpu_second / explore_cases_per_cpu_second`: what a search case
    /// costs over a bare replay of it (1.0 = nothing but the replay).
    pub explore_cost_ratio: f64,
    /// `explore` with shrinking, classifying and recording, on one job and on two.
    pub explore_jobs: Option<JobsRow>,
    /// Virtual milliseconds simulated per wall-clock (CPU) millisecond on the incident, fast
    /// engine, no text: the incident's verdict time times its runs per CPU second / 1000.
    pub virtual_ms_per_cpu_ms: f64,
    /// The peak memory of one run of each workload.
    pub memory: Vec<MemoryRow>,
    /// How the cost of one run grows with clients, horizon and decisions.
    pub scaling: Vec<ScalingRow>,
    /// Peak resident memory of the whole process after every row (Linux `VmHWM`), in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// The peak heap memory of one run of a workload (bytes allocated and not yet freed, counted
/// by [`heap::Counting`], which the binary installs).
#[derive(Clone, Debug, Serialize)]
pub struct MemoryRow {
    /// `incident`, `mixed` (its largest run) or `largest` (the shipped scenario with the
    /// most trace events).
    pub workload: String,
    /// The scenario whose run peaked highest.
    pub scenario: String,
    /// Trace events of that run.
    pub events: usize,
    /// Its peak heap use, in KiB (None when the counting allocator is not installed).
    pub peak_heap_kib: Option<f64>,
}

/// One point of a cost curve: a generated scenario varied along one axis.
#[derive(Clone, Debug, Serialize)]
pub struct ScalingRow {
    /// `clients`, `horizon_ms` or `decisions`.
    pub axis: &'static str,
    /// The axis's value.
    pub value: u64,
    /// Trace events of one run.
    pub events: usize,
    /// Engine steps (task polls) of one run.
    pub steps: u64,
    /// Same-instant choices among several ready tasks.
    pub choices: usize,
    /// CPU µs per run (fast engine, oracles, no text).
    pub us_per_run: f64,
    /// `us_per_run / events`, in ns.
    pub ns_per_event: f64,
}

/// One run of each scenario of `set`: its name, trace events and heap peak in KiB (None
/// when the counting allocator is not installed).
fn heap_peaks(set: &[Scenario]) -> Vec<(String, usize, Option<f64>)> {
    set.iter()
        .map(|sc| {
            let (events, peak) = heap::peak_of(|| {
                replay::evaluate_valid(black_box(sc), EngineKind::Fast)
                    .output
                    .trace
                    .len()
            });
            (sc.name.clone(), events, peak.map(|b| b as f64 / 1024.0))
        })
        .collect()
}

/// The memory rows: the incident; of the mixed set, the run with the highest heap peak (the
/// first of equals) and the run with the most events (the last of equals).
fn memory_rows(incident: &Scenario, set: &[Scenario]) -> Vec<MemoryRow> {
    let row = |workload: &str, (name, events, kib): &(String, usize, Option<f64>)| MemoryRow {
        workload: workload.to_string(),
        scenario: name.clone(),
        events: *events,
        peak_heap_kib: *kib,
    };
    let mut rows: Vec<MemoryRow> = heap_peaks(std::slice::from_ref(incident))
        .iter()
        .map(|r| row("incident", r))
        .collect();
    let mixed = heap_peaks(set);
    let mut highest: Option<&(String, usize, Option<f64>)> = None;
    for r in &mixed {
        if highest.is_none_or(|h| r.2 > h.2) {
            highest = Some(r);
        }
    }
    rows.extend(highest.map(|r| row("mixed", r)));
    rows.extend(mixed.iter().max_by_key(|r| r.1).map(|r| row("largest", r)));
    rows
}

/// Scenarios varied along one axis each: clients (reference preset, each client served and
/// sending 3 messages), horizon (one client connected to 5 s before the horizon: keepalive
/// pings and the manager's health checks run all along), decisions (a storm of 50
/// connections arriving at one instant, so every step picks among many ready tasks, with
/// decision lists of growing length).
pub fn scaling_scenarios() -> Vec<(&'static str, u64, Scenario)> {
    use crate::scenario::Client;
    let mut out = Vec::new();
    for n in [1u64, 10, 100, 1000] {
        let mut sc = Scenario::new("scaling-clients", "clients");
        sc.policy.preset = crate::Preset::Reference;
        sc.clients = (0..n)
            .map(|i| Client {
                at_ms: 3000 + i * 10,
                messages: 3,
                ..Client::default()
            })
            .collect();
        out.push(("clients", n, sc));
    }
    for h in [10_000u64, 100_000, 1_000_000, 10_000_000] {
        let mut sc = Scenario::new("scaling-horizon", "horizon");
        sc.policy.preset = crate::Preset::Reference;
        sc.clients = vec![Client {
            at_ms: 3000,
            hold_ms: h - 5000,
            ..Client::default()
        }];
        sc.run.horizon_ms = h;
        out.push(("horizon_ms", h, sc));
    }
    for d in [0u64, 16, 256, 4096] {
        let mut sc = Scenario::new("scaling-decisions", "decisions");
        sc.policy.preset = crate::Preset::Reference;
        sc.clients = vec![Client {
            at_ms: 3000,
            messages: 1,
            count: 50,
            every_ms: 0,
            ..Client::default()
        }];
        sc.run.decisions = (0..d).map(|i| (i % 7) as u32).collect();
        out.push(("decisions", d, sc));
    }
    out
}

fn scaling(budget: Duration) -> Vec<ScalingRow> {
    scaling_scenarios()
        .into_iter()
        .map(|(axis, value, sc)| {
            let ev = replay::evaluate_valid(&sc, EngineKind::Fast);
            let row = measure(
                axis,
                std::slice::from_ref(&sc),
                EngineKind::Fast,
                Trace::None,
                budget,
            );
            let events = ev.output.trace.len();
            ScalingRow {
                axis,
                value,
                events,
                steps: ev.output.engine.steps,
                choices: ev.output.engine.choices.len(),
                us_per_run: row.us_per_run,
                ns_per_event: row.us_per_run * 1000.0 / events.max(1) as f64,
            }
        })
        .collect()
}

/// One whole `explore --seed 3 --all-presets` (shrinking, classifying and recording into a
/// temporary folder) on one job and on two: wall-clock seconds, since a speed-up across
/// threads is what the user waits for. Each is the fastest of [`JOBS_ROUNDS`] rounds run
/// alternately (1, 2, 1, 2, ...): on a shared machine other load only ever slows a round
/// down, and a single pair of rounds swung from 1.5x to 2.8x. None on a machine with one core
/// or with no budget.
#[derive(Clone, Debug, Serialize)]
pub struct JobsRow {
    /// Cases per preset.
    pub cases: u64,
    /// Failures found (the same for both job counts).
    pub found: usize,
    /// Wall-clock seconds with `--jobs 1`.
    pub jobs1_seconds: f64,
    /// Wall-clock seconds with `--jobs 2`.
    pub jobs2_seconds: f64,
    /// `jobs1_seconds / jobs2_seconds`.
    pub speedup: f64,
    /// Rounds timed for each job count (the fastest is reported).
    pub rounds: u32,
}

/// Rounds of the `--jobs 1` / `--jobs 2` comparison, each job count timed this many times.
pub const JOBS_ROUNDS: u32 = 3;

/// The process's peak resident set size, in KiB, when the OS tells.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The incident scenario: the file under `root` if it loads, else the compiled-in copy.
pub fn incident(root: &Path) -> (Scenario, String) {
    let path = root.join(format!("{INCIDENT}.toml"));
    if let Ok(sc) = scenario::load(&path) {
        return (sc, path.display().to_string());
    }
    let sc = scenario::parse(
        INCIDENT_TOML,
        Path::new("<built-in incident>"),
        Some(INCIDENT),
    )
    .expect("the compiled-in incident scenario parses");
    (sc, "built-in".to_string())
}

/// Every scenario under `root` that loads (file order), and the files that did not.
pub fn mixed(root: &Path) -> (Vec<Scenario>, Vec<PathBuf>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for p in scenario::files_under(root) {
        match scenario::load(&p) {
            Ok(sc) => ok.push(sc),
            Err(_) => bad.push(p),
        }
    }
    (ok, bad)
}

fn run_once(sc: &Scenario, kind: EngineKind, tr: Trace) {
    let ev = replay::evaluate_valid(black_box(sc), kind);
    match tr {
        Trace::None => {
            black_box(&ev);
        }
        Trace::Rendered => {
            let text = trace::render(&ev.output.trace);
            black_box(trace::fnv1a64(text.as_bytes()));
            black_box(&ev);
        }
    }
}

/// Runs the whole set repeatedly for about `budget` (at least once) and times it.
pub fn measure(
    workload: &str,
    set: &[Scenario],
    kind: EngineKind,
    tr: Trace,
    budget: Duration,
) -> Row {
    // Warm up caches and allocator pools once, untimed.
    for sc in set {
        run_once(sc, kind, tr);
    }
    let (runs, seconds, cpu_seconds) = timed(set, budget, |sc| run_once(sc, kind, tr));
    let per = cpu_seconds.unwrap_or(seconds);
    Row {
        workload: workload.to_string(),
        scenarios: set.len(),
        engine: kind.name(),
        trace: tr,
        runs,
        seconds,
        cpu_seconds,
        per_second: runs as f64 / seconds,
        per_cpu_second: runs as f64 / per,
        us_per_run: per * 1e6 / runs.max(1) as f64,
    }
}

/// Runs `f` over `items` repeatedly for about `budget` (at least once): how many calls, the
/// wall-clock seconds and this thread's CPU seconds (when the OS tells) they took.
fn timed<T>(items: &[T], budget: Duration, mut f: impl FnMut(&T)) -> (u64, f64, Option<f64>) {
    let cpu_start = thread_cpu_ns();
    #[allow(clippy::disallowed_methods)] // The bench measures wall-clock speed; no model reads it.
    let start = std::time::Instant::now();
    let mut n = 0u64;
    loop {
        for x in items {
            f(x);
        }
        n += items.len() as u64;
        if start.elapsed() >= budget {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64().max(1e-9);
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    (n, wall, cpu)
}

/// Calls of `f` per CPU second of this thread (per wall second where the OS does not tell).
fn rate<T>(items: &[T], budget: Duration, f: impl FnMut(&T)) -> f64 {
    let (n, wall, cpu) = timed(items, budget, f);
    n as f64 / cpu.unwrap_or(wall)
}

/// What a search case costs next to a bare replay of the scenario it generates: the first
/// 200 cases of seed 1 under every preset, measured both ways in this run.
fn explore_cost(budget: Duration) -> (f64, f64) {
    use crate::search::{runner, Code};
    let props: std::collections::BTreeSet<crate::Violation> =
        crate::search::DEFAULT_PROPERTIES.iter().copied().collect();
    let codes: Vec<Code> = crate::Preset::ALL.into_iter().map(Code::preset).collect();
    let cases: Vec<(&Code, u64)> = codes
        .iter()
        .flat_map(|c| (0..200).map(move |i| (c, i)))
        .collect();
    let draws = runner::Draws::new(1);
    let built: Vec<Scenario> = cases.iter().map(|&(c, i)| draws.case(c, i)).collect();
    // Warm up once each, untimed.
    for sc in &built {
        black_box(replay::evaluate_valid(sc, EngineKind::Fast));
    }
    let explore = rate(&cases, budget, |&(c, i)| {
        black_box(runner::run_case(&draws, c, i, &props));
    });
    let replays = rate(&built, budget, |sc| {
        black_box(replay::evaluate_valid(sc, EngineKind::Fast));
    });
    (explore, replays)
}

/// `explore --seed 3 --all-presets --cases N` with recording, timed on 1 and on 2 jobs, with N
/// scaled so one job takes about `budget` times 2.5.
fn explore_jobs(budget: Duration) -> Option<JobsRow> {
    use crate::search::{self, record::RecordDir, ExploreOptions, Quiet};
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    // No budget, no row: two whole searches are the slowest part of a bench.
    let cases = (budget.as_secs_f64() * 500.0) as u64;
    if cases == 0 {
        return None;
    }
    let mut secs = [f64::INFINITY; 2];
    let mut found = 0;
    for _ in 0..JOBS_ROUNDS {
        for (i, jobs) in [1usize, 2].into_iter().enumerate() {
            let dir =
                std::env::temp_dir().join(format!("readysim-bench-{}-{jobs}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let mut rec = RecordDir::open(&dir, &[]).ok()?;
            let mut o = ExploreOptions::new(3);
            o.cases = cases;
            o.jobs = jobs;
            #[allow(clippy::disallowed_methods)]
            // The bench measures wall-clock speed; no model reads it.
            let start = std::time::Instant::now();
            let s = search::explore(&o, Some(&mut rec), &Quiet);
            secs[i] = secs[i].min(start.elapsed().as_secs_f64().max(1e-9));
            found = s.found.len();
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Some(JobsRow {
        cases,
        found,
        jobs1_seconds: secs[0],
        jobs2_seconds: secs[1],
        speedup: secs[0] / secs[1],
        rounds: JOBS_ROUNDS,
    })
}

/// The benchmark: incident and mixed set on the fast engine (no text), on tokio, then on the
/// fast engine with the trace rendered and hashed. `budget` is the time per row.
pub fn run(root: &Path, budget: Duration) -> BenchReport {
    let (inc, incident_source) = incident(root);
    let (mut set, bad) = mixed(root);
    if set.is_empty() {
        set.push(inc.clone());
    }
    let inc = std::slice::from_ref(&inc);
    let mut rows = Vec::new();
    for (kind, tr) in [
        (EngineKind::Fast, Trace::None),
        (EngineKind::Tokio, Trace::None),
        (EngineKind::Fast, Trace::Rendered),
    ] {
        rows.push(measure("incident", inc, kind, tr, budget));
        rows.push(measure("mixed", &set, kind, tr, budget));
    }
    // rows: incident fast, mixed fast, incident tokio, mixed tokio, then the rendered pair.
    let ratio = |fast: usize, tokio: usize| rows[fast].per_cpu_second / rows[tokio].per_cpu_second;
    let (explore, replays) = explore_cost(budget);
    let explore_jobs = explore_jobs(budget);
    let scaling = scaling(budget / 8);
    let verdict_ms = replay::evaluate_valid(&inc[0], EngineKind::Fast)
        .output
        .engine
        .end_ms as f64;
    let memory = memory_rows(&inc[0], &set);
    BenchReport {
        virtual_ms_per_cpu_ms: verdict_ms * rows[0].per_cpu_second / 1000.0,
        memory,
        scaling,
        explore_jobs,
        explore_cases_per_cpu_second: explore,
        explore_replays_per_cpu_second: replays,
        explore_cost_ratio: replays / explore.max(1e-9),
        incident_source,
        mixed: set.iter().map(|s| s.name.clone()).collect(),
        skipped: bad.iter().map(|p| p.display().to_string()).collect(),
        incident_ratio: ratio(0, 2),
        mixed_ratio: ratio(1, 3),
        rows,
        peak_rss_kib: peak_rss_kib(),
    }
}

/// The report as a text table.
pub fn table(r: &BenchReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "incident: {}", r.incident_source);
    let _ = writeln!(
        o,
        "mixed:    {} scenarios ({})",
        r.mixed.len(),
        r.mixed.join(", ")
    );
    for s in &r.skipped {
        let _ = writeln!(o, "skipped:  {s} (does not load)");
    }
    let _ = writeln!(
        o,
        "\n{:<9} {:>4} {:<6} {:<9} {:>9} {:>7} {:>7} {:>11} {:>13} {:>9}",
        "workload",
        "n",
        "engine",
        "trace",
        "runs",
        "wall s",
        "cpu s",
        "scen/wall s",
        "scen/cpu s",
        "cpu µs/run"
    );
    for row in &r.rows {
        let tr = match row.trace {
            Trace::None => "none",
            Trace::Rendered => "rendered",
        };
        let _ = writeln!(
            o,
            "{:<9} {:>4} {:<6} {:<9} {:>9} {:>7.3} {:>7} {:>11.0} {:>13.0} {:>9.2}",
            row.workload,
            row.scenarios,
            row.engine,
            tr,
            row.runs,
            row.seconds,
            row.cpu_seconds
                .map_or("-".to_string(), |c| format!("{c:.3}")),
            row.per_second,
            row.per_cpu_second,
            row.us_per_run
        );
    }
    let _ = writeln!(
        o,
        "\nfast/tokio (no trace, per CPU second): incident {:.1}x, mixed {:.1}x",
        r.incident_ratio, r.mixed_ratio
    );
    let _ = writeln!(
        o,
        "explore: {:.0} cases per CPU second; a bare replay of the same generated scenarios: \
         {:.0} per CPU second; a case costs {:.2}x its replay",
        r.explore_cases_per_cpu_second, r.explore_replays_per_cpu_second, r.explore_cost_ratio
    );
    if let Some(j) = &r.explore_jobs {
        let _ = writeln!(
            o,
            "explore --seed 3 --all-presets --cases {} (shrinking and recording {} failures), \
             fastest of {} rounds: {:.2} s on 1 job, {:.2} s on 2: {:.2}x",
            j.cases, j.found, j.rounds, j.jobs1_seconds, j.jobs2_seconds, j.speedup
        );
    }
    let _ = writeln!(
        o,
        "simulated time: {:.0} virtual ms per CPU ms on the incident (fast engine, no text)",
        r.virtual_ms_per_cpu_ms
    );
    for m in &r.memory {
        let _ = writeln!(
            o,
            "heap peak of one run, {} ({}, {} events): {}",
            m.workload,
            m.scenario,
            m.events,
            m.peak_heap_kib
                .map_or("not counted".to_string(), |k| format!("{k:.1} KiB"))
        );
    }
    let _ = writeln!(
        o,
        "\n{:<11} {:>9} {:>8} {:>8} {:>8} {:>11} {:>9}",
        "scaling", "value", "events", "steps", "choices", "cpu µs/run", "ns/event"
    );
    for s in &r.scaling {
        let _ = writeln!(
            o,
            "{:<11} {:>9} {:>8} {:>8} {:>8} {:>11.1} {:>9.0}",
            s.axis, s.value, s.events, s.steps, s.choices, s.us_per_run, s.ns_per_event
        );
    }
    if let Some(k) = r.peak_rss_kib {
        let _ = writeln!(
            o,
            "peak resident memory of the whole process: {:.1} MiB",
            k as f64 / 1024.0
        );
    }
    o
}

#[cfg(test)]
mod scaling_tests {
    /// The scaling scenarios pass the loader's validation and each runs to its end inside
    /// the step budget.
    #[test]
    fn scaling_scenarios_are_valid_and_end() {
        for (axis, value, sc) in super::scaling_scenarios() {
            let ev = crate::replay::evaluate(&sc, crate::EngineKind::Fast)
                .unwrap_or_else(|e| panic!("{axis} {value}: {e}"));
            assert_ne!(
                ev.output.engine.end,
                crate::engine::EndReason::StepBudget,
                "{axis} {value}"
            );
        }
    }
}

//! `readysim bench search`: what the search promises, measured. For each seed, code under test
//! and signature class (property and place), the cases and CPU seconds it takes each strategy
//! to meet it (environment only: the code as it ships); whether every 1011 reason a code can
//! produce is recorded with that reason; whether the shrunk files keep their signatures; the
//! reference design's failures over a long run; and the CI workflow's step by step, seed after
//! seed, counting new signatures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::record::RecordDir;
use super::signature::{Place, Signature};
use super::{explore, strategy, Code, ExploreOptions, Quiet, Summary};
use crate::engine::EngineKind;
use crate::policy::Preset;
use crate::scenario::code::CodeId;
use crate::vocab::{Outcome, Reason, Violation};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Seeds of the per-seed measurements.
    pub seeds: Vec<u64>,
    /// Cases per seed and code.
    pub cases: u64,
    /// Worker threads.
    pub jobs: usize,
    /// The codes under test.
    pub codes: Vec<Code>,
    /// Cases of the long run of the reference design (0: skipped).
    pub reference_cases: u64,
    /// Seeds of the workflow's nightly runs, in order (empty: skipped).
    pub workflow_seeds: Vec<u64>,
    /// Record (shrink, classify) every new signature of every seed (off: count only).
    pub record: bool,
    /// Where recording runs write (a fresh folder per seed is made under it).
    pub scratch: PathBuf,
}

impl BenchOptions {
    /// Seeds 1 to 7, 20,000 cases, every preset plus p6 with its evening route, 200,000
    /// reference cases, the workflow on seeds 101 to 103, recording on.
    pub fn new(scratch: &Path) -> BenchOptions {
        let mut codes: Vec<Code> = Preset::ALL.into_iter().map(Code::preset).collect();
        codes.push(Code::parse("p6+route=f3").expect("a valid code"));
        BenchOptions {
            seeds: (1..=7).collect(),
            cases: 20_000,
            jobs: 1,
            codes,
            reference_cases: 200_000,
            workflow_seeds: vec![101, 102, 103],
            record: true,
            scratch: scratch.to_path_buf(),
        }
    }
}

/// One signature class (a property at a place, or the property as a whole when `place` is
/// none) under one code, and both strategies' first meetings per seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// The code under test.
    pub code: CodeId,
    /// The property.
    pub property: Violation,
    /// The place (none: any place).
    pub place: Option<Place>,
    /// Swarm's first case per seed (None: not within the budget).
    pub swarm: Vec<Option<u64>>,
    /// Uniform's, likewise.
    pub uniform: Vec<Option<u64>>,
    /// Swarm's CPU seconds to that case per seed (cases up to it times the pass's CPU per case).
    pub swarm_cpu_s: Vec<Option<f64>>,
    /// Uniform's, likewise.
    pub uniform_cpu_s: Vec<Option<f64>>,
    /// Median cases to first failure, uniform over swarm (a miss counts as the budget).
    pub ratio: f64,
}

/// A 1011 reason a code can produce: met and recorded with that reason, seed by seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReasonTarget {
    /// The code under test.
    pub code: CodeId,
    /// The close reason.
    pub reason: Reason,
    /// Swarm's first case per seed.
    pub found: Vec<Option<u64>>,
    /// Swarm's CPU seconds to it per seed.
    pub cpu_s: Vec<Option<f64>>,
    /// Uniform's first case per seed.
    pub uniform: Vec<Option<u64>>,
    /// Whether the seed recorded a file that replays with this 1011 and reason (None: not
    /// recording).
    pub recorded: Vec<Option<bool>>,
}

/// A (code, property) pair some seed met, and in how many seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pair {
    /// The code under test.
    pub code: CodeId,
    /// The property.
    pub property: Violation,
    /// Seeds that met it.
    pub seeds: usize,
}

/// The reference design over a long run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferenceRun {
    /// Seed.
    pub seed: u64,
    /// Cases.
    pub cases: u64,
    /// Cases that violated a default property.
    pub failures: u64,
    /// The signatures met.
    pub signatures: Vec<String>,
}

/// One nightly run of the shipped workflow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowRun {
    /// Its seed.
    pub seed: u64,
    /// The codes it gates on.
    pub gated: Vec<CodeId>,
    /// New signatures for the gated codes (the workflow is red iff above 0).
    pub new_gated: usize,
    /// New signatures over every preset (the study run beside it, which never gates).
    pub new_all: usize,
}

/// The whole measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchBench {
    /// Seeds used.
    pub seeds: Vec<u64>,
    /// Cases per seed and code.
    pub cases: u64,
    /// Every signature class either strategy met.
    pub cells: Vec<Cell>,
    /// The geometric mean of the ratios (above 1: swarm finds failures sooner).
    pub geometric_mean: f64,
    /// The smallest ratio.
    pub worst: f64,
    /// Every (code, 1011 reason) some seed met.
    pub reasons: Vec<ReasonTarget>,
    /// Every (code, property) some seed met.
    pub pairs: Vec<Pair>,
    /// Files recorded over every seed, and how many replay with the signature they were
    /// recorded for.
    pub recorded: (usize, usize),
    /// The reference design's long run.
    pub reference: Option<ReferenceRun>,
    /// The workflow's runs, in order.
    pub workflow: Vec<WorkflowRun>,
}

type Key = (CodeId, Violation, Option<Place>);
/// Per seed: the first case, and the CPU seconds to it.
type Firsts = (Vec<Option<u64>>, Vec<Option<f64>>);

/// This process's CPU time (user + system), in seconds.
fn cpu_seconds() -> f64 {
    crate::bench::process_cpu_seconds().unwrap_or(0.0)
}

/// Every signature class's first case per seed, and its CPU seconds: one pass per code so the
/// CPU per case is that code's.
fn firsts(o: &BenchOptions, kind: strategy::Kind) -> BTreeMap<Key, Firsts> {
    let props: Vec<Violation> = Violation::ALL
        .into_iter()
        .filter(|v| *v != Violation::Nondeterminism)
        .collect();
    let n = o.seeds.len();
    let mut out: BTreeMap<Key, Firsts> = BTreeMap::new();
    for (si, &seed) in o.seeds.iter().enumerate() {
        for code in &o.codes {
            let mut e = ExploreOptions::new(seed);
            e.codes = vec![code.clone()];
            e.cases = o.cases;
            e.properties = props.clone();
            e.strategy = kind;
            e.shrink = false;
            e.jobs = o.jobs;
            e.kind = EngineKind::Fast;
            let before = cpu_seconds();
            let s = explore(&e, None, &Quiet);
            let per_case = (cpu_seconds() - before) / o.cases.max(1) as f64;
            for p in &s.codes {
                for st in &p.properties {
                    let mut put = |k: Key, v: Option<u64>| {
                        let e = out
                            .entry(k)
                            .or_insert_with(|| (vec![None; n], vec![None; n]));
                        e.0[si] = v;
                        e.1[si] = v.map(|c| (c + 1) as f64 * per_case);
                    };
                    put((p.code.clone(), st.property, None), st.first_failure);
                    for pl in st.places.iter().filter(|pl| !pl.what_if) {
                        if pl.first_failure.is_some() {
                            put(
                                (p.code.clone(), st.property, Some(pl.place)),
                                pl.first_failure,
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

fn median(v: &[Option<u64>], miss: u64) -> f64 {
    let mut x: Vec<u64> = v.iter().map(|c| c.map_or(miss, |c| c + 1)).collect();
    x.sort_unstable();
    let n = x.len();
    if n == 0 {
        return miss as f64;
    }
    if n % 2 == 1 {
        x[n / 2] as f64
    } else {
        (x[n / 2 - 1] + x[n / 2]) as f64 / 2.0
    }
}

/// A 1011 of `reason`, as a place.
fn closed_1011(reason: Reason) -> Place {
    Place::Client {
        outcome: Some(Outcome::Closed1011),
        reason: Some(reason),
    }
}

/// One recording search per seed (every code, default properties, every new signature, into a
/// fresh folder): the signatures it recorded, and per file whether it replays with its own.
fn record_seed(o: &BenchOptions, seed: u64) -> (BTreeSet<Signature>, usize, usize) {
    let dir = o.scratch.join(format!("bench-search-{seed}"));
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(mut rec) = RecordDir::open(&dir, &[]) else {
        return (BTreeSet::new(), 0, 0);
    };
    let mut e = ExploreOptions::new(seed);
    e.codes = o.codes.clone();
    e.cases = o.cases;
    e.jobs = o.jobs;
    let s = explore(&e, Some(&mut rec), &Quiet);
    let mut recorded = BTreeSet::new();
    let (mut files, mut kept) = (0, 0);
    for f in s.found.iter().filter(|f| f.path.is_some()) {
        files += 1;
        let ok = f.path.as_ref().is_some_and(|p| {
            crate::scenario::load(p)
                .is_ok_and(|sc| super::shrink::shows(&sc, &f.signature, EngineKind::Fast))
        });
        if ok {
            kept += 1;
            recorded.insert(f.signature.clone());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    (recorded, files, kept)
}

/// The workflow's explore step for `seed`: gated codes (reference) and the study run over
/// every preset, both against the folder `known`, recording into it when `keep`.
fn workflow_run(o: &BenchOptions, seed: u64, known: &Path, keep: bool) -> WorkflowRun {
    let run = |codes: Vec<Code>| -> Summary {
        let target = if keep {
            known.to_path_buf()
        } else {
            o.scratch.join(format!("bench-workflow-{seed}"))
        };
        let _ = (!keep).then(|| std::fs::remove_dir_all(&target));
        let mut e = ExploreOptions::new(seed);
        e.codes = codes;
        e.cases = o.cases;
        e.jobs = o.jobs;
        let s = match RecordDir::open(&target, &[known.to_path_buf()]) {
            Ok(mut rec) => explore(&e, Some(&mut rec), &Quiet),
            Err(_) => explore(&e, None, &Quiet),
        };
        if !keep {
            let _ = std::fs::remove_dir_all(&target);
        }
        s
    };
    let gated = vec![Code::preset(Preset::Reference)];
    let g = run(gated.clone());
    let all = run(Preset::ALL.into_iter().map(Code::preset).collect());
    WorkflowRun {
        seed,
        gated: gated.iter().map(|c| c.id().clone()).collect(),
        new_gated: g.new_failures(),
        new_all: all.new_failures(),
    }
}

/// Runs the whole measurement.
pub fn run(o: &BenchOptions) -> SearchBench {
    let swarm = firsts(o, strategy::Kind::Swarm);
    let uniform = firsts(o, strategy::Kind::Uniform);
    let miss = o.cases + 1;
    let n = o.seeds.len();
    let none = (vec![None; n], vec![None; n]);
    let mut keys: Vec<Key> = swarm.keys().chain(uniform.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let mut cells = Vec::new();
    for k in keys {
        let s = swarm.get(&k).unwrap_or(&none).clone();
        let u = uniform.get(&k).unwrap_or(&none).clone();
        let ratio = median(&u.0, miss) / median(&s.0, miss);
        cells.push(Cell {
            code: k.0,
            property: k.1,
            place: k.2,
            swarm: s.0,
            uniform: u.0,
            swarm_cpu_s: s.1,
            uniform_cpu_s: u.1,
            ratio,
        });
    }
    let logs: Vec<f64> = cells.iter().map(|c| c.ratio.ln()).collect();
    let geometric_mean = if logs.is_empty() {
        1.0
    } else {
        (logs.iter().sum::<f64>() / logs.len() as f64).exp()
    };
    let worst = cells.iter().map(|c| c.ratio).fold(f64::INFINITY, f64::min);
    // Recording, seed by seed.
    let mut per_seed = Vec::new();
    let (mut files, mut kept) = (0, 0);
    if o.record {
        for &seed in &o.seeds {
            let (sigs, f, k) = record_seed(o, seed);
            files += f;
            kept += k;
            per_seed.push(sigs);
        }
    }
    let mut reasons = Vec::new();
    for code in &o.codes {
        for reason in Reason::ALL {
            let key = (
                code.id().clone(),
                Violation::Ws1011,
                Some(closed_1011(reason)),
            );
            let (found, cpu_s) = swarm.get(&key).cloned().unwrap_or_else(|| none.clone());
            if found.iter().all(Option::is_none) {
                continue;
            }
            let sig = Signature {
                code: code.id().clone(),
                what_if: false,
                property: Violation::Ws1011,
                place: closed_1011(reason),
            };
            reasons.push(ReasonTarget {
                code: code.id().clone(),
                reason,
                found,
                cpu_s,
                uniform: uniform
                    .get(&key)
                    .map_or_else(|| vec![None; n], |u| u.0.clone()),
                recorded: (0..n)
                    .map(|i| per_seed.get(i).map(|s| s.contains(&sig)))
                    .collect(),
            });
        }
    }
    let pairs = cells
        .iter()
        .filter(|c| c.place.is_none())
        .map(|c| Pair {
            code: c.code.clone(),
            property: c.property,
            seeds: c.swarm.iter().filter(|x| x.is_some()).count(),
        })
        .filter(|p| p.seeds > 0)
        .collect();
    let reference = (o.reference_cases > 0).then(|| {
        let mut e = ExploreOptions::new(o.seeds.first().copied().unwrap_or(1));
        e.codes = vec![Code::preset(Preset::Reference)];
        e.cases = o.reference_cases;
        e.shrink = false;
        e.jobs = o.jobs;
        let s = explore(&e, None, &Quiet);
        let failures = s.codes[0].properties.iter().map(|p| p.failures).sum();
        let signatures = s.codes[0]
            .properties
            .iter()
            .flat_map(|p| {
                p.places
                    .iter()
                    .map(move |pl| format!("{} at {}", p.property, pl.place))
            })
            .collect();
        ReferenceRun {
            seed: e.seed,
            cases: o.reference_cases,
            failures,
            signatures,
        }
    });
    let mut workflow = Vec::new();
    if !o.workflow_seeds.is_empty() {
        let known = o.scratch.join("bench-workflow-found");
        let _ = std::fs::remove_dir_all(&known);
        for (i, &seed) in o.workflow_seeds.iter().enumerate() {
            // The first night's files are committed; later nights commit nothing.
            workflow.push(workflow_run(o, seed, &known, i == 0));
        }
        let _ = std::fs::remove_dir_all(&known);
    }
    SearchBench {
        seeds: o.seeds.clone(),
        cases: o.cases,
        cells,
        geometric_mean,
        worst,
        reasons,
        pairs,
        recorded: (files, kept),
        reference,
        workflow,
    }
}

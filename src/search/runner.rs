//! The search loop: one proptest `TestRunner` per case with a seed derived from the run's seed,
//! the preset and the case number, so a case is the same whatever the job count or shard;
//! workers on J threads; results merged in case order, so the outcome does not depend on J.

use std::collections::{BTreeMap, BTreeSet};

use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

use super::classify;
use super::record::{file_name, RecordDir, Written};
use super::shrink::{self, generate_one};
use super::strategy;
use super::{ExploreOptions, Found, PresetSummary, PropertyStats, Summary};
use crate::engine::EngineKind;
use crate::judge::coverage::{self, Counts, Reached};
use crate::judge::Env;
use crate::policy::Preset;
use crate::replay;
use crate::scenario::slots;
use crate::trace::fnv1a64;
use crate::vocab::{Reason, Violation};

/// Cases evaluated between two merges. Workers are scoped threads started per chunk, and each
/// warms its engine's buffer pool anew: with 256 cases a chunk, 2 jobs ran only 1.18x as fast
/// as 1; with 4096, 1.45x. The results do not depend on it (they are merged in case order).
pub const CHUNK: usize = 4096;
/// Shrinks tried per property and preset, as a multiple of `--max-failures`, before the search
/// stops shrinking that property (duplicates cost a shrink each).
pub const SHRINKS_PER_FAILURE: usize = 5;

/// SplitMix64's finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The proptest seed of case `index` of `preset` in a run with seed `seed`.
pub fn case_seed(seed: u64, preset: Preset, index: u64) -> u64 {
    mix(mix(seed ^ fnv1a64(preset.name().as_bytes())) ^ index)
}

/// One case's runner configuration: a fixed seed, one case, no failure persistence, a fixed
/// shrink budget and no time limit (so results never depend on machine speed).
pub fn case_config(seed: u64, max_shrink_iters: u32) -> Config {
    Config {
        cases: 1,
        rng_seed: RngSeed::Fixed(seed),
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        source_file: None,
        max_shrink_iters,
        max_shrink_time: 0,
        max_local_rejects: 65_536,
        max_global_rejects: 1024,
        verbose: 0,
        ..Config::default()
    }
}

/// What one case did, in the hot loop (no text rendered).
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Case number.
    pub index: u64,
    /// The targeted properties it violated, in name order.
    pub violated: Vec<Violation>,
    /// The orderings it reached.
    pub reached: Reached,
    /// The close reasons of its 1011s, distinct, in name order.
    pub reasons: Vec<Reason>,
}

/// Generates, runs and judges case `index` of `preset`.
pub fn run_case(
    seed: u64,
    preset: Preset,
    index: u64,
    properties: &BTreeSet<Violation>,
    kind: EngineKind,
    strategy: strategy::Kind,
) -> CaseResult {
    let params = generate_one(case_seed(seed, preset, index), strategy);
    let sc = strategy::build(preset, &params);
    let ev = replay::evaluate(&sc, kind);
    CaseResult {
        index,
        violated: ev
            .violations
            .iter()
            .copied()
            .filter(|v| properties.contains(v))
            .collect(),
        reached: coverage::reached(&Env::of(&sc), &ev.output.trace, &ev.output.engine.choices),
        reasons: {
            let r = &ev.output.results;
            let set: BTreeSet<Reason> = r
                .clients
                .iter()
                .zip(&r.reasons)
                .filter(|(o, _)| **o == Some(crate::vocab::Outcome::Closed1011))
                .filter_map(|(_, reason)| *reason)
                .collect();
            set.into_iter().collect()
        },
    }
}

/// `f` over `items` on `jobs` threads (item k on worker k mod jobs), results in item order.
pub fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let jobs = jobs.max(1).min(items.len().max(1));
    if jobs == 1 {
        return items.iter().map(&f).collect();
    }
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let f = &f;
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(j)
                        .step_by(jobs)
                        .map(|(i, x)| (i, f(x)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a search worker panicked"))
            .collect()
    });
    let mut all: Vec<(usize, R)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// What the caller sees while the search runs.
pub trait Observer: Sync {
    /// `n` more cases were evaluated.
    fn cases(&self, n: u64);
    /// A failure was found and shrunk (recorded or already known).
    fn found(&self, f: &Found);
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {
    fn cases(&self, _: u64) {}
    fn found(&self, _: &Found) {}
}

struct PropState {
    stats: PropertyStats,
    shrinks: usize,
    seen: BTreeSet<String>,
}

/// Runs the search; `record`, when given, receives the shrunk failures.
pub fn explore(
    opts: &ExploreOptions,
    mut record: Option<&mut RecordDir>,
    observer: &dyn Observer,
) -> Summary {
    let properties: BTreeSet<Violation> = opts.properties.iter().copied().collect();
    let (k, n) = opts.shard;
    // This shard's cases are k-1, k-1+n, ... below `cases`: generated a chunk at a time, so a
    // budget of 2^64 cases costs nothing before the first case runs (and Ctrl-C is seen).
    let first = k.saturating_sub(1);
    let stride = n.max(1);
    let chunks = || {
        let mut mine = (first..opts.cases).step_by(stride as usize);
        std::iter::from_fn(move || {
            let chunk: Vec<u64> = mine.by_ref().take(CHUNK).collect();
            (!chunk.is_empty()).then_some(chunk)
        })
    };
    let mut summary = Summary {
        seed: opts.seed,
        presets: Vec::new(),
        found: Vec::new(),
        interrupted: false,
    };
    let interrupted = || {
        opts.interrupt
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    };
    for &preset in &opts.presets {
        if interrupted() {
            summary.interrupted = true;
            break;
        }
        let mut state: BTreeMap<Violation, PropState> = properties
            .iter()
            .map(|&p| {
                (
                    p,
                    PropState {
                        stats: PropertyStats {
                            property: p,
                            failures: 0,
                            distinct: 0,
                            first_failure: None,
                            first_by_reason: BTreeMap::new(),
                            upper_rate: None,
                        },
                        shrinks: 0,
                        seen: BTreeSet::new(),
                    },
                )
            })
            .collect();
        let k_max = opts.max_failures.max(1);
        // Without shrinking a property is done at its first failure (what `bench search`
        // measures); with it, once it has `k_max` distinct shrunk failures or used its budget.
        let need = |s: &PropState| {
            if !opts.shrink {
                // Counting runs the whole budget: every reason's first case is counted.
                return true;
            }
            (s.stats.distinct as usize) < k_max && s.shrinks < SHRINKS_PER_FAILURE * k_max
        };
        let mut counted = 0u64;
        let mut counts = Counts::default();
        let mut cache: BTreeMap<(u64, Violation), crate::scenario::Scenario> = BTreeMap::new();
        'chunks: for chunk in chunks() {
            let chunk = chunk.as_slice();
            if interrupted() {
                summary.interrupted = true;
                break;
            }
            let results = par_map(chunk, opts.jobs, |&i| {
                run_case(opts.seed, preset, i, &properties, opts.kind, opts.strategy)
            });
            observer.cases(results.len() as u64);
            for (pos, r) in results.iter().enumerate() {
                counted += 1;
                counts.add(r.reached);
                for &p in &r.violated {
                    let s = state.get_mut(&p).expect("a targeted property");
                    s.stats.failures += 1;
                    s.stats.first_failure.get_or_insert(r.index);
                    if p == Violation::Ws1011 {
                        for reason in &r.reasons {
                            s.stats.first_by_reason.entry(*reason).or_insert(r.index);
                        }
                    }
                    if !need(s) || !opts.shrink {
                        continue;
                    }
                    if !cache.contains_key(&(r.index, p)) {
                        // Shrink this failure and, speculatively, the next ones that would be
                        // shrunk if none of these turns out new: J at once, used in order.
                        let mut jobs = Vec::new();
                        let mut planned: BTreeMap<Violation, usize> = BTreeMap::new();
                        'look: for r2 in &results[pos..] {
                            for &p2 in &r2.violated {
                                if (r2.index == r.index && p2 < p)
                                    || cache.contains_key(&(r2.index, p2))
                                {
                                    continue;
                                }
                                let s2 = &state[&p2];
                                let pl = planned.entry(p2).or_insert(0);
                                if need(s2)
                                    && s2.shrinks + *pl < SHRINKS_PER_FAILURE * k_max
                                    && *pl < k_max - s2.stats.distinct as usize
                                {
                                    *pl += 1;
                                    jobs.push((r2.index, p2));
                                    if jobs.len() >= opts.jobs.max(1) {
                                        break 'look;
                                    }
                                }
                            }
                        }
                        let shrunk = par_map(&jobs, opts.jobs, |&(i, p2)| {
                            shrink::shrink(
                                preset,
                                case_seed(opts.seed, preset, i),
                                p2,
                                opts.kind,
                                opts.strategy,
                            )
                        });
                        for (j, sc) in jobs.into_iter().zip(shrunk) {
                            cache.insert(j, sc);
                        }
                    }
                    let sc = cache.remove(&(r.index, p)).expect("shrunk above");
                    let s = state.get_mut(&p).expect("a targeted property");
                    s.shrinks += 1;
                    let found = settle(opts, preset, p, r.index, sc, record.as_deref_mut());
                    if s.seen.insert(found.trace_hash.clone()) {
                        s.stats.distinct += 1;
                        observer.found(&found);
                        summary.found.push(found);
                    }
                }
                if state.values().all(|s| !need(s)) {
                    break 'chunks;
                }
            }
        }
        summary.presets.push(PresetSummary {
            preset,
            cases: counted,
            properties: state
                .into_values()
                .map(|s| {
                    let mut st = s.stats;
                    // The "rule of three": no failure in N cases bounds the rate below 3/N
                    // with 95 % confidence.
                    if st.failures == 0 && counted > 0 {
                        st.upper_rate = Some(3.0 / counted as f64);
                    }
                    st
                })
                .collect(),
            coverage: counts,
        });
    }
    summary
}

/// Names, replays, classifies and (when new) records one shrunk failure.
fn settle(
    opts: &ExploreOptions,
    preset: Preset,
    property: Violation,
    case: u64,
    mut sc: crate::scenario::Scenario,
    record: Option<&mut RecordDir>,
) -> Found {
    let probe = replay::report(&sc, replay::evaluate(&sc, opts.kind));
    let hash = probe.trace_hash.clone();
    sc.name = file_name(preset, property, &hash, false);
    sc.summary = format!(
        "found by search: {} under {} (case {case} of seed {})",
        property.name(),
        preset.name(),
        opts.seed
    );
    let rep = replay::replay(&sc, opts.kind);
    let non_default = slots::non_default(&sc);
    let known = record
        .as_ref()
        .is_some_and(|r| r.has(preset, property, &hash));
    let mut found = Found {
        preset,
        property,
        case,
        name: sc.name.clone(),
        path: None,
        known,
        trace_hash: hash.clone(),
        non_default,
        reasons: rep.client_reasons.iter().flatten().copied().collect(),
        class: None,
        depends_on: Vec::new(),
        error: None,
    };
    let Some(dir) = record else { return found };
    if known {
        return found;
    }
    let target: BTreeSet<Violation> = [property].into_iter().collect();
    let c = classify::classify(&sc, &target, opts.kind);
    found.class = Some(c.class);
    found.depends_on = c.depends_on.clone();
    sc.expect = Some(replay::expect_of(&rep));
    sc.classification = Some(c.block());
    let base = found.clone();
    let header = move |name: &str| {
        let mut f = base.clone();
        f.name = name.to_string();
        (opts.header)(&opts.command, &f)
    };
    let stem = |p: &std::path::Path| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string()
    };
    match dir.write(sc, preset, property, &hash, &header) {
        Ok(Written::New(p)) => {
            found.name = stem(&p);
            found.path = Some(p);
        }
        // Another process recorded the same failure first.
        Ok(Written::Known(p)) => {
            found.name = stem(&p);
            found.known = true;
        }
        Err(e) => found.error = Some(e.to_string()),
    }
    found
}

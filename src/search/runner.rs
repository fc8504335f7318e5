//! The search loop: each case drawn from a seed derived from the run's seed, the preset and the
//! case number, so a case is the same whatever the job count or shard; presets' passes and
//! their cases and shrinks as tasks on one pool of J threads; results merged in case and preset
//! order, so the outcome does not depend on J.

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

/// Cases evaluated between two merges (the point where a pass looks at failures and may stop).
/// The results do not depend on it: they are merged in case order.
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

/// `f` over `items`, results in item order: inline for one job, else on the current rayon
/// pool (the one [`explore`] installs with `--jobs` threads), whose threads persist across
/// calls and steal work from every preset's pass.
pub fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if jobs <= 1 || items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    use rayon::prelude::*;
    items.par_iter().map(&f).collect()
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

/// Passes `found` on to the caller's observer in preset order whatever order the presets'
/// passes run in, so what is printed does not depend on `--jobs`: preset k's failures are
/// held until every earlier preset's pass has ended.
struct InOrder<'a> {
    inner: &'a dyn Observer,
    state: std::sync::Mutex<InOrderState>,
}

struct InOrderState {
    /// The first preset whose pass has not ended: its failures go out at once.
    head: usize,
    /// Per preset: failures held back, and whether its pass has ended.
    held: Vec<(Vec<Found>, bool)>,
}

impl<'a> InOrder<'a> {
    fn new(inner: &'a dyn Observer, presets: usize) -> InOrder<'a> {
        InOrder {
            inner,
            state: std::sync::Mutex::new(InOrderState {
                head: 0,
                held: (0..presets).map(|_| (Vec::new(), false)).collect(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InOrderState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn found(&self, k: usize, f: &Found) {
        let mut st = self.lock();
        if k == st.head {
            self.inner.found(f);
        } else {
            st.held[k].0.push(f.clone());
        }
    }

    /// Preset k's pass ended: release what later passes held while they wait no more.
    fn ended(&self, k: usize) {
        let mut st = self.lock();
        st.held[k].1 = true;
        while st.head < st.held.len() && st.held[st.head].1 {
            st.head += 1;
            if st.head < st.held.len() {
                let head = st.head;
                for f in std::mem::take(&mut st.held[head].0) {
                    self.inner.found(&f);
                }
            }
        }
    }
}

/// What preset k's pass tells the caller: cases at once, failures through [`InOrder`].
struct PresetObserver<'o, 'a> {
    order: &'o InOrder<'a>,
    k: usize,
}

impl Observer for PresetObserver<'_, '_> {
    fn cases(&self, n: u64) {
        self.order.inner.cases(n);
    }
    fn found(&self, f: &Found) {
        self.order.found(self.k, f);
    }
}

struct PropState {
    stats: PropertyStats,
    shrinks: usize,
    seen: BTreeSet<String>,
}

/// One preset's share of a search.
struct Pass {
    summary: PresetSummary,
    found: Vec<Found>,
    interrupted: bool,
}

/// Runs the search; `record`, when given, receives the shrunk failures.
///
/// Presets are independent (their cases, shrinks and file names are keyed by preset), so with
/// more than one job their passes run at once on one pool of `--jobs` threads, each pass's
/// cases and shrinks as tasks on it; results are put together in preset order, so the
/// summary and the files are the same for any job count.
pub fn explore(
    opts: &ExploreOptions,
    record: Option<&mut RecordDir>,
    observer: &dyn Observer,
) -> Summary {
    let properties: BTreeSet<Violation> = opts.properties.iter().copied().collect();
    let record = record.map(std::sync::Mutex::new);
    let order = InOrder::new(observer, opts.presets.len());
    let one = |k: usize| {
        let seen = PresetObserver { order: &order, k };
        let pass = preset_pass(opts, &properties, opts.presets[k], record.as_ref(), &seen);
        order.ended(k);
        pass
    };
    let passes: Vec<Option<Pass>> = if opts.jobs <= 1 {
        let mut out = Vec::new();
        for k in 0..opts.presets.len() {
            let pass = one(k);
            let stop = pass.as_ref().is_none_or(|p| p.interrupted);
            out.push(pass);
            if stop {
                break;
            }
        }
        out
    } else {
        use rayon::prelude::*;
        match rayon::ThreadPoolBuilder::new()
            .num_threads(opts.jobs)
            .thread_name(|i| format!("readysim-search-{i}"))
            .build()
        {
            Ok(pool) => pool.install(|| (0..opts.presets.len()).into_par_iter().map(one).collect()),
            // No threads to be had: the same search, on this one.
            Err(_) => (0..opts.presets.len()).map(one).collect(),
        }
    };
    let mut summary = Summary {
        seed: opts.seed,
        presets: Vec::new(),
        found: Vec::new(),
        interrupted: passes.len() < opts.presets.len(),
    };
    for pass in passes {
        match pass {
            Some(p) => {
                summary.interrupted |= p.interrupted;
                summary.presets.push(p.summary);
                summary.found.extend(p.found);
            }
            None => summary.interrupted = true,
        }
    }
    summary
}

/// One preset's pass: its cases a chunk at a time, each failure of a property that still
/// needs one shrunk and settled. None when interrupted before it began.
fn preset_pass(
    opts: &ExploreOptions,
    properties: &BTreeSet<Violation>,
    preset: Preset,
    record: Option<&std::sync::Mutex<&mut RecordDir>>,
    observer: &dyn Observer,
) -> Option<Pass> {
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
    let interrupted = || {
        opts.interrupt
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    };
    if interrupted() {
        return None;
    }
    let mut found_here = Vec::new();
    let mut was_interrupted = false;
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
            was_interrupted = true;
            break;
        }
        let results = par_map(chunk, opts.jobs, |&i| {
            run_case(opts.seed, preset, i, properties, opts.kind, opts.strategy)
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
                    // Shrink this failure and, at once, every later one of this chunk that
                    // will be shrunk: per property as many as it still needs if each turns
                    // out new. Each of those is used (a property stops only on its own new
                    // failures), so the shrinks run in parallel and none is wasted.
                    let mut jobs = Vec::new();
                    let mut planned: BTreeMap<Violation, usize> = BTreeMap::new();
                    for r2 in &results[pos..] {
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
                let found = settle(opts, preset, p, r.index, sc, record);
                if s.seen.insert(found.trace_hash.clone()) {
                    s.stats.distinct += 1;
                    observer.found(&found);
                    found_here.push(found);
                }
            }
            if state.values().all(|s| !need(s)) {
                break 'chunks;
            }
        }
    }
    let summary = PresetSummary {
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
    };
    Some(Pass {
        summary,
        found: found_here,
        interrupted: was_interrupted,
    })
}

fn lock<'m, 'd>(
    m: &'m std::sync::Mutex<&'d mut RecordDir>,
) -> std::sync::MutexGuard<'m, &'d mut RecordDir> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names, replays, classifies and (when new) records one shrunk failure.
fn settle(
    opts: &ExploreOptions,
    preset: Preset,
    property: Violation,
    case: u64,
    mut sc: crate::scenario::Scenario,
    record: Option<&std::sync::Mutex<&mut RecordDir>>,
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
    // Other presets' passes share the folder: it is held only to look up and to write.
    let known = record.is_some_and(|r| lock(r).has(preset, property, &hash));
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
    let written = lock(dir).write(sc, preset, property, &hash, &header);
    match written {
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

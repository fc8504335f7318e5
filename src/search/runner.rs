//! The search loop: each case drawn from a seed derived from the run's seed, the code under
//! test and the case number, so a case is the same whatever the job count or shard; codes'
//! passes and their cases and shrinks as tasks on one pool of J threads; results merged in
//! case and code order, so the outcome does not depend on J.
//!
//! Each case is judged into signatures (property and place). The first case of each new
//! signature, in case order, is its representative: it is shrunk keeping that signature and
//! recorded. Whether a case is a representative depends only on the cases before it, so a
//! shard's representatives are the unsharded run's that fall in it, and `merge` can rebuild
//! the unsharded files exactly.

use std::collections::{BTreeMap, BTreeSet};

use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

use super::classify;
use super::record::{RecordDir, Written};
use super::shrink::{self, generate_one};
use super::signature::{self, Place, Signature};
use super::strategy;
use super::{Code, CodeSummary, ExploreOptions, Found, PlaceStats, PropertyStats, Summary};
use crate::engine::EngineKind;
use crate::judge::coverage::{self, Counts, Reached};
use crate::judge::Env;
use crate::replay;
use crate::scenario::{slots, Scenario};
use crate::trace::fnv1a64;
use crate::vocab::{Outcome, Reason, Violation};

/// Cases evaluated between two merges (the point where a pass looks at failures and may stop).
/// The results do not depend on it: they are merged in case order.
pub const CHUNK: usize = 4096;

/// SplitMix64's finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The proptest seed of case `index` of `code` in a run with seed `seed` (for a preset as it
/// ships, the code's text is the preset's name).
pub fn case_seed(seed: u64, code: &str, index: u64) -> u64 {
    mix(mix(seed ^ fnv1a64(code.as_bytes())) ^ index)
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

/// Everything a case depends on besides its code and its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draws {
    /// The run's seed.
    pub seed: u64,
    /// The strategy.
    pub strategy: strategy::Kind,
    /// Whether the code's knobs are drawn too (what-ifs).
    pub vary_code: bool,
    /// The engine that runs the cases.
    pub kind: EngineKind,
}

impl Draws {
    /// Swarm, the environment only, the fast engine.
    #[cfg(feature = "cli")]
    pub fn new(seed: u64) -> Draws {
        Draws {
            seed,
            strategy: strategy::Kind::Swarm,
            vary_code: false,
            kind: EngineKind::Fast,
        }
    }

    /// The draws of a search.
    pub fn of(o: &ExploreOptions) -> Draws {
        Draws {
            seed: o.seed,
            strategy: o.strategy,
            vary_code: o.vary_code,
            kind: o.kind,
        }
    }

    /// The scenario of case `index` of `code`.
    pub fn case(&self, code: &Code, index: u64) -> Scenario {
        let params = generate_one(
            case_seed(self.seed, code.id().as_str(), index),
            self.strategy,
        );
        strategy::build(code.template(), &params, self.vary_code)
    }
}

/// What one case did, in the hot loop (no text rendered).
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Case number.
    pub index: u64,
    /// The targeted properties it violated, in name order.
    pub violated: Vec<Violation>,
    /// Its (property, place) pairs for those properties, in order.
    pub places: Vec<(Violation, Place)>,
    /// Whether the case changed the code (a what-if).
    pub what_if: bool,
    /// The orderings it reached.
    pub reached: Reached,
}

/// Generates, runs and judges case `index` of `code`.
pub fn run_case(
    draws: &Draws,
    code: &Code,
    index: u64,
    properties: &BTreeSet<Violation>,
) -> CaseResult {
    let sc = draws.case(code, index);
    let ev = replay::evaluate_valid(&sc, draws.kind);
    let places = signature::places(&ev, properties);
    let mut violated: Vec<Violation> = places.iter().map(|(v, _)| *v).collect();
    violated.dedup();
    CaseResult {
        index,
        violated,
        places,
        what_if: !sc.what_if.is_empty(),
        reached: coverage::reached(&Env::of(&sc), &ev.output.trace, &ev.output.engine.choices),
    }
}

/// `f` over `items`, results in item order: inline for one job, else on the current rayon
/// pool (the one [`explore`] installs with `--jobs` threads), whose threads persist across
/// calls and steal work from every code's pass.
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

/// Passes `found` on to the caller's observer in code order whatever order the codes' passes
/// run in, so what is printed does not depend on `--jobs`: code k's failures are held until
/// every earlier code's pass has ended.
struct InOrder<'a> {
    inner: &'a dyn Observer,
    state: std::sync::Mutex<InOrderState>,
}

struct InOrderState {
    /// The first code whose pass has not ended: its failures go out at once.
    head: usize,
    /// Per code: failures held back, and whether its pass has ended.
    held: Vec<(Vec<Found>, bool)>,
}

impl<'a> InOrder<'a> {
    fn new(inner: &'a dyn Observer, codes: usize) -> InOrder<'a> {
        InOrder {
            inner,
            state: std::sync::Mutex::new(InOrderState {
                head: 0,
                held: (0..codes).map(|_| (Vec::new(), false)).collect(),
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

    /// Code k's pass ended: release what later passes held while they wait no more.
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

/// What code k's pass tells the caller: cases at once, failures through [`InOrder`].
struct CodeObserver<'o, 'a> {
    order: &'o InOrder<'a>,
    k: usize,
}

impl Observer for CodeObserver<'_, '_> {
    fn cases(&self, n: u64) {
        self.order.inner.cases(n);
    }
    fn found(&self, f: &Found) {
        self.order.found(self.k, f);
    }
}

/// One code's share of a search.
struct Pass {
    summary: CodeSummary,
    found: Vec<Found>,
    interrupted: bool,
}

/// Runs the search; `record`, when given, receives the shrunk failures and says which
/// signatures are known already.
///
/// Codes are independent (their cases, shrinks and file names are keyed by code), so with
/// more than one job their passes run at once on one pool of `--jobs` threads, each pass's
/// cases and shrinks as tasks on it; results are put together in code order, so the
/// summary and the files are the same for any job count.
pub fn explore(
    opts: &ExploreOptions,
    record: Option<&mut RecordDir>,
    observer: &dyn Observer,
) -> Summary {
    let properties: BTreeSet<Violation> = opts.properties.iter().copied().collect();
    let record = record.map(std::sync::Mutex::new);
    let order = InOrder::new(observer, opts.codes.len());
    let one = |k: usize| {
        let seen = CodeObserver { order: &order, k };
        let pass = code_pass(opts, &properties, &opts.codes[k], record.as_ref(), &seen);
        order.ended(k);
        pass
    };
    let passes: Vec<Option<Pass>> = if opts.jobs <= 1 {
        let mut out = Vec::new();
        for k in 0..opts.codes.len() {
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
            Ok(pool) => pool.install(|| (0..opts.codes.len()).into_par_iter().map(one).collect()),
            // No threads to be had: the same search, on this one.
            Err(_) => (0..opts.codes.len()).map(one).collect(),
        }
    };
    let mut summary = Summary {
        seed: opts.seed,
        codes: Vec::new(),
        found: Vec::new(),
        interrupted: passes.len() < opts.codes.len(),
        space: super::Space::of(opts.vary_code),
    };
    for pass in passes {
        match pass {
            Some(p) => {
                summary.interrupted |= p.interrupted;
                summary.codes.push(p.summary);
                summary.found.extend(p.found);
            }
            None => summary.interrupted = true,
        }
    }
    summary
}

/// The counts of one pass, kept as the cases come in order.
struct Tally {
    stats: BTreeMap<Violation, PropertyStats>,
    /// Every (what-if, property, place) seen, with its first case and count.
    seen: BTreeMap<(bool, Violation, Place), (u64, u64)>,
    /// New signatures scheduled per property.
    new: BTreeMap<Violation, usize>,
}

impl Tally {
    fn new(properties: &BTreeSet<Violation>) -> Tally {
        Tally {
            stats: properties
                .iter()
                .map(|&p| {
                    (
                        p,
                        PropertyStats {
                            property: p,
                            failures: 0,
                            distinct: 0,
                            first_failure: None,
                            first_by_reason: BTreeMap::new(),
                            reason_upper_rate: BTreeMap::new(),
                            places: Vec::new(),
                            upper_rate: None,
                        },
                    )
                })
                .collect(),
            seen: BTreeMap::new(),
            new: BTreeMap::new(),
        }
    }

    /// Counts case `r`; returns the signatures it is the first case of, in order.
    fn count(&mut self, r: &CaseResult) -> Vec<(bool, Violation, Place)> {
        for &p in &r.violated {
            let s = self.stats.get_mut(&p).expect("a targeted property");
            s.failures += 1;
            s.first_failure.get_or_insert(r.index);
        }
        let mut firsts = Vec::new();
        for &(p, place) in &r.places {
            if let Place::Client {
                reason: Some(reason),
                outcome: Some(Outcome::Closed1011),
            } = place
            {
                if p == Violation::Ws1011 {
                    let s = self.stats.get_mut(&p).expect("a targeted property");
                    s.first_by_reason.entry(reason).or_insert(r.index);
                }
            }
            let key = (r.what_if, p, place);
            let e = self.seen.entry(key).or_insert((r.index, 0));
            e.1 += 1;
            if e.1 == 1 {
                firsts.push(key);
            }
        }
        firsts
    }

    /// The per-property stats at the end of a pass of `cases` cases: per place, the
    /// signatures seen and the known ones of this code that no case showed, each unseen one
    /// with its rule-of-three bound.
    fn finish(
        self,
        cases: u64,
        code: &Code,
        known: &BTreeMap<Signature, String>,
    ) -> Vec<PropertyStats> {
        let bound = (cases > 0).then(|| 3.0 / cases as f64);
        let mut out = Vec::new();
        for (p, mut st) in self.stats {
            for (&(what_if, q, place), &(first, n)) in &self.seen {
                if q != p {
                    continue;
                }
                st.distinct += 1;
                let sig = Signature {
                    code: code.id().clone(),
                    what_if,
                    property: p,
                    place,
                };
                st.places.push(PlaceStats {
                    place,
                    what_if,
                    failures: n,
                    first_failure: Some(first),
                    known: known.contains_key(&sig),
                    upper_rate: None,
                });
            }
            for sig in known.keys() {
                let seen = self.seen.contains_key(&(sig.what_if, p, sig.place));
                if sig.code == *code.id() && sig.property == p && !seen {
                    st.places.push(PlaceStats {
                        place: sig.place,
                        what_if: sig.what_if,
                        failures: 0,
                        first_failure: None,
                        known: true,
                        upper_rate: bound,
                    });
                }
            }
            if p == Violation::Ws1011 {
                for r in Reason::ALL {
                    if !st.first_by_reason.contains_key(&r) {
                        if let Some(b) = bound {
                            st.reason_upper_rate.insert(r, b);
                        }
                    }
                }
            }
            if st.failures == 0 {
                // The "rule of three": no failure in N cases bounds the rate below 3/N with
                // 95 % confidence.
                st.upper_rate = bound;
            }
            out.push(st);
        }
        out
    }
}

/// One code's pass: its cases a chunk at a time; the first case of every new signature
/// shrunk (keeping it), settled and recorded, up to `--max-failures` per property. None when
/// interrupted before it began.
fn code_pass(
    opts: &ExploreOptions,
    properties: &BTreeSet<Violation>,
    code: &Code,
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
    let draws = Draws::of(opts);
    let known: BTreeMap<Signature, String> =
        record.map(|r| lock(r).known.clone()).unwrap_or_default();
    let mut found_here = Vec::new();
    let mut was_interrupted = false;
    let mut tally = Tally::new(properties);
    let limit = opts.max_failures.unwrap_or(usize::MAX).max(1);
    let mut counted = 0u64;
    let mut counts = Counts::default();
    'chunks: for chunk in chunks() {
        let chunk = chunk.as_slice();
        if interrupted() {
            was_interrupted = true;
            break;
        }
        let results = par_map(chunk, opts.jobs, |&i| run_case(&draws, code, i, properties));
        observer.cases(results.len() as u64);
        // The chunk's representatives, in case order: known ones are named, new ones shrunk
        // (all at once, in parallel) while their property still needs some.
        let mut jobs: Vec<(u64, Signature)> = Vec::new();
        let mut metas: Vec<Found> = Vec::new();
        for r in &results {
            counted += 1;
            counts.add(r.reached);
            for (what_if, property, place) in tally.count(r) {
                let sig = Signature {
                    code: code.id().clone(),
                    what_if,
                    property,
                    place,
                };
                if let Some(name) = known.get(&sig) {
                    metas.push(known_found(&sig, code, r.index, name));
                    continue;
                }
                let n = tally.new.entry(property).or_insert(0);
                if opts.shrink && *n < limit {
                    *n += 1;
                    jobs.push((r.index, sig));
                }
            }
        }
        for f in metas {
            observer.found(&f);
            found_here.push(f);
        }
        let shrunk = par_map(&jobs, opts.jobs, |(i, sig)| {
            let start = draws.case(code, *i);
            let seed = case_seed(draws.seed, code.id().as_str(), *i);
            shrink::shrink(&start, code, seed, sig, &draws)
        });
        for ((i, sig), sc) in jobs.into_iter().zip(shrunk) {
            let f = settle(opts, code, &sig, i, sc, record);
            observer.found(&f);
            found_here.push(f);
        }
        let done = properties
            .iter()
            .all(|p| tally.new.get(p).copied().unwrap_or(0) >= limit);
        if opts.shrink && opts.max_failures.is_some() && done {
            break 'chunks;
        }
    }
    let summary = CodeSummary {
        code: code.id().clone(),
        preset: code.preset_of(),
        cases: counted,
        properties: tally.finish(counted, code, &known),
        coverage: counts,
    };
    Some(Pass {
        summary,
        found: found_here,
        interrupted: was_interrupted,
    })
}

/// A signature met that a file already has.
fn known_found(sig: &Signature, code: &Code, case: u64, name: &str) -> Found {
    Found {
        signature: sig.clone(),
        preset: code.preset_of(),
        property: sig.property,
        case,
        name: name.to_string(),
        path: None,
        known: true,
        trace_hash: String::new(),
        non_default: Vec::new(),
        what_if: Vec::new(),
        reasons: Vec::new(),
        class: None,
        depends_on: Vec::new(),
        windows: Vec::new(),
        error: None,
    }
}

fn lock<'m, 'd>(
    m: &'m std::sync::Mutex<&'d mut RecordDir>,
) -> std::sync::MutexGuard<'m, &'d mut RecordDir> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names, replays, classifies and (when recording) records one shrunk failure.
fn settle(
    opts: &ExploreOptions,
    code: &Code,
    sig: &Signature,
    case: u64,
    mut sc: Scenario,
    record: Option<&std::sync::Mutex<&mut RecordDir>>,
) -> Found {
    let probe = replay::report(&sc, replay::evaluate_valid(&sc, opts.kind));
    let hash = probe.trace_hash.clone();
    sc.name = super::record::file_name(sig, &hash, false);
    sc.summary = format!(
        "found by search: {} at {} under {}{} (case {case} of seed {})",
        sig.property,
        sig.place,
        sig.code,
        if sig.what_if { ", a what-if" } else { "" },
        opts.seed
    );
    let rep = replay::replay_valid(&sc, opts.kind);
    let mut found = Found {
        signature: sig.clone(),
        preset: code.preset_of(),
        property: sig.property,
        case,
        name: sc.name.clone(),
        path: None,
        known: false,
        trace_hash: hash.clone(),
        non_default: slots::non_default(&sc),
        what_if: sc.what_if.clone(),
        reasons: rep.client_reasons.iter().flatten().copied().collect(),
        class: None,
        depends_on: Vec::new(),
        windows: Vec::new(),
        error: None,
    };
    let Some(dir) = record else { return found };
    let c = classify::classify(&sc, &classify::Target::Signature(sig.clone()), opts.kind);
    found.class = Some(c.class);
    found.depends_on = c.depends_on.clone();
    found.windows = c.windows.clone();
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
    let written = lock(dir).write(sc, sig, &hash, &header);
    match written {
        Ok(Written::New(p)) => {
            found.name = stem(&p);
            found.path = Some(p);
        }
        // Another process recorded the same signature first.
        Ok(Written::Known(p)) => {
            found.name = stem(&p);
            found.known = true;
        }
        Err(e) => found.error = Some(e.to_string()),
    }
    found
}

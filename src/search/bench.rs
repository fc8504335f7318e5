//! `readysim bench search`: the two strategies side by side. For each seed, preset and
//! property (and, for `ws-1011`, each close reason), the cases it takes each strategy to hit a
//! first failure, their ratio, and whether every shipped failure class is rediscovered.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{explore, strategy, ExploreOptions, Quiet};
use crate::engine::EngineKind;
use crate::policy::Preset;
use crate::vocab::{Reason, Violation};

/// One cell: a (preset, property, close reason) and both strategies' first failures per seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// The preset.
    pub preset: Preset,
    /// The property.
    pub property: Violation,
    /// For `ws-1011`: the close reason.
    pub reason: Option<Reason>,
    /// Swarm's first failing case per seed (None: not within the budget).
    pub swarm: Vec<Option<u64>>,
    /// Uniform's, likewise.
    pub uniform: Vec<Option<u64>>,
    /// Median cases to first failure, uniform over swarm (a miss counts as the budget).
    pub ratio: f64,
}

/// A failure class that must be rediscovered: one a shipped scenario shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Class {
    /// The scenario that shows it.
    pub scenario: String,
    /// Its preset.
    pub preset: Preset,
    /// Its property.
    pub property: Violation,
    /// For `ws-1011`: the reason.
    pub reason: Option<Reason>,
    /// Swarm's first failing case per seed.
    pub found: Vec<Option<u64>>,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchBench {
    /// Seeds used.
    pub seeds: Vec<u64>,
    /// Cases per seed and preset.
    pub cases: u64,
    /// Every cell either strategy found.
    pub cells: Vec<Cell>,
    /// The geometric mean of the ratios (above 1: swarm finds failures sooner).
    pub geometric_mean: f64,
    /// The smallest ratio (below 0.5: a cell where uniform is more than twice as fast).
    pub worst: f64,
    /// The shipped classes and whether swarm found each in every seed.
    pub classes: Vec<Class>,
}

type Key = (Preset, Violation, Option<Reason>);

/// First failures of one strategy, seed by seed, by cell.
fn firsts(
    kind: strategy::Kind,
    seeds: &[u64],
    cases: u64,
    jobs: usize,
) -> BTreeMap<Key, Vec<Option<u64>>> {
    let props: Vec<Violation> = Violation::ALL
        .into_iter()
        .filter(|v| *v != Violation::Nondeterminism)
        .collect();
    let mut out: BTreeMap<Key, Vec<Option<u64>>> = BTreeMap::new();
    for (si, &seed) in seeds.iter().enumerate() {
        let mut o = ExploreOptions::new(seed);
        o.cases = cases;
        o.properties = props.clone();
        o.strategy = kind;
        o.shrink = false;
        o.jobs = jobs;
        o.kind = EngineKind::Fast;
        let s = explore(&o, None, &Quiet);
        for p in &s.presets {
            for st in &p.properties {
                let mut put = |k: Key, v: Option<u64>| {
                    out.entry(k).or_insert_with(|| vec![None; seeds.len()])[si] = v;
                };
                put((p.preset, st.property, None), st.first_failure);
                for (r, c) in &st.first_by_reason {
                    put((p.preset, st.property, Some(*r)), Some(*c));
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

/// Runs both strategies over `seeds`, `cases` per seed and preset, and checks `classes`
/// (scenario name, preset, property, reason) against swarm's findings.
pub fn run(
    seeds: &[u64],
    cases: u64,
    jobs: usize,
    classes: &[(String, Preset, Violation, Option<Reason>)],
) -> SearchBench {
    let swarm = firsts(strategy::Kind::Swarm, seeds, cases, jobs);
    let uniform = firsts(strategy::Kind::Uniform, seeds, cases, jobs);
    let miss = cases + 1;
    let mut keys: Vec<Key> = swarm.keys().chain(uniform.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let none = vec![None; seeds.len()];
    let mut cells = Vec::new();
    for k in keys {
        let s = swarm.get(&k).unwrap_or(&none).clone();
        let u = uniform.get(&k).unwrap_or(&none).clone();
        if s.iter().chain(&u).all(Option::is_none) {
            continue;
        }
        let ratio = median(&u, miss) / median(&s, miss);
        cells.push(Cell {
            preset: k.0,
            property: k.1,
            reason: k.2,
            swarm: s,
            uniform: u,
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
    let classes = classes
        .iter()
        .map(|(name, preset, property, reason)| Class {
            scenario: name.clone(),
            preset: *preset,
            property: *property,
            reason: *reason,
            found: swarm
                .get(&(*preset, *property, *reason))
                .cloned()
                .unwrap_or_else(|| none.clone()),
        })
        .collect();
    SearchBench {
        seeds: seeds.to_vec(),
        cases,
        cells,
        geometric_mean,
        worst,
        classes,
    }
}

//! Search: explore scenario parameters and same-instant orderings from a proptest seed, shrink
//! each failure, record it as a scenario file, classify it as a race or a fault, and count
//! which named orderings the search reached.
//!
//! ```text
//! seed --case seed--> draws (strategy) --build--> Scenario --evaluate--> violations
//!   failing property --shrink--> minimal Scenario --classify--> recorded file (record)
//! ```

pub mod bench;
pub mod classify;
pub mod merge;
pub mod record;
pub mod runner;
pub mod shrink;
pub mod strategy;

use std::path::PathBuf;

use serde::Serialize;

use crate::engine::EngineKind;
use crate::judge::coverage;
use crate::policy::Preset;
use crate::scenario::Class;
use crate::vocab::Violation;

pub use runner::{explore, Observer, Quiet};

/// The properties a search checks by default (the failures users see).
pub const DEFAULT_PROPERTIES: [Violation; 6] = [
    Violation::Ws1011,
    Violation::FalseReady,
    Violation::SpuriousFailure,
    Violation::LostMessage,
    Violation::LostConnection,
    Violation::Hang,
];

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    /// The run's seed: the same seed gives the same cases, failures and files.
    pub seed: u64,
    /// Cases per preset (before sharding).
    pub cases: u64,
    /// Presets, in order.
    pub presets: Vec<Preset>,
    /// The properties (oracles) that count as failures.
    pub properties: Vec<Violation>,
    /// Distinct failures per preset and property after which that property stops being
    /// shrunk; the preset stops when every property got there.
    pub max_failures: usize,
    /// Worker threads.
    pub jobs: usize,
    /// (k, n): this run takes the cases whose number is k-1 modulo n.
    pub shard: (u64, u64),
    /// The engine.
    pub kind: EngineKind,
    /// The command line written into recorded files (without options that do not change
    /// the result, such as `--jobs`).
    pub command: String,
    /// Set from outside (Ctrl-C) to stop after the cases in flight; what was found so far is
    /// kept, and every file written so far is whole.
    pub interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The comment lines on top of a recorded file, from `command` and what was found (the
    /// CLI adds the commands that reproduce and classify it).
    pub header: HeaderFn,
    /// Which strategy draws the cases.
    pub strategy: strategy::Kind,
    /// Shrink, classify and record failures (off: only count them, as `bench search` does).
    pub shrink: bool,
}

/// Builds a recorded file's comment lines from the explore command and the failure.
pub type HeaderFn = fn(command: &str, found: &Found) -> Vec<String>;

/// How many of `cases` cases shard `k` of `n` runs (those with index % n == k - 1), without
/// counting them one by one.
pub fn shard_cases(cases: u64, k: u64, n: u64) -> u64 {
    let (first, n) = (k.saturating_sub(1), n.max(1));
    if cases <= first {
        0
    } else {
        (cases - first - 1) / n + 1
    }
}

#[cfg(test)]
mod shard_tests {
    use super::shard_cases;

    #[test]
    fn shard_cases_matches_counting() {
        for cases in 0..40u64 {
            for n in 1..6u64 {
                for k in 1..=n {
                    let counted = (0..cases).filter(|i| i % n == k - 1).count() as u64;
                    assert_eq!(shard_cases(cases, k, n), counted, "{cases} {k}/{n}");
                }
            }
        }
        assert_eq!(shard_cases(u64::MAX, 1, 1), u64::MAX);
        assert_eq!(shard_cases(u64::MAX, 2, 2), u64::MAX / 2);
    }
}

/// The header every recorded file gets: how it was found and what it was shrunk to.
pub fn plain_header(command: &str, f: &Found) -> Vec<String> {
    let mut h = vec![
        format!("Found by: {command}"),
        format!(
            "  case {} of preset {}, property {}; shrunk to {} non-default parameter(s): {}",
            f.case,
            f.preset,
            f.property,
            f.non_default.len(),
            if f.non_default.is_empty() {
                "none".to_string()
            } else {
                f.non_default.join(", ")
            }
        ),
    ];
    if let Some(c) = &f.class {
        h.push(format!(
            "Classified: {c}{}",
            if f.depends_on.is_empty() {
                " (fails for every timing tried)".to_string()
            } else {
                format!(", depends on {}", f.depends_on.join(", "))
            }
        ));
    }
    h
}

impl ExploreOptions {
    /// Defaults: 1000 cases, every preset, the default properties, one failure per property,
    /// one job, no sharding, the fast engine.
    pub fn new(seed: u64) -> ExploreOptions {
        ExploreOptions {
            seed,
            cases: 1000,
            presets: Preset::ALL.to_vec(),
            properties: DEFAULT_PROPERTIES.to_vec(),
            max_failures: 1,
            jobs: 1,
            shard: (1, 1),
            kind: EngineKind::Fast,
            command: format!("explore --seed {seed}"),
            interrupt: None,
            header: plain_header,
            strategy: strategy::Kind::Swarm,
            shrink: true,
        }
    }
}

/// Counts of one property under one preset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyStats {
    /// The property.
    pub property: Violation,
    /// Cases that violated it.
    pub failures: u64,
    /// Distinct shrunk failures (by trace hash).
    pub distinct: u64,
    /// The first case number that violated it.
    pub first_failure: Option<u64>,
    /// For `ws-1011`: the first case of each close reason.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub first_by_reason: std::collections::BTreeMap<crate::vocab::Reason, u64>,
    /// When no case violated it: the 95 % upper bound on its failure rate per case (3/N).
    pub upper_rate: Option<f64>,
}

/// The result for one preset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PresetSummary {
    /// The preset.
    pub preset: Preset,
    /// Cases run (up to the stop).
    pub cases: u64,
    /// Per property, in name order.
    pub properties: Vec<PropertyStats>,
    /// Cases that reached each named ordering.
    #[serde(serialize_with = "ser_counts")]
    pub coverage: coverage::Counts,
}

fn ser_counts<S: serde::Serializer>(c: &coverage::Counts, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(c.0.len()))?;
    for (n, v) in c.named() {
        m.serialize_entry(n, &v)?;
    }
    m.end()
}

/// One shrunk failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Preset.
    pub preset: Preset,
    /// Property violated.
    pub property: Violation,
    /// The case it came from.
    pub case: u64,
    /// The scenario's name (its file stem).
    pub name: String,
    /// Where it was written (none when known already or not recording).
    pub path: Option<PathBuf>,
    /// Already recorded before this run (same property and trace hash).
    pub known: bool,
    /// Trace hash of the shrunk scenario.
    pub trace_hash: String,
    /// Parameters left away from their defaults.
    pub non_default: Vec<String>,
    /// The close reasons of the shrunk failure's 1011s and 1008s, in attempt order.
    pub reasons: Vec<crate::vocab::Reason>,
    /// Race or fault (classified when recorded).
    pub class: Option<Class>,
    /// Parameters the failure depends on.
    pub depends_on: Vec<String>,
    /// A write error, if the file could not be written.
    pub error: Option<String>,
}

/// The result of a search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Per preset, in order.
    pub presets: Vec<PresetSummary>,
    /// Shrunk distinct failures, in the order found.
    pub found: Vec<Found>,
    /// The search was interrupted before its case budget.
    pub interrupted: bool,
}

impl Summary {
    /// Coverage over every preset.
    pub fn coverage(&self) -> coverage::Counts {
        let mut c = coverage::Counts::default();
        for p in &self.presets {
            c.merge(&p.coverage);
        }
        c
    }

    /// Distinct failures in all.
    pub fn failures(&self) -> usize {
        self.found.len()
    }

    /// Distinct failures that were not recorded before this run.
    pub fn new_failures(&self) -> usize {
        self.found.iter().filter(|f| !f.known).count()
    }
}

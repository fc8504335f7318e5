//! Search: explore the environment (and, for what-ifs, the code) from a proptest seed, name
//! each failure by its signature, shrink the first case of every new signature keeping that
//! signature, classify it as a race or a fault, record it as a scenario file, and count which
//! named orderings the search reached.
//!
//! ```text
//! seed --case seed--> draws (strategy) --build(code)--> Scenario --evaluate--> signatures
//!   new signature --shrink (keeps it)--> minimal Scenario --classify--> recorded file
//! ```

#[cfg(feature = "cli")]
pub(crate) mod bench;
pub mod classify;
pub mod merge;
pub mod record;
pub(crate) mod runner;
pub(crate) mod shrink;
pub(crate) mod signature;
pub mod strategy;
#[cfg(test)]
mod target_tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::engine::EngineKind;
use crate::judge::coverage;
use crate::policy::Preset;
use crate::scenario::code::{code_of, parse_code, CodeId};
use crate::scenario::{Class, Scenario};
use crate::vocab::{Reason, Violation};

pub use runner::{explore, Observer, Quiet};
pub use signature::{Place, Signature};

/// The properties a search checks by default (the failures users see).
pub const DEFAULT_PROPERTIES: [Violation; 6] = [
    Violation::Ws1011,
    Violation::FalseReady,
    Violation::SpuriousFailure,
    Violation::LostMessage,
    Violation::LostConnection,
    Violation::Hang,
];

/// A code under test: a preset and the code fields the user named for it (`p6+route=f3`, the
/// evening route of that day). Search holds all of it still unless asked to vary the code.
#[derive(Clone, Debug, PartialEq)]
pub struct Code {
    template: Scenario,
    id: CodeId,
}

impl Code {
    /// A preset's code as it ships.
    pub fn preset(p: Preset) -> Code {
        let mut template = Scenario::new("code", "the code under test");
        template.policy.preset = p;
        Code::of(template)
    }

    /// `p6` or `p6+route=f3+keepalive_ms=30000`: a preset, then code knobs (`[policy]` knobs
    /// by name, other code fields by dotted path), each `+KNOB=VALUE`.
    pub fn parse(text: &str) -> Result<Code, String> {
        parse_code(text).map(Code::of)
    }

    fn of(template: Scenario) -> Code {
        let id = code_of(&template);
        Code { template, id }
    }

    /// Its text (`p6+route=f3`).
    pub fn id(&self) -> &CodeId {
        &self.id
    }

    /// Its preset.
    pub fn preset_of(&self) -> Preset {
        self.template.policy.preset
    }

    /// A scenario whose code fields are this code's and everything else the defaults.
    pub fn template(&self) -> &Scenario {
        &self.template
    }
}

/// What to explore.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExploreOptions {
    /// The run's seed: the same seed gives the same cases, failures and files.
    pub seed: u64,
    /// Cases per code under test, in all (a shard takes its share of them).
    pub cases: u64,
    /// The codes under test, in order.
    pub codes: Vec<Code>,
    /// The properties (oracles) that count as failures.
    pub properties: Vec<Violation>,
    /// New signatures per code and property that are shrunk and recorded (the first ones in
    /// case order); the code's pass stops early once every property has them. `None`: every
    /// new signature the budget finds.
    pub max_failures: Option<usize>,
    /// Vary the code's own knobs too: every case that changes one is a what-if.
    pub vary_code: bool,
    /// Worker threads.
    pub jobs: usize,
    /// (k, n): this run takes the cases whose number is k-1 modulo n.
    pub shard: (u64, u64),
    /// The engine.
    pub kind: EngineKind,
    /// The command line written into recorded files (without options that do not change
    /// the result, such as `--jobs` and `--shard`).
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

/// The header every recorded file gets: how it was found, what it is (a finding about the
/// code under test, or a what-if) and what it was shrunk to.
pub fn plain_header(command: &str, f: &Found) -> Vec<String> {
    let mut h = vec![
        format!("Found by: {command}"),
        format!(
            "  case {} of code {}, property {}; shrunk to {} non-default parameter(s): {}",
            f.case,
            f.signature.code,
            f.signature.property,
            f.non_default.len(),
            if f.non_default.is_empty() {
                "none".to_string()
            } else {
                f.non_default.join(", ")
            }
        ),
        format!("Signature: {}", f.signature),
        if f.signature.what_if {
            format!(
                "What-if: the code under test ({}) with its knobs changed ({}); not a finding \
                 about the code as it is",
                f.signature.code,
                f.what_if.join(", ")
            )
        } else {
            format!(
                "Finding about the code under test ({}) as it is: only the environment was chosen",
                f.signature.code
            )
        },
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
    /// Defaults: 1000 cases, every preset as it ships, the default properties, every new
    /// signature, the environment only, one job, no sharding, the fast engine.
    pub fn new(seed: u64) -> ExploreOptions {
        ExploreOptions {
            seed,
            cases: 1000,
            codes: Preset::ALL.into_iter().map(Code::preset).collect(),
            properties: DEFAULT_PROPERTIES.to_vec(),
            max_failures: None,
            vary_code: false,
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

    /// Explores `presets` as they ship.
    pub fn presets(mut self, presets: &[Preset]) -> ExploreOptions {
        self.codes = presets.iter().map(|p| Code::preset(*p)).collect();
        self
    }
}

/// Counts of one place of one property under one code: the signature classes of a search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlaceStats {
    /// The place.
    pub place: Place,
    /// Whether these are what-ifs.
    pub what_if: bool,
    /// Cases that showed it.
    pub failures: u64,
    /// The first case that did.
    pub first_failure: Option<u64>,
    /// A file with this signature already existed.
    pub known: bool,
    /// When no case showed it: the 95 % upper bound on its rate per case (3/N).
    pub upper_rate: Option<f64>,
}

/// Counts of one property under one code.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyStats {
    /// The property.
    pub property: Violation,
    /// Cases that violated it.
    pub failures: u64,
    /// Distinct signatures seen.
    pub distinct: u64,
    /// The first case number that violated it.
    pub first_failure: Option<u64>,
    /// For `ws-1011`: the first case of each close reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub first_by_reason: BTreeMap<Reason, u64>,
    /// For `ws-1011`: the 95 % upper bound (3/N) of each close reason no case showed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reason_upper_rate: BTreeMap<Reason, f64>,
    /// Per place: the signatures seen, and those recorded before that no case showed.
    pub places: Vec<PlaceStats>,
    /// When no case violated it: the 95 % upper bound on its failure rate per case (3/N).
    pub upper_rate: Option<f64>,
}

/// The result for one code under test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodeSummary {
    /// The code under test.
    pub code: CodeId,
    /// Its preset.
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

/// One failure signature a search met: shrunk and settled when new, or known already.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// What failed where, in which code.
    pub signature: Signature,
    /// The code's preset.
    pub preset: Preset,
    /// The property violated (the signature's).
    pub property: Violation,
    /// The first case that showed it.
    pub case: u64,
    /// The scenario's name (its file stem): the recorded file, or the known one.
    pub name: String,
    /// Where it was written (none when known already or not recording).
    pub path: Option<PathBuf>,
    /// A file with this signature existed before this run.
    pub known: bool,
    /// Trace hash of the shrunk scenario (empty when known: not shrunk).
    pub trace_hash: String,
    /// Parameters left away from their defaults.
    pub non_default: Vec<String>,
    /// The code fields a what-if changed.
    pub what_if: Vec<String>,
    /// The close reasons of the shrunk failure's 1011s and 1008s, in attempt order.
    pub reasons: Vec<Reason>,
    /// Race or fault (classified when recorded).
    pub class: Option<Class>,
    /// Parameters the failure depends on.
    pub depends_on: Vec<String>,
    /// The same as windows, for the terminal's short form (the JSON keeps `depends_on`).
    #[serde(skip)]
    pub windows: Vec<classify::Window>,
    /// A write error, if the file could not be written.
    pub error: Option<String>,
}

/// The space a search drew from: what "nothing found" is a statement about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Space {
    /// `environment` (the code held still) or `environment and code` (what-ifs).
    pub varied: &'static str,
    /// Client entries per case, before storms expand.
    pub client_entries: (usize, usize),
    /// Connections in one storm.
    pub storm: (u32, u32),
    /// Messages per client.
    pub messages: (u32, u32),
    /// Reconnects per client.
    pub reconnects: (u32, u32),
    /// Keepalive round trip.
    pub rtt_ms: (u64, u64),
    /// Outages and latency spikes per list (Redis and auth).
    pub windows: (usize, usize),
    /// Decision values, each in 0..=99, applying from a drawn instant.
    pub decisions: (usize, usize),
    /// The horizon of an unshrunk case.
    pub horizon_ms: u64,
    /// Fields of the varied roles that search never draws (held at their file defaults).
    pub never_drawn: Vec<&'static str>,
}

impl Space {
    /// The space of a search that varies the code or not.
    pub fn of(vary_code: bool) -> Space {
        use crate::scenario::fields::{Draw, Role, FIELDS};
        use strategy as s;
        // Drawn as structure rather than through their rows.
        const STRUCTURE: [&str; 9] = [
            "environment.name",
            "environment.cloud_run",
            "redis.server.up_from_ms",
            "redis.server.outages",
            "redis.server.ping_spikes",
            "auth.outages",
            "auth.spikes",
            "clients",
            "run.decisions",
        ];
        let never_drawn = FIELDS
            .iter()
            .filter(|f| {
                let varied = match f.role() {
                    Role::Environment => true,
                    Role::Code => vary_code,
                    Role::Run => false,
                };
                varied
                    && f.draw == Draw::None
                    && !f.path.contains("[]")
                    && !STRUCTURE.contains(&f.path)
                    && f.path != "policy.preset"
            })
            .map(|f| f.path)
            .collect();
        Space {
            varied: if vary_code {
                "environment and code"
            } else {
                "environment"
            },
            client_entries: (0, s::MAX_CLIENTS),
            storm: (*s::STORM.start(), *s::STORM.end()),
            messages: (0, s::MAX_MESSAGES),
            reconnects: (0, s::MAX_RECONNECTS),
            rtt_ms: (1, s::MAX_RTT_MS),
            windows: (0, s::MAX_WINDOWS),
            decisions: (0, s::MAX_DECISIONS),
            horizon_ms: s::HORIZON_MS,
            never_drawn,
        }
    }

    /// One paragraph in words.
    pub fn describe(&self) -> String {
        format!(
            "searched: the {} only; {}-{} client entries a case, storms of {}-{} connections \
             at one instant, {}-{} messages, {}-{} reconnects, rtt {}-{} ms, {}-{} outages and \
             {}-{} spikes per dependency, {}-{} decisions (0-99) from a drawn instant, horizon \
             {} ms{}",
            self.varied,
            self.client_entries.0,
            self.client_entries.1,
            self.storm.0,
            self.storm.1,
            self.messages.0,
            self.messages.1,
            self.reconnects.0,
            self.reconnects.1,
            self.rtt_ms.0,
            self.rtt_ms.1,
            self.windows.0,
            self.windows.1,
            self.windows.0,
            self.windows.1,
            self.decisions.0,
            self.decisions.1,
            self.horizon_ms,
            if self.never_drawn.is_empty() {
                String::new()
            } else {
                format!("; never drawn: {}", self.never_drawn.join(", "))
            }
        )
    }
}

/// The result of a search.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Per code under test, in order.
    pub codes: Vec<CodeSummary>,
    /// Signatures met, in the order found: new ones shrunk (and recorded), known ones named.
    pub found: Vec<Found>,
    /// The search was interrupted before its case budget.
    pub interrupted: bool,
    /// What was searched.
    pub space: Space,
}

impl Summary {
    /// Coverage over every preset.
    pub fn coverage(&self) -> coverage::Counts {
        let mut c = coverage::Counts::default();
        for p in &self.codes {
            c.merge(&p.coverage);
        }
        c
    }

    /// Distinct signatures met in all.
    pub fn failures(&self) -> usize {
        self.found.len()
    }

    /// Signatures that were not recorded before this run.
    pub fn new_failures(&self) -> usize {
        self.found.iter().filter(|f| !f.known).count()
    }

    /// Signatures met (some case showed them), counted from the tallies: with `--count-only`
    /// nothing is settled into [`Summary::found`], yet a new signature is just as new.
    /// Returns (met, of which new).
    pub fn signatures_met(&self) -> (usize, usize) {
        let met = self
            .codes
            .iter()
            .flat_map(|c| &c.properties)
            .flat_map(|p| &p.places)
            .filter(|pl| pl.failures > 0);
        met.fold((0, 0), |(all, new), pl| {
            (all + 1, new + usize::from(!pl.known))
        })
    }
}

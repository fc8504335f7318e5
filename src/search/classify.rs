//! Race or fault: replay a failure under perturbations of each timing parameter and of the
//! decisions, and record which parameters the failure depends on.
//!
//! A failure that survives every perturbation tried is `deterministic` (a fault: it fails for
//! every timing); one that goes away under some perturbation is a `race` on the parameters
//! that made it go away.

use std::collections::BTreeSet;

use serde::Serialize;

use super::shrink::valid;
use crate::engine::EngineKind;
use crate::replay;
use crate::scenario::{fields, limits, Class, Classification, Scenario};
use crate::trace::fnv1a64;
use crate::vocab::Violation;

/// The parameter name used for the decisions list.
pub const DECISIONS: &str = "run.decisions";

/// One perturbed run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Trial {
    /// The parameter changed.
    pub parameter: String,
    /// Its value in this run (a number, or a decisions list).
    pub value: String,
    /// Whether the failure was still there.
    pub still_fails: bool,
}

/// The result of classifying one failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// The violations that make up the failure (a run still fails if it shows any of them).
    pub target: Vec<Violation>,
    /// Race or fault.
    pub class: Class,
    /// Parameters some perturbation of which made the failure go away, in file order.
    pub depends_on: Vec<String>,
    /// Every perturbed run.
    pub trials: Vec<Trial>,
}

impl Classified {
    /// The `[classification]` block to record in the file.
    pub fn block(&self) -> Classification {
        Classification {
            class: self.class,
            depends_on: self.depends_on.clone(),
        }
    }
}

/// The failure a scenario shows: every violation of one run (`nondeterminism` aside).
pub fn target_of(sc: &Scenario, kind: EngineKind) -> BTreeSet<Violation> {
    replay::evaluate(sc, kind).violations
}

/// Values tried for a parameter whose value is `v`: 0, half, double, +-1 ms, and three fixed
/// pseudo-random values in `0..=max(2v, 10000)` derived from the parameter's name.
pub fn perturbations(name: &str, v: u64, min: u64) -> Vec<u64> {
    let span = v.saturating_mul(2).max(10_000);
    let mut out = vec![
        0,
        v / 2,
        v.saturating_mul(2),
        v.saturating_add(1),
        v.saturating_sub(1),
    ];
    for i in 0..3u64 {
        let h = fnv1a64(format!("{name}/{v}/{i}").as_bytes());
        out.push(h % (span + 1));
    }
    let mut seen = BTreeSet::new();
    out.into_iter()
        .map(|x| x.max(min).min(limits::MAX_TIME_MS))
        .filter(|x| *x != v && seen.insert(*x))
        .collect()
}

/// Decision lists tried: none (FIFO), constant lists, the list reversed, each value plus one,
/// and three fixed pseudo-random lists.
pub fn decision_variants(d: &[u32]) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(), vec![1; 8], vec![2; 8], vec![3; 8]];
    if !d.is_empty() {
        out.push(d.iter().rev().copied().collect());
        out.push(d.iter().map(|x| x.saturating_add(1)).collect());
    }
    for i in 0..3u64 {
        let list = (0..12u64)
            .map(|j| (fnv1a64(format!("decisions/{i}/{j}").as_bytes()) % 100) as u32)
            .collect();
        out.push(list);
    }
    let mut seen = BTreeSet::new();
    out.into_iter()
        .filter(|x| x.as_slice() != d && seen.insert(x.clone()))
        .collect()
}

/// Classifies the failure `target` of `sc` (a run still fails if it shows any violation of
/// `target`). Perturbed scenarios the file format would reject are skipped.
pub fn classify(sc: &Scenario, target: &BTreeSet<Violation>, kind: EngineKind) -> Classified {
    let still = |c: &Scenario| {
        replay::evaluate(c, kind)
            .violations
            .iter()
            .any(|v| target.contains(v))
    };
    let mut trials = Vec::new();
    let mut depends_on = Vec::new();
    let slots: Vec<(String, u64, u64)> = fields::timing_slots(sc)
        .into_iter()
        .map(|s| (s.name(), s.get(sc), s.min()))
        .collect();
    for (idx, (name, v, min)) in slots.iter().enumerate() {
        let mut depends = false;
        for x in perturbations(name, *v, *min) {
            let c = fields::with(sc, idx, x);
            if !valid(&c) {
                continue;
            }
            let f = still(&c);
            depends |= !f;
            trials.push(Trial {
                parameter: name.clone(),
                value: x.to_string(),
                still_fails: f,
            });
        }
        if depends {
            depends_on.push(name.clone());
        }
    }
    let mut depends = false;
    for d in decision_variants(&sc.run.decisions) {
        let mut c = sc.clone();
        c.run.decisions = d.clone();
        let f = still(&c);
        depends |= !f;
        trials.push(Trial {
            parameter: DECISIONS.into(),
            value: format!("{d:?}"),
            still_fails: f,
        });
    }
    if depends {
        depends_on.push(DECISIONS.into());
    }
    Classified {
        target: target.iter().copied().collect(),
        class: if depends_on.is_empty() {
            Class::Deterministic
        } else {
            Class::Race
        },
        depends_on,
        trials,
    }
}

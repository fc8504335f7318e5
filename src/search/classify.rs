//! Race or fault: replay a failure under small perturbations of each timing field and of the
//! same-instant order, and say which fields it depends on, with the window in which it fails.
//!
//! The target is the failure itself: each violated property at its site (the same check or the
//! same client attempt) with the same observable outcome there (the startup verdict and failed
//! services, or the client's outcome and close reason). A perturbed run still fails when every
//! site of the target still shows it. A perturbation that changes the environment's
//! availability class (Redis usable before the verdict or not; the auth service able to answer
//! or not) is not a failure going away and is not counted. **Race** iff some small perturbation
//! removes the failure; otherwise **deterministic**.

use std::collections::BTreeSet;

use serde::Serialize;

use super::shrink::valid;
use crate::engine::EngineKind;
use crate::judge::{Finding, Site};
use crate::replay::{self, Evaluation};
use crate::scenario::{limits, slots, Class, Classification, Scenario};
use crate::spec;
use crate::vocab::{Check, EnvName, Outcome, Reason, StartupOutcome, Violation};

/// The parameter name used for the decisions list.
pub const DECISIONS: &str = "run.decisions";
/// Shifts tried for a timing field, in ms (times its scale), each way.
pub const SHIFTS: [u64; 9] = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/// One perturbed run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Trial {
    /// The parameter changed.
    pub parameter: String,
    /// Its value in this run (a number, or a decisions list).
    pub value: String,
    /// Whether the failure was still there.
    pub still_fails: bool,
    /// Whether the perturbation changed the environment's availability class (not counted).
    pub other_class: bool,
}

/// A field the failure depends on, and the values around the file's in which it still fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The field's dotted path.
    pub field: String,
    /// The smallest value found that still fails (`None`: nothing below passed).
    pub from: Option<u64>,
    /// The largest value found that still fails (`None`: nothing above passed).
    pub to: Option<u64>,
    /// The value in the file.
    pub value: u64,
}

impl Window {
    /// `redis.server.up_from_ms: fails for 520..2160` (an open end where nothing passed).
    pub fn describe(&self) -> String {
        if self.field == DECISIONS {
            return format!("{DECISIONS}: another same-instant order passes");
        }
        let range = match (self.from, self.to) {
            (Some(a), Some(b)) => format!("fails for {a}..{b}"),
            (Some(a), None) => format!("fails from {a} up"),
            (None, Some(b)) => format!("fails up to {b}"),
            (None, None) => format!("fails at {}", self.value),
        };
        format!("{}: {range}", self.field)
    }

    fn width(&self) -> u64 {
        match (self.from, self.to) {
            (Some(a), Some(b)) => b - a,
            (Some(a), None) => self.value.saturating_sub(a).saturating_add(1 << 40),
            (None, Some(b)) => b.saturating_sub(self.value).saturating_add(1 << 40),
            (None, None) => u64::MAX,
        }
    }
}

/// The result of classifying one failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// The properties that make up the failure.
    pub target: Vec<Violation>,
    /// Race or fault.
    pub class: Class,
    /// The fields with a flip, each with its window, shortest window first.
    pub depends_on: Vec<String>,
    /// The same, as data.
    pub windows: Vec<Window>,
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

/// What a site's failure looks like from outside.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Observed {
    Startup(Option<StartupOutcome>, Vec<Check>),
    Client(Option<Outcome>, Option<Reason>),
}

/// One site of the failure: the finding and what was observed there.
type Item = (Finding, Observed);

fn observed(ev: &Evaluation, site: Site) -> Observed {
    let r = &ev.output.results;
    match site {
        Site::Client { index, attempt } => match r.attempt_position(index, attempt) {
            Some(i) => Observed::Client(r.clients[i], r.reasons[i]),
            None => Observed::Client(None, None),
        },
        _ => Observed::Startup(r.startup, r.failed_services.clone()),
    }
}

fn items(ev: &Evaluation, target: &BTreeSet<Violation>) -> BTreeSet<Item> {
    ev.findings
        .keys()
        .filter(|f| target.contains(&f.violation))
        .map(|f| (*f, observed(ev, f.site)))
        .collect()
}

/// The failure a scenario shows by default: its violations among the properties search
/// targets, or every violation when it has none of those.
pub fn target_of(sc: &Scenario, kind: EngineKind) -> BTreeSet<Violation> {
    let all = replay::evaluate(sc, kind).violations;
    let main: BTreeSet<Violation> = all
        .iter()
        .copied()
        .filter(|v| super::DEFAULT_PROPERTIES.contains(v))
        .collect();
    if main.is_empty() {
        all
    } else {
        main
    }
}

/// The environment's availability class: whether the manager could reach a usable Redis at
/// some instant up to `until` (up, a ping and a handshake both shorter than its timeout),
/// whether the auth service can answer at all (its latency under every bound), and whether
/// the port is bound when each client first connects.
fn availability(sc: &Scenario, until: u64) -> (bool, bool, Vec<bool>) {
    let srv = &sc.redis.server;
    let timeout = sc.redis.manager.ping_timeout_ms;
    let usable = |t: u64| {
        srv.up(t)
            && srv.ping_ms.saturating_add(srv.spike_extra(t)) < timeout
            && srv.connect_ms.saturating_add(srv.spike_extra(t)) < timeout
    };
    let mut edges: Vec<u64> = vec![0, srv.up_from_ms];
    edges.extend(srv.outages.iter().map(|[_, e]| *e));
    edges.extend(
        srv.ping_spikes
            .iter()
            .map(|s| s.at_ms.saturating_add(s.extra_ms)),
    );
    let redis = edges.into_iter().any(|t| t <= until && usable(t));
    let a = &sc.auth;
    let precheck = if sc.environment.name == EnvName::Staging {
        spec::AUTH_PRECHECK_STAGING_MS
    } else {
        spec::AUTH_PRECHECK_MS
    };
    let auth = a.latency_ms < precheck && a.latency_ms.saturating_mul(2) < spec::AUTH_CALL_MS;
    let listening = sc
        .clients
        .iter()
        .map(|c| c.at_ms >= sc.server.bind_ms)
        .collect();
    (redis, auth, listening)
}

/// The values tried for a field at `v`: `v` shifted by [`SHIFTS`] times its scale (1 ms up
/// to 10 s, then 1 per 10 s of the value) each way, within the field's range.
pub fn perturbations(v: u64, min: u64, max: u64) -> Vec<u64> {
    let scale = (v / 10_000).max(1);
    let mut out: Vec<u64> = SHIFTS
        .iter()
        .flat_map(|d| {
            let d = d * scale;
            [v.checked_sub(d), v.checked_add(d)]
        })
        .flatten()
        .filter(|x| *x >= min && *x <= max.min(limits::MAX_TIME_MS) && *x != v)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Decision lists tried: none (FIFO), constant lists, the list reversed, each value plus one.
pub fn decision_variants(d: &[u32]) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(), vec![1; 8], vec![2; 8], vec![3; 8]];
    if !d.is_empty() {
        out.push(d.iter().rev().copied().collect());
        out.push(d.iter().map(|x| x.saturating_add(1)).collect());
    }
    let mut seen = BTreeSet::new();
    out.into_iter()
        .filter(|x| x.as_slice() != d && seen.insert(x.clone()))
        .collect()
}

/// How one perturbed scenario compares: still failing, and in another availability class.
struct Judge<'a> {
    kind: EngineKind,
    target: &'a BTreeSet<Violation>,
    base: BTreeSet<Item>,
    class: (bool, bool, Vec<bool>),
    until: u64,
}

impl Judge<'_> {
    /// `(still fails, other class)`, or None when the file format would reject the scenario.
    fn trial(&self, c: &Scenario) -> Option<(bool, bool)> {
        if !valid(c) {
            return None;
        }
        if availability(c, self.until) != self.class {
            return Some((true, true));
        }
        let got = items(&replay::evaluate(c, self.kind), self.target);
        Some((self.base.is_subset(&got), false))
    }
}

/// Classifies the failure `target` of `sc`.
pub fn classify(sc: &Scenario, target: &BTreeSet<Violation>, kind: EngineKind) -> Classified {
    let base_ev = replay::evaluate(sc, kind);
    let until = base_ev
        .output
        .results
        .verdict_at_ms
        .unwrap_or(sc.run.horizon_ms);
    let judge = Judge {
        kind,
        target,
        base: items(&base_ev, target),
        class: availability(sc, until),
        until,
    };
    let mut trials = Vec::new();
    let mut windows = Vec::new();
    for slot in slots::timing_slots(sc) {
        let name = slot.name();
        let v = slot.get(sc);
        let run_at = |x: u64| {
            let mut c = sc.clone();
            slot.set(&mut c, x);
            judge.trial(&c)
        };
        let mut below: Option<u64> = None; // the largest passing value below v
        let mut above: Option<u64> = None; // the smallest passing value above v
        for x in perturbations(v, slot.min(), slot.field.max) {
            let Some((still, other)) = run_at(x) else {
                continue;
            };
            trials.push(Trial {
                parameter: name.clone(),
                value: x.to_string(),
                still_fails: still,
                other_class: other,
            });
            if !still {
                if x < v {
                    below = Some(below.map_or(x, |b| b.max(x)));
                } else if above.is_none() {
                    above = Some(x);
                }
            }
        }
        if below.is_none() && above.is_none() {
            continue;
        }
        // The boundary between the nearest passing value and v, by bisection (1 ms).
        let fails = |x: u64| run_at(x).is_none_or(|(still, _)| still);
        let from = below.map(|mut lo| {
            let mut hi = v; // lo passes, hi fails
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if fails(mid) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            hi
        });
        let to = above.map(|mut hi| {
            let mut lo = v; // lo fails, hi passes
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if fails(mid) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            lo
        });
        windows.push(Window {
            field: name,
            from,
            to,
            value: v,
        });
    }
    let mut order_matters = false;
    for d in decision_variants(&sc.run.decisions) {
        let mut c = sc.clone();
        c.run.decisions = d.clone();
        let Some((still, other)) = judge.trial(&c) else {
            continue;
        };
        order_matters |= !still;
        trials.push(Trial {
            parameter: DECISIONS.into(),
            value: format!("{d:?}"),
            still_fails: still,
            other_class: other,
        });
    }
    windows.sort_by_key(|w| (w.width(), w.field.clone()));
    if order_matters {
        windows.push(Window {
            field: DECISIONS.into(),
            from: None,
            to: None,
            value: 0,
        });
    }
    Classified {
        target: target.iter().copied().collect(),
        class: if windows.is_empty() {
            Class::Deterministic
        } else {
            Class::Race
        },
        depends_on: windows.iter().map(Window::describe).collect(),
        windows,
        trials,
    }
}

//! Race or fault: replay a failure under small perturbations of each timing of the
//! environment (and of the code, for what-ifs) and of the same-instant order, and say which
//! fields it depends on, with the window in which it fails.
//!
//! A failure is a [`Target`]: a signature (the same property at the same place), a whole
//! violation, or the finding of one client attempt. A perturbation removes it only when the
//! run no longer shows it at all (a 1011 that moves from client 3 to client 4 is the same
//! violation). A perturbation that changes the environment's availability class (Redis usable
//! before the verdict or not; the auth service able to answer or not; the port bound when a
//! client first connects or not) is not a failure going away and is not counted. **Race** iff
//! some small perturbation removes the failure; otherwise **deterministic**. Every perturbed
//! run is evaluated once and judged for every target.
// Without the CLI, parts only the CLI reads are unused; the default build still checks them.
// (`classify --write` and explore's report are CLI callers.)
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::shrink::valid;
use super::signature::{self, Signature};
use crate::engine::EngineKind;
use crate::judge::Site;
use crate::replay::{self, Evaluation};
use crate::scenario::deps::Dep;
use crate::scenario::fields::Role;
use crate::scenario::{limits, slots, Class, Classification, Scenario};
use crate::vocab::Violation;

/// What is classified: one failure of a run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "target")]
pub enum Target {
    /// A signature: gone when the run no longer shows that property at that place.
    Signature(Signature),
    /// A violation: gone when the run no longer violates it anywhere.
    Violation {
        /// Which.
        violation: Violation,
    },
    /// Any of these violations: gone when one of them is gone (a file's failure as a whole).
    AnyOf {
        /// Which.
        violations: Vec<Violation>,
    },
    /// One client attempt's finding: gone when that attempt no longer has it.
    Attempt {
        /// 1-based client index.
        client: u32,
        /// 0 for the first connection, then one per reconnect.
        attempt: u32,
        /// The violation found there.
        violation: Violation,
    },
}

impl Target {
    /// Whether a run of `sc` shows the target.
    fn holds(&self, sc: &Scenario, ev: &Evaluation) -> bool {
        match self {
            Target::Signature(sig) => {
                let props: BTreeSet<Violation> = [sig.property].into_iter().collect();
                ev.violations.contains(&sig.property)
                    && signature::of_run(sc, ev, &props).contains(sig)
            }
            Target::Violation { violation } => ev.violations.contains(violation),
            Target::AnyOf { violations } => violations.iter().all(|v| ev.violations.contains(v)),
            Target::Attempt {
                client,
                attempt,
                violation,
            } => ev.findings.keys().any(|f| {
                f.violation == *violation
                    && f.site
                        == Site::Client {
                            index: *client,
                            attempt: *attempt,
                        }
            }),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Signature(s) => write!(f, "{s}"),
            Target::Violation { violation } => write!(f, "{violation}"),
            Target::AnyOf { violations } => {
                let names: Vec<&str> = violations.iter().map(|v| v.name()).collect();
                write!(f, "{}", names.join(" + "))
            }
            Target::Attempt {
                client,
                attempt,
                violation,
            } => write!(f, "{violation} at client#{client} attempt {attempt}"),
        }
    }
}

/// The parameter name used for the decisions list.
pub(crate) const DECISIONS: &str = "run.decisions";
/// Shifts tried for a timing field, in ms (times its scale), each way.
pub(crate) const SHIFTS: [u64; 9] = [1, 2, 5, 10, 20, 50, 100, 200, 500];

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

    /// How far from the file's value the nearest passing value lies (ms, or units), and
    /// that value: the boundary is bisected to 1, so it is the window's edge plus one.
    /// `None` for the decisions entry.
    pub fn nearest_pass(&self) -> Option<(u64, u64)> {
        if self.field == DECISIONS {
            return None;
        }
        let below = self.from.map(|a| (self.value - a + 1, a - 1));
        let above = self.to.map(|b| (b - self.value + 1, b + 1));
        match (below, above) {
            (Some(l), Some(h)) => Some(if h.0 < l.0 { h } else { l }),
            (l, h) => l.or(h),
        }
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

/// At most `shown` of the windows closest to flipping, as one line for a terminal:
/// `passes with startup.init_ms = 1 (is 0), ...; 7 more fields flip it`. The whole list
/// stays in the file's `[classification]` block and in `readysim classify`'s output.
pub fn nearest_flips(windows: &[Window], shown: usize) -> String {
    let mut near: Vec<(u64, &Window, u64)> = windows
        .iter()
        .filter_map(|w| w.nearest_pass().map(|(d, at)| (d, w, at)))
        .collect();
    near.sort_by(|a, b| (a.0, &a.1.field).cmp(&(b.0, &b.1.field)));
    let mut parts: Vec<String> = near
        .iter()
        .take(shown)
        .map(|(_, w, at)| format!("{} = {at} (is {})", w.field, w.value))
        .collect();
    let order = windows.iter().any(|w| w.field == DECISIONS);
    if order {
        parts.push("another same-instant order".into());
    }
    let mut line = format!("passes with {}", parts.join(", "));
    let more = near.len().saturating_sub(shown);
    if more > 0 {
        line.push_str(&format!(
            "; {more} more field{} flip it",
            if more == 1 { "" } else { "s" }
        ));
    }
    line
}

/// The result of classifying one failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// The failure.
    pub target: Target,
    /// Race or fault.
    pub class: Class,
    /// The fields with a flip, each with its window, shortest window first.
    pub depends_on: Vec<String>,
    /// The same, as data.
    pub windows: Vec<Window>,
    /// Every perturbed run, and whether this target was still there.
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

/// The failure a scenario shows by default: its violations among the properties search
/// targets, or every violation when it has none of those.
pub fn target_of(sc: &Scenario, kind: EngineKind) -> BTreeSet<Violation> {
    let all = replay::evaluate_valid(sc, kind).violations;
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

/// A file's own failure, the one `classify --write` records: the signature search recorded it
/// for (its name starts with that signature's stem), else its violations among `shown`
/// together.
pub fn file_target(sc: &Scenario, shown: &BTreeSet<Violation>) -> Target {
    super::record::signatures_of(sc)
        .into_iter()
        .filter(|s| shown.contains(&s.property))
        .find(|s| sc.name.starts_with(&format!("{}-", s.stem())))
        .map(Target::Signature)
        .unwrap_or(Target::AnyOf {
            violations: shown.iter().copied().collect(),
        })
}

/// Every target of a run, for `properties`: each violation, then each client attempt's
/// finding, in order.
pub(crate) fn targets_of(ev: &Evaluation, properties: &BTreeSet<Violation>) -> Vec<Target> {
    let mut out: Vec<Target> = properties
        .iter()
        .filter(|v| ev.violations.contains(v))
        .map(|&violation| Target::Violation { violation })
        .collect();
    let attempts: BTreeSet<Target> = ev
        .findings
        .keys()
        .filter(|f| properties.contains(&f.violation))
        .filter_map(|f| match f.site {
            Site::Client { index, attempt } => Some(Target::Attempt {
                client: index,
                attempt,
                violation: f.violation,
            }),
            _ => None,
        })
        .collect();
    out.extend(attempts);
    out
}

/// The environment's availability class: per dependency of the table, whether the code could
/// use it at some instant up to `until` (Redis: up, a ping and a handshake both shorter than
/// the manager's timeout; the auth service: its latency under every bound), and whether the
/// port is bound when each client first connects.
fn availability(sc: &Scenario, until: u64) -> (Vec<bool>, Vec<bool>) {
    let deps = Dep::all().map(|d| (d.row().usable)(sc, until)).collect();
    let listening = sc
        .clients
        .iter()
        .map(|c| c.at_ms >= sc.server.bind_ms)
        .collect();
    (deps, listening)
}

/// The values tried for a field at `v`: `v` shifted by [`SHIFTS`] times its scale (1 ms up
/// to 10 s, then 1 per 10 s of the value) each way, within the field's range.
pub(crate) fn perturbations(v: u64, min: u64, max: u64) -> Vec<u64> {
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
pub(crate) fn decision_variants(d: &[u32]) -> Vec<Vec<u32>> {
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

/// What one perturbed run showed: each target still there or not (every target counts as
/// still there when the environment's availability class changed); None when the file format
/// rejects the scenario.
struct Judge<'a> {
    kind: EngineKind,
    targets: &'a [Target],
    class: (Vec<bool>, Vec<bool>),
    until: u64,
    budget: &'a Budget<'a>,
    /// Runs made and engine steps spent so far.
    runs: std::cell::Cell<u64>,
    steps: std::cell::Cell<u64>,
}

/// How much work a classification may do: engine steps summed over its runs (a heavy file's
/// runs cost up to its step budget each), and who to tell after each run.
pub struct Budget<'a> {
    /// Steps over all runs; past it the classification stops and reports [`Exhausted`].
    pub max_steps: u64,
    /// Called with the number of runs made so far, after each run (a progress bar).
    pub on_run: Option<&'a dyn Fn(u64)>,
}

impl Budget<'_> {
    /// No bound, no progress.
    pub const UNLIMITED: Budget<'static> = Budget {
        max_steps: u64::MAX,
        on_run: None,
    };
}

/// A classification stopped at its budget: what it had spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    /// Runs made.
    pub runs: u64,
    /// Engine steps spent.
    pub steps: u64,
}

impl Exhausted {
    /// The error a command prints: `NAME: WHAT stopped at its budget after RUNS runs and N
    /// engine steps (--max-steps M); nothing was written. HINT` (`runs` as the command counts
    /// them, e.g. `59 of 20000`).
    pub fn message(
        &self,
        name: &str,
        what: &str,
        runs: &str,
        max_steps: u64,
        hint: &str,
    ) -> String {
        format!(
            "{name}: {what} stopped at its budget after {runs} runs and {} engine steps (--max-steps {max_steps}); nothing was written. {hint}",
            self.steps
        )
    }
}

impl Judge<'_> {
    /// Per target, still there; and whether the availability class changed.
    fn trial(&self, c: &Scenario) -> Option<(Vec<bool>, bool)> {
        if !valid(c) {
            return None;
        }
        if availability(c, self.until) != self.class {
            return Some((vec![true; self.targets.len()], true));
        }
        if self.steps.get() >= self.budget.max_steps {
            // Over budget: no more runs; the caller reports Exhausted, not these results.
            return None;
        }
        let ev = replay::evaluate_valid(c, self.kind);
        self.steps
            .set(self.steps.get().saturating_add(ev.output.engine.steps));
        self.runs.set(self.runs.get() + 1);
        if let Some(tick) = self.budget.on_run {
            tick(self.runs.get());
        }
        Some((
            self.targets.iter().map(|t| t.holds(c, &ev)).collect(),
            false,
        ))
    }

    /// Whether target `i` is still there at `c` (a rejected scenario counts as still there).
    fn holds(&self, i: usize, c: &Scenario) -> bool {
        self.trial(c).is_none_or(|(still, _)| still[i])
    }
}

/// The roles whose timings a classification shifts: the environment's, and the code's too for
/// a what-if (a finding about the code as it is keeps its code).
pub(crate) fn roles_of(sc: &Scenario) -> &'static [Role] {
    if sc.what_if.is_empty() {
        &[Role::Environment]
    } else {
        &[Role::Code, Role::Environment]
    }
}

/// Classifies one failure of `sc`.
pub fn classify(sc: &Scenario, target: &Target, kind: EngineKind) -> Classified {
    classify_within(sc, std::slice::from_ref(target), kind, &Budget::UNLIMITED)
        .expect("no budget to exhaust")
        .pop()
        .expect("one target, one result")
}

/// Classifies every target of `sc` within `budget`, evaluating each perturbed run once for
/// all of them: `Exhausted` when its runs spent more steps than allowed.
pub(crate) fn classify_within(
    sc: &Scenario,
    targets: &[Target],
    kind: EngineKind,
    budget: &Budget<'_>,
) -> Result<Vec<Classified>, Exhausted> {
    let base_ev = replay::evaluate_valid(sc, kind);
    let until = base_ev
        .output
        .results
        .verdict_at_ms
        .unwrap_or(sc.run.horizon_ms);
    let judge = Judge {
        kind,
        targets,
        class: availability(sc, until),
        until,
        budget,
        runs: std::cell::Cell::new(1),
        steps: std::cell::Cell::new(base_ev.output.engine.steps),
    };
    let n = targets.len();
    let mut trials: Vec<Vec<Trial>> = vec![Vec::new(); n];
    let mut windows: Vec<Vec<Window>> = vec![Vec::new(); n];
    let roles = roles_of(sc);
    let mut shifted = slots::timing_slots_of(sc, roles);
    if roles.contains(&Role::Code) {
        shifted.extend(slots::knob_slots(sc));
    }
    for slot in &shifted {
        shift(&judge, sc, slot, &mut trials, &mut windows);
    }
    let order_matters = order_trials(&judge, sc, &mut trials);
    if judge.steps.get() >= budget.max_steps {
        return Err(Exhausted {
            runs: judge.runs.get(),
            steps: judge.steps.get(),
        });
    }
    Ok(settle(targets, windows, trials, order_matters))
}

/// The runs of one shifted field: each perturbation tried once for every target, then, per
/// target the shift removed, its window bisected to 1 ms on each side it was removed.
fn shift(
    judge: &Judge<'_>,
    sc: &Scenario,
    slot: &slots::Slot,
    trials: &mut [Vec<Trial>],
    windows: &mut [Vec<Window>],
) {
    let n = trials.len();
    let name = slot.name();
    let v = slot.get(sc);
    let at = |x: u64| {
        let mut c = sc.clone();
        slot.set(&mut c, x);
        // Shifting a code timing of a what-if is one more what-if: the code under test
        // stays what it was.
        let path = slot.field.path;
        if slot.field.role() == Role::Code && !c.what_if.iter().any(|w| w == path) {
            c.what_if.push(path.to_string());
        }
        c
    };
    // Per target: the largest passing value below v, the smallest above.
    let mut below: Vec<Option<u64>> = vec![None; n];
    let mut above: Vec<Option<u64>> = vec![None; n];
    for x in perturbations(v, slot.min(), slot.field.max) {
        let Some((still, other)) = judge.trial(&at(x)) else {
            continue;
        };
        for i in 0..n {
            trials[i].push(Trial {
                parameter: name.clone(),
                value: x.to_string(),
                still_fails: still[i],
                other_class: other,
            });
            if !still[i] {
                if x < v {
                    below[i] = Some(below[i].map_or(x, |b| b.max(x)));
                } else if above[i].is_none() {
                    above[i] = Some(x);
                }
            }
        }
    }
    for i in 0..n {
        if below[i].is_none() && above[i].is_none() {
            continue;
        }
        let (from, to) = edges(v, below[i], above[i], |x| judge.holds(i, &at(x)));
        windows[i].push(Window {
            field: name.clone(),
            from,
            to,
            value: v,
        });
    }
}

/// The boundaries between the nearest passing values (`below`, `above`) and `v`, where the
/// failure is, by bisection to 1: the smallest and the largest value that still fail.
fn edges(
    v: u64,
    below: Option<u64>,
    above: Option<u64>,
    fails: impl Fn(u64) -> bool,
) -> (Option<u64>, Option<u64>) {
    let near = |pass: u64| super::shrink::boundary(pass, v, &fails);
    (below.map(near), above.map(near))
}

/// The runs with another same-instant order; per target, whether one of them passed.
fn order_trials(judge: &Judge<'_>, sc: &Scenario, trials: &mut [Vec<Trial>]) -> Vec<bool> {
    let n = trials.len();
    let mut order_matters = vec![false; n];
    for d in decision_variants(&sc.run.decisions) {
        let mut c = sc.clone();
        c.run.decisions = d.clone();
        let Some((still, other)) = judge.trial(&c) else {
            continue;
        };
        for i in 0..n {
            order_matters[i] |= !still[i];
            trials[i].push(Trial {
                parameter: DECISIONS.into(),
                value: format!("{d:?}"),
                still_fails: still[i],
                other_class: other,
            });
        }
    }
    order_matters
}

/// Each target's result: its windows, shortest first (the order's entry last), race when
/// any, with every trial.
fn settle(
    targets: &[Target],
    windows: Vec<Vec<Window>>,
    trials: Vec<Vec<Trial>>,
    order_matters: Vec<bool>,
) -> Vec<Classified> {
    targets
        .iter()
        .zip(windows)
        .zip(trials)
        .zip(order_matters)
        .map(|(((target, mut windows), trials), order)| {
            windows.sort_by_key(|w| (w.width(), w.field.clone()));
            if order {
                windows.push(Window {
                    field: DECISIONS.into(),
                    from: None,
                    to: None,
                    value: 0,
                });
            }
            Classified {
                target: target.clone(),
                class: if windows.is_empty() {
                    Class::Deterministic
                } else {
                    Class::Race
                },
                depends_on: windows.iter().map(Window::describe).collect(),
                windows,
                trials,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(field: &str, from: Option<u64>, to: Option<u64>, value: u64) -> Window {
        Window {
            field: field.into(),
            from,
            to,
            value,
        }
    }

    #[test]
    fn nearest_pass_is_the_closer_edge_plus_one() {
        assert_eq!(w("a", None, Some(0), 0).nearest_pass(), Some((1, 1)));
        assert_eq!(
            w("a", Some(90), Some(200), 100).nearest_pass(),
            Some((11, 89))
        );
        assert_eq!(
            w("a", Some(50), Some(105), 100).nearest_pass(),
            Some((6, 106))
        );
        assert_eq!(w("a", None, None, 7).nearest_pass(), None);
        assert_eq!(w(DECISIONS, None, None, 0).nearest_pass(), None);
    }

    #[test]
    fn nearest_flips_shows_the_closest_and_counts_the_rest() {
        let ws = vec![
            w("startup.services_ms", None, Some(1619), 1000),
            w("startup.init_ms", None, Some(0), 0),
            w("auth.latency_ms", None, Some(0), 0),
            w("startup.cache_ms", None, Some(10), 10),
            w(DECISIONS, None, None, 0),
        ];
        assert_eq!(
            nearest_flips(&ws, 2),
            "passes with auth.latency_ms = 1 (is 0), startup.cache_ms = 11 (is 10), \
             another same-instant order; 2 more fields flip it"
        );
        assert_eq!(
            nearest_flips(&ws[..1], 3),
            "passes with startup.services_ms = 1620 (is 1000)"
        );
    }
}

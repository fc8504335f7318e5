//! Shrinking a failing case while it keeps its signature (the same property at the same place
//! in the same code): proptest's shrinker over the draws, then a second pass over the
//! scenario itself that drops clients, messages, outages, spikes and decisions and resets
//! each environment value, then every number brought to its threshold. The code under test
//! is never touched unless the search varies it (what-ifs), so a shrunk finding is still a
//! finding about the code the team ran.

use std::cell::RefCell;
use std::collections::BTreeSet;

use proptest::test_runner::{TestCaseError, TestError, TestRunner};

use super::runner::{case_config, Draws};
use super::signature::{self, Signature};
use super::strategy::{self, Params};
use super::Code;
use crate::engine::EngineKind;
use crate::replay;
use crate::scenario::code::changed_code;
use crate::scenario::deps::Dep;
use crate::scenario::fields::{Access, Role, FIELDS};
use crate::scenario::{self, slots, Client, Scenario};
use crate::vocab::Violation;

/// proptest shrink iterations per failure (deterministic; no time limit).
pub const MAX_SHRINK_ITERS: u32 = 2000;
/// Rounds of the second pass (each round tries every simplification once).
pub const MAX_ROUNDS: usize = 8;

/// Whether `sc` is a scenario the file format accepts (the loader's own validation).
pub fn valid(sc: &Scenario) -> bool {
    scenario::validate(sc).is_ok()
}

/// Whether a run of `sc` shows `sig` (its code, what-if status, property and place).
pub fn shows(sc: &Scenario, sig: &Signature, kind: EngineKind) -> bool {
    let ev = replay::evaluate_valid(sc, kind);
    if !ev.violations.contains(&sig.property) {
        return false;
    }
    let props: BTreeSet<Violation> = [sig.property].into_iter().collect();
    signature::of_run(sc, &ev, &props).contains(sig)
}

/// What a shrink step may touch and what it must keep.
struct Keep<'a> {
    sig: &'a Signature,
    code: &'a Code,
    vary_code: bool,
    kind: EngineKind,
}

impl Keep<'_> {
    /// `c` with its what-if list as its code fields say (what-ifs only).
    fn normal(&self, c: &Scenario) -> Scenario {
        let mut c = c.clone();
        if self.vary_code {
            c.what_if = changed_code(self.code.template(), &c);
        }
        c
    }

    /// Whether the candidate loads and still shows the signature.
    fn ok(&self, c: &Scenario) -> bool {
        let c = self.normal(c);
        valid(&c) && shows(&c, self.sig, self.kind)
    }

    /// The roles whose values shrinking may move.
    fn roles(&self) -> &'static [Role] {
        if self.vary_code {
            &[Role::Code, Role::Environment]
        } else {
            &[Role::Environment]
        }
    }
}

/// The minimal scenario that still shows `sig`, from case `start` (drawn from `seed`) of
/// `code`.
pub fn shrink(
    start: &Scenario,
    code: &Code,
    seed: u64,
    sig: &Signature,
    draws: &Draws,
) -> Scenario {
    let keep = Keep {
        sig,
        code,
        vary_code: draws.vary_code,
        kind: draws.kind,
    };
    let mut runner = TestRunner::new(case_config(seed, MAX_SHRINK_ITERS));
    let first: RefCell<Option<Params>> = RefCell::new(None);
    let result = runner.run(&strategy::params(draws.strategy), |p| {
        first.borrow_mut().get_or_insert_with(|| p.clone());
        if keep.ok(&strategy::build(code.template(), &p, draws.vary_code)) {
            Err(TestCaseError::fail(sig.property.name()))
        } else {
            Ok(())
        }
    });
    let sc = match result {
        Err(TestError::Fail(_, minimal)) => {
            strategy::build(code.template(), &minimal, draws.vary_code)
        }
        // The case does not show the signature (the caller asked about one it lacks): keep it.
        _ => start.clone(),
    };
    let sc = second_pass(sc, &keep);
    keep.normal(&thresholds(sc, &keep))
}

/// The draws of case `seed`: the first value `TestRunner::run` would test with the same seed
/// (`generate_by_running` is that path, and a test holds them equal), sampled straight from
/// the RNG that run would give its first case, without building a value tree.
pub fn generate_one(seed: u64, kind: strategy::Kind) -> Params {
    // `run` reseeds its RNG from itself before each case (to persist that seed): the same.
    let mut rng = TestRunner::new(case_config(seed, 0)).new_rng();
    strategy::sample(&mut rng, kind).0
}

/// [`generate_one`] through `TestRunner::run`, the way a proptest test would draw it.
#[cfg(test)]
pub fn generate_by_running(seed: u64, strategy: strategy::Kind) -> Params {
    let mut runner = TestRunner::new(case_config(seed, 0));
    let out: RefCell<Option<Params>> = RefCell::new(None);
    let _ = runner.run(&strategy::params(strategy), |p| {
        *out.borrow_mut() = Some(p);
        Ok(())
    });
    out.into_inner().expect("one case was generated")
}

/// Greedy simplification of the scenario while it keeps its signature: every candidate is
/// validated by the loader's rules, so the result is a file that loads.
fn second_pass(mut sc: Scenario, keep: &Keep) -> Scenario {
    let roles = keep.roles();
    for _ in 0..MAX_ROUNDS {
        let mut s = Simplify {
            keep,
            progress: false,
        };
        s.structure(&mut sc);
        s.windows(&mut sc);
        s.absent_fields(&mut sc, roles);
        s.decisions(&mut sc);
        s.timings(&mut sc, roles);
        if !s.progress {
            break;
        }
    }
    sc
}

/// One round of [`second_pass`]: each step tries simpler candidates in turn and keeps the
/// ones that still show the signature.
struct Simplify<'a> {
    keep: &'a Keep<'a>,
    progress: bool,
}

impl Simplify<'_> {
    /// Takes `c` if it differs and still shows the signature.
    fn try_it(&mut self, sc: &mut Scenario, c: Scenario) -> bool {
        if c != *sc && self.keep.ok(&c) {
            *sc = c;
            self.progress = true;
            true
        } else {
            false
        }
    }

    /// Structure first: fewer clients, fewer messages, no retries.
    fn structure(&mut self, sc: &mut Scenario) {
        let mut i = 0;
        while i < sc.clients.len() {
            let mut c = sc.clone();
            c.clients.remove(i);
            if !self.try_it(sc, c) {
                i += 1;
            }
        }
        for i in 0..sc.clients.len() {
            let m = sc.clients[i].messages;
            for fewer in [0, m / 2, m.saturating_sub(1)] {
                let mut c = sc.clone();
                c.clients[i].messages = fewer;
                if fewer < m && self.try_it(sc, c) {
                    break;
                }
            }
            let mut c = sc.clone();
            c.clients[i].retries = 0;
            self.try_it(sc, c);
        }
    }

    /// Each outage and spike of every dependency.
    fn windows(&mut self, sc: &mut Scenario) {
        for dep in Dep::all() {
            let row = dep.row();
            for list in [0, 1] {
                let mut i = 0;
                loop {
                    let mut c = sc.clone();
                    let removed = if list == 0 {
                        let l = (row.outages_mut)(&mut c);
                        (i < l.len()).then(|| l.remove(i)).is_some()
                    } else {
                        let l = (row.spikes_mut)(&mut c);
                        (i < l.len()).then(|| l.remove(i)).is_some()
                    };
                    if !removed {
                        break;
                    }
                    if !self.try_it(sc, c) {
                        i += 1;
                    }
                }
            }
        }
    }

    /// Knob overrides of the roles shrinking may move (the code's only for what-ifs), and
    /// every client field the accept path reads, back to what an absent field means.
    fn absent_fields(&mut self, sc: &mut Scenario, roles: &[Role]) {
        for f in FIELDS.iter().filter(|f| roles.contains(&f.role())) {
            let mut c = sc.clone();
            match f.access {
                Access::Opt(_, set, _) => set(&mut c, None),
                Access::Name(_, set) => set(&mut c, None),
                Access::Flag(_, set) => set(&mut c, None),
                Access::Triple(_, set) => set(&mut c, None),
                _ => continue,
            }
            self.try_it(sc, c);
        }
        for i in 0..sc.clients.len() {
            let d = Client::default();
            let resets: [fn(&mut Client, &Client); 6] = [
                |c, _| c.user_id = None,
                |c, d| c.token = d.token,
                |c, d| c.hold_ms = d.hold_ms,
                |c, d| c.reconnects = d.reconnects,
                |c, d| c.rtt_ms = d.rtt_ms,
                |c, d| {
                    c.count = d.count;
                    c.every_ms = d.every_ms;
                },
            ];
            for reset in resets {
                let mut c = sc.clone();
                reset(&mut c.clients[i], &d);
                self.try_it(sc, c);
            }
        }
    }

    /// No decisions, fewer decisions, decisions at 0; the environment's defaults.
    fn decisions(&mut self, sc: &mut Scenario) {
        let mut c = sc.clone();
        c.run.decisions.clear();
        c.run.decisions_from_ms = 0;
        self.try_it(sc, c);
        let mut i = sc.run.decisions.len();
        while i > 0 {
            i -= 1;
            let mut c = sc.clone();
            c.run.decisions.remove(i);
            if self.try_it(sc, c) {
                continue;
            }
            let mut c = sc.clone();
            c.run.decisions[i] = 0;
            self.try_it(sc, c);
        }
        let mut c = sc.clone();
        c.environment = crate::scenario::Environment::default();
        self.try_it(sc, c);
    }

    /// Every timing parameter but one back to its default, the one kept as it is or raised
    /// (greedy one-at-a-time steps stop at local minima such as "stabilize_ms short enough
    /// only because startup was made shorter too"); then each timing parameter that is not
    /// at its default: default, zero, half.
    fn timings(&mut self, sc: &mut Scenario, roles: &[Role]) {
        let timings = slots::timing_slots_of(sc, roles);
        for (keep_idx, kept) in timings.iter().enumerate() {
            let mut base = sc.clone();
            for (idx, s) in timings.iter().enumerate() {
                if idx != keep_idx {
                    s.set(&mut base, s.default());
                }
            }
            if base == *sc {
                continue;
            }
            let v = kept.get(sc);
            let done = [1, 2, 4].into_iter().any(|factor| {
                let mut c = base.clone();
                kept.set(&mut c, v.saturating_mul(factor));
                self.try_it(sc, c)
            });
            if done {
                break;
            }
        }
        // Then each timing parameter that is not at its default: default, zero, half.
        for s in slots::timing_slots_of(sc, roles) {
            let (value, default) = (s.get(sc), s.default());
            if value == default {
                // Already what an absent field means: nothing simpler to say.
                continue;
            }
            for cand in [default, 0, value / 2] {
                if cand == value || (cand > value && cand != default) {
                    continue;
                }
                let mut c = sc.clone();
                s.set(&mut c, cand);
                if self.try_it(sc, c) {
                    break;
                }
            }
        }
    }
}

/// The value closest to `default` in `[default, value]` (either order) for which `fails` is
/// still true, by bisection, given that it is true at `value` and false at `default`.
/// (Classification uses it too, with a passing value in place of `default`.)
pub(super) fn boundary(default: u64, value: u64, fails: impl Fn(u64) -> bool) -> u64 {
    let (mut pass, mut fail) = (default, value);
    while pass.abs_diff(fail) > 1 {
        let mid = pass.min(fail) + pass.abs_diff(fail) / 2;
        if fails(mid) {
            fail = mid;
        } else {
            pass = mid;
        }
    }
    fail
}

/// Every number left away from its default moved to its threshold: the value nearest the
/// default that still shows the signature (1 ms, or 1 for counts), so that one step toward the
/// default removes it; then the horizon cut to what the failure needs. Repeated until no
/// number moves (moving one can move another's threshold).
fn thresholds(mut sc: Scenario, keep: &Keep) -> Scenario {
    let roles = keep.roles();
    for _ in 0..MAX_ROUNDS {
        let before = sc.clone();
        for slot in slots::timing_slots_of(&sc, roles)
            .into_iter()
            .chain(slots::count_slots(&sc))
        {
            let (v, d) = (slot.get(&sc), slot.default().max(slot.min()));
            if v == d {
                continue;
            }
            let at = |x: u64| {
                let mut c = sc.clone();
                slot.set(&mut c, x);
                c
            };
            let x = if keep.ok(&at(d)) {
                d
            } else {
                boundary(d, v, |x| keep.ok(&at(x)))
            };
            sc = at(x);
        }
        // Numeric knob overrides (what-ifs only): toward the code's own value.
        for f in FIELDS
            .iter()
            .filter(|f| roles.contains(&f.role()) && f.role() == Role::Code)
        {
            let Access::Opt(get, set, absent) = f.access else {
                continue;
            };
            let Some(v) = get(&sc) else { continue };
            let mut none = sc.clone();
            set(&mut none, None);
            let d = absent(&none);
            if v == d {
                sc = none;
                continue;
            }
            let at = |x: u64| {
                let mut c = sc.clone();
                set(&mut c, Some(x));
                c
            };
            let x = boundary(d, v, |x| keep.ok(&at(x)));
            sc = at(x);
        }
        // A shorter horizon can only make a run end sooner: for `hang` it would manufacture
        // the failure, so the horizon stays as generated.
        let default = crate::scenario::Run::default().horizon_ms;
        if keep.sig.property != Violation::Hang && sc.run.horizon_ms != default {
            let at = |h: u64| {
                let mut c = sc.clone();
                c.run.horizon_ms = h;
                c
            };
            sc.run.horizon_ms = if keep.ok(&at(default)) {
                default
            } else {
                boundary(default, sc.run.horizon_ms, |h| keep.ok(&at(h)))
            };
        }
        if sc == before {
            break;
        }
    }
    sc
}

#[cfg(test)]
mod generate_tests {
    use super::*;

    #[test]
    fn drawing_directly_gives_what_the_runner_would_test() {
        for kind in [strategy::Kind::Swarm, strategy::Kind::Uniform] {
            for seed in 0..300u64 {
                let seed = crate::search::runner::mix(seed);
                assert_eq!(
                    generate_one(seed, kind),
                    generate_by_running(seed, kind),
                    "seed {seed} {kind:?}"
                );
            }
        }
    }
}

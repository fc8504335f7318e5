//! Shrinking a failing case: proptest's shrinker over the draws, then a second pass over the
//! scenario itself that resets, zeroes and halves each timing parameter and drops clients,
//! messages, outages, spikes, decisions and a probe override while the property still fails.

use std::cell::RefCell;

use proptest::test_runner::{TestCaseError, TestError, TestRunner};

use super::runner::case_config;
use super::strategy::{self, Params};
use crate::engine::EngineKind;
use crate::policy::Preset;
use crate::replay;
use crate::scenario::fields::{Access, Spikes, Windows, FIELDS};
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

/// Whether `sc` violates `property`.
pub fn fails(sc: &Scenario, property: Violation, kind: EngineKind) -> bool {
    replay::evaluate(sc, kind).violations.contains(&property)
}

/// The minimal scenario of case `seed` of `preset` that still violates `property`.
pub fn shrink(
    preset: Preset,
    seed: u64,
    property: Violation,
    kind: EngineKind,
    strategy: strategy::Kind,
) -> Scenario {
    let mut runner = TestRunner::new(case_config(seed, MAX_SHRINK_ITERS));
    let first: RefCell<Option<Params>> = RefCell::new(None);
    let result = runner.run(&strategy::params(strategy), |p| {
        first.borrow_mut().get_or_insert_with(|| p.clone());
        if fails(&strategy::build(preset, &p), property, kind) {
            Err(TestCaseError::fail(property.name()))
        } else {
            Ok(())
        }
    });
    let params = match result {
        Err(TestError::Fail(_, minimal)) => minimal,
        // The case passed (the caller asked about a property it does not violate): keep it.
        _ => first
            .into_inner()
            .unwrap_or_else(|| generate_one(seed, strategy)),
    };
    let sc = second_pass(strategy::build(preset, &params), property, kind);
    thresholds(sc, property, kind)
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
pub fn generate_by_running(seed: u64, strategy: strategy::Kind) -> Params {
    let mut runner = TestRunner::new(case_config(seed, 0));
    let out: RefCell<Option<Params>> = RefCell::new(None);
    let _ = runner.run(&strategy::params(strategy), |p| {
        *out.borrow_mut() = Some(p);
        Ok(())
    });
    out.into_inner().expect("one case was generated")
}

/// Greedy simplification of the scenario while `property` still fails: every candidate is
/// validated by the loader's rules, so the result is a file that loads.
pub fn second_pass(mut sc: Scenario, property: Violation, kind: EngineKind) -> Scenario {
    let keep = |c: &Scenario| valid(c) && fails(c, property, kind);
    for _ in 0..MAX_ROUNDS {
        let mut progress = false;
        // Structure first: fewer clients, outages, spikes, decisions.
        let mut i = 0;
        while i < sc.clients.len() {
            let mut c = sc.clone();
            c.clients.remove(i);
            if keep(&c) {
                sc = c;
                progress = true;
            } else {
                i += 1;
            }
        }
        for i in 0..sc.clients.len() {
            for m in [
                0,
                sc.clients[i].messages / 2,
                sc.clients[i].messages.saturating_sub(1),
            ] {
                if m < sc.clients[i].messages {
                    let mut c = sc.clone();
                    c.clients[i].messages = m;
                    if keep(&c) {
                        sc = c;
                        progress = true;
                        break;
                    }
                }
            }
            if sc.clients[i].retries > 0 {
                let mut c = sc.clone();
                c.clients[i].retries = 0;
                if keep(&c) {
                    sc = c;
                    progress = true;
                }
            }
        }
        // Each outage and spike of the Redis server and of the auth service.
        for list in 0..4 {
            let mut i = 0;
            loop {
                let len = match list {
                    0 => Windows::Redis.of(&sc).len(),
                    1 => Spikes::Redis.of(&sc).len(),
                    2 => Windows::Auth.of(&sc).len(),
                    _ => Spikes::Auth.of(&sc).len(),
                };
                if i >= len {
                    break;
                }
                let mut c = sc.clone();
                match list {
                    0 => _ = Windows::Redis.of_mut(&mut c).remove(i),
                    1 => _ = Spikes::Redis.of_mut(&mut c).remove(i),
                    2 => _ = Windows::Auth.of_mut(&mut c).remove(i),
                    _ => _ = Spikes::Auth.of_mut(&mut c).remove(i),
                }
                if keep(&c) {
                    sc = c;
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        // Every knob override, and every client field the accept path reads, back to what an
        // absent field means.
        for f in FIELDS {
            let mut c = sc.clone();
            let changed = match f.access {
                Access::Opt(get, set, _) if get(&sc).is_some() => {
                    set(&mut c, None);
                    true
                }
                Access::Name(get, set) if get(&sc).is_some() => {
                    set(&mut c, None);
                    true
                }
                Access::Flag(get, set) if get(&sc).is_some() => {
                    set(&mut c, None);
                    true
                }
                _ => false,
            };
            if changed && keep(&c) {
                sc = c;
                progress = true;
            }
        }
        for i in 0..sc.clients.len() {
            let d = Client::default();
            let resets: [fn(&mut Client, &Client); 5] = [
                |c, _| c.user_id = None,
                |c, d| c.token = d.token,
                |c, d| c.hold_ms = d.hold_ms,
                |c, d| c.reconnects = d.reconnects,
                |c, d| {
                    c.count = d.count;
                    c.every_ms = d.every_ms;
                },
            ];
            for reset in resets {
                let mut c = sc.clone();
                reset(&mut c.clients[i], &d);
                if c != sc && keep(&c) {
                    sc = c;
                    progress = true;
                }
            }
        }
        if !sc.run.decisions.is_empty() {
            let mut c = sc.clone();
            c.run.decisions.clear();
            if keep(&c) {
                sc = c;
                progress = true;
            }
        }
        let mut i = sc.run.decisions.len();
        while i > 0 {
            i -= 1;
            let mut c = sc.clone();
            c.run.decisions.remove(i);
            if keep(&c) {
                sc = c;
                progress = true;
                continue;
            }
            if sc.run.decisions[i] != 0 {
                let mut c = sc.clone();
                c.run.decisions[i] = 0;
                if keep(&c) {
                    sc = c;
                    progress = true;
                }
            }
        }
        if sc.policy.probe.is_some() {
            let mut c = sc.clone();
            c.policy.probe = None;
            if keep(&c) {
                sc = c;
                progress = true;
            }
        }
        if sc.environment != crate::scenario::Environment::default() {
            let mut c = sc.clone();
            c.environment = crate::scenario::Environment::default();
            if keep(&c) {
                sc = c;
                progress = true;
            }
        }
        // Every timing parameter but one back to its default, the one kept as it is or
        // raised (greedy one-at-a-time steps stop at local minima such as "stabilize_ms
        // short enough only because startup was made shorter too").
        let n = slots::values(&sc).len();
        for keep_idx in 0..n {
            let mut base = sc.clone();
            let mut kept = 0;
            for (idx, s) in slots::timing_slots(&sc).into_iter().enumerate() {
                if idx == keep_idx {
                    kept = s.get(&sc);
                } else {
                    s.set(&mut base, s.default());
                }
            }
            if base == sc {
                continue;
            }
            let mut done = false;
            for factor in [1, 2, 4] {
                let c = slots::with(&base, keep_idx, kept.saturating_mul(factor));
                if keep(&c) {
                    sc = c;
                    progress = true;
                    done = true;
                    break;
                }
            }
            if done {
                break;
            }
        }
        // Then each timing parameter that is not at its default: default, zero, half.
        let n = slots::values(&sc).len();
        for idx in 0..n {
            let (value, default) = match slots::timing_slots(&sc).get(idx) {
                Some(s) => (s.get(&sc), s.default()),
                None => break,
            };
            if value == default {
                // Already what an absent field means: nothing simpler to say.
                continue;
            }
            for cand in [default, 0, value / 2] {
                if cand == value || (cand > value && cand != default) {
                    continue;
                }
                let c = slots::with(&sc, idx, cand);
                if c != sc && keep(&c) {
                    sc = c;
                    progress = true;
                    break;
                }
            }
        }
        if !progress {
            break;
        }
    }
    sc
}

/// The value closest to `default` in `[default, value]` (either order) for which `fails` is
/// still true, by bisection, given that it is true at `value` and false at `default`.
fn boundary(default: u64, value: u64, fails: impl Fn(u64) -> bool) -> u64 {
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
/// default that still fails (1 ms, or 1 for counts), so that one step toward the default
/// removes the failure; then the horizon cut to what the failure needs. Repeated until no
/// number moves (moving one can move another's threshold).
pub fn thresholds(mut sc: Scenario, property: Violation, kind: EngineKind) -> Scenario {
    let keep = |c: &Scenario| valid(c) && fails(c, property, kind);
    for _ in 0..MAX_ROUNDS {
        let before = sc.clone();
        for slot in slots::timing_slots(&sc)
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
            let x = if keep(&at(d)) {
                d
            } else {
                boundary(d, v, |x| keep(&at(x)))
            };
            sc = at(x);
        }
        // Numeric knob overrides: toward the preset's own value.
        for f in FIELDS {
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
            let x = boundary(d, v, |x| keep(&at(x)));
            sc = at(x);
        }
        // A shorter horizon can only make a run end sooner: for `hang` it would manufacture
        // the failure, so the horizon stays as generated.
        let default = crate::scenario::Run::default().horizon_ms;
        if property != Violation::Hang && sc.run.horizon_ms != default {
            let at = |h: u64| {
                let mut c = sc.clone();
                c.run.horizon_ms = h;
                c
            };
            sc.run.horizon_ms = if keep(&at(default)) {
                default
            } else {
                boundary(default, sc.run.horizon_ms, |h| keep(&at(h)))
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

//! Call counts and order of each loop shape against a mocked probe, and the validator polled
//! step by step on the tokio engine. Latency comes from virtual-time sleeps, never wall time.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::Path;
use std::rc::Rc;

use mockall::Sequence;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

use crate::engine::{self, EngineKind, Rt, RunConfig};
use crate::model::probe::{MockRedisProbe, Pending};
use crate::model::validator::{self, CheckOutcome, Verdict};
use crate::model::world::World;
use crate::scenario::{self, Scenario};
use crate::trace::PassVia;
use crate::vocab::{Actor, Check};

const BOTH: [EngineKind; 2] = [EngineKind::Fast, EngineKind::Tokio];

/// A scenario in `env` (Cloud Run) with the given `[policy]` lines and extra tables.
fn scenario(env: &str, policy: &str, extra: &str) -> Scenario {
    let src = format!(
        "format = 1\nname = \"mock\"\nsummary = \"mock\"\n\
         [environment]\nname = \"{env}\"\ncloud_run = true\n\
         [policy]\n{policy}\n{extra}\n"
    );
    scenario::parse(&src, Path::new("mock.toml"), Some("mock")).expect("test scenario")
}

/// Builds the world of `sc` on `kind` (nothing else runs), runs `body`'s future as the
/// only task and returns its output. The mock travels back out with the output so its
/// expectations are verified on the test thread, not inside an engine task.
fn drive<T: 'static, F>(sc: &Scenario, kind: EngineKind, body: impl FnOnce(Rc<World>) -> F) -> T
where
    F: Future<Output = T> + 'static,
{
    let out: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    let config = RunConfig {
        horizon_ms: 10_000_000,
        max_steps: 1_000_000,
        decisions: sc.run.decisions.clone(),
        decisions_from_ms: sc.run.decisions_from_ms,
    };
    let slot = out.clone();
    engine::run(kind, &config, move |rt: Rt| {
        let w = Rc::new(World::new(
            sc,
            rt.clone(),
            &crate::model::clients::expand(sc),
        ));
        let fut = body(w);
        rt.clone().spawn(async move {
            let v = fut.await;
            *slot.borrow_mut() = Some(v);
            rt.stop();
        });
    });
    let v = out.borrow_mut().take();
    v.unwrap_or_else(|| panic!("the driven future did not finish on {}", kind.name()))
}

/// A mock whose `is_connected` answers from `answers` in order and records the virtual
/// time of every call; every other method must not be called.
fn connected_script(
    w: &Rc<World>,
    answers: &[bool],
    times: &Rc<RefCell<Vec<u64>>>,
) -> MockRedisProbe {
    let mut mock = MockRedisProbe::new();
    let mut seq = Sequence::new();
    for &a in answers {
        let (rt, times) = (w.rt.clone(), times.clone());
        mock.expect_is_connected()
            .times(1)
            .in_sequence(&mut seq)
            .returning_st(move || {
                times.borrow_mut().push(rt.now());
                a
            });
    }
    mock.expect_operational().never();
    mock.expect_gate_ready().never();
    mock.expect_wait_ready().never();
    mock.expect_recheck().never();
    mock
}

/// Runs one redis check against a scripted `is_connected`; returns the outcome, the end
/// time and the probe times.
fn redis_check(
    sc: &Scenario,
    kind: EngineKind,
    answers: &[bool],
    group_ms: u64,
) -> (CheckOutcome, u64, Vec<u64>) {
    let answers = answers.to_vec();
    let times = Rc::new(RefCell::new(Vec::new()));
    let t = times.clone();
    let (outcome, end, mock) = drive(sc, kind, move |w| async move {
        let mock = connected_script(&w, &answers, &t);
        let o =
            validator::run_check_with(&w, &mock, Actor::Validator, Check::Redis, group_ms).await;
        (o, w.now(), mock)
    });
    drop(mock); // verifies the counts
    let times = times.borrow().clone();
    (outcome, end, times)
}

/// p8: faithful probe, linear loop, final constants (redis R=3, d=500), async grace 500.
const LINEAR: &str = "preset = \"p8\"";

#[test]
fn linear_makes_exactly_r_plus_one_probes_when_never_connected() {
    let sc = scenario("production", LINEAR, "");
    for kind in BOTH {
        let (o, end, times) = redis_check(&sc, kind, &[false; 4], 60_000);
        assert_eq!(o, CheckOutcome::Fail);
        // probe (1 ms), sleep d=500, ...: R+1 = 4 probes, no sleep after the last.
        assert_eq!(times, [0, 501, 1002, 1503], "{}", kind.name());
        assert_eq!(end, 1504);
    }
}

#[test]
fn linear_stops_probing_at_the_first_success() {
    let sc = scenario("production", LINEAR, "");
    for kind in BOTH {
        let (o, end, times) = redis_check(&sc, kind, &[false, false, true], 60_000);
        assert_eq!(o, CheckOutcome::Pass(PassVia::Probe { probed_at: 1002 }));
        assert_eq!(times, [0, 501, 1002]);
        // The async grace (500) follows the successful probe; nothing re-probes.
        assert_eq!(end, 1003 + 500);
    }
}

#[test]
fn linear_stops_on_the_group_timeout_at_the_right_attempt() {
    let sc = scenario("production", LINEAR, "");
    // Attempt k ends at 501 (k+1) + 1 after its sleep: the loop stops after the first
    // attempt whose end exceeds the group timeout G.
    for (group, probes) in [(1500, 3), (1000, 2), (500, 1), (1502, 3), (1503, 4)] {
        for kind in BOTH {
            let (o, _, times) = redis_check(&sc, kind, &vec![false; probes], group);
            assert_eq!(o, CheckOutcome::Fail);
            assert_eq!(times.len(), probes, "G={group} on {}", kind.name());
        }
    }
}

#[test]
fn exponential_follows_its_delays() {
    // p9: exponential, final constants; widen R and G so only the delays matter.
    let policy =
        "preset = \"p9\"\nredis_retries = 12\ngroup_timeouts_ms = [600000, 600000, 600000]";
    let sc = scenario("production", policy, "");
    for kind in BOTH {
        let (o, _, times) = redis_check(&sc, kind, &[false; 10], 600_000);
        assert_eq!(o, CheckOutcome::Fail);
        // At most 10 attempts; delays 500 x 2^k capped at 5000, plus the 1 ms probe cost.
        let gaps: Vec<u64> = times.windows(2).map(|p| p[1] - p[0]).collect();
        assert_eq!(gaps, [501, 1001, 2001, 4001, 5001, 5001, 5001, 5001, 5001]);
    }
    // Drawn factors f = 1 - (v mod 100) / 1000 shorten each delay.
    let sc = scenario(
        "production",
        "preset = \"p9\"\ngroup_timeouts_ms = [600000, 600000, 600000]",
        "[run]\ndecisions = [50, 0, 99]",
    );
    for kind in BOTH {
        let (_, _, times) = redis_check(&sc, kind, &[false; 4], 600_000);
        let gaps: Vec<u64> = times.windows(2).map(|p| p[1] - p[0]).collect();
        assert_eq!(gaps, [475 + 1, 1000 + 1, 1802 + 1], "{}", kind.name());
    }
}

#[test]
fn grace_never_reprobes_unless_reprobe_after_grace() {
    for grace in ["async", "blocking"] {
        let policy = format!("{LINEAR}\ngrace = \"{grace}\"");
        let sc = scenario("production", &policy, "");
        for kind in BOTH {
            let (o, end, times) = redis_check(&sc, kind, &[true], 60_000);
            assert_eq!(o, CheckOutcome::Pass(PassVia::Probe { probed_at: 0 }));
            assert_eq!((times.as_slice(), end), (&[0][..], 501), "{grace}");
        }
        let sc = scenario(
            "production",
            &format!("{policy}\nreprobe_after_grace = true"),
            "",
        );
        for kind in BOTH {
            // Connected, then gone at the end of the grace: the re-probe catches it and
            // the loop goes on (sleep d), until a probe and its re-probe both pass.
            let (o, _, times) = redis_check(&sc, kind, &[true, false, true, true], 60_000);
            assert_eq!(o, CheckOutcome::Pass(PassVia::Probe { probed_at: 1002 }));
            assert_eq!(times, [0, 501, 1002, 1503], "{grace}");
        }
    }
}

#[test]
fn masking_turns_a_false_into_ready_only_in_staging() {
    let policy = format!("{LINEAR}\nmask_in_staging = true");
    for kind in BOTH {
        let sc = scenario("staging", &policy, "");
        let (o, _, times) = redis_check(&sc, kind, &[false], 60_000);
        assert_eq!((o, times.len()), (CheckOutcome::Pass(PassVia::Masked), 1));
        // A true is not "masked": it passes as a probe, through the grace.
        let (o, _, _) = redis_check(&sc, kind, &[true], 60_000);
        assert_eq!(o, CheckOutcome::Pass(PassVia::Probe { probed_at: 0 }));

        let sc = scenario("production", &policy, "");
        let (o, _, times) = redis_check(&sc, kind, &[false; 4], 60_000);
        assert_eq!((o, times.len()), (CheckOutcome::Fail, 4));
    }
    // Without the knob staging is strict too.
    let sc = scenario("staging", &format!("{LINEAR}\nmask_in_staging = false"), "");
    let (o, _, _) = redis_check(&sc, EngineKind::Fast, &[false; 4], 60_000);
    assert_eq!(o, CheckOutcome::Fail);
}

/// The reference validator against a mock: gate not ready, then `wait_ready` resolves
/// after `publish_at` ms (a virtual-time sleep), or never.
fn event_driven(kind: EngineKind, publish_at: Option<u64>) -> (Verdict, Vec<&'static str>) {
    let sc = scenario(
        "production",
        "preset = \"reference\"",
        "[startup]\nprobe_cost_ms = 0",
    );
    let calls = Rc::new(RefCell::new(Vec::new()));
    let log = calls.clone();
    let (verdict, mock) = drive(&sc, kind, move |w| async move {
        let mut mock = MockRedisProbe::new();
        let mut seq = Sequence::new();
        let published = Rc::new(Cell::new(false));
        mock.expect_is_connected().never();
        mock.expect_operational().never();
        let (l, p) = (log.clone(), published.clone());
        mock.expect_gate_ready().returning_st(move || {
            l.borrow_mut().push("gate_ready");
            p.get()
        });
        let (l, p, rt) = (log.clone(), published.clone(), w.rt.clone());
        mock.expect_wait_ready()
            .times(1)
            .in_sequence(&mut seq)
            .returning_st(move || -> Pending<()> {
                l.borrow_mut().push("wait_ready");
                let (p, rt) = (p.clone(), rt.clone());
                match publish_at {
                    Some(at) => Box::pin(async move {
                        rt.sleep_until(at).await;
                        p.set(true);
                    }),
                    None => Box::pin(std::future::pending()),
                }
            });
        let l = log.clone();
        mock.expect_recheck()
            .returning_st(move |_| -> Pending<bool> {
                l.borrow_mut().push("recheck");
                Box::pin(std::future::ready(true))
            });
        let v = validator::run_with(&w, &mock).await;
        (v, mock)
    });
    drop(mock);
    let calls = calls.borrow().clone();
    (verdict, calls)
}

#[test]
fn event_driven_wait_makes_no_polling_calls() {
    for kind in BOTH {
        let (v, calls) = event_driven(kind, Some(4321));
        assert!(v.ready, "{v:?}");
        assert_eq!(v.elapsed_ms, 4321);
        // One look, one wait, one look after the wake-up, the check's re-check and the
        // re-check at the instant of publishing: nothing repeats while it waits.
        assert_eq!(
            calls,
            [
                "gate_ready",
                "wait_ready",
                "gate_ready",
                "recheck",
                "recheck"
            ]
        );

        // Never published: the one wait runs into the deadline (60000) with no calls.
        let (v, calls) = event_driven(kind, None);
        assert_eq!((v.ready, v.elapsed_ms), (false, 60_000));
        assert_eq!(v.failed, [Check::Redis]);
        assert_eq!(calls, ["gate_ready", "wait_ready"]);
    }
}

/// Runs `body` as the only task on the tokio engine (paused time) and checks it finished:
/// a panicking assertion inside a tokio task would otherwise only end the task.
fn on_tokio<F>(sc: &Scenario, body: impl FnOnce(Rc<World>) -> F)
where
    F: Future<Output = ()> + 'static,
{
    let finished: bool = drive(sc, EngineKind::Tokio, move |w| {
        let fut = body(w);
        async move {
            fut.await;
            true
        }
    });
    assert!(finished);
}

#[test]
fn step_by_step_pending_through_the_grace_ready_at_its_end() {
    let sc = scenario("production", LINEAR, "[startup]\nprobe_cost_ms = 0");
    on_tokio(&sc, |w| async move {
        let mut mock = MockRedisProbe::new();
        mock.expect_is_connected().times(1).return_const(true);
        let mut check = tokio_test::task::spawn(validator::run_check_with(
            &w,
            &mock,
            Actor::Validator,
            Check::Redis,
            60_000,
        ));
        // The probe says connected at 0; the async grace (500 ms) starts.
        assert_pending!(check.poll());
        // The engine's own sleeps move the clock: its timers fire when no task is ready, and
        // this task is the only one.
        w.rt.sleep(499).await;
        assert!(!check.is_woken(), "woken before the grace ended");
        assert_pending!(check.poll());
        assert_eq!(w.now(), 499);
        w.rt.sleep(1).await;
        assert!(check.is_woken(), "not woken at the end of the grace");
        assert_ready_eq!(
            check.poll(),
            CheckOutcome::Pass(PassVia::Probe { probed_at: 0 })
        );
        assert_eq!(w.now(), 500);
    });
}

#[test]
fn step_by_step_woken_by_the_gate_not_by_unrelated_timers() {
    let sc = scenario(
        "production",
        "preset = \"reference\"",
        "[startup]\nprobe_cost_ms = 0",
    );
    on_tokio(&sc, |w| async move {
        let waiting = Rc::new(Cell::new(false));
        let mut mock = MockRedisProbe::new();
        mock.expect_is_connected().never();
        mock.expect_operational().never();
        let g = w.clone();
        mock.expect_gate_ready()
            .returning_st(move || g.gate.current().is_some());
        let (g, flag) = (w.clone(), waiting.clone());
        mock.expect_wait_ready()
            .times(1)
            .returning_st(move || -> Pending<()> {
                flag.set(true);
                let g = g.clone();
                Box::pin(async move {
                    g.gate.wait_ready().await;
                })
            });
        mock.expect_recheck()
            .returning_st(|_| -> Pending<bool> { Box::pin(std::future::ready(true)) });
        let mut validator = tokio_test::task::spawn(validator::run_with(&w, &mock));
        // Other services are ready at 0 (tokio fires a timer that is due only when its
        // driver turns, hence the yields); then the redis wait parks on the gate.
        for _ in 0..10 {
            if waiting.get() {
                break;
            }
            assert_pending!(validator.poll());
            tokio::task::yield_now().await;
        }
        assert!(waiting.get(), "the validator never waited on the gate");
        assert_eq!(w.now(), 0);
        assert_pending!(validator.poll());
        assert!(!validator.is_woken());

        // An unrelated timer firing does not wake the validator.
        let mut other = tokio_test::task::spawn(w.rt.sleep(1000));
        assert_pending!(other.poll());
        tokio::time::advance(std::time::Duration::from_millis(1000)).await;
        assert!(other.is_woken());
        assert_ready!(other.poll());
        assert!(
            !validator.is_woken(),
            "an unrelated timer woke the validator"
        );
        assert_pending!(validator.poll());

        // Publishing on the gate does.
        w.gate.publish_ready(w.now());
        assert!(validator.is_woken(), "the gate did not wake the validator");
        let verdict = assert_ready!(validator.poll_until_idle());
        assert!(verdict.ready);
        assert_eq!(verdict.elapsed_ms, 1000);
    });
}

//! Each validator loop shape, checked through the trace of small scenarios: how many probes,
//! at which times, which sleeps, and where the loop stops.

mod common;
use common::scenario;

use readysim::engine::EngineKind;
use readysim::scenario::Scenario;
use readysim::trace::{Ev, ProbeResult};
use readysim::{Actor, Check};

/// (time, result) of every redis probe the validator made.
fn redis_probes(sc: &Scenario) -> Vec<(u64, ProbeResult)> {
    readysim::evaluate(sc, EngineKind::Fast)
        .expect("a valid scenario")
        .output
        .trace
        .iter()
        .filter(|e| e.actor == Actor::Validator)
        .filter_map(|e| match e.ev {
            Ev::Probe {
                check: Check::Redis,
                result,
            } => Some((e.t, result)),
            _ => None,
        })
        .collect()
}

fn poll_sleeps(sc: &Scenario) -> Vec<u64> {
    readysim::evaluate(sc, EngineKind::Fast)
        .expect("a valid scenario")
        .output
        .trace
        .iter()
        .filter(|e| e.actor == Actor::Validator)
        .filter_map(|e| match e.ev {
            Ev::PollSleep { ms } => Some(ms),
            _ => None,
        })
        .collect()
}

#[test]
fn linear_makes_r_plus_one_probes_d_apart_when_none_succeeds() {
    let sc = scenario(
        "[policy]\npreset = \"p0\"\nprobe = \"faithful\"\n[redis.server]\nup_from_ms = 900000\n",
    );
    let probes = redis_probes(&sc);
    let times: Vec<u64> = probes.iter().map(|p| p.0).collect();
    // validator starts at 2157 (refused initial attempt), database probe costs 1 ms.
    assert_eq!(times, vec![2158, 3659, 5160, 6661, 8162, 9663]);
    assert!(probes.iter().all(|p| p.1 == ProbeResult::NotReady));
    assert_eq!(poll_sleeps(&sc), vec![1500; 5]);
}

#[test]
fn linear_stops_at_the_first_probe_that_succeeds() {
    let sc = scenario(
        "[policy]\npreset = \"p0\"\nprobe = \"faithful\"\n[redis.server]\nup_from_ms = 3000\n",
    );
    // attempts at 519, 519, 2519 refused, 6519 connects at 6524: probes at 2158, 3659, 5160
    // say no, 6661 says yes.
    let probes = redis_probes(&sc);
    assert_eq!(probes.len(), 4);
    assert_eq!(probes[3], (6661, ProbeResult::Ready));
}

#[test]
fn linear_stops_on_the_group_timeout_after_the_sleep_that_exceeds_it() {
    let sc = scenario(
        "[policy]\npreset = \"p0\"\nprobe = \"faithful\"\ngroup_timeouts_ms = [3000, 60000, 30000]\n[redis.server]\nup_from_ms = 900000\n",
    );
    // elapsed after sleeps: 1501, 3002 > 3000 -> stop after the second sleep: 2 probes.
    assert_eq!(redis_probes(&sc).len(), 2);
}

#[test]
fn a_raising_probe_is_an_ordinary_not_ready_to_the_group_timeout_test() {
    // The probe catches its own error, so the loop stops on G like any not-ready: 2 probes
    // (elapsed 1501, then 3002 > 3000), not all R + 1.
    let sc = scenario("[policy]\npreset = \"p0\"\ngroup_timeouts_ms = [3000, 60000, 30000]\n");
    let probes = redis_probes(&sc);
    assert_eq!(probes.len(), 2, "G = 3000 applies to a raising probe too");
    assert!(probes.iter().all(|p| p.1 == ProbeResult::RaisedDebug));
}

#[test]
fn exponential_doubles_with_the_drawn_factor() {
    let base = "[policy]\npreset = \"p9\"\nredis_retries = 4\ngroup_timeouts_ms = [60000, 60000, 60000]\n[redis.server]\nup_from_ms = 900000\n";
    // Without draws the factor is 1: d x 2^k.
    assert_eq!(poll_sleeps(&scenario(base)), vec![500, 1000, 2000, 4000]);
    // Every value 50: f = 1 - 50/1000 = 0.95 for each draw, whatever the choices consume.
    let fifties = vec!["50"; 500].join(", ");
    let sc = scenario(&format!("{base}[run]\ndecisions = [{fifties}]\n"));
    assert_eq!(poll_sleeps(&sc), vec![475, 950, 1900, 3800]);
    // Value 99 gives the smallest factor, 0.901.
    let nines = vec!["99"; 500].join(", ");
    let sc = scenario(&format!("{base}[run]\ndecisions = [{nines}]\n"));
    assert_eq!(poll_sleeps(&sc), vec![450, 901, 1802, 3604]);
}

#[test]
fn exponential_caps_sleeps_at_five_seconds_and_ten_attempts() {
    let sc = scenario(
        "[policy]\npreset = \"p9\"\nredis_retries = 20\ngroup_timeouts_ms = [600000, 60000, 60000]\n[redis.server]\nup_from_ms = 900000\n[run]\nhorizon_ms = 600000\n",
    );
    assert_eq!(redis_probes(&sc).len(), 10);
    let sleeps = poll_sleeps(&sc);
    assert_eq!(
        sleeps,
        vec![500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000]
    );
}

#[test]
fn the_grace_passes_without_probing_again_unless_asked() {
    let base = "[policy]\npreset = \"p8\"\n[redis.server]\nup_from_ms = 0\n";
    let sc = scenario(base);
    assert_eq!(redis_probes(&sc).len(), 1);
    let sc = scenario(&base.replace(
        "preset = \"p8\"",
        "preset = \"p8\"\nreprobe_after_grace = true",
    ));
    assert_eq!(redis_probes(&sc).len(), 2);
}

#[test]
fn the_event_driven_wait_never_polls() {
    let sc = scenario("[policy]\npreset = \"reference\"\n[redis.server]\nup_from_ms = 10000\n");
    let run = readysim::evaluate(&sc, EngineKind::Fast)
        .expect("a valid scenario")
        .output;
    assert!(run.trace.iter().all(|e| !matches!(
        e.ev,
        Ev::PollSleep { .. }
            | Ev::Probe {
                check: Check::Redis,
                ..
            }
    )));
    assert!(run
        .trace
        .iter()
        .any(|e| matches!(e.ev, Ev::WaitGate { .. })));
    assert!(run.trace.iter().any(|e| matches!(e.ev, Ev::GateWoke)));
}

#[test]
fn masking_turns_a_false_probe_into_ready_only_in_staging() {
    let staging = scenario(
        "[environment]\nname = \"staging\"\n[policy]\npreset = \"p8\"\n[redis.server]\nup_from_ms = 900000\n",
    );
    let run = readysim::evaluate(&staging, EngineKind::Fast)
        .expect("a valid scenario")
        .output;
    assert!(run.trace.iter().any(|e| matches!(
        e.ev,
        Ev::CheckPassed {
            check: Check::Redis,
            via: readysim::trace::PassVia::Masked
        }
    )));
    let production = scenario("[policy]\npreset = \"p8\"\n[redis.server]\nup_from_ms = 900000\n");
    let run = readysim::evaluate(&production, EngineKind::Fast)
        .expect("a valid scenario")
        .output;
    assert!(!run.trace.iter().any(|e| matches!(
        e.ev,
        Ev::CheckPassed {
            check: Check::Redis,
            ..
        }
    )));
}

#[test]
fn an_unawaited_probe_passes_at_once_without_cost_or_grace() {
    let sc = scenario("[policy]\npreset = \"p2\"\nprobe = \"unawaited\"\n");
    let run = readysim::evaluate(&sc, EngineKind::Fast)
        .expect("a valid scenario")
        .output;
    let start = run
        .trace
        .iter()
        .find(|e| {
            matches!(
                e.ev,
                Ev::CheckStart {
                    check: Check::Redis,
                    ..
                }
            )
        })
        .expect("redis check")
        .t;
    let passed = run
        .trace
        .iter()
        .find(|e| {
            matches!(
                e.ev,
                Ev::CheckPassed {
                    check: Check::Redis,
                    ..
                }
            )
        })
        .expect("passed")
        .t;
    assert_eq!(start, passed);
    assert!(!run
        .trace
        .iter()
        .any(|e| matches!(e.ev, Ev::Grace { .. } | Ev::Freeze { .. })));
}

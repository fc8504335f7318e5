//! The real 1011 paths of the accept path, each against its near miss: the per-user manager
//! limit (T1), the user-ID check (T2), authentication behind two breakers (T3) and keepalive
//! behind event-loop stalls (T5); and the shipped scenarios' claims under every route.

mod common;
use common::scenario;

use readysim::engine::EngineKind;
use readysim::trace::{AuthStep, Ev};
use readysim::{Actor, Outcome, Preset, Reason, Scenario, Violation};

fn run(body: &str) -> readysim::replay::Evaluation {
    readysim::evaluate(&scenario(body), EngineKind::Fast).expect("a valid scenario")
}

fn shipped(name: &str) -> Scenario {
    readysim::load(std::path::Path::new(&format!("scenarios/{name}.toml"))).expect(name)
}

fn outcomes(ev: &readysim::replay::Evaluation) -> Vec<(Option<Outcome>, Option<Reason>)> {
    let r = &ev.output.results;
    r.clients
        .iter()
        .copied()
        .zip(r.reasons.iter().copied())
        .collect()
}

/// p8's startup with route f1 and p0's manager constants; `n` connections of one user.
fn storm(n: u32, every: u64) -> String {
    format!(
        "[policy]\npreset = \"p8\"\nroute = \"f1\"\n[[clients]]\nat_ms = 5000\ncount = {n}\n\
         every_ms = {every}\n[run]\nhorizon_ms = 600000\n"
    )
}

#[test]
fn the_21st_manager_of_a_user_is_refused_and_the_20th_is_not() {
    let twenty = run(&storm(20, 10_000));
    assert!(outcomes(&twenty)
        .iter()
        .all(|o| o.0 == Some(Outcome::Served)));
    let ev = run(&storm(21, 10_000));
    let o = outcomes(&ev);
    assert_eq!(
        o[20],
        (Some(Outcome::Closed1011), Some(Reason::FactoryLimit))
    );
    assert!(ev.violations.contains(&Violation::Ws1011));
    // An error frame, then the close at once (no 100 ms sleep on this path).
    let t = &ev.output.trace;
    let c21 = Actor::Client(21);
    let frame = t.iter().find(|e| e.actor == c21 && e.ev == Ev::ErrorFrame);
    let close = t
        .iter()
        .find(|e| e.actor == c21 && matches!(e.ev, Ev::Close1011 { .. }));
    assert_eq!(frame.map(|e| e.t), close.map(|e| e.t));
}

/// A closed manager is reclaimed by the cleanup only once it was created more than C ago:
/// exactly C (15000 x 20 = 300000 with equal guard times) is not enough, 1 ms more is.
#[test]
fn a_closed_manager_is_reclaimed_after_c_not_at_c() {
    let at_c = run(&storm(21, 15_000));
    assert_eq!(
        outcomes(&at_c)[20],
        (Some(Outcome::Closed1011), Some(Reason::FactoryLimit))
    );
    let after = run(&storm(21, 15_001));
    assert_eq!(outcomes(&after)[20], (Some(Outcome::Served), None));
    assert!(after
        .output
        .trace
        .iter()
        .any(|e| e.ev == Ev::ManagerCleanup { reclaimed: 1 }));
}

/// An open socket keeps its manager alive through the cleanup (its last activity is its
/// welcome frame, within C) until it has been silent for C.
#[test]
fn an_open_manager_counts_until_it_has_been_idle_for_c() {
    // 20 connections held open for 400 s from 5000, then a 21st at 350000: the first 20
    // sent their welcome frames around 5000-24500, more than C before: reclaimable.
    let body = "[policy]\npreset = \"p8\"\nroute = \"f1\"\n\
                [[clients]]\nat_ms = 5000\ncount = 20\nevery_ms = 1000\nhold_ms = 400000\n\
                [[clients]]\nuser_id = \"user_1\"\nat_ms = 350000\n[run]\nhorizon_ms = 900000\n";
    assert_eq!(outcomes(&run(body))[20], (Some(Outcome::Served), None));
    let early = body.replace("at_ms = 350000", "at_ms = 300000");
    assert_eq!(
        outcomes(&run(&early))[20],
        (Some(Outcome::Closed1011), Some(Reason::FactoryLimit))
    );
}

/// p6's constants: the cleanup already runs at 12 managers, with C = 10 s.
#[test]
fn p6_cleans_up_proactively_from_12_managers() {
    let body = "[environment]\nname = \"staging\"\n[policy]\npreset = \"p6\"\n\
                connection_check = \"none\"\n\
                [[clients]]\nat_ms = 5000\ncount = 13\nevery_ms = 1000\n";
    let ev = run(body);
    let cleanups: Vec<u32> = ev
        .output
        .trace
        .iter()
        .filter_map(|e| match e.ev {
            Ev::ManagerCleanup { reclaimed } => Some(reclaimed),
            _ => None,
        })
        .collect();
    // At the 13th connection (n = 12) the managers created more than 10 s before go.
    assert_eq!(cleanups.len(), 1, "{cleanups:?}");
    assert!(cleanups[0] >= 1);
    assert!(outcomes(&ev).iter().all(|o| o.0 == Some(Outcome::Served)));
}

/// The background sweep reclaims managers idle longer than `manager_idle_ms`.
#[test]
fn the_sweep_reclaims_idle_managers() {
    let body = |sweep: u64| {
        format!(
            "[policy]\npreset = \"p8\"\nroute = \"f1\"\nmanager_cleanup_ms = 100000000\n\
             manager_sweep_ms = {sweep}\nmanager_idle_ms = 5000\n\
             [[clients]]\nat_ms = 5000\ncount = 21\nevery_ms = 1000\n[run]\nhorizon_ms = 600000\n"
        )
    };
    let swept = run(&body(10_000));
    assert!(swept
        .output
        .trace
        .iter()
        .any(|e| matches!(e.ev, Ev::ManagerSweep { reclaimed } if reclaimed > 0)));
    assert_eq!(outcomes(&swept)[20].0, Some(Outcome::Served));
    let never = run(&body(100_000_000));
    assert_eq!(
        outcomes(&never)[20],
        (Some(Outcome::Closed1011), Some(Reason::FactoryLimit))
    );
}

/// T2: the same id always fails under p0's predicate and passes under p4's.
#[test]
fn the_user_id_check_is_deterministic_and_version_dependent() {
    let sc = shipped("e2e-user-id-1011");
    let ev = readysim::evaluate(&sc, EngineKind::Fast).expect("a valid scenario");
    assert_eq!(
        outcomes(&ev),
        vec![(Some(Outcome::Closed1011), Some(Reason::InternalError))]
    );
    let t = &ev.output.trace;
    let rejected = t
        .iter()
        .find(|e| matches!(e.ev, Ev::UserIdRejected { .. }))
        .expect("rejected");
    let close = t
        .iter()
        .find(|e| matches!(e.ev, Ev::Close1011 { .. }))
        .expect("closed");
    assert_eq!(close.t - rejected.t, 100, "error frame, 100 ms, close");
    for at in [2200u64, 7000, 60000] {
        let mut s = sc.clone();
        s.clients[0].at_ms = at;
        s.expect = None;
        let o = outcomes(&readysim::evaluate(&s, EngineKind::Fast).expect("a valid scenario"));
        assert_eq!(o[0].1, Some(Reason::InternalError), "at {at}");
    }
    let mut p4 = sc.clone();
    p4.policy.preset = Preset::P4;
    p4.expect = None;
    let ev = readysim::evaluate(&p4, EngineKind::Fast).expect("a valid scenario");
    assert_eq!(outcomes(&ev), vec![(Some(Outcome::Served), None)]);
    // p4's per-connection service check: the 62 s backoff before the welcome frame.
    let t = &ev.output.trace;
    let check = t.iter().find(|e| matches!(e.ev, Ev::ServiceCheck { .. }));
    let welcome = t.iter().find(|e| e.ev == Ev::Welcome);
    assert_eq!(
        welcome.map(|e| e.t - check.map_or(0, |c| c.t)),
        Some(62_000)
    );
}

/// T3: the auth-service breaker opens on the 3rd failed call, not the 2nd; it fails calls for
/// 10000 ms from opening; then a trial call that succeeds closes it.
#[test]
fn the_auth_service_breaker_opens_on_the_third_failure_for_ten_seconds() {
    let sc = shipped("auth-breaker-1011");
    let ev = readysim::evaluate(&sc, EngineKind::Fast).expect("a valid scenario");
    let o = outcomes(&ev);
    assert!(o
        .iter()
        .all(|x| *x == (Some(Outcome::Closed1011), Some(Reason::AuthFailed))));
    assert!(ev.violations.contains(&Violation::Ws1011));
    // Two rejections do not open it: with two reconnects fewer... one reconnect only.
    let mut two = sc.clone();
    two.clients[0].reconnects = 1;
    two.expect = None;
    let ev2 = readysim::evaluate(&two, EngineKind::Fast).expect("a valid scenario");
    assert!(!ev2
        .output
        .trace
        .iter()
        .any(|e| matches!(e.ev, Ev::AuthBreaker { .. })));
    assert_eq!(
        outcomes(&ev2)[2],
        (Some(Outcome::Served), None),
        "client 2 passes"
    );
    // The window: opened at 7380; client 2's pre-check ends 20 ms after it arrives.
    for (at, served) in [(17_359u64, false), (17_360, true)] {
        let mut s = sc.clone();
        s.clients[1].at_ms = at;
        s.expect = None;
        let o = outcomes(&readysim::evaluate(&s, EngineKind::Fast).expect("a valid scenario"));
        assert_eq!(o[4].0 == Some(Outcome::Served), served, "client 2 at {at}");
    }
}

/// The same failures close 1008 in every route but f3.
#[test]
fn only_route_f3_turns_auth_failures_into_1011() {
    let sc = shipped("auth-breaker-1011");
    for route in [
        readysim::Route::F1,
        readysim::Route::F4,
        readysim::Route::Reference,
    ] {
        let mut s = sc.clone();
        s.policy.route = Some(route);
        s.expect = None;
        let ev = readysim::evaluate(&s, EngineKind::Fast).expect("a valid scenario");
        assert!(
            outcomes(&ev)
                .iter()
                .all(|o| *o == (Some(Outcome::Closed1008), Some(Reason::AuthFailed))),
            "{route}: {:?}",
            outcomes(&ev)
        );
        assert!(!ev.violations.contains(&Violation::Ws1011), "{route}");
    }
}

/// The WebSocket authenticator's breaker (f3, f4): the 5th failed connection opens it, and it
/// fails connections at once for 30 s after the last counted failure; p9 uses 3 and 15 s.
#[test]
fn the_ws_authenticator_breaker_opens_at_its_threshold() {
    let body = |preset: &str, n: u32, late: u64| {
        format!(
            "[environment]\nname = \"staging\"\n[policy]\npreset = \"{preset}\"\n\
             [[clients]]\nat_ms = 5000\ncount = {n}\nevery_ms = 1000\ntoken = \"invalid\"\n\
             [[clients]]\nat_ms = {late}\n"
        )
    };
    let fast_fail = |ev: &readysim::replay::Evaluation| {
        ev.output.trace.iter().any(|e| {
            matches!(
                e.ev,
                Ev::AuthFailed {
                    step: AuthStep::WsBreaker,
                    ..
                }
            )
        })
    };
    // p8 (f4): 5 failures open it; a valid client 10 s later meets it and closes 1008.
    let open = run(&body("p8", 5, 20_000));
    assert!(fast_fail(&open));
    let last = outcomes(&open);
    assert_eq!(
        last[5],
        (Some(Outcome::Closed1008), Some(Reason::AuthFailed))
    );
    // Four failures (after a half-open success of the auth-service breaker) do not open it.
    let four = run(&body("p8", 2, 20_000));
    assert!(!fast_fail(&four));
    // p9: three failures are enough.
    assert!(fast_fail(&run(&body("p9", 3, 20_000))));
}

/// The health pre-check is bounded by 500 ms in staging and 1000 ms elsewhere; a latency
/// equal to the bound fails, and that failure is not counted by the auth-service breaker.
#[test]
fn the_precheck_bound_depends_on_the_environment() {
    let body = |env: &str, latency: u64| {
        format!(
            "[environment]\nname = \"{env}\"\n[policy]\npreset = \"p8\"\nguard = \"none\"\n\
             [auth]\nlatency_ms = {latency}\n[[clients]]\nat_ms = 5000\n"
        )
    };
    let step = |ev: &readysim::replay::Evaluation| {
        ev.output.trace.iter().find_map(|e| match e.ev {
            Ev::AuthFailed { step, ms } => Some((step, ms)),
            _ => None,
        })
    };
    assert_eq!(
        step(&run(&body("staging", 500))),
        Some((AuthStep::Precheck, 500))
    );
    // 499 passes the pre-check; the call's two requests then take 998 ms, within 2000 each.
    assert_eq!(step(&run(&body("staging", 499))), None);
    assert_eq!(step(&run(&body("production", 999))), None);
    assert_eq!(
        step(&run(&body("production", 1000))),
        Some((AuthStep::Precheck, 1000))
    );
    // The call is bounded by 3000 ms as a whole. Pre-check 5000-5010; the blacklist request
    // 5010-6510 (10 + a 1490 ms spike); the validation from 6510 takes 10 + `extra`: with
    // 1490 it would end at 8010 = the bound, a failure; with 1489 it ends at 8009.
    let call = |extra: u64| {
        format!(
            "[environment]\nname = \"production\"\n[policy]\npreset = \"p8\"\nguard = \"none\"\n\
             [auth]\nlatency_ms = 10\nspikes = [{{ at_ms = 5010, extra_ms = 1490 }}, \
             {{ at_ms = 6510, extra_ms = {extra} }}]\n[[clients]]\nat_ms = 5000\n"
        )
    };
    // 3010 ms from the start of authentication: the 10 ms pre-check, then the call's 3000.
    assert_eq!(step(&run(&call(1490))), Some((AuthStep::Call, 3010)));
    assert_eq!(step(&run(&call(1489))), None);
}

/// T5: a stall over an outstanding ping closes the connection with 1011 keepalive; a stall
/// before the ping or after the pong was processed does not.
#[test]
fn keepalive_closes_only_when_the_stall_covers_an_outstanding_ping() {
    let sc = shipped("keepalive-stall-1011");
    let first = |at: u64| {
        let mut s = sc.clone();
        for c in s.clients.iter_mut().skip(1) {
            c.at_ms = at;
        }
        s.expect = None;
        outcomes(&readysim::evaluate(&s, EngineKind::Fast).expect("a valid scenario"))[0]
    };
    let closed = (Some(Outcome::Closed1011), Some(Reason::Keepalive));
    assert_eq!(first(23_010), closed);
    // At the ping's own instant the storm's arrivals (registered first) run before the
    // keepalive: the ping goes out after the stall, so nothing is outstanding.
    assert_eq!(first(23_000).0, Some(Outcome::Served));
    assert_eq!(first(23_001), closed);
    assert_eq!(
        first(23_050),
        closed,
        "the pong arrived but was not processed"
    );
    assert_eq!(first(22_990).0, Some(Outcome::Served), "before the ping");
    assert_eq!(
        first(23_051).0,
        Some(Outcome::Served),
        "after the pong was processed"
    );
    assert_eq!(
        first(5_000).0,
        Some(Outcome::Served),
        "in the keepalive's sleep"
    );
    // With fewer connections the stall ends before the pong wait expires.
    let mut small = sc.clone();
    small.clients.truncate(1 + 39);
    small.expect = None;
    let o = outcomes(&readysim::evaluate(&small, EngineKind::Fast).expect("a valid scenario"));
    assert_eq!(o[0].0, Some(Outcome::Served), "39 x 500 ms < 20 s");
}

/// Under the reference design none of the four real-1011 scenarios closes anything with
/// 1011 (the files' route and knob overrides removed, so the reference route runs).
#[test]
fn the_reference_closes_nothing_with_1011() {
    for name in [
        "e2e-user-id-1011",
        "manager-limit-storm",
        "auth-breaker-1011",
        "keepalive-stall-1011",
    ] {
        let mut s = shipped(name);
        s.policy = readysim::PolicySpec {
            preset: Preset::Reference,
            ..Default::default()
        };
        s.expect = None;
        let ev = readysim::evaluate(&s, EngineKind::Fast).expect("a valid scenario");
        assert!(
            !ev.output
                .results
                .clients
                .contains(&Some(Outcome::Closed1011)),
            "{name}: {:?}",
            outcomes(&ev)
        );
        assert!(!ev.violations.contains(&Violation::Ws1011), "{name}");
    }
}

/// The historical presets reach the real 1011s without the counterfactual knob.
#[test]
fn the_real_1011s_need_no_on_redis_error_override() {
    for name in [
        "e2e-user-id-1011",
        "manager-limit-storm",
        "auth-breaker-1011",
        "keepalive-stall-1011",
    ] {
        let sc = shipped(name);
        assert_eq!(sc.policy.on_redis_error, None, "{name}");
        let rep = readysim::replay(&sc, EngineKind::Fast).expect("a valid scenario");
        assert!(rep.matches, "{name}: {:?}", rep.mismatches);
        assert!(rep.violations.contains(&Violation::Ws1011), "{name}");
        assert!(
            !rep.client_reasons.contains(&Some(Reason::RedisError)),
            "{name}"
        );
    }
}

/// Entries expand by count with one user per entry; a reset client's reconnect is refused
/// and ends it; a client still connected when the run ends is served, not a hang.
#[test]
fn clients_expand_reconnect_and_end_served_when_still_connected() {
    let ev =
        run("[policy]\npreset = \"p0\"\n[[clients]]\nat_ms = 300\ncount = 2\nreconnects = 2\n");
    // Both are reset when the worker exits; each reconnects once and is refused.
    assert_eq!(
        ev.output.results.clients,
        vec![
            Some(Outcome::Reset),
            Some(Outcome::Refused),
            Some(Outcome::Reset),
            Some(Outcome::Refused)
        ]
    );
    let held = run(
        "[policy]\npreset = \"p8\"\n[[clients]]\nat_ms = 5000\nhold_ms = 500000\n\
         [run]\nhorizon_ms = 100000\n",
    );
    assert_eq!(held.output.results.clients, vec![Some(Outcome::Served)]);
    assert!(!held.violations.contains(&Violation::Hang));
}

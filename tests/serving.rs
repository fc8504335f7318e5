//! The serving path: backlog, guard modes, the startup queue, retries after 503, and what a
//! Redis error does to a message under each `on_redis_error`.

mod common;
use common::scenario;

use readysim::engine::EngineKind;
use readysim::trace::Ev;
use readysim::Outcome;
use readysim::Violation;

fn outcomes(body: &str) -> (Vec<Option<Outcome>>, u64) {
    let ev = readysim::evaluate(&scenario(body), EngineKind::Fast).expect("a valid scenario");
    (ev.output.results.clients, ev.output.results.lost_messages)
}

fn has_event(body: &str, pred: impl Fn(&Ev) -> bool) -> bool {
    readysim::evaluate(&scenario(body), EngineKind::Fast)
        .expect("a valid scenario")
        .output
        .trace
        .iter()
        .any(|e| pred(&e.ev))
}

/// Redis up for startup, unreachable (and noticed by the health check at 30524) afterwards.
const OUTAGE: &str = "[redis.server]\noutages = [[30000, 200000]]\n";

#[test]
fn a_client_before_bind_is_refused_and_one_during_startup_is_dispatched() {
    let body = "[policy]\npreset = \"p8\"\n[server]\nbind_ms = 1000\n[[clients]]\nat_ms = 500\n[[clients]]\nat_ms = 1500\nmessages = 1\n";
    let (o, _) = outcomes(body);
    assert_eq!(o, vec![Some(Outcome::Refused), Some(Outcome::Served)]);
    assert!(has_event(body, |e| *e == Ev::Backlog));
    assert!(has_event(body, |e| *e == Ev::Dispatch));
}

#[test]
fn guard_none_accepts_without_looking() {
    let body = format!(
        "[policy]\npreset = \"p8\"\nguard = \"none\"\n{OUTAGE}[[clients]]\nat_ms = 40000\n"
    );
    assert!(has_event(&body, |e| *e == Ev::Accept));
    let ev = readysim::evaluate(&scenario(&body), EngineKind::Fast).expect("a valid scenario");
    let client_checks = ev
        .output
        .trace
        .iter()
        .filter(|e| matches!(e.actor, readysim::Actor::Client(_)))
        .filter(|e| matches!(e.ev, Ev::CheckStart { .. }))
        .count();
    assert_eq!(client_checks, 0);
    assert_eq!(outcomes(&body).0, vec![Some(Outcome::Served)]);
}

#[test]
fn guard_degrade_accepts_in_degraded_mode_when_not_ready() {
    let body =
        format!("[policy]\npreset = \"p8\"\n{OUTAGE}[[clients]]\nat_ms = 40000\nmessages = 1\n");
    assert!(has_event(&body, |e| *e == Ev::AcceptDegraded));
    let ev = readysim::evaluate(&scenario(&body), EngineKind::Fast).expect("a valid scenario");
    // A degraded accept is not a declaration of readiness.
    assert!(!ev.violations.contains(&Violation::FalseReady));
    assert_eq!(ev.output.results.lost_messages, 1);
}

#[test]
fn guard_reject_answers_503_and_the_client_retries_after_retry_after() {
    let body = format!(
        "[policy]\npreset = \"p8\"\nguard = \"reject\"\nretry_after_ms = 1000\n{OUTAGE}[[clients]]\nat_ms = 40000\nretries = 2\n[[clients]]\nat_ms = 40000\n"
    );
    let (o, _) = outcomes(&body);
    assert_eq!(
        o,
        vec![Some(Outcome::Rejected503), Some(Outcome::Rejected503)]
    );
    let ev = readysim::evaluate(&scenario(&body), EngineKind::Fast).expect("a valid scenario");
    let retries = ev.output.trace.iter().filter(|e| e.ev == Ev::Retry).count();
    assert_eq!(retries, 2);
    // Redis back at 40500; the manager notices at its next reconnect tick (60524), and a
    // retry after that is admitted.
    let healed = body
        .replace("200000", "40500")
        .replace("retry_after_ms = 1000", "retry_after_ms = 25000");
    assert_eq!(outcomes(&healed).0[0], Some(Outcome::Served));
}

#[test]
fn the_reference_answers_503_during_startup_instead_of_holding_the_backlog() {
    let body = "[policy]\npreset = \"reference\"\n[[clients]]\nat_ms = 100\n[[clients]]\nat_ms = 100\nretries = 1\n";
    assert_eq!(
        outcomes(body).0,
        vec![Some(Outcome::Rejected503), Some(Outcome::Served)]
    );
}

#[test]
fn the_queue_holds_fifty_and_rejects_the_next() {
    let mut body = format!("[policy]\npreset = \"p9\"\n{OUTAGE}");
    for i in 0..52 {
        body.push_str(&format!("[[clients]]\nat_ms = {}\n", 31000 + i));
    }
    let ev = readysim::evaluate(&scenario(&body), EngineKind::Fast).expect("a valid scenario");
    let held = ev
        .output
        .results
        .clients
        .iter()
        .filter(|o| **o == Some(Outcome::HandshakeFailed))
        .count();
    let rejected = ev
        .output
        .results
        .clients
        .iter()
        .filter(|o| **o == Some(Outcome::Rejected503))
        .count();
    assert_eq!((held, rejected), (50, 2));
    assert!(ev.violations.contains(&Violation::LostConnection));
    // No close code ever reaches a connection that was never accepted.
    assert!(!ev
        .output
        .trace
        .iter()
        .any(|e| matches!(e.ev, Ev::Close1011 { .. })));
}

#[test]
fn a_worker_exit_resets_the_backlog_and_refuses_later_clients() {
    let body = "[policy]\npreset = \"p0\"\n[[clients]]\nat_ms = 100\n[[clients]]\nat_ms = 20000\n";
    assert_eq!(
        outcomes(body).0,
        vec![Some(Outcome::Reset), Some(Outcome::Refused)]
    );
}

#[test]
fn on_redis_error_decides_between_loss_error_frame_and_1011() {
    let base = |mode: &str| {
        format!("[environment]\nname = \"staging\"\n[policy]\npreset = \"p5\"\non_redis_error = \"{mode}\"\n[redis.server]\nup_from_ms = 900000\n[[clients]]\nat_ms = 10000\nmessages = 3\n")
    };
    assert_eq!(outcomes(&base("silent")), (vec![Some(Outcome::Served)], 3));
    assert_eq!(
        outcomes(&base("error_frame")),
        (vec![Some(Outcome::Served)], 0)
    );
    assert!(has_event(&base("error_frame"), |e| *e == Ev::ErrorFrame));
    assert_eq!(
        outcomes(&base("close_1011")),
        (vec![Some(Outcome::Closed1011)], 0)
    );
}

#[test]
fn a_healthy_redis_handles_every_message() {
    let body = "[policy]\npreset = \"p8\"\n[[clients]]\nat_ms = 5000\nmessages = 5\n";
    let ev = readysim::evaluate(&scenario(body), EngineKind::Fast).expect("a valid scenario");
    let handled = ev
        .output
        .trace
        .iter()
        .filter(|e| e.ev == Ev::MessageHandled)
        .count();
    assert_eq!(handled, 5);
    assert!(ev.violations.is_empty(), "{:?}", ev.violations);
}

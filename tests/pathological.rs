//! Valid but pathological scenarios end within their step budget and horizon with a verdict
//! (`hang` at worst), on both engines (issue 6). Each stays well under two seconds in debug.

use std::path::Path;

use readysim::engine::{EndReason, EngineKind};
use readysim::scenario::{self, limits};
use readysim::DEFAULT_MAX_STEPS;

fn head(preset: &str, policy_extra: &str) -> String {
    format!(
        "format = 1\nname = \"p\"\nsummary = \"s\"\n\n[policy]\npreset = \"{preset}\"\n{policy_extra}\n"
    )
}

/// Parses `text` (it must be valid), runs it on `kind`, and checks the run ended in bounds with
/// a verdict. Returns the startup outcome's name.
fn ends(text: &str, kind: EngineKind) -> String {
    let sc = scenario::parse(text, Path::new("p.toml"), Some("p")).expect("a valid scenario");
    let budget = sc.run.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
    let ev = readysim::replay::evaluate(&sc, kind).expect("a valid scenario");
    let e = &ev.output.engine;
    assert!(e.steps <= budget, "steps {} over budget {budget}", e.steps);
    assert!(
        e.end_ms <= sc.run.horizon_ms,
        "ended at {} past the horizon",
        e.end_ms
    );
    let startup = ev.output.results.startup.expect("a verdict, hang at worst");
    if startup.name() == "hang" {
        assert_ne!(e.end, EndReason::Stopped, "a hang is never a clean stop");
    }
    assert_eq!(
        ev.output.results.clients.len(),
        sc.clients.len(),
        "one outcome slot per client"
    );
    startup.name().to_string()
}

fn both(text: &str) -> (String, String) {
    (ends(text, EngineKind::Fast), ends(text, EngineKind::Tokio))
}

#[test]
fn ping_spike_longer_than_the_horizon() {
    let text = head("reference", "")
        + &format!(
            "[redis.server]\nping_spikes = [{{ at_ms = 0, extra_ms = {} }}]\n\
             [run]\nhorizon_ms = {}\n",
            limits::MAX_TIME_MS,
            limits::MAX_HORIZON_MS
        );
    let (fast, tokio) = both(&text);
    assert_eq!(fast, tokio);
}

#[test]
fn every_time_knob_at_its_maximum() {
    let max = limits::MAX_TIME_MS;
    for preset in ["p0", "p1", "p9", "reference"] {
        let policy = format!(
            "redis_retries = {}\nredis_delay_ms = {max}\ngrace = \"blocking\"\ngrace_ms = {max}\n\
             reprobe_after_grace = true\ndeclared_redis_timeout_ms = {max}\n\
             group_timeouts_ms = [{max}, {max}, {max}]\ndeadline_ms = {max}\n\
             guard = \"queue\"\nguard_timeout_ms = {max}\nretry_after_ms = {max}\n\
             startup_reconnect_ms = {max}\n",
            limits::MAX_RETRIES
        );
        let text = head(preset, &policy)
            + &format!(
                "[startup]\ninit_ms = {max}\nprobe_cost_ms = {max}\n\
                 [redis.server]\nup_from_ms = {max}\nconnect_ms = {max}\nping_ms = {max}\n\
                 [redis.manager]\nstabilize_ms = {max}\nhealth_interval_ms = {max}\n\
                 ping_timeout_ms = {max}\n\
                 [[clients]]\nat_ms = {max}\nmessages = {}\nmessage_gap_ms = {max}\n\
                 [run]\nhorizon_ms = {}\n",
                limits::MAX_MESSAGES,
                limits::MAX_HORIZON_MS
            );
        let (fast, tokio) = both(&text);
        assert_eq!(fast, "hang", "{preset}: init alone outlasts the horizon");
        assert_eq!(tokio, "hang", "{preset}");
    }
}

#[test]
fn every_retry_knob_at_its_maximum_with_zero_delays() {
    // Nothing takes time: every loop is bounded by counts, not by the clock.
    let policy = format!(
        "redis_retries = {}\nredis_delay_ms = 0\ngrace_ms = 0\nloop = \"exponential\"\n",
        limits::MAX_RETRIES
    );
    let text = head("p9", &policy)
        + "[startup]\ndatabase_ms = 0\ncache_ms = 0\nservices_ms = 0\nwebsocket_ms = 0\n\
           probe_cost_ms = 0\n[redis.server]\nup_from_ms = 1000000000000\nconnect_ms = 0\n\
           ping_ms = 0\n[redis.manager]\nhealth_interval_ms = 1\nping_timeout_ms = 0\n\
           [run]\nmax_steps = 200000\n";
    let (fast, tokio) = both(&text);
    assert_eq!(fast, tokio);
}

#[test]
fn one_ms_reconnect_loop_for_a_day_stops_at_the_step_budget() {
    let text = head(
        "reference",
        "startup_reconnect_ms = 1\ndeadline_ms = 1000000000000\n",
    ) + &format!(
        "[redis.server]\nup_from_ms = 1000000000000\n[redis.manager]\nhealth_interval_ms = 1\n\
         [run]\nhorizon_ms = {}\nmax_steps = 50000\n",
        limits::MAX_HORIZON_MS
    );
    for kind in [EngineKind::Fast, EngineKind::Tokio] {
        let sc = scenario::parse(&text, Path::new("p.toml"), Some("p")).expect("valid");
        let ev = readysim::replay::evaluate(&sc, kind).expect("a valid scenario");
        assert_eq!(ev.output.engine.end, EndReason::StepBudget, "{kind:?}");
        assert_eq!(ev.output.engine.steps, 50_000, "{kind:?}");
        assert_eq!(
            ev.output.results.startup.map(|s| s.name()),
            Some("hang"),
            "{kind:?}"
        );
    }
}

#[test]
fn max_clients_at_the_work_limit() {
    // 10000 clients, each (1 + 0 retries) x 1 re-check + 9 messages = 10 units: 100000 in all.
    let mut text = head("reference", "");
    text.push_str("[redis.server]\nping_ms = 0\nconnect_ms = 0\n");
    for i in 0..limits::MAX_CLIENTS {
        text.push_str(&format!(
            "[[clients]]\nat_ms = {}\nmessages = 9\nmessage_gap_ms = 0\n",
            3000 + i % 7
        ));
    }
    let fast = ends(&text, EngineKind::Fast);
    assert_eq!(fast, "ready");
}

#[test]
fn max_messages_for_one_client_with_no_gap() {
    let text = head("reference", "")
        + &format!(
            "[redis.server]\nping_ms = 0\n[[clients]]\nat_ms = 3000\nmessages = {}\n\
             message_gap_ms = 0\n",
            limits::MAX_MESSAGES
        );
    let (fast, tokio) = both(&text);
    assert_eq!((fast.as_str(), tokio.as_str()), ("ready", "ready"));
}

#[test]
fn rejected_clients_retrying_with_no_delay() {
    // Startup never ends (Redis never comes up, deadline far away): every client is rejected
    // and retries at once, as often as the work limit allows.
    let mut text = head(
        "reference",
        "retry_after_ms = 0\nredis_retries = 0\ndeadline_ms = 1000000000000\n",
    );
    text.push_str("[redis.server]\nup_from_ms = 1000000000000\n[run]\nmax_steps = 100000\n");
    for _ in 0..100 {
        text.push_str("[[clients]]\nat_ms = 0\nretries = 1000\n");
    }
    let sc = scenario::parse(&text, Path::new("p.toml"), Some("p")).expect("valid");
    assert!(sc.clients.len() == 100);
    let fast = ends(&text, EngineKind::Fast);
    assert_eq!(fast, "hang");
}

#[test]
fn max_windows_and_decisions() {
    let outages: Vec<String> = (0..limits::MAX_WINDOWS)
        .map(|i| format!("[{}, {}]", 3 * i as u64, 3 * i as u64 + 1))
        .collect();
    let spikes: Vec<String> = (0..limits::MAX_WINDOWS)
        .map(|i| format!("{{ at_ms = {}, extra_ms = 2 }}", 5 * i))
        .collect();
    let decisions = vec![u32::MAX.to_string(); limits::MAX_DECISIONS].join(",");
    let text = head("p9", "startup_reconnect_ms = 1\n")
        + &format!(
            "[redis.server]\noutages = [{}]\nping_spikes = [{}]\n\
             [[clients]]\nat_ms = 0\n[[clients]]\nat_ms = 0\n\
             [run]\ndecisions = [{decisions}]\nmax_steps = 200000\n",
            outages.join(", "),
            spikes.join(", ")
        );
    let (fast, tokio) = both(&text);
    assert!(!fast.is_empty() && !tokio.is_empty());
}

#[test]
fn everything_at_zero() {
    let text = head("p0", "grace_ms = 0\nredis_delay_ms = 0\n")
        + "[startup]\ndatabase_ms = 0\ncache_ms = 0\nservices_ms = 0\nwebsocket_ms = 0\n\
           probe_cost_ms = 0\n[redis.server]\nconnect_ms = 0\nping_ms = 0\nrefuse_ms = 0\n\
           [redis.manager]\nping_timeout_ms = 0\nget_client_ping_timeout_ms = 0\n\
           [[clients]]\nat_ms = 0\nmessages = 3\nmessage_gap_ms = 0\n\
           [run]\nhorizon_ms = 1\n";
    let (fast, tokio) = both(&text);
    assert_eq!(fast, tokio);
}

#[test]
fn a_freeze_longer_than_the_horizon_ends_at_it_on_both_engines() {
    let text = head("p1", "probe = \"faithful\"\ngrace_ms = 1000000000000\n")
        + "[run]\nhorizon_ms = 100000\n";
    let sc = scenario::parse(&text, Path::new("p.toml"), Some("p")).expect("valid");
    let fast = readysim::replay::evaluate(&sc, EngineKind::Fast).expect("a valid scenario");
    let tokio = readysim::replay::evaluate(&sc, EngineKind::Tokio).expect("a valid scenario");
    for ev in [&fast, &tokio] {
        assert!(ev.output.engine.end_ms <= 100_000);
        assert!(ev.output.trace.iter().all(|e| e.t <= 100_000));
    }
    assert_eq!(fast.output.trace, tokio.output.trace);
}

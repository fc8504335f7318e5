//! Each oracle fires on a scenario built to violate it and stays quiet on its nearest
//! neighbour that does not.

mod common;
use common::scenario;

use readysim::engine::EngineKind;
use readysim::Violation;

fn violates(body: &str, v: Violation) -> bool {
    readysim::evaluate(&scenario(body), EngineKind::Fast)
        .expect("a valid scenario")
        .violations
        .contains(&v)
}

#[test]
fn false_ready_needs_the_stabilisation_to_outlast_the_grace() {
    let race = "[policy]\npreset = \"p8\"\n[redis.server]\nup_from_ms = 2500\n[redis.manager]\nstabilize_ms = 2000\n";
    assert!(violates(race, Violation::FalseReady));
    let settled = race.replace("stabilize_ms = 2000", "stabilize_ms = 400");
    assert!(!violates(&settled, Violation::FalseReady));
}

#[test]
fn spurious_failure_needs_redis_operational_early_enough() {
    assert!(violates(
        "[policy]\npreset = \"p0\"\n",
        Violation::SpuriousFailure
    ));
    assert!(!violates(
        "[policy]\npreset = \"p0\"\n[redis.server]\nup_from_ms = 200000\n",
        Violation::SpuriousFailure
    ));
}

#[test]
fn dead_config_compares_the_fail_time_with_the_declared_timeout() {
    let down = "[redis.server]\nup_from_ms = 200000\n";
    assert!(violates(
        &format!("[policy]\npreset = \"p0\"\nprobe = \"faithful\"\n{down}"),
        Violation::DeadConfig
    ));
    // final constants: 3 x 500 against T = 1500 is within d.
    assert!(!violates(
        &format!("[policy]\npreset = \"p8\"\n{down}"),
        Violation::DeadConfig
    ));
}

#[test]
fn blocked_loop_starts_above_fifty_ms() {
    let p = |ms: u32| format!("[policy]\npreset = \"p1\"\nprobe = \"faithful\"\ngrace_ms = {ms}\n");
    assert!(!violates(&p(50), Violation::BlockedLoop));
    assert!(violates(&p(51), Violation::BlockedLoop));
}

#[test]
fn stale_verdict_needs_a_drop_between_probe_and_publish() {
    let flap = std::fs::read_to_string("scenarios/flap-in-grace.toml").expect("shipped");
    let body = flap.split_once("summary").expect("summary").1;
    let body = body.split_once('\n').expect("line").1;
    assert!(violates(body, Violation::StaleVerdict));
    let no_grace = body.replace("preset = \"p8\"", "preset = \"p8\"\ngrace = \"none\"");
    assert!(!violates(&no_grace, Violation::StaleVerdict));
}

#[test]
fn ws_1011_only_when_the_server_was_up() {
    let clients = "[[clients]]\nat_ms = 9000\nmessages = 3\nmessage_gap_ms = 500\n";
    // A 6000 ms spike: the inline reconnect's handshake fails at its 5000 ms bound while the
    // server is up (the shipped ping-spike-1011).
    let spike = format!(
        "[policy]\npreset = \"p8\"\non_redis_error = \"close_1011\"\n[redis.server]\nping_spikes = [{{ at_ms = 10000, extra_ms = 6000 }}]\n{clients}"
    );
    assert!(violates(&spike, Violation::Ws1011));
    // The same close caused by a real outage is not the system's own doing.
    let outage = format!(
        "[policy]\npreset = \"p8\"\non_redis_error = \"close_1011\"\n[redis.server]\noutages = [[9900, 20000]]\n{clients}"
    );
    let ev = readysim::evaluate(&scenario(&outage), EngineKind::Fast).expect("a valid scenario");
    assert_eq!(
        ev.output.results.clients[0],
        Some(readysim::Outcome::Closed1011)
    );
    assert!(!ev.violations.contains(&Violation::Ws1011));
}

#[test]
fn lying_flag_is_the_bypass_setting_the_flag() {
    let bypass = "[environment]\nname = \"staging\"\n[policy]\npreset = \"p6\"\n[services]\nagent_supervisor_ready_at_ms = 600000\n";
    assert!(violates(bypass, Violation::LyingFlag));
    let honest = bypass.replace("600000", "0");
    assert!(!violates(&honest, Violation::LyingFlag));
}

#[test]
fn hang_when_the_horizon_cuts_startup_short() {
    assert!(violates(
        "[policy]\npreset = \"p0\"\n[run]\nhorizon_ms = 5000\n",
        Violation::Hang
    ));
    assert!(!violates("[policy]\npreset = \"p0\"\n", Violation::Hang));
}

#[test]
fn lost_message_and_error_frames() {
    let down = "[redis.server]\nup_from_ms = 900000\n[environment]\nname = \"staging\"\n[[clients]]\nat_ms = 20000\nmessages = 2\n";
    assert!(violates(
        &format!("[policy]\npreset = \"p5\"\n{down}"),
        Violation::LostMessage
    ));
    assert!(!violates(
        &format!("[policy]\npreset = \"p5\"\non_redis_error = \"error_frame\"\n{down}"),
        Violation::LostMessage
    ));
}

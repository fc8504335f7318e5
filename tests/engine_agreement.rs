//! The two engines agree on scenarios whose decisions pick no order and whose run is not cut,
//! event-loop freezes and storms included: p6's blocking per-connection check with several
//! clients, arrivals in bursts, retries and messages, at the full step budget.
//!
//! Both tests are `#[ignore]`d: they show a disagreement that is known and not fixed yet (the
//! generator finds it within a few hundred cases). After a run of back-to-back freezes, the
//! keepalive pongs whose timers fell due during them (each pong sleeps its round trip, then
//! yields once) are emitted in a different order relative to the next accepted connection's
//! freeze on the two engines. docs/engines.md says so. Run them with
//! `AGREE_CASES=1500 cargo test --release --test engine_agreement -- --ignored`.

use proptest::prelude::*;
use readysim::engine::EngineKind;
use readysim::scenario::{self, Scenario};

/// A p6 file whose clients arrive in a few bursts around the keepalive and health instants.
fn freeze_file() -> impl Strategy<Value = String> {
    let entry = (
        prop_oneof![
            Just(3000u64),
            Just(23_010u64),
            2_600..3_200u64,
            20_000..26_000u64,
            40_000..46_000u64
        ],
        1..40u32,
        0..4u32,
        0..4u32,
        prop_oneof![Just(0u64), Just(60_000u64), 100..60_000u64],
        prop_oneof![Just(0u64), Just(50u64), 0..2000u64],
        any::<bool>(),
        0..3u32,
    );
    (
        prop::collection::vec(entry, 2..6),
        prop_oneof![Just("faithful"), Just("property-call")],
        prop_oneof![Just(""), Just("[redis.server]\noutages = [[21000, 24000]]\n")],
    )
        .prop_map(|(entries, probe, server)| {
            let mut f = format!("format = 1\nname = \"gen\"\nsummary = \"generated\"\n[policy]\npreset = \"p6\"\nprobe = \"{probe}\"\n{server}");
            for (at, count, retries, messages, hold, rtt, same_user, reconnects) in entries {
                f += &format!(
                    "[[clients]]\nat_ms = {at}\ncount = {count}\nretries = {retries}\n\
                     messages = {messages}\nhold_ms = {hold}\nrtt_ms = {rtt}\n\
                     reconnects = {reconnects}\n"
                );
                if same_user {
                    f += "user_id = \"u\"\n";
                }
            }
            f
        })
}

fn parse(text: &str) -> Scenario {
    scenario::parse(text, std::path::Path::new("gen.toml"), Some("gen")).expect("a valid file")
}

fn hashes(text: &str) -> (String, String) {
    let sc = parse(text);
    let fast = readysim::evaluate(&sc, EngineKind::Fast).unwrap().output;
    let tokio = readysim::evaluate(&sc, EngineKind::Tokio).unwrap().output;
    assert!(!fast.hung() && !tokio.hung(), "neither run is cut");
    (
        readysim::trace::hash(&fast.trace),
        readysim::trace::hash(&tokio.trace),
    )
}

/// 45 connections at 3000 under p6 (the generator's first find, shrunk): at 48000 the tokio
/// engine emits two pongs before the health ping and the next freeze, the fast one after.
#[test]
#[ignore = "known disagreement of the engines after back-to-back freezes; see the module doc"]
fn pongs_after_back_to_back_freezes() {
    let clients = [
        (20000, 1, 0, 0, 0, 0),
        (3000, 2, 1, 0, 50, 1),
        (3000, 21, 0, 0, 0, 1),
        (3000, 21, 0, 60000, 50, 0),
    ];
    let mut text = String::from(
        "format = 1\nname = \"gen\"\nsummary = \"s\"\n[policy]\npreset = \"p6\"\nprobe = \"faithful\"\n",
    );
    for (at, count, messages, hold, rtt, reconnects) in clients {
        text += &format!(
            "[[clients]]\nat_ms = {at}\ncount = {count}\nmessages = {messages}\nhold_ms = {hold}\n\
             rtt_ms = {rtt}\nreconnects = {reconnects}\n"
        );
    }
    let (fast, tokio) = hashes(&text);
    assert_eq!(fast, tokio, "the engines' traces differ:\n{text}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("AGREE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        // The failing file is printed whole; nothing to persist beside the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    #[ignore = "finds the known disagreement; see the module doc"]
    fn engines_agree_on_multi_client_freezes(text in freeze_file()) {
        let sc = parse(&text);
        let fast = readysim::evaluate(&sc, EngineKind::Fast).unwrap().output;
        let tokio = readysim::evaluate(&sc, EngineKind::Tokio).unwrap().output;
        prop_assume!(!fast.hung() && !tokio.hung());
        let (a, b) = (readysim::trace::hash(&fast.trace), readysim::trace::hash(&tokio.trace));
        if a != b {
            let first = fast.trace.iter().zip(&tokio.trace).position(|(x, y)| x != y);
            let at = first.unwrap_or(fast.trace.len().min(tokio.trace.len()));
            let show = |t: &[readysim::trace::Event]| {
                t[at.saturating_sub(3)..(at + 3).min(t.len())]
                    .iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join("\n")
            };
            prop_assert!(false, "engines differ at event {at}:\nfast:\n{}\ntokio:\n{}\n{text}",
                show(&fast.trace), show(&tokio.trace));
        }
    }
}

//! The two engines agree on scenarios whose decisions pick no order and whose run is not cut,
//! event-loop freezes and storms included: p6's blocking per-connection check with several
//! clients, arrivals in bursts, retries and messages, at the full step budget.
//!
//! The generator found a disagreement (fixed): after back-to-back freezes, the tokio engine
//! fired the timers that fell due as soon as its reactor's turn came, in the middle of tasks
//! that yields had queued behind it, where the fast engine fires them only once no task is
//! ready. `AGREE_CASES=N` runs N generated files (default 300).

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
        prop_oneof![Just(""), Just("grace = \"blocking\"\n")],
    )
        .prop_map(|(entries, probe, server, grace)| {
            let mut f = format!("format = 1\nname = \"gen\"\nsummary = \"generated\"\n[policy]\npreset = \"p6\"\nprobe = \"{probe}\"\n{grace}{server}");
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
        cases: std::env::var("AGREE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
        // The failing file is printed whole; nothing to persist beside the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
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

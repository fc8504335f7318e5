//! Differential fuzzing of the loader and both engines: arbitrary bytes and mutated shipped
//! scenarios go to `scenario::parse`; what parses is replayed on the fast engine twice and on
//! tokio once. No input may panic, hang or grow without bound, every error must be located
//! inside the file, a rerun must give the same trace, and the engines must agree.
//!
//! `cargo test --test fuzz_loader` runs a few thousand inputs; `PROPTEST_CASES=N` runs N per
//! property (see docs/fuzzing.md for the million-input run).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use readysim::engine::EngineKind;
use readysim::scenario::{self, Scenario};

/// Inputs per property when `PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 1500;
/// Step budget imposed on every replayed input, so a case stays in milliseconds.
const FUZZ_MAX_STEPS: u64 = 20_000;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// The shipped scenarios: (stem, text). `FUZZ_SCENARIOS=DIR` fuzzes another folder instead.
fn corpus() -> &'static [(String, String)] {
    static C: OnceLock<Vec<(String, String)>> = OnceLock::new();
    C.get_or_init(|| {
        let root = std::env::var_os("FUZZ_SCENARIOS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"));
        let files = scenario::files_under(&root);
        assert!(!files.is_empty(), "no shipped scenarios under {root:?}");
        files
            .iter()
            .map(|p| {
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                (
                    stem.to_string(),
                    std::fs::read_to_string(p).expect("read a shipped scenario"),
                )
            })
            .collect()
    })
}

/// Values that sit on or just past a boundary somewhere in the format.
const BOUNDARY: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e15",
    "1000000000000000",
    "1000000000000",
    "1000000000001",
    "4294967295",
    "4294967296",
    "86400000",
    "86400001",
    "10000",
    "10001",
    "20000000",
    "1000001",
    "0.5",
    "nan",
    "inf",
    "\"x\"",
    "\"\"",
    "true",
    "[]",
    "[[1, 0]]",
    "{}",
    "0x10",
    "1_000",
    "1979-05-27",
];

/// Lines that, inserted anywhere, push the model into rarer states (or break the file).
const SNIPPETS: &[&str] = &[
    "[[clients]]\nat_ms = 0\nmessages = 10000\nmessage_gap_ms = 0",
    "[[clients]]\nat_ms = 0\nretries = 1000",
    "[redis.server]\noutages = [[0, 86400000]]",
    "outages = [[10, 20], [15, 30]]",
    "ping_spikes = [{ at_ms = 0, extra_ms = 1000000000000 }]",
    "[run]\nmax_steps = 1",
    "horizon_ms = 86400000",
    "decisions = [4294967295, 0, 1, 99]",
    "[policy]",
    "loop = \"event\"",
    "loop = \"exponential\"",
    "guard = \"reject\"\nretry_after_ms = 0",
    "guard = \"queue\"",
    "grace = \"blocking\"",
    "startup_reconnect_ms = 1",
    "redis_retries = 10000\nredis_delay_ms = 0",
    "health_interval_ms = 1",
    "[environment]\nname = \"staging\"",
    "[expect]\nstartup = \"hang\"",
    "notes = \"\"\"\n[redis]\n\"\"\"",
    "a.b.c = 1",
    "[[",
    "\"",
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceNumber(usize, usize),
    SwapValues(usize, usize),
    Insert(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), 0..BOUNDARY.len()).prop_map(|(i, v)| Mutation::ReplaceNumber(i, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::SwapValues(i, j)),
        (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(i, s)| Mutation::Insert(i, s)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Applies `m` to `text` (indices wrap around; an inapplicable mutation leaves it unchanged).
fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::FlipByte(i, b) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = i % bytes.len();
                bytes[i] = b;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::ReplaceNumber(k, v) => {
            let spans = number_spans(text);
            if spans.is_empty() {
                return text.to_string();
            }
            let (a, b) = spans[k % spans.len()];
            return format!("{}{}{}", &text[..a], BOUNDARY[v], &text[b..]);
        }
        Mutation::SwapValues(i, j) => {
            let with_value: Vec<usize> = (0..lines.len())
                .filter(|&k| lines[k].contains('=') && !lines[k].trim_start().starts_with('#'))
                .collect();
            if with_value.len() >= 2 {
                let (a, b) = (
                    with_value[i % with_value.len()],
                    with_value[j % with_value.len()],
                );
                let (ka, va) = lines[a].split_once('=').expect("has =");
                let (kb, vb) = lines[b].split_once('=').expect("has =");
                let (na, nb) = (format!("{ka}={vb}"), format!("{kb}={va}"));
                lines[a] = na;
                lines[b] = nb;
            }
        }
        Mutation::Insert(i, s) => {
            let at = i % (lines.len() + 1);
            lines.insert(at, SNIPPETS[s].to_string());
        }
        Mutation::Truncate(i) => {
            let mut cut = i % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
        _ => {}
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Byte ranges of integer literals (an optional `-` and digits) outside comments.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() || (b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if starts && !word_before {
            let s = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// The property: parse never panics; an error lies inside the text; what parses replays in
/// bounds and survives a write/read round trip.
fn check(text: &str, stem: &str) -> Result<(), TestCaseError> {
    let file = Path::new("fuzz.toml");
    match scenario::parse(text, file, Some(stem)) {
        Err(e) => {
            let lines = text.lines().count().max(1);
            prop_assert!(!e.message.is_empty());
            prop_assert!(e.line <= lines + 1, "line {} of {lines}: {e}", e.line);
            prop_assert!(e.line == 0 || e.column >= 1, "{e}");
            Ok(())
        }
        Ok(sc) => {
            if std::env::var_os("FUZZ_STATS").is_some() {
                eprintln!("FUZZ-PARSED");
            }
            if let Err(e) = replay_bounded(&sc) {
                // FUZZ_DUMP=FILE keeps the failing input, to replay it with `readysim`.
                if let Some(f) = std::env::var_os("FUZZ_DUMP") {
                    let _ = std::fs::write(f, text);
                }
                return Err(e);
            }
            let again = scenario::to_toml(&sc, &["fuzz".to_string()]);
            let back = scenario::parse(&again, file, Some(stem));
            prop_assert!(
                back.is_ok(),
                "written back, it does not load: {:?}",
                back.err()
            );
            prop_assert_eq!(back.ok(), Some(sc));
            Ok(())
        }
    }
}

/// Replays `sc` (budget capped) on both engines, and the fast engine a second time: no
/// panic, bounded steps, time and trace, a verdict, the same trace twice (determinism), and the
/// same trace and verdict on both engines where no decision picks an order (docs/engines.md).
fn replay_bounded(sc: &Scenario) -> Result<(), TestCaseError> {
    let mut sc = sc.clone();
    let budget = sc
        .run
        .max_steps
        .unwrap_or(FUZZ_MAX_STEPS)
        .min(FUZZ_MAX_STEPS);
    sc.run.max_steps = Some(budget);
    let ev = readysim::replay::evaluate(&sc, EngineKind::Fast).expect("a valid scenario");
    let e = &ev.output.engine;
    prop_assert!(e.steps <= budget);
    prop_assert!(e.end_ms <= sc.run.horizon_ms);
    prop_assert!(ev.output.results.startup.is_some(), "no verdict");
    prop_assert!(
        ev.output.trace.iter().all(|x| x.t <= sc.run.horizon_ms),
        "an event past the horizon"
    );
    // Bounded memory: the trace cannot outgrow the steps and the clients' capped work.
    prop_assert!(
        ev.output.trace.len() as u64 <= 64 * (budget + scenario::limits::MAX_CLIENT_WORK),
        "trace of {} events",
        ev.output.trace.len()
    );
    let first_hash = readysim::trace::hash(&ev.output.trace);
    // replay() runs it again (keeping only the hash) and flags a differing trace.
    let fast = readysim::replay::replay(&sc, EngineKind::Fast).expect("a valid scenario");
    prop_assert_eq!(&fast.trace_hash, &first_hash, "two runs, two traces");
    prop_assert!(
        !fast
            .violations
            .contains(&readysim::Violation::Nondeterminism),
        "the same input ran twice gave two traces"
    );
    let tokio = readysim::replay::report(
        &sc,
        readysim::replay::evaluate(&sc, EngineKind::Tokio).expect("a valid scenario"),
    );
    prop_assert!(tokio.evaluation.output.engine.end_ms <= sc.run.horizon_ms);
    // The engines count steps alike only up to the budget: tokio polls a task once per wake,
    // the fast engine once per ready turn, so a run cut by the budget may end at different
    // points (docs/engines.md). Runs that end on their own must agree.
    let budget_cut = [&fast, &tokio]
        .iter()
        .any(|r| r.evaluation.output.engine.end == readysim::engine::EndReason::StepBudget);
    if sc.run.decisions.is_empty() && !budget_cut {
        let verdict = |r: &readysim::replay::Report| {
            (
                r.startup,
                r.verdict_at_ms,
                r.elapsed_ms,
                r.failed_services.clone(),
                r.clients.clone(),
                r.lost_messages,
            )
        };
        prop_assert_eq!(verdict(&fast), verdict(&tokio), "the engines disagree");
        prop_assert_eq!(
            &fast.trace_hash,
            &tokio.trace_hash,
            "the engines' traces differ:\nfast:\n{}\ntokio:\n{}",
            fast.trace_text(),
            tokio.trace_text()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        check(&text, "fuzz")?;
    }

    #[test]
    fn arbitrary_toml_like_text(text in "[a-z_\\[\\]=\"0-9 .,{}\\-\n]{0,300}") {
        check(&text, "fuzz")?;
    }

    #[test]
    fn mutated_shipped_scenarios(
        pick in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..5),
    ) {
        let files = corpus();
        let (stem, original) = &files[pick % files.len()];
        let mut text = original.clone();
        for m in &muts {
            text = apply(&text, m);
        }
        check(&text, stem)?;
    }
}

#[test]
fn shipped_scenarios_pass_the_property_unmutated() {
    for (stem, text) in corpus() {
        check(text, stem).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert!(
            scenario::parse(text, Path::new("x.toml"), Some(stem)).is_ok(),
            "{stem} loads"
        );
    }
}

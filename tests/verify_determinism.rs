//! Determinism and engine cross-checks over every scenario file under `scenarios/`: each runs
//! twice in this process and once more in a child process (the `readysim` binary) on both
//! engines with equal trace hashes; the fast and tokio engines reach the same verdict, and the
//! same trace except where docs/engines.md says why not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use readysim::replay::{self, Report};
use readysim::scenario::{self, Preset, Scenario};
use readysim::EngineKind;

const ENGINES: [EngineKind; 2] = [EngineKind::Fast, EngineKind::Tokio];

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every scenario file, loaded (a file that does not load fails here, with its error).
fn shipped() -> Vec<(PathBuf, Scenario)> {
    let files = scenario::files_under(&scenarios_dir());
    assert!(!files.is_empty(), "no scenario files under scenarios/");
    files
        .into_iter()
        .map(|p| {
            let sc = scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            (p, sc)
        })
        .collect()
}

/// The verdict fields the engines must agree on.
fn verdict(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "startup": r.startup,
        "verdict_at_ms": r.verdict_at_ms,
        "elapsed_ms": r.elapsed_ms,
        "failed_services": r.failed_services,
        "clients": r.clients,
        "lost_messages": r.lost_messages,
        "violations": r.violations,
    })
}

/// The `replay --json` of `path` on `kind`, from a fresh `readysim` process.
fn child_replay(path: &Path, kind: EngineKind) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_readysim"))
        .arg("--scenarios")
        .arg(scenarios_dir())
        .args(["--engine", kind.name(), "replay"])
        .arg(path)
        .arg("--json")
        .output()
        .expect("run the readysim binary");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON from the child ({e}); stderr: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_scenario_is_deterministic_in_process_and_across_processes() {
    let mut in_process = 0;
    let mut children = 0;
    for (path, sc) in shipped() {
        for kind in ENGINES {
            let what = format!("{} on {}", sc.name, kind.name());
            // `replay` runs twice and flags a differing trace as `nondeterminism`.
            let rep = replay::replay(&sc, kind).expect("a valid scenario");
            let again = replay::report(&sc, replay::evaluate(&sc, kind).expect("a valid scenario"));
            in_process += 3;
            assert!(
                !rep.violations
                    .contains(&readysim::Violation::Nondeterminism),
                "{what}: two runs in one process gave different traces"
            );
            assert_eq!(
                rep.trace_hash, again.trace_hash,
                "{what}: third run differs"
            );
            let child = child_replay(&path, kind);
            children += 1;
            assert_eq!(
                child["trace_hash"].as_str(),
                Some(rep.trace_hash.as_str()),
                "{what}: the child process gave another trace"
            );
            assert_eq!(
                child["violations"],
                serde_json::json!(rep.violations),
                "{what}"
            );
        }
    }
    println!(
        "determinism: {in_process} runs in this process and {children} child processes \
         (each replaying twice) agreed"
    );
}

/// Every scenario under every preset (only the preset changes, as `compare` does), twice on
/// each engine: search and `compare` run these variants, so they must be deterministic too.
#[test]
fn every_preset_variant_is_deterministic() {
    let mut runs = 0;
    for (_, sc) in shipped() {
        for p in Preset::ALL {
            let mut s = sc.clone();
            s.policy.preset = p;
            s.expect = None;
            for kind in ENGINES {
                let a = replay::evaluate(&s, kind)
                    .expect("a valid scenario")
                    .output
                    .trace;
                let b = replay::evaluate(&s, kind)
                    .expect("a valid scenario")
                    .output
                    .trace;
                runs += 2;
                assert!(
                    a == b,
                    "{} with preset {} on {}: two runs differ",
                    sc.name,
                    p.name(),
                    kind.name()
                );
            }
        }
    }
    println!("determinism: {runs} preset-variant runs agreed pairwise");
}

/// Several clients waiting in the backlog are woken together when startup ends; their order
/// must not depend on the process (tokio's `watch` woke them in a random order).
#[test]
fn backlogged_clients_wake_in_a_fixed_order() {
    for (preset, outcome) in [("p0", "reset"), ("p8", "served")] {
        let src = format!(
            "format = 1\nname = \"backlog\"\nsummary = \"s\"\n\
             [environment]\nname = \"production\"\ncloud_run = true\n\
             [policy]\npreset = \"{preset}\"\n\
             [[clients]]\nat_ms = 100\n[[clients]]\nat_ms = 101\n\
             [[clients]]\nat_ms = 102\n[[clients]]\nat_ms = 103\n"
        );
        let sc = scenario::parse(&src, Path::new("backlog.toml"), Some("backlog")).unwrap();
        for kind in ENGINES {
            let first = replay::report(&sc, replay::evaluate(&sc, kind).expect("a valid scenario"));
            assert_eq!(
                first.clients,
                vec![Some(readysim::Outcome::from_name(outcome).expect("an outcome")); 4]
            );
            for _ in 0..30 {
                let again =
                    replay::report(&sc, replay::evaluate(&sc, kind).expect("a valid scenario"));
                assert_eq!(
                    again.trace_text(),
                    first.trace_text(),
                    "{preset} on {}",
                    kind.name()
                );
            }
            // Woken in arrival order.
            let text = first.trace_text();
            let order: Vec<&str> = text
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .filter(|f| matches!(f.get(2), Some(&"dispatch") | Some(&"reset")))
                .map(|f| f[1])
                .collect();
            assert_eq!(
                order,
                ["client#1", "client#2", "client#3", "client#4"],
                "{preset}"
            );
        }
    }
}

/// Why the two engines' traces may legitimately differ for `sc` (see docs/engines.md).
enum Allowed {
    /// The traces must be equal (blocking freezes included).
    Equal,
    /// Same-instant choices come from `decisions` on the fast engine only.
    VerdictOnly,
}

fn allowed(sc: &Scenario) -> Allowed {
    if sc.run.decisions.is_empty() {
        Allowed::Equal
    } else {
        Allowed::VerdictOnly
    }
}

/// Compares the engines on `sc`; returns which rule applied.
fn cross_check(sc: &Scenario, what: &str) -> &'static str {
    let fast = replay::report(
        sc,
        replay::evaluate(sc, EngineKind::Fast).expect("a valid scenario"),
    );
    let tokio = replay::report(
        sc,
        replay::evaluate(sc, EngineKind::Tokio).expect("a valid scenario"),
    );
    assert_eq!(
        verdict(&fast),
        verdict(&tokio),
        "{what}: the engines disagree"
    );
    match allowed(sc) {
        Allowed::Equal => {
            assert!(
                fast.trace_text() == tokio.trace_text(),
                "{what}: traces differ\nfast:\n{}\ntokio:\n{}",
                fast.trace_text(),
                tokio.trace_text()
            );
            "equal"
        }
        Allowed::VerdictOnly => "verdict-only",
    }
}

#[test]
fn fast_and_tokio_agree_on_every_shipped_scenario() {
    let mut tally: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, sc) in shipped() {
        let rule = cross_check(&sc, &sc.name);
        tally.entry(rule).or_default().push(sc.name.clone());
    }
    println!("engines: {tally:?}");
}

#[test]
fn fast_and_tokio_agree_on_every_preset_variant() {
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, sc) in shipped() {
        for p in Preset::ALL {
            let mut s = sc.clone();
            s.policy.preset = p;
            s.expect = None;
            let rule = cross_check(&s, &format!("{} with preset {}", sc.name, p.name()));
            *tally.entry(rule).or_default() += 1;
        }
    }
    println!("engines over preset variants: {tally:?}");
}

//! Search: proptest properties per preset, the canaries (p8's false-ready under stabilisation
//! is found; nothing is found for `reference`), determinism across runs and job counts,
//! recorded files that replay with their signature, and classification of the incident and
//! the claimed race.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use readysim::engine::EngineKind;
use readysim::replay;
use readysim::scenario::Class;
use readysim::scenario::{self, EnvName, Preset};
use readysim::search::{self, classify, record::RecordDir, strategy, Code, ExploreOptions, Quiet};
use readysim::Violation;

const KIND: EngineKind = EngineKind::Fast;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/search.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn any_preset() -> impl Strategy<Value = Preset> {
    proptest::sample::select(&Preset::ALL[..])
}

proptest! {
    #![proptest_config(config(48))]

    /// Every generated scenario is one the loader accepts, runs the same twice, and ends.
    #[test]
    fn generated_scenarios_are_valid_deterministic_and_end(
        preset in any_preset(),
        vary_code in any::<bool>(),
        p in strategy::params(strategy::Kind::Swarm),
    ) {
        let sc = strategy::build(Code::preset(preset).template(), &p, vary_code);
        let text = scenario::to_toml(&sc, &[]);
        let back = scenario::parse(&text, Path::new("<generated>"), None);
        prop_assert!(back.is_ok(), "{:?}", back.err());
        prop_assert_eq!(back.unwrap(), sc.clone());
        let rep = replay::replay(&sc, KIND).expect("a valid scenario");
        prop_assert!(!rep.violations.iter().any(|v| matches!(v, Violation::Nondeterminism | Violation::Hang)),
            "{:?}", rep.violations);
    }

    /// p0's probe raises on every call: in GCP its startup never says ready, whatever the
    /// environment does (search holds the code still).
    #[test]
    fn p0_is_never_ready_in_gcp(p in strategy::params(strategy::Kind::Swarm)) {
        let sc = strategy::build(Code::preset(Preset::P0).template(), &p, false);
        prop_assert_eq!(&sc.policy, &readysim::PolicySpec { preset: Preset::P0, ..Default::default() });
        let gcp = matches!(sc.environment.name, EnvName::Production | EnvName::Staging);
        let ev = replay::evaluate(&sc, KIND).expect("a valid scenario");
        if gcp {
            prop_assert_ne!(ev.output.results.startup.map(|s| s.name()), Some("ready"));
            prop_assert!(ev.violations.contains(&Violation::MaskedProbeError));
        }
    }

    /// No historical preset closes a socket with 1011 for a Redis error (they answer Redis
    /// errors silently; only the counterfactual `close_1011` knob does): no `redis-error`
    /// close unless the knob is set.
    #[test]
    fn no_preset_closes_1011_on_redis_errors(
        preset in any_preset(),
        p in strategy::params(strategy::Kind::Swarm),
    ) {
        let mut sc = strategy::build(Code::preset(preset).template(), &p, true);
        sc.policy.on_redis_error = None;
        sc.what_if.retain(|w| w != "policy.on_redis_error");
        let ev = replay::evaluate(&sc, KIND).expect("a valid scenario");
        prop_assert!(!ev.output.results.reasons.contains(&Some(readysim::Reason::RedisError)));
    }

    /// The reference design has no counterexample among the default properties, under
    /// either strategy.
    #[test]
    fn reference_has_no_counterexample(
        p in prop_oneof![
            strategy::params(strategy::Kind::Swarm).boxed(),
            strategy::params(strategy::Kind::Uniform).boxed(),
        ],
    ) {
        let sc = strategy::build(Code::preset(Preset::Reference).template(), &p, false);
        let ev = replay::evaluate(&sc, KIND).expect("a valid scenario");
        let bad: Vec<_> = ev.violations.iter()
            .filter(|v| search::DEFAULT_PROPERTIES.contains(v)).collect();
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }
}

/// A fresh, empty folder under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("readysim-search-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// (file name, bytes) of every file in `d`, sorted.
fn files(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .expect("read dir")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    v.sort();
    v
}

fn opts(seed: u64, presets: &[Preset], cases: u64) -> ExploreOptions {
    let mut o = ExploreOptions::new(seed).presets(presets);
    o.cases = cases;
    o
}

fn run(o: &ExploreOptions, dir: &Path) -> search::Summary {
    let mut rec = RecordDir::open(dir, &[]).expect("record dir");
    search::explore(o, Some(&mut rec), &Quiet)
}

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

/// The canary: from seed 42, within 32 cases of p8 with its code held still, the search meets
/// the false-ready at the validator that `scenarios/canary-connected-only.toml` shows, records
/// it shrunk to at most two environment parameters, classified as a race; and with the
/// shipped scenarios folder, whose canary has that signature, it is known, not new.
#[test]
fn canary_finds_p8_false_ready_under_stabilisation() {
    let dir = temp_dir("canary");
    let mut o = opts(42, &[Preset::P8], 32);
    o.properties = vec![Violation::FalseReady];
    let s = run(&o, &dir);
    let canary = scenario::load(&scenario_path("canary-connected-only")).expect("canary");
    let sig = search::record::signatures_of(&canary)
        .into_iter()
        .find(|g| g.property == Violation::FalseReady && g.place.slug() == "validator")
        .expect("the canary's false-ready at the validator");
    let f = s
        .found
        .iter()
        .find(|f| f.signature == sig)
        .unwrap_or_else(|| panic!("canary signature not met in 32 cases: {:#?}", s.found));
    assert!(f.non_default.len() <= 2, "{:?}", f.non_default);
    assert!(
        f.non_default.iter().all(|p| !p.starts_with("policy.")),
        "{:?}",
        f.non_default
    );
    assert_eq!(f.class, Some(Class::Race));
    assert!(!f.depends_on.is_empty());
    for d in &f.depends_on {
        assert!(d.contains(": fails"), "{d}");
    }
    // Against the shipped folder the canary's signature is known: nothing new to record.
    let fresh = temp_dir("canary-known");
    let mut rec = RecordDir::open(
        &fresh,
        &[scenario_path("x").parent().unwrap().to_path_buf()],
    )
    .expect("record dir");
    let again = search::explore(&o, Some(&mut rec), &Quiet);
    let met = again
        .found
        .iter()
        .find(|g| g.signature == sig)
        .expect("met again");
    assert!(met.known && met.path.is_none(), "{met:#?}");
    for d in [dir, fresh] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The other canary: 10,000 cases of `reference` find nothing.
#[test]
fn canary_reference_has_nothing_in_10000_cases() {
    let dir = temp_dir("reference");
    let s = run(&opts(42, &[Preset::Reference], 10_000), &dir);
    assert_eq!(s.codes[0].cases, 10_000);
    let failing: Vec<_> = s.codes[0]
        .properties
        .iter()
        .filter(|p| p.failures > 0)
        .collect();
    assert!(failing.is_empty(), "{failing:#?}\n{:#?}", s.found);
    assert!(files(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two runs of one seed write byte-identical files and equal summaries; so do 2 and 3 jobs,
/// whose presets' passes run at once, and what the observer is told comes in the summary's
/// order whatever pass finished first.
#[test]
fn same_seed_same_files_and_summary_whatever_the_job_count() {
    let presets = [Preset::P2, Preset::P9, Preset::P0, Preset::P8];
    let o = opts(7, &presets, 30);
    let strip = |s: &search::Summary| {
        let mut s = s.clone();
        for f in &mut s.found {
            f.path = None;
        }
        serde_json::to_string(&s).expect("json")
    };
    let a = temp_dir("det-a");
    let sa = run(&o, &a);
    assert!(
        !sa.found.is_empty(),
        "the run should find something to compare"
    );
    for (tag, jobs) in [("det-b", 1), ("det-c", 2), ("det-d", 3)] {
        let dir = temp_dir(tag);
        let mut o2 = o.clone();
        o2.jobs = jobs;
        let told = Told::default();
        let mut rec = RecordDir::open(&dir, &[]).expect("record dir");
        let s = search::explore(&o2, Some(&mut rec), &told);
        assert_eq!(strip(&sa), strip(&s), "{jobs} job(s)");
        assert_eq!(files(&a), files(&dir), "{jobs} job(s)");
        let names: Vec<String> = s.found.iter().map(|f| f.name.clone()).collect();
        assert_eq!(
            *told.0.lock().unwrap(),
            names,
            "{jobs} job(s): observer order"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_dir_all(a);
}

/// An observer that keeps the names it is told, in order.
#[derive(Default)]
struct Told(std::sync::Mutex<Vec<String>>);

impl search::Observer for Told {
    fn cases(&self, _: u64) {}
    fn found(&self, f: &search::Found) {
        self.0.lock().unwrap().push(f.name.clone());
    }
}

/// Recorded files load, replay with every [expect] field matching and show the signature
/// their name gives, and say in their header that they are findings about the code as it is;
/// a second run records nothing new and overwrites nothing.
#[test]
fn recorded_files_replay_and_are_never_rewritten() {
    let dir = temp_dir("record");
    let o = opts(3, &[Preset::P0, Preset::P8], 20);
    let s = run(&o, &dir);
    let before = files(&dir);
    assert!(!before.is_empty());
    assert_eq!(
        before.len(),
        s.found.iter().filter(|f| f.path.is_some()).count()
    );
    for (name, _) in &before {
        let sc = scenario::load(&dir.join(name)).expect("a recorded file loads");
        let rep = replay::replay(&sc, KIND).expect("a valid scenario");
        assert!(rep.matches, "{name}: {:?}", rep.mismatches);
        let sigs = search::record::signatures_of(&sc);
        assert!(
            sigs.iter()
                .any(|g| sc.name.starts_with(&format!("{}-", g.stem()))),
            "{name}: {sigs:?}"
        );
        let c = sc.classification.expect("classified");
        assert!(matches!(c.class, Class::Race | Class::Deterministic));
        let text = String::from_utf8(std::fs::read(dir.join(name)).unwrap()).unwrap();
        assert!(text.starts_with("# Found by: explore --seed 3"));
        assert!(text.contains(&format!("# Classified: {}", c.class)));
        assert!(
            text.contains("# Finding about the code under test"),
            "{text}"
        );
        assert!(sc.what_if.is_empty());
    }
    let again = run(&o, &dir);
    assert_eq!(
        files(&dir),
        before,
        "a second run must not change the folder"
    );
    assert!(again.found.iter().all(|f| f.known && f.path.is_none()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Shards split the case space: their case counts and per-ordering coverage counts add up
/// to the unsharded run's (a property that never fails keeps every run at its full budget).
#[test]
fn shards_partition_the_case_space() {
    let mut o = opts(11, &[Preset::P4], 90);
    o.properties = vec![Violation::Hang];
    let whole = search::explore(&o, None, &Quiet);
    let mut cov = readysim::CoverageCounts::default();
    let mut cases = 0;
    for k in 1..=3 {
        let mut s = o.clone();
        s.shard = (k, 3);
        let part = search::explore(&s, None, &Quiet);
        cases += part.codes[0].cases;
        cov.merge(&part.codes[0].coverage);
    }
    assert_eq!(cases, 90);
    assert_eq!(whole.codes[0].cases, 90);
    assert_eq!(cov, whole.codes[0].coverage);
    assert!(cov.0.iter().any(|c| *c > 0));
}

fn classify_file(name: &str) -> classify::Classified {
    let sc = scenario::load(&scenario_path(name)).expect("scenario");
    let target = classify::Target::AnyOf {
        violations: classify::target_of(&sc, KIND).into_iter().collect(),
    };
    classify::classify(&sc, &target, KIND)
}

/// The incident fails for every timing tried: a fault, not a race.
#[test]
fn the_incident_is_deterministic() {
    let c = classify_file("incident-2025-09-09");
    assert_eq!(c.class, Class::Deterministic, "{:?}", c.depends_on);
    assert!(c
        .trials
        .iter()
        .any(|t| t.parameter == "redis.server.up_from_ms"));
    assert!(c.trials.iter().all(|t| t.still_fails));
}

/// The team's claimed race is one under p8: Redis's up time decides it, with the window in
/// which it fails (up to the reconnect attempt at 2519 that connects in time for the probe).
#[test]
fn claimed_race_grace_is_a_race_on_redis_up_time() {
    let c = classify_file("claimed-race-grace");
    assert_eq!(c.class, Class::Race);
    let w = c
        .windows
        .iter()
        .find(|w| w.field == "redis.server.up_from_ms")
        .unwrap_or_else(|| panic!("{:?}", c.depends_on));
    assert_eq!(w.to, Some(2519), "{:?}", c.depends_on);
    assert!(c
        .depends_on
        .iter()
        .any(|d| d == "redis.server.up_from_ms: fails up to 2519"));
}

/// The real 1011s: the user-ID check is a fault; the manager limit a race on the spacing, to
/// the millisecond.
#[test]
fn the_user_id_1011_is_a_fault_and_the_manager_limit_a_race() {
    assert_eq!(
        classify_file("e2e-user-id-1011").class,
        Class::Deterministic
    );
    let c = classify_file("manager-limit-storm");
    assert_eq!(c.class, Class::Race);
    assert_eq!(
        c.depends_on,
        vec!["clients[0].every_ms: fails up to 15000".to_string()]
    );
}

/// Every file under scenarios/found/ carries the classification `classify` gives it now, and
/// its header says the same: a stored class cannot go stale unnoticed.
#[test]
fn stored_classifications_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/found");
    let mut checked = 0;
    for p in scenario::files_under(&dir) {
        let sc = scenario::load(&p).expect("a found file");
        let shown = classify::target_of(&sc, KIND);
        let c = classify::classify(&sc, &classify::file_target(&sc, &shown), KIND);
        let stored = sc.classification.clone().expect("classified");
        assert_eq!(
            stored,
            c.block(),
            "{}: run `readysim classify {} --write`",
            sc.name,
            sc.name
        );
        let text = std::fs::read_to_string(&p).unwrap();
        let header = format!("# Classified (readysim classify {}): {}", sc.name, c.class);
        assert!(text.contains(&header), "{}: the header disagrees", sc.name);
        checked += 1;
    }
    assert!(checked >= 5);
}

/// `classify --write` rewrites the block and the header line together, and nothing else.
#[test]
fn classify_write_keeps_the_header_true() {
    let dir = temp_dir("classify-write");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/found/p0-spurious-failure-d4be0799.toml");
    let text = std::fs::read_to_string(&src).unwrap();
    let stale = text
        .replace("class = \"deterministic\"", "class = \"race\"")
        .replace(
            "): deterministic (fails for every timing tried)",
            "): race, depends on x",
        );
    assert_ne!(stale, text);
    let path = dir.join("p0-spurious-failure-d4be0799.toml");
    std::fs::write(&path, &stale).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
        .args(["classify", path.to_str().unwrap(), "--write"])
        .output()
        .expect("run readysim");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--record` that cannot be written is bad input (exit 2) before any work.
#[test]
fn unwritable_record_dir_exits_2() {
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
        .args(["explore", "--seed", "1", "--cases", "1", "--record"])
        .arg(&file)
        .output()
        .expect("run readysim");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--record"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// New signatures make `explore` exit 1 (so CI notices); the same signatures already
/// recorded under the folder do not, and neither do those the scenarios folder has.
#[test]
fn explore_exits_1_on_new_failures_and_0_when_all_are_known() {
    let dir = temp_dir("exit-codes");
    let empty = temp_dir("exit-codes-scenarios");
    let explore = |scenarios: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
            .args(["explore", "--seed", "42", "--preset", "p0", "--cases", "5"])
            .arg("--record")
            .arg(&dir)
            .arg("--scenarios")
            .arg(scenarios)
            .output()
            .expect("run readysim")
    };
    let first = explore(&empty);
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let written = files(&dir);
    assert!(!written.is_empty());
    for (name, _) in &written {
        let text = std::fs::read_to_string(dir.join(name)).expect("a recorded file");
        let stem = name.trim_end_matches(".toml");
        assert!(
            text.starts_with("# Found by: readysim explore --seed 42"),
            "{text}"
        );
        assert!(text.contains(&format!(
            "# Reproduce: readysim replay {stem} (under the scenarios folder; elsewhere, this file's path)\n"
        )));
        assert!(text.contains(&format!("# Classified (readysim classify {stem}): ")));
    }
    let second = explore(&empty);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    assert_eq!(files(&dir), written, "known failures are never rewritten");
    // A fresh record folder, but the shipped scenarios already show p0's signatures.
    let fresh = temp_dir("exit-codes-fresh");
    let third = std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
        .args(["explore", "--seed", "42", "--preset", "p0", "--cases", "5"])
        .args(["--property", "spurious-failure"])
        .arg("--record")
        .arg(&fresh)
        .arg("--scenarios")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
        .output()
        .expect("run readysim");
    assert_eq!(
        third.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&third.stdout)
    );
    assert!(files(&fresh).is_empty());
    for d in [dir, empty, fresh] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Ctrl-C stops a long search: exit 130, a summary of what was found so far, and every file
/// in the folder whole (each one loads).
#[cfg(unix)]
#[test]
fn ctrl_c_stops_explore_with_whole_files_and_a_summary() {
    let dir = temp_dir("interrupt");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
        .args([
            "explore",
            "--seed",
            "3",
            "--all-presets",
            "--cases",
            "100000000",
        ])
        .arg("--record")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run readysim");
    // Let it start searching (this waits; it measures nothing).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature(s) met"));
    for (name, _) in files(&dir) {
        if name.ends_with(".toml") {
            readysim::scenario::load(&dir.join(&name)).expect("a whole scenario file");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

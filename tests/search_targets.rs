//! What search promises: every shipped failure class is rediscovered from scratch, recorded
//! numbers sit at their thresholds, shards merge into the unsharded run's files byte for byte,
//! concurrent recorders write each failure once, and a silent property reports its bound.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use readysim::engine::EngineKind;
use readysim::scenario::{self, slots};
use readysim::search::record::RecordDir;
use readysim::search::runner::{case_seed, run_case};
use readysim::search::{self, classify, merge, strategy, ExploreOptions, Quiet};
use readysim::{Preset, Reason, Violation};

const KIND: EngineKind = EngineKind::Fast;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("readysim-targets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Every shipped scenario's failure class (preset, property, and for ws-1011 the reason)
/// is found by the swarm strategy from seed 1 within 20,000 cases.
#[test]
fn every_shipped_failure_class_is_rediscovered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut classes: BTreeSet<(Preset, Violation, Option<Reason>)> = BTreeSet::new();
    for p in scenario::files_under(&root) {
        let sc = scenario::load(&p).expect("a shipped scenario");
        let rep = readysim::replay(&sc, KIND);
        for v in classify::target_of(&sc, KIND) {
            if v == Violation::Ws1011 {
                for r in rep.client_reasons.iter().flatten() {
                    classes.insert((sc.policy.preset, v, Some(*r)));
                }
            } else {
                classes.insert((sc.policy.preset, v, None));
            }
        }
    }
    assert!(classes.len() >= 20, "{classes:?}");
    let mut missed = Vec::new();
    for (preset, property, reason) in &classes {
        let props: BTreeSet<Violation> = [*property].into_iter().collect();
        let found = (0..20_000u64).find(|&i| {
            let r = run_case(1, *preset, i, &props, KIND, strategy::Kind::Swarm);
            r.violated.contains(property) && reason.is_none_or(|x| r.reasons.contains(&x))
        });
        if found.is_none() {
            missed.push((preset, property, reason));
        }
    }
    assert!(
        missed.is_empty(),
        "not rediscovered in 20000 cases: {missed:?}"
    );
}

/// A recorded file's numbers sit at their thresholds: moving any one of them a step toward
/// its default removes the failure.
#[test]
fn recorded_numbers_are_at_their_thresholds() {
    let dir = temp_dir("thresholds");
    let mut o = ExploreOptions::new(5);
    o.presets = vec![Preset::P8, Preset::P0];
    o.cases = 60;
    let mut rec = RecordDir::open(&dir).expect("record dir");
    let s = search::explore(&o, Some(&mut rec), &Quiet);
    assert!(s.found.len() >= 3, "{:?}", s.found);
    let mut checked = 0;
    for f in &s.found {
        let Some(path) = &f.path else { continue };
        let sc = scenario::load(path).expect("recorded");
        let fails = |c: &scenario::Scenario| {
            scenario::validate(c).is_ok()
                && readysim::evaluate(c, KIND).violations.contains(&f.property)
        };
        assert!(fails(&sc), "{}", f.name);
        for slot in slots::timing_slots(&sc)
            .into_iter()
            .chain(slots::count_slots(&sc))
        {
            let (v, d) = (slot.get(&sc), slot.default().max(slot.min()));
            if v == d {
                continue;
            }
            let step = if v > d { v - 1 } else { v + 1 };
            let mut c = sc.clone();
            slot.set(&mut c, step);
            assert!(
                !fails(&c),
                "{}: {} = {v} is not its threshold ({step} still fails)",
                f.name,
                slot.name()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no number was left to check");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Shards 1/2 and 2/2, merged, give exactly the files the unsharded run writes.
#[test]
fn merged_shards_equal_the_unsharded_run() {
    let base = temp_dir("merge");
    let run = |shard: (u64, u64), dir: &Path| {
        let mut o = ExploreOptions::new(5);
        o.presets = vec![Preset::P8, Preset::P0];
        o.cases = 120;
        o.shard = shard;
        let mut rec = RecordDir::open(dir).expect("record dir");
        search::explore(&o, Some(&mut rec), &Quiet)
    };
    let (whole, s1, s2, merged) = (
        base.join("whole"),
        base.join("s1"),
        base.join("s2"),
        base.join("merged"),
    );
    let w = run((1, 1), &whole);
    assert_eq!(
        w.found.iter().filter(|f| f.known).count(),
        0,
        "an empty folder knows nothing"
    );
    run((1, 2), &s1);
    run((2, 2), &s2);
    merge::merge(&[s1, s2], &merged).expect("merge");
    let files = |d: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .expect("dir")
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
    };
    assert!(!files(&whole).is_empty());
    assert_eq!(files(&whole), files(&merged));
    let _ = std::fs::remove_dir_all(&base);
}

/// Two processes recording into one folder at once write each failure once.
#[test]
fn concurrent_recorders_write_each_failure_once() {
    let dir = temp_dir("concurrent");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
            .args([
                "explore", "--seed", "5", "--preset", "p8", "--preset", "p0", "--cases", "80",
            ])
            .arg("--record")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run readysim")
    };
    let (mut a, mut b) = (spawn(), spawn());
    a.wait().expect("a");
    b.wait().expect("b");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.is_empty());
    for n in &names {
        assert!(!n.starts_with('.'), "a temporary file was left: {n}");
        let stem = n.trim_end_matches(".toml");
        let hash = stem.rsplit('-').next().unwrap_or("");
        assert_eq!(hash.len(), 8, "a long-hash duplicate was written: {n}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A property that never fails in N cases reports the rule-of-three bound 3/N.
#[test]
fn silence_reports_a_confidence_bound() {
    let mut o = ExploreOptions::new(1);
    o.presets = vec![Preset::Reference];
    o.properties = vec![Violation::FalseReady];
    o.cases = 300;
    let s = search::explore(&o, None, &Quiet);
    let st = &s.presets[0].properties[0];
    assert_eq!(st.failures, 0);
    assert_eq!(st.upper_rate, Some(3.0 / 300.0));
}

/// The uniform baseline runs through the same evaluator and finds the easy failures too.
#[test]
fn the_uniform_strategy_is_built_in() {
    let mut o = ExploreOptions::new(2);
    o.presets = vec![Preset::P0];
    o.properties = vec![Violation::SpuriousFailure];
    o.cases = 200;
    o.strategy = strategy::Kind::Uniform;
    o.shrink = false;
    let s = search::explore(&o, None, &Quiet);
    assert!(s.presets[0].properties[0].first_failure.is_some());
    let _ = case_seed(2, Preset::P0, 0);
}

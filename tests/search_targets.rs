//! What search promises: every shipped signature is rediscovered from scratch with the code
//! held still, recorded files keep their signature and sit at their thresholds, shards merge
//! into the unsharded run's files byte for byte whatever the options, concurrent recorders
//! write each signature once, and a silent property reports its bound.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use readysim::engine::EngineKind;
use readysim::scenario::{self, slots};
use readysim::search::record::{signatures_of, RecordDir};
use readysim::search::runner::{run_case, Draws};
use readysim::search::{self, merge, shrink, strategy, Code, ExploreOptions, Quiet};
use readysim::{Preset, Reason, Violation};

const KIND: EngineKind = EngineKind::Fast;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("readysim-targets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn files(d: &Path) -> Vec<(String, Vec<u8>)> {
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
}

/// Every signature of the default properties that a shipped scenario (outside the seed
/// suite) shows is met again by searching that scenario's own code, environment only, from
/// seed 1 within 20,000 cases: what search finds about a code, it finds without changing it.
#[test]
fn every_shipped_signature_is_rediscovered_with_the_code_held_still() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let props: BTreeSet<Violation> = search::DEFAULT_PROPERTIES.into_iter().collect();
    let mut wanted = BTreeSet::new();
    for p in scenario::files_under(&root) {
        if p.components().any(|c| c.as_os_str() == "seed-suite") {
            continue;
        }
        let sc = scenario::load(&p).expect("a shipped scenario");
        for sig in signatures_of(&sc) {
            if props.contains(&sig.property) && !sig.what_if {
                wanted.insert(sig);
            }
        }
    }
    assert!(wanted.len() >= 20, "{wanted:#?}");
    let draws = Draws::new(1);
    let mut missed = Vec::new();
    let codes: BTreeSet<_> = wanted.iter().map(|s| s.code.clone()).collect();
    for code in codes {
        let c = Code::parse(code.as_str()).expect("a shipped code parses");
        let mut left: BTreeSet<_> = wanted
            .iter()
            .filter(|s| s.code == code)
            .map(|s| (s.property, s.place))
            .collect();
        for i in 0..20_000u64 {
            if left.is_empty() {
                break;
            }
            for pp in run_case(&draws, &c, i, &props).places {
                left.remove(&pp);
            }
        }
        missed.extend(left.into_iter().map(|l| (code.clone(), l)));
    }
    assert!(missed.is_empty(), "not met in 20000 cases: {missed:#?}");
}

/// A recorded file shows the signature it was recorded for, and its environment's numbers sit
/// at their thresholds: moving any one of them a step toward its default removes that
/// signature; the code is the preset's own.
#[test]
fn recorded_files_keep_their_signature_at_their_thresholds() {
    let dir = temp_dir("thresholds");
    let mut o = ExploreOptions::new(5).presets(&[Preset::P8, Preset::P6]);
    o.cases = 300;
    let mut rec = RecordDir::open(&dir, &[]).expect("record dir");
    let s = search::explore(&o, Some(&mut rec), &Quiet);
    assert!(s.found.len() >= 3, "{:?}", s.found);
    let mut checked = 0;
    for f in &s.found {
        let Some(path) = &f.path else { continue };
        let sc = scenario::load(path).expect("recorded");
        assert!(shrink::shows(&sc, &f.signature, KIND), "{}", f.name);
        assert_eq!(
            sc.policy,
            readysim::PolicySpec {
                preset: f.preset,
                ..Default::default()
            },
            "{}: the code was held still",
            f.name
        );
        let fails = |c: &scenario::Scenario| {
            scenario::validate(c).is_ok() && shrink::shows(c, &f.signature, KIND)
        };
        for slot in slots::timing_slots_of(&sc, &[scenario::fields::Role::Environment])
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
                "{}: {} = {v} is not its threshold ({step} still shows it)",
                f.name,
                slot.name()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no number was left to check");
    let _ = std::fs::remove_dir_all(&dir);
}

/// For every option that changes what is recorded (every new signature, the first one, the
/// first two per property, what-ifs), shards 1/n..n/n merged give exactly the files the
/// unsharded run writes.
#[test]
fn merged_shards_equal_the_unsharded_run_whatever_the_options() {
    let base = temp_dir("merge");
    let run = |max: Option<usize>, vary: bool, shard: (u64, u64), dir: &Path| {
        let mut o = ExploreOptions::new(5).presets(&[Preset::P8, Preset::P0]);
        o.cases = 120;
        o.shard = shard;
        o.max_failures = max;
        o.vary_code = vary;
        // The command recorded in each file: what `merge` reads `--max-failures` from.
        o.command = format!(
            "explore --seed 5{}{}",
            max.map(|k| format!(" --max-failures {k}"))
                .unwrap_or_default(),
            if vary { " --vary-code" } else { "" }
        );
        let mut rec = RecordDir::open(dir, &[]).expect("record dir");
        search::explore(&o, Some(&mut rec), &Quiet)
    };
    for (max, vary, n) in [
        (None, false, 2),
        (Some(1), false, 3),
        (Some(2), false, 2),
        (None, true, 3),
    ] {
        let tag = format!("{max:?}-{vary}-{n}");
        let whole = base.join(format!("whole-{tag}"));
        let w = run(max, vary, (1, 1), &whole);
        assert_eq!(
            w.found.iter().filter(|f| f.known).count(),
            0,
            "an empty folder knows nothing"
        );
        let shards: Vec<PathBuf> = (1..=n)
            .map(|k| {
                let d = base.join(format!("s{k}-{tag}"));
                run(max, vary, (k, n), &d);
                d
            })
            .collect();
        let merged = base.join(format!("merged-{tag}"));
        merge::merge(&shards, &merged).expect("merge");
        let names = |d: &Path| files(d).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert!(!files(&whole).is_empty(), "{tag}");
        assert_eq!(names(&whole), names(&merged), "{tag}");
        assert!(
            files(&whole) == files(&merged),
            "{tag}: same names, other bytes"
        );
    }
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

/// A property that never fails in N cases reports the rule-of-three bound 3/N, and so does
/// every 1011 reason no case showed.
#[test]
fn silence_reports_a_confidence_bound() {
    let mut o = ExploreOptions::new(1).presets(&[Preset::Reference]);
    o.properties = vec![Violation::FalseReady, Violation::Ws1011];
    o.cases = 300;
    let s = search::explore(&o, None, &Quiet);
    for st in &s.codes[0].properties {
        assert_eq!(st.failures, 0);
        assert_eq!(st.upper_rate, Some(3.0 / 300.0));
    }
    let ws = &s.codes[0].properties[1];
    assert_eq!(ws.reason_upper_rate.len(), Reason::ALL.len());
    assert!(
        s.space.describe().contains("storms of 20-100"),
        "{}",
        s.space.describe()
    );
}

/// The uniform baseline runs through the same evaluator and finds the easy failures too.
#[test]
fn the_uniform_strategy_is_built_in() {
    let mut o = ExploreOptions::new(2).presets(&[Preset::P0]);
    o.properties = vec![Violation::SpuriousFailure];
    o.cases = 200;
    o.strategy = strategy::Kind::Uniform;
    o.shrink = false;
    let s = search::explore(&o, None, &Quiet);
    assert!(s.codes[0].properties[0].first_failure.is_some());
}

//! What search promises (from outside; the promises about its internals, rediscovery with the
//! code held still and recorded thresholds, are src/search/target_tests.rs): shards merge
//! into the unsharded run's files byte for byte whatever the options, concurrent recorders
//! write each signature once, and a silent property reports its bound.

use std::path::{Path, PathBuf};

use readysim::search::record::RecordDir;
use readysim::search::{self, merge, strategy, ExploreOptions, Quiet};
use readysim::{Preset, Reason, Violation};

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

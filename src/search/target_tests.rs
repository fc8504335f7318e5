//! What search promises about its own internals: every shipped signature is rediscovered from
//! scratch with the code held still, and recorded files keep their signature and sit at their
//! thresholds. (Unit tests: they drive the runner and the shrinker, which are not API; the
//! promises seen from outside are tests/search_targets.rs.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::engine::EngineKind;
use crate::scenario::{self, slots};
use crate::search::record::{signatures_of, RecordDir};
use crate::search::runner::{run_case, Draws};
use crate::search::{self, shrink, Code, ExploreOptions, Quiet};
use crate::{Preset, Violation};

const KIND: EngineKind = EngineKind::Fast;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("readysim-targets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
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
            crate::PolicySpec {
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

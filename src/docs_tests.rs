//! (Unit tests: they reach the doc generators, which are not API.) The contract lives in the repository: the generated sections of docs/format.md,
//! docs/presets.md and docs/violations.md equal what the code says (set
//! READYSIM_UPDATE_DOCS=1 to rewrite them), the docs cite nothing outside the repository, and
//! every name `explain` lists is explained.

use std::path::Path;

use crate::explain;

#[test]
fn generated_doc_sections_are_current() {
    let update = std::env::var_os("READYSIM_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (file, name, body) in explain::generated() {
        let path = Path::new("docs").join(file);
        let doc = std::fs::read_to_string(&path).expect("the doc exists");
        let cur = explain::section(&doc, name)
            .unwrap_or_else(|| panic!("{file}: no <!-- BEGIN {name} --> section"));
        if cur != body {
            if update {
                let new = explain::with_section(&doc, name, &body).expect("section");
                std::fs::write(&path, new).expect("write the doc");
            } else {
                stale.push(format!("docs/{file} (section {name})"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated docs: {}\n  regenerate with: READYSIM_UPDATE_DOCS=1 cargo test --lib docs_tests",
        stale.join(", ")
    );
}

#[test]
fn the_seed_suite_doc_is_what_the_scenarios_say() {
    let rows = crate::seed_suite::judge(Path::new("scenarios/seed-suite")).expect("loads");
    assert_eq!(rows.len(), 52, "one row per test of the team's six suites");
    let numbers: Vec<u32> = rows.iter().map(|r| r.n).collect();
    assert_eq!(numbers, (1..=52).collect::<Vec<_>>());
    // Every answer that has no replay cites the line of the test's code that decides it.
    for r in &rows {
        if r.as_written != crate::seed_suite::AsWritten::Pass && r.as_written_run.is_none() {
            assert!(
                r.as_written_line.is_some() || r.mechanism.starts_with("not a test"),
                "test {}: a verdict from the test's code needs its line",
                r.n
            );
        }
        assert!(
            !r.claim_why.is_empty() || r.claim_run.is_some(),
            "test {}",
            r.n
        );
        assert!(
            !r.discriminates_why.is_empty() || r.discriminates_run.is_some(),
            "test {}",
            r.n
        );
    }
    // Every scenario under scenarios/seed-suite/ answers some test.
    let used: std::collections::BTreeSet<String> = rows
        .iter()
        .flat_map(|r| {
            [
                &r.as_written_run,
                &r.claim_run,
                &r.corrected,
                &r.discriminates_run,
            ]
        })
        .flatten()
        .map(|run| run.replay.scenario.clone())
        .chain(rows.iter().filter_map(|r| r.see_also.clone()))
        .collect();
    for p in crate::scenario::files_under(Path::new("scenarios/seed-suite")) {
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(used.contains(&stem), "{stem} answers no test");
    }
    let body = crate::seed_suite::markdown(&rows);
    let path = Path::new("docs/seed-suite.md");
    let doc = std::fs::read_to_string(path).expect("the doc exists");
    let cur = explain::section(&doc, "seed-suite").expect("a seed-suite section");
    if cur != body {
        if std::env::var_os("READYSIM_UPDATE_DOCS").is_some() {
            let new = explain::with_section(&doc, "seed-suite", &body).expect("section");
            std::fs::write(path, new).expect("write the doc");
        } else {
            panic!("docs/seed-suite.md is stale\n  regenerate with: READYSIM_UPDATE_DOCS=1 cargo test --lib docs_tests");
        }
    }
}

#[test]
fn the_docs_cite_nothing_outside_the_repository() {
    let mut files = vec![Path::new("README.md").to_path_buf()];
    for e in std::fs::read_dir("docs").expect("docs/") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        for bad in ["shared/spec", "shared/reference", "../shared"] {
            assert!(!text.contains(bad), "{} cites {bad}", f.display());
        }
    }
}

#[test]
fn every_listed_name_is_explained() {
    use crate::{Outcome, Preset, Reason, Violation};
    for n in Preset::NAMES
        .iter()
        .chain(Violation::NAMES.iter())
        .chain(Outcome::NAMES.iter())
        .chain(Reason::NAMES.iter())
    {
        let text = explain::explain(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(text.len() > 40, "{n}: {text}");
    }
    assert!(explain::explain("clients[2].at_ms")
        .unwrap()
        .contains("clients[].at_ms"));
    let e = explain::explain("false-redy").unwrap_err();
    assert!(e.contains("false-ready"), "{e}");
}

#[test]
fn every_violation_but_the_meta_ones_is_shown_by_a_shipped_scenario() {
    use crate::Violation;
    for v in Violation::ALL {
        if matches!(v, Violation::Nondeterminism | Violation::Hang) {
            continue;
        }
        assert!(
            !explain::shown_by(v).is_empty(),
            "no shipped scenario shows {}",
            v.name()
        );
    }
}

#[test]
fn the_format_pages_example_file_loads() {
    // "readysim accepts every file written to this page": its own example first.
    let doc = std::fs::read_to_string("docs/format.md").expect("the doc exists");
    let start = doc.find("```toml\n").expect("an example file") + "```toml\n".len();
    let text = &doc[start..start + doc[start..].find("```").expect("its end")];
    crate::scenario::parse(
        text,
        Path::new("incident-2025-09-09.toml"),
        Some("incident-2025-09-09"),
    )
    .unwrap_or_else(|e| panic!("docs/format.md's example is rejected: {e}"));
}

#[test]
fn the_reference_design_as_it_ships_is_clean_on_every_shipped_scenario() {
    // docs/presets.md says so of the reference: its knobs as they ship (a file's overrides
    // of another design's knobs removed), under the stricter contract.
    let mut dirty = Vec::new();
    for path in crate::scenario::files_under(Path::new("scenarios")) {
        let mut sc = crate::scenario::load(&path).expect("a shipped scenario loads");
        sc.policy = crate::policy::PolicySpec {
            preset: crate::policy::Preset::Reference,
            ..Default::default()
        };
        sc.what_if.clear();
        let v = crate::replay::evaluate_valid(&sc, crate::engine::EngineKind::Fast).violations;
        if !v.is_empty() {
            dirty.push(format!("{}: {v:?}", path.display()));
        }
    }
    assert!(
        dirty.is_empty(),
        "violations under the reference:\n{}",
        dirty.join("\n")
    );
}

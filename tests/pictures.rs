//! Pictures: the timeline SVG (snapshots, structure, determinism, compressed gaps), the race
//! map (its grid against replays of single cells), the Chrome trace, and the CLI that writes
//! them (`replay --svg/--html/--chrome-trace/--json --trace`, `compare --html`, `map`,
//! `explore --html`).

mod common;

use std::path::Path;
use std::process::Command;

use readysim::engine::EngineKind;
use readysim::picture::{self, map, timeline};
use readysim::scenario::{self, Preset, Scenario};
use readysim::Violation;

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

fn load(name: &str) -> Scenario {
    scenario::load(&Path::new("scenarios").join(format!("{name}.toml"))).expect("shipped")
}

fn svg_of(sc: &Scenario) -> String {
    let rep = readysim::replay(sc, EngineKind::Fast).expect("a valid scenario");
    timeline::svg(&picture::build(sc, &rep))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().expect("run readysim");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Elements of `doc` with `class` (among space-separated classes).
fn with_class<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    class: &str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == class))
        })
        .collect()
}

fn title_of(n: roxmltree::Node) -> String {
    n.children()
        .find(|c| c.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or("")
        .to_string()
}

#[test]
fn incident_timeline_snapshot() {
    insta::assert_snapshot!("timeline_incident", svg_of(&load("incident-2025-09-09")));
}

#[test]
fn claimed_race_timeline_snapshot() {
    insta::assert_snapshot!(
        "timeline_claimed_race_grace",
        svg_of(&load("claimed-race-grace"))
    );
}

/// The pictures the README and docs/pictures.md show are what the tool draws today
/// (regenerate them with `bash docs/screenshots.sh`).
#[test]
fn the_documented_pictures_are_current() {
    let inc = std::fs::read_to_string("docs/img/incident-timeline.svg").expect("docs picture");
    assert!(
        inc == svg_of(&load("incident-2025-09-09")),
        "docs/img/incident-timeline.svg is stale: run bash docs/screenshots.sh"
    );
    let grace = std::fs::read_to_string("docs/img/claimed-race-grace-timeline.svg").unwrap();
    assert!(
        grace == svg_of(&load("claimed-race-grace")),
        "docs/img/claimed-race-grace-timeline.svg is stale"
    );
    let sc = load("claimed-race-grace");
    let x = map::axis(&sc, "--x", "redis.server.up_from_ms", map::DEFAULT_STEPS).unwrap();
    let y = map::axis(&sc, "--y", "redis.manager.stabilize_ms", map::DEFAULT_STEPS).unwrap();
    let m = map::run(
        &sc,
        x,
        y,
        &[Preset::P8, Preset::Reference],
        EngineKind::Fast,
    );
    let doc = std::fs::read_to_string("docs/img/claimed-race-grace-map.svg").unwrap();
    assert!(
        doc == map::svg(&m),
        "docs/img/claimed-race-grace-map.svg is stale"
    );
}

#[test]
fn incident_timeline_shows_probes_sleeps_verdict_and_the_reset_client() {
    let svg = svg_of(&load("incident-2025-09-09"));
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let lanes: Vec<&str> = with_class(&doc, "lane")
        .iter()
        .filter_map(|n| n.attribute("data-lane"))
        .collect();
    for want in [
        "redis server",
        "Operational(t)",
        "startup",
        "manager",
        "validator",
        "validator: database",
        "validator: redis",
        "validator: auth",
        "client#1",
        "decisions",
    ] {
        assert!(lanes.contains(&want), "lane {want} in {lanes:?}");
    }
    let on = |class: &str, kind: &str, lane: &str| -> Vec<roxmltree::Node> {
        with_class(&doc, class)
            .into_iter()
            .filter(|n| {
                n.attribute("data-kind") == Some(kind) && n.attribute("data-lane") == Some(lane)
            })
            .collect()
    };
    // Six redis probes, each failing, and five 1.5 s sleeps between them.
    let probes = on("mark", "probe", "validator: redis");
    assert_eq!(probes.len(), 6, "six redis probes");
    assert!(probes
        .iter()
        .all(|p| p.attribute("fill") == Some("#e65100")));
    let sleeps = on("span", "poll sleep / backoff", "validator: redis");
    assert_eq!(sleeps.len(), 5, "five poll sleeps");
    let widths: Vec<f64> = sleeps
        .iter()
        .map(|s| s.attribute("width").unwrap().parse().unwrap())
        .collect();
    assert!(
        widths
            .iter()
            .all(|w| (w - widths[0]).abs() < 0.2 && *w > 100.0),
        "{widths:?}"
    );
    assert!(sleeps
        .iter()
        .all(|s| title_of(*s).starts_with("sleep 1500 ms")));
    // The verdict, at 9670, with the incident's message.
    let verdict: Vec<&str> = with_class(&doc, "verdict")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(
        verdict,
        ["startup failed at 9670 ms (elapsed 7508 ms), failed: redis"]
    );
    let message = with_class(&doc, "message")[0].text().unwrap();
    assert!(message.contains("Elapsed: 7.51s"), "{message}");
    let v = on("mark", "verdict", "validator");
    assert_eq!(v.len(), 1);
    assert_eq!(title_of(v[0]), "verdict: failed at 9670 ms");
    // The client that waited in the backlog and was reset when the worker exited.
    let out = on("mark", "outcome", "client#1");
    assert_eq!(out.len(), 1);
    assert_eq!(title_of(out[0]), "reset at 9670 ms");
    assert_eq!(on("span", "in the listen backlog", "client#1").len(), 1);
    // Axis ticks, in readable units.
    let ticks: Vec<&str> = with_class(&doc, "tick")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    for t in ["0 ms", "1 s", "5 s", "9 s", "9.67 s"] {
        assert!(ticks.contains(&t), "tick {t} in {ticks:?}");
    }
    // The two same-instant decisions.
    assert_eq!(on("mark", "decision", "decisions").len(), 2);
}

#[test]
fn every_shipped_scenario_draws_one_named_mark_per_violation() {
    let files = scenario::files_under(Path::new("scenarios"));
    assert!(files.len() > 20);
    for f in files {
        let sc = scenario::load(&f).expect("shipped");
        let rep = readysim::replay(&sc, EngineKind::Fast).expect("a valid scenario");
        let svg = timeline::svg(&picture::build(&sc, &rep));
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{}: not XML: {e}", sc.name));
        let mut marked: Vec<&str> = with_class(&doc, "mark")
            .iter()
            .filter(|n| n.attribute("data-kind") == Some("violation"))
            .filter_map(|n| n.attribute("data-name"))
            .collect();
        marked.sort_unstable();
        let mut want: Vec<&str> = rep
            .violations
            .iter()
            .filter(|v| **v != Violation::Nondeterminism)
            .map(|v| v.name())
            .collect();
        want.sort_unstable();
        assert_eq!(marked, want, "{}", sc.name);
        let names: Vec<&str> = with_class(&doc, "vname")
            .iter()
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(
            names.len(),
            want.len(),
            "{}: one name per violation",
            sc.name
        );
        // Every span stays inside the plot, and is drawn left to right.
        for s in with_class(&doc, "span") {
            let x: f64 = s.attribute("x").unwrap().parse().unwrap();
            let w: f64 = s.attribute("width").unwrap().parse().unwrap();
            assert!(
                x >= 239.9 && w > 0.0 && x + w <= 1241.6,
                "{}: span {x}+{w}",
                sc.name
            );
        }
    }
}

#[test]
fn a_long_empty_stretch_is_compressed_and_the_action_keeps_the_width() {
    let sc = common::scenario(
        "[policy]\npreset = \"p8\"\n\n[[clients]]\nat_ms = 5000\n\n[[clients]]\nat_ms = 590000\n\n[run]\nhorizon_ms = 600000\n",
    );
    let rep = readysim::replay(&sc, EngineKind::Fast).expect("a valid scenario");
    let pic = picture::build(&sc, &rep);
    assert!(pic.end >= 590_000);
    let axis = timeline::Axis::of(&pic);
    let gaps = axis.gaps();
    assert!(
        !gaps.is_empty(),
        "the stretch before the late client is compressed"
    );
    assert!(gaps.iter().map(|(a, b)| b - a).sum::<u64>() > 500_000);
    // Startup (the first 2.7 s) takes most of the plot, not 0.5 % of it.
    let startup_w = axis.x(2668) - axis.x(0);
    assert!(startup_w > 300.0, "startup drawn {startup_w} px wide");
    let svg = timeline::svg(&pic);
    let doc = roxmltree::Document::parse(&svg).expect("xml");
    assert_eq!(with_class(&doc, "gap").len(), gaps.len());
    assert_eq!(with_class(&doc, "break").len(), gaps.len());
    // The incident has no such stretch: drawn to scale.
    let inc = load("incident-2025-09-09");
    let rep = readysim::replay(&inc, EngineKind::Fast).expect("a valid scenario");
    assert!(timeline::Axis::of(&picture::build(&inc, &rep))
        .gaps()
        .is_empty());
}

#[test]
fn the_cli_writes_identical_pictures_on_every_run() {
    let dir = tempfile::tempdir().expect("temp");
    let mut first = Vec::new();
    for round in 0..2 {
        let svg = dir.path().join(format!("t{round}.svg"));
        let html = dir.path().join(format!("t{round}.html"));
        let chrome = dir.path().join(format!("t{round}.json"));
        let (code, _, err) = run(&[
            "replay",
            "incident-2025-09-09",
            "--svg",
            svg.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--chrome-trace",
            chrome.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let files: Vec<Vec<u8>> = [svg, html, chrome]
            .iter()
            .map(|p| std::fs::read(p).expect("written"))
            .collect();
        if round == 0 {
            first = files;
        } else {
            assert!(first == files, "rerunning gives identical files");
        }
    }
    // The file the CLI writes is the library's picture.
    assert_eq!(
        String::from_utf8(first[0].clone()).unwrap(),
        svg_of(&load("incident-2025-09-09"))
    );
    let page = String::from_utf8(first[1].clone()).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg") && page.contains("Elapsed: 7.51s"));
    let inc = load("incident-2025-09-09");
    let rep = readysim::replay(&inc, EngineKind::Fast).expect("a valid scenario");
    let rows = rep.evaluation.output.trace.len() + 2; // and the two same-instant decisions
    assert_eq!(
        page.matches("<tr><td class=\"n\">").count(),
        rows,
        "one row per event"
    );
}

#[test]
fn chrome_trace_has_the_required_fields() {
    let sc = load("incident-2025-09-09");
    let rep = readysim::replay(&sc, EngineKind::Fast).expect("a valid scenario");
    let pic = picture::build(&sc, &rep);
    let text = serde_json::to_string(&picture::chrome::trace(&pic)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let ev = v["traceEvents"].as_array().expect("traceEvents");
    assert_eq!(v["displayTimeUnit"], "ms");
    for e in ev {
        for k in ["name", "ph", "ts", "pid", "tid"] {
            assert!(e.get(k).is_some(), "{k} missing in {e}");
        }
        match e["ph"].as_str().unwrap() {
            "X" => assert!(e["dur"].is_u64()),
            "i" => assert!(["t", "g"].contains(&e["s"].as_str().unwrap())),
            "M" => assert!(e["args"].is_object()),
            other => panic!("unexpected phase {other}"),
        }
    }
    let threads: Vec<&str> = ev
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(threads.len(), pic.lanes.len());
    assert!(threads.contains(&"validator: redis"));
    let redis_tid = threads
        .iter()
        .position(|t| *t == "validator: redis")
        .unwrap()
        + 1;
    let sleeps: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["ph"] == "X" && e["tid"] == redis_tid && e["cat"] == "poll sleep / backoff")
        .collect();
    assert_eq!(sleeps.len(), 5);
    assert!(sleeps.iter().all(|s| s["dur"] == 1_500_000), "1.5 s in µs");
    let probes = ev.iter().filter(|e| e["cat"] == "probe").count();
    assert_eq!(probes, 8, "database, six redis probes, auth");
    assert_eq!(ev.iter().filter(|e| e["cat"] == "violation").count(), 3);
}

#[test]
fn replay_json_trace_adds_the_events() {
    let (code, out, err) = run(&["--json", "replay", "incident-2025-09-09", "--trace"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let events = v["trace"].as_array().expect("trace");
    let rep =
        readysim::replay(&load("incident-2025-09-09"), EngineKind::Fast).expect("a valid scenario");
    assert_eq!(events.len(), rep.evaluation.output.trace.len());
    assert_eq!(events.len(), rep.trace_text().lines().count());
    assert_eq!(events[0]["actor"], "startup");
    let last_probe = events
        .iter()
        .rev()
        .find(|e| e["event"] == "probe" && e["details"].as_str().unwrap().starts_with("redis"))
        .unwrap();
    assert_eq!(last_probe["t"], 9668);
    assert_eq!(v["decisions"].as_array().unwrap().len(), 2);
    // Without --trace the contract's object is unchanged.
    let (_, out, _) = run(&["--json", "replay", "incident-2025-09-09"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("trace").is_none());
    // --trace needs --json.
    let (code, _, _) = run(&["replay", "incident-2025-09-09", "--trace"]);
    assert_eq!(code, 2);
}

/// The map's grid, cell by cell, against plain replays of the scenario with the two fields
/// set by hand.
#[test]
fn race_map_cells_agree_with_replays() {
    let sc = load("claimed-race-grace");
    let x = map::axis(&sc, "--x", "redis.server.up_from_ms=0..5000", 11).unwrap();
    let y = map::axis(&sc, "--y", "redis.manager.stabilize_ms=0..5000", 11).unwrap();
    let m = map::run(
        &sc,
        x,
        y,
        &[Preset::P8, Preset::Reference],
        EngineKind::Fast,
    );
    assert_eq!(m.panels.len(), 2);
    for (p, panel) in m.panels.iter().enumerate() {
        for (j, i) in [(0, 0), (4, 3), (4, 5), (10, 10), (2, 7), (8, 4), (5, 5)] {
            let mut s = sc.clone();
            s.expect = None;
            s.policy.preset = panel.preset;
            s.redis.server.up_from_ms = m.x.values[i];
            s.redis.manager.stabilize_ms = m.y.values[j];
            let rep = readysim::replay(&s, EngineKind::Fast).expect("a valid scenario");
            let cat = &m.categories[panel.cells[j][i]];
            assert_eq!(cat.violations, rep.violations, "panel {p} cell ({i},{j})");
            assert_eq!(cat.startup, rep.startup, "panel {p} cell ({i},{j})");
        }
    }
    // p8 declares ready too early in a region; reference never does.
    let bad = |k: usize| {
        m.panels[k]
            .cells
            .iter()
            .flatten()
            .filter(|c| {
                m.categories[**c]
                    .violations
                    .contains(&Violation::FalseReady)
            })
            .count()
    };
    assert!(bad(0) > 10, "p8's false-ready region");
    assert_eq!(bad(1), 0, "reference is never false-ready");
    let svg = map::svg(&m);
    let doc = roxmltree::Document::parse(&svg).expect("xml");
    assert_eq!(with_class(&doc, "panel").len(), 2);
    assert_eq!(
        with_class(&doc, "own").len(),
        2,
        "the scenario's point in each panel"
    );
    assert_eq!(
        with_class(&doc, "boundary").len(),
        1,
        "only p8 has a boundary"
    );
    let axes: Vec<&str> = with_class(&doc, "axis-x")
        .iter()
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(axes, ["redis.server.up_from_ms (ms)"; 2]);
}

#[test]
fn map_cli_writes_the_svg_and_prints_the_grid() {
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("map.svg");
    let args = [
        "--json",
        "map",
        "claimed-race-grace",
        "--x",
        "redis.server.up_from_ms",
        "--y",
        "redis.manager.stabilize_ms=0..4000",
        "--preset",
        "p8",
        "reference",
        "--steps",
        "21",
        "--svg",
        out.to_str().unwrap(),
    ];
    let (code, stdout, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json grid");
    assert_eq!(v["x"]["values"].as_array().unwrap().len(), 21);
    assert_eq!(v["x"]["lo"], 0);
    assert_eq!(
        v["x"]["hi"], 5000,
        "default range: twice the scenario's 2500"
    );
    assert_eq!(v["y"]["own"], 2000);
    assert_eq!(v["panels"][0]["preset"], "p8");
    assert!(v["panels"][0]["violating_cells"].as_u64().unwrap() > 0);
    assert_eq!(v["panels"][1]["violating_cells"], 0);
    let first = std::fs::read(&out).expect("svg written");
    let (code, stdout2, _) = run(&args);
    assert_eq!(code, 0);
    assert_eq!(stdout, stdout2);
    assert_eq!(first, std::fs::read(&out).unwrap(), "identical on rerun");
}

#[test]
fn map_and_picture_bad_input_exit_2_before_writing() {
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("m.svg");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "map",
                "claimed-race-grace",
                "--x",
                "redis.server.up_fom_ms",
                "--y",
                "redis.manager.stabilize_ms",
                "--svg",
                o,
            ],
            "redis.server.up_from_ms",
        ),
        (
            &[
                "map",
                "claimed-race-grace",
                "--x",
                "redis.server.up_from_ms=5..1",
                "--y",
                "redis.manager.stabilize_ms",
                "--svg",
                o,
            ],
            "LO < HI",
        ),
        (
            &[
                "map",
                "claimed-race-grace",
                "--x",
                "redis.server.up_from_ms",
                "--y",
                "redis.server.up_from_ms",
                "--svg",
                o,
            ],
            "two different fields",
        ),
        (
            &[
                "map",
                "claimed-race-grace",
                "--x",
                "redis.server.up_from_ms",
                "--y",
                "redis.manager.stabilize_ms",
                "--steps",
                "1",
                "--svg",
                o,
            ],
            "--steps 1",
        ),
        (
            &[
                "map",
                "claimed-race-grace",
                "--x",
                "redis.server.up_from_ms",
                "--y",
                "redis.manager.stabilize_ms",
                "--preset",
                "p3",
                "--svg",
                o,
            ],
            "unknown preset `p3`",
        ),
        (
            &[
                "replay",
                "incident-2025-09-09",
                "--svg",
                "/nonexistent-readysim/x.svg",
            ],
            "does not exist",
        ),
    ];
    for (args, want) in cases {
        let (code, stdout, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(stdout.is_empty(), "{args:?}");
        assert!(!out.exists(), "{args:?} wrote nothing");
    }
}

#[test]
fn compare_html_stacks_one_timeline_per_preset() {
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("c.html");
    let (code, _, err) = run(&[
        "compare",
        "claimed-race-grace",
        "--html",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<svg ").count(), Preset::ALL.len());
    for p in Preset::ALL {
        assert!(page.contains(&format!("<h2 id=\"{}\">", p.name())), "{p:?}");
        let title = format!(">claimed-race-grace under {}</text>", p.name());
        assert_eq!(page.matches(&title).count(), 1, "{p:?}: its own title");
    }
    // The file's summary describes its own preset: said once, above the table.
    assert_eq!(page.matches("real under p8").count(), 1);
}

#[test]
fn explore_html_links_every_recorded_failure() {
    let dir = tempfile::tempdir().expect("temp");
    let rec = dir.path().join("rec");
    let html = dir.path().join("report");
    // An empty scenarios folder: every signature met is new, so recorded.
    let none = dir.path().join("scenarios");
    std::fs::create_dir_all(&none).unwrap();
    let (code, _, err) = run(&[
        "explore",
        "--seed",
        "3",
        "--cases",
        "60",
        "--preset",
        "p8",
        "--record",
        rec.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--scenarios",
        none.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let index = std::fs::read_to_string(html.join("index.html")).expect("index");
    let recorded: Vec<String> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(!recorded.is_empty(), "seed 3 finds failures under p8");
    for name in &recorded {
        let link = format!("href=\"{name}.html\"");
        assert!(index.contains(&link), "{link} in the index");
        let page = std::fs::read_to_string(html.join(format!("{name}.html"))).expect("page");
        assert!(page.contains("<svg "));
        // Beside the timeline, every parameter shrinking left away from its default.
        let file = std::fs::read_to_string(rec.join(format!("{name}.toml"))).unwrap();
        let listed = file
            .lines()
            .find_map(|l| l.split_once("non-default parameter(s): "))
            .map_or("", |(_, rest)| rest);
        assert!(page.contains("<h2>Non-default fields</h2>"), "{name}");
        for param in listed.split(", ").filter(|p| !p.is_empty()) {
            assert!(
                page.contains(&format!("<tr><td>{param}")),
                "{name}: {param}"
            );
        }
    }
    assert!(index.contains("<h2>Coverage</h2>") && index.contains("class=\"bar\""));
}

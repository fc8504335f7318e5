//! What CI and a terminal read from readysim: tables that fit the width, JUnit XML a parser
//! reads, GitHub annotations, shell completions and a man page.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(BIN);
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("READYSIM_SCENARIOS")
        .env_remove("COLUMNS")
        .env_remove("GITHUB_ACTIONS")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("run readysim");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn list_fits_80_columns_and_wide_keeps_the_full_text() {
    let (code, out, err) = run(&["list"], &[("COLUMNS", "80")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        widest(&out) <= 80,
        "a line is {} wide:\n{out}",
        widest(&out)
    );
    let (_, wide, _) = run(&["list", "--wide"], &[("COLUMNS", "80")]);
    assert!(widest(&wide) > 80, "--wide keeps whole summaries");
    // Piped without $COLUMNS: whole lines, for grep.
    let (_, piped, _) = run(&["list"], &[]);
    assert_eq!(piped, wide);
}

#[test]
fn junit_report_parses_with_one_case_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("scenarios");
    std::fs::create_dir_all(&scen).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    std::fs::copy(src.join("slow-redis.toml"), scen.join("slow-redis.toml")).unwrap();
    let bad = std::fs::read_to_string(src.join("incident-2025-09-09.toml"))
        .unwrap()
        .replace("startup = \"failed\"", "startup = \"ready\"");
    std::fs::write(scen.join("incident-2025-09-09.toml"), bad).unwrap();
    let xml = dir.path().join("out.xml");
    let scen_s = scen.to_str().unwrap();
    let (code, _, err) = run(
        &["--scenarios", scen_s, "--junit", xml.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 1, "one file does not match: {err}");
    let text = std::fs::read_to_string(&xml).expect("the report is written");
    let doc = roxmltree::Document::parse(&text).expect("JUnit XML parses");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|k| k.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap_or(""))
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].ends_with("incident-2025-09-09.toml"),
        "{failed:?}"
    );
    // In a GitHub Actions job the failing file is annotated.
    let (_, _, err) = run(&["--scenarios", scen_s], &[("GITHUB_ACTIONS", "true")]);
    assert!(
        err.lines()
            .any(|l| l.starts_with("::error file=") && l.contains("incident-2025-09-09.toml")),
        "{err}"
    );
}

#[test]
fn completions_and_man_page_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell], &[]);
        assert_eq!(code, 0, "{err}");
        for cmd in ["replay", "explore", "classify", "real", "map"] {
            assert!(out.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    let (code, out, err) = run(&["man"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(".ie") || out.contains(".TH readysim"),
        "{out}"
    );
    assert!(out.contains("explore"));
}

/// Without `--record`, explore writes beside the build, never into `scenarios/`.
#[test]
fn explore_records_outside_the_scenarios_folder_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("READYSIM_SCENARIOS")
        .args(["explore", "--seed", "1", "--cases", "50", "--preset", "p0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "p0 fails: new signatures");
    assert!(!dir.path().join("scenarios").exists(), "no scenarios/ made");
    let found = dir.path().join("target/readysim/found");
    let n = std::fs::read_dir(&found).map(|d| d.count()).unwrap_or(0);
    assert!(n > 0, "files under {found:?}");
}

/// `--count-only` records nothing, yet its exit code says what the full search's would.
#[test]
fn count_only_exits_1_on_a_new_signature_and_0_once_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let explore = |extra: &[&str]| {
        let o = Command::new(BIN)
            .current_dir(dir.path())
            .env_remove("READYSIM_SCENARIOS")
            .args(["explore", "--seed", "1", "--cases", "50", "--preset", "p0"])
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let found = dir.path().join("target/readysim/found");
    let (code, out) = explore(&["--count-only"]);
    assert_eq!(code, Some(1), "new signatures, only counted: {out}");
    assert!(out.contains("new, not recorded: only counted"), "{out}");
    assert!(!found.exists(), "count-only writes nothing");
    let (code, _) = explore(&[]);
    assert_eq!(code, Some(1), "the full search records them");
    let (code, out) = explore(&["--count-only"]);
    assert_eq!(code, Some(0), "all known now: {out}");
}

/// Colour only where asked for: a terminal or CLICOLOR_FORCE, never with NO_COLOR, never in
/// a pipe or in JSON.
#[test]
fn colour_follows_clicolor_force_and_no_color() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(BIN);
        c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.args(args).output().unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let replay = ["replay", "incident-2025-09-09"];
    let forced = run(&[("CLICOLOR_FORCE", "1")], &replay);
    assert!(
        forced.contains("\u{1b}[32mexpect: every field matches\u{1b}[0m"),
        "{forced}"
    );
    let all = run(&[("CLICOLOR_FORCE", "1")], &["all"]);
    assert!(
        all.contains("\u{1b}[") && all.contains(" reproduced "),
        "{all}"
    );
    for env in [
        &[][..],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")][..],
        &[("CLICOLOR_FORCE", "0")][..],
    ] {
        assert!(!run(env, &replay).contains('\u{1b}'), "{env:?}");
        assert!(!run(env, &["all"]).contains('\u{1b}'), "{env:?}");
    }
    let json = run(
        &[("CLICOLOR_FORCE", "1")],
        &["--json", "replay", "incident-2025-09-09"],
    );
    assert!(!json.contains('\u{1b}'), "JSON stays plain");
}

/// `explore --junit`: a suite per code, a case per property, failed exactly for the
/// properties with a new signature; annotations on the recorded files; other commands refuse.
#[test]
fn explore_junit_fails_the_properties_with_new_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let (scen, rec, xml) = (
        dir.path().join("scenarios"),
        dir.path().join("rec"),
        dir.path().join("search.xml"),
    );
    std::fs::create_dir_all(&scen).unwrap();
    let (code, _, err) = run(
        &[
            "--json",
            "--junit",
            xml.to_str().unwrap(),
            "explore",
            "--seed",
            "1",
            "--cases",
            "50",
            "--preset",
            "p0",
            "--scenarios",
            scen.to_str().unwrap(),
            "--record",
            rec.to_str().unwrap(),
        ],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(code, 1, "new signatures: {err}");
    let text = std::fs::read_to_string(&xml).expect("the report");
    let doc = roxmltree::Document::parse(&text).expect("JUnit XML parses");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "one code under test");
    let cases: Vec<_> = suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6, "one case per default property");
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    // Each failed case names a file that exists; each recorded file is in a failed case.
    let recorded: Vec<String> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    assert!(!failed.is_empty() && !recorded.is_empty());
    for path in &recorded {
        assert!(text.contains(path.as_str()), "{path} in the report");
        let annotation =
            format!("::error file={path},line=1,title=readysim explore::new signature");
        assert!(err.contains(&annotation), "{annotation}\n{err}");
    }
    for name in &failed {
        let property = name.trim_start_matches("p0 ");
        assert!(
            recorded
                .iter()
                .any(|p| p.contains(&format!("p0-{property}-"))),
            "{name} failed with a file recorded"
        );
    }
    let (code, _, err) = run(&["--junit", xml.to_str().unwrap(), "list"], &[]);
    assert_eq!(code, 2, "list refuses --junit: {err}");
    assert!(err.contains("--junit"), "{err}");
}

/// The Dockerfile docs/ci.md's Kubernetes Job builds from: its Rust is new enough for the
/// crate, and every path it copies from the context exists and is not ignored.
#[test]
fn the_dockerfile_builds_from_what_the_repository_has() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docker = std::fs::read_to_string(root.join("Dockerfile")).expect("a Dockerfile");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let minor = |s: &str| -> u32 {
        let m = s.split('.').nth(1).unwrap_or("");
        let digits: String = m.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().expect("1.N")
    };
    let needed = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .map(|v| minor(v.trim_end_matches('"')))
        .expect("rust-version");
    let from = docker
        .lines()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .expect("a rust builder stage");
    assert!(
        minor(from) >= needed,
        "builder {from} older than rust-version 1.{needed}"
    );
    let ignored = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    for line in docker
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let src = line.split_whitespace().nth(1).unwrap();
        if src != "." {
            assert!(root.join(src).exists(), "{line}: {src} missing");
            assert!(
                !ignored.lines().any(|i| i.trim_end_matches('/') == src),
                "{src} is in .dockerignore"
            );
        }
    }
    let ci = std::fs::read_to_string(root.join("docs/ci.md")).unwrap();
    assert!(ci.contains("docker build -t your-registry/readysim:latest ."));
    assert!(ci.contains("image: your-registry/readysim:latest"));
}

//! Drift and bless: a scenario whose `expect.trace_hash` no longer matches fails as drifted
//! with the first differing trace lines and the bless command; `--bless` rewrites only
//! `[expect]`. Works on temporary copies; files under `scenarios/` are never modified.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use readysim::EngineKind;

const NAME: &str = "incident-2025-09-09";

/// A scratch copy of the repository layout: `<dir>/scenarios/NAME.toml` and
/// `<dir>/tests/snapshots/`. Removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("readysim-verify-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("scenarios")).unwrap();
        fs::create_dir_all(dir.join("tests/snapshots")).unwrap();
        Scratch(dir)
    }
    fn scenario(&self) -> PathBuf {
        self.0.join("scenarios").join(format!("{NAME}.toml"))
    }
    fn snapshot(&self) -> PathBuf {
        self.0
            .join("tests/snapshots")
            .join(format!("trace@{NAME}.snap"))
    }
    fn readysim(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_readysim"))
            .arg("--scenarios")
            .arg(self.0.join("scenarios"))
            .args(args)
            .output()
            .expect("run readysim")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The shipped scenario's text with its `trace_hash` line (if any) replaced by `hash`.
/// Needs `[expect]` to be the file's last table, as in every shipped file.
fn with_trace_hash(hash: &str) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{NAME}.toml"));
    let text = fs::read_to_string(src).unwrap();
    let last_table = text.lines().rfind(|l| l.trim_start().starts_with('['));
    assert_eq!(last_table.map(str::trim), Some("[expect]"));
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with("trace_hash"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("trace_hash = \"{hash}\"\n"));
    out
}

/// The current trace of the shipped scenario, from the library.
fn current_trace() -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{NAME}.toml"));
    let sc = readysim::load(&path).unwrap();
    let rep = readysim::replay(&sc, EngineKind::Fast).expect("a valid scenario");
    (rep.trace_text(), rep.trace_hash)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_changed_trace_fails_as_drifted_with_a_diff_and_the_bless_command() {
    let s = Scratch::new("drift");
    fs::write(s.scenario(), with_trace_hash("0123456789abcdef")).unwrap();
    // The "previous" trace: today's with line 10 changed, in insta's snapshot format.
    let (trace, hash) = current_trace();
    let mut lines: Vec<String> = trace.lines().map(String::from).collect();
    let original = lines[9].clone();
    lines[9] = format!("{original} (previous model)");
    let snap = format!(
        "---\nsource: tests/scenarios.rs\n---\n{}\n",
        lines.join("\n")
    );
    fs::write(s.snapshot(), snap).unwrap();

    let out = s.readysim(&["replay", NAME]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "DRIFTED: the trace changed (trace_hash 0123456789abcdef in the file, {hash} now)"
        )),
        "{text}"
    );
    assert!(text.contains("first difference at trace line 10"), "{text}");
    assert!(
        text.contains(&format!(
            "  - {original} (previous model)\n  + {original}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("readysim replay {NAME} --bless")),
        "{text}"
    );

    let out = s.readysim(&["replay", NAME, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["matches"], false);
    assert_eq!(j["drift"]["first_line"], 10);
    assert_eq!(j["drift"]["got_hash"], hash.as_str());
    assert_eq!(
        j["drift"]["bless"],
        format!("readysim replay {NAME} --bless")
    );
}

#[test]
fn drift_without_a_snapshot_still_fails_and_names_the_bless_command() {
    let s = Scratch::new("nosnap");
    fs::write(s.scenario(), with_trace_hash("0123456789abcdef")).unwrap();
    let out = s.readysim(&["replay", NAME]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DRIFTED"), "{text}");
    assert!(text.contains("no previous trace to diff against"), "{text}");
    assert!(
        text.contains(&format!("readysim replay {NAME} --bless")),
        "{text}"
    );
}

#[test]
fn a_matching_trace_hash_is_not_drift() {
    let s = Scratch::new("match");
    let (_, hash) = current_trace();
    fs::write(s.scenario(), with_trace_hash(&hash)).unwrap();
    let out = s.readysim(&["replay", NAME]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("DRIFTED"), "{text}");
    let j: serde_json::Value =
        serde_json::from_slice(&s.readysim(&["replay", NAME, "--json"]).stdout).unwrap();
    assert!(j.get("drift").is_none(), "{j}");
}

#[test]
fn bless_rewrites_only_expect_values_and_keeps_comments() {
    let s = Scratch::new("bless");
    // Comments everywhere, a header-looking line inside the notes string, and a commented
    // [expect] header: everything before [expect] must survive byte for byte.
    let text = with_trace_hash("0123456789abcdef")
        .replacen("format = 1\n", "# top comment\nformat = 1  # trailing\n", 1)
        .replacen(
            "notes = \"\"\"\n",
            "notes = \"\"\"\n[expect] inside a string is text\n",
            1,
        )
        .replacen("[policy]\n", "# about the policy\n[policy]  # why p0\n", 1)
        .replacen("[expect]\n", "[expect]  # hand-checked\n", 1);
    fs::write(s.scenario(), &text).unwrap();
    let head = &text[..text.find("[expect]  # hand-checked").unwrap()];

    let out = s.readysim(&["replay", NAME, "--bless"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blessed = fs::read_to_string(s.scenario()).unwrap();
    assert!(blessed.starts_with(head.trim_end()), "{blessed}");
    let headers = blessed
        .lines()
        .filter(|l| l.trim_start().starts_with("[expect]  #") || l.trim() == "[expect]")
        .count();
    assert_eq!(headers, 1, "{blessed}");
    assert!(
        blessed.contains("[expect]  # hand-checked"),
        "the comment on the [expect] header is kept: {blessed}"
    );
    let (_, hash) = current_trace();
    assert!(
        blessed.contains(&format!("trace_hash = \"{hash}\"")),
        "{blessed}"
    );

    // Replays clean now, and blessing again changes nothing.
    let out = s.readysim(&["replay", NAME]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        s.readysim(&["replay", NAME, "--bless"]).status.code(),
        Some(0)
    );
    assert_eq!(fs::read_to_string(s.scenario()).unwrap(), blessed);
}

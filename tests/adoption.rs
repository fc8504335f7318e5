//! What a new user trips over, tried through the real binary: names resolved from any folder,
//! quiet exits into closed pipes, tables with headers, one-step bless that keeps the file as
//! it was, `explain`, and JSON everywhere.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::stale;

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    common::readysim_in(dir, args)
}

fn run(args: &[&str]) -> (i32, String, String) {
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

#[test]
fn a_shipped_scenario_replays_by_name_from_any_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, err) = run_in(elsewhere.path(), &["replay", "incident-2025-09-09"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Elapsed: 7.51s"), "{out}");
    assert!(
        err.contains("built into readysim"),
        "says where it came from: {err}"
    );
    // A folder on disk wins over the built-in copy.
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(scenarios().join("incident-2025-09-09.toml"))
        .unwrap()
        .replace("verdict_at_ms = 9670", "verdict_at_ms = 1");
    fs::write(dir.path().join("incident-2025-09-09.toml"), text).unwrap();
    let (code, _, err) = run_in(
        dir.path(),
        &["--scenarios", ".", "replay", "incident-2025-09-09"],
    );
    assert_eq!(
        code, 1,
        "the folder's edited copy is the one replayed: {err}"
    );
    assert!(!err.contains("built into"));
}

#[test]
fn list_and_the_default_table_need_a_folder_and_say_so() {
    let elsewhere = tempfile::tempdir().unwrap();
    for args in [&["list"][..], &[][..]] {
        let (code, out, err) = run_in(elsewhere.path(), args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(
            err.contains("does not exist") && err.contains("--scenarios"),
            "{err}"
        );
    }
    let (code, out, _) = run_in(elsewhere.path(), &["list", "--builtin"]);
    assert_eq!(code, 0);
    assert!(out.contains("incident-2025-09-09") && out.contains("built into readysim"));
}

#[test]
fn list_has_a_header_and_puts_subfolders_last() {
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("name") && lines[0].contains("preset") && lines[0].contains("summary")
    );
    let first_found = lines
        .iter()
        .position(|l| l.contains("found/"))
        .expect("found/ files");
    assert!(
        lines[first_found..]
            .iter()
            .filter(|l| l.starts_with(' ') && !l.contains('/') && !l.contains("---"))
            .count()
            == 0,
        "top-level scenarios come before found/: {out}"
    );
    assert!(out.contains("replay one with"));
}

#[test]
fn the_default_table_has_headers_and_says_what_pass_means() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        scenarios().join("slow-redis.toml"),
        dir.path().join("slow-redis.toml"),
    )
    .unwrap();
    fs::write(
        dir.path().join("bare.toml"),
        "format = 1\nname = \"bare\"\nsummary = \"s\"\n[policy]\npreset = \"p0\"\n",
    )
    .unwrap();
    let (code, out, err) = run_in(dir.path(), &["--scenarios", "."]);
    assert_eq!(code, 0, "{err}");
    for h in [
        "scenario",
        "result",
        "startup",
        "verdict at (ms)",
        "violations",
    ] {
        assert!(out.contains(h), "header {h}: {out}");
    }
    assert!(
        out.contains("reproduced") && out.contains("no expectations"),
        "{out}"
    );
    assert!(
        out.contains("2 scenarios: 1 reproduced, 0 failed, 1 without expectations"),
        "{out}"
    );
}

/// Starts readysim with its stdout a pipe whose reader is already gone.
fn into_closed_pipe(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [
        &["list"][..],
        &["replay", "incident-2025-09-09"][..],
        &["--json", "compare", "incident-2025-09-09"][..],
        &[
            "explore",
            "--seed",
            "1",
            "--cases",
            "30",
            "--preset",
            "p0",
            "--count-only",
        ][..],
    ] {
        let (code, err) = into_closed_pipe(args);
        assert!(code == 0 || code == 1, "{args:?}: exit {code}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn compare_json_has_no_expectation_fields() {
    let (code, out, _) = run(&["--json", "compare", "incident-2025-09-09"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for row in v.as_array().unwrap() {
        assert!(row.get("matches").is_none() && row.get("mismatches").is_none());
        assert!(row["preset"].is_string());
    }
    let (_, text, _) = run(&["compare", "incident-2025-09-09"]);
    assert!(
        text.contains("verdict at (ms)") && text.contains("elapsed (ms)"),
        "units: {text}"
    );
}

#[test]
fn classify_takes_a_property_before_the_scenario() {
    let (code, out, err) = run(&[
        "classify",
        "--property",
        "false-ready",
        "claimed-race-grace",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("race"), "{out}");
}

#[test]
fn explain_answers_for_every_kind_of_name() {
    for (name, want) in [
        ("p8", "probe fixed"),
        ("reference", "readysim's design"),
        ("false-ready", "not Operational"),
        ("reset", "backlog"),
        ("factory-limit", "Factory SSOT validation failed"),
        ("redis.server.up_from_ms", "refused"),
    ] {
        let (code, out, err) = run(&["explain", name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out.contains(want), "{name}: {out}");
    }
    let (code, _, err) = run(&["explain", "flase-ready"]);
    assert_eq!(code, 2);
    assert!(err.contains("false-ready"), "{err}");
}

#[test]
fn bless_keeps_crlf_comments_mode_symlinks_and_prints_json() {
    let (dir, p) = common::project("slow-redis");
    stale(&p);
    let text = fs::read_to_string(&p)
        .unwrap()
        .replace("[expect]\n", "[expect]  # checked by hand\n")
        .replace('\n', "\r\n");
    fs::write(&p, &text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Blessed through a symlink (a hard-linked file is refused: tests/reliability_2.rs).
    fs::create_dir_all(dir.path().join("links")).unwrap();
    let link = dir.path().join("links").join("slow-redis.toml");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&p, &link).unwrap();
    #[cfg(not(unix))]
    fs::copy(&p, &link).unwrap();
    let (code, out, err) = run_in(
        dir.path(),
        &["--json", "replay", link.to_str().unwrap(), "--bless"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("bless --json prints JSON");
    assert_eq!(v["expect"]["verdict_at_ms"], 9665);
    let new = fs::read_to_string(&p).unwrap();
    assert!(new.contains("[expect]  # checked by hand\r\n"), "{new}");
    assert!(!new.replace("\r\n", "").contains('\n'), "still CRLF");
    assert!(new.contains("trace_hash = \"1cefe644ef6d6582\""), "{new}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
    let (code, _, _) = run_in(dir.path(), &["replay", p.to_str().unwrap()]);
    assert_eq!(code, 0, "the blessed file replays");
}

#[test]
fn bless_refuses_read_only_files_and_files_changed_meanwhile() {
    let (dir, p) = common::project("slow-redis");
    stale(&p);
    let before = fs::read_to_string(&p).unwrap();
    let mut perm = fs::metadata(&p).unwrap().permissions();
    perm.set_readonly(true);
    fs::set_permissions(&p, perm.clone()).unwrap();
    let (code, _, err) = run_in(dir.path(), &["replay", p.to_str().unwrap(), "--bless"]);
    // root may write anyway; the tool still refuses.
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(fs::read_to_string(&p).unwrap(), before);
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    fs::set_permissions(&p, perm).unwrap();
}

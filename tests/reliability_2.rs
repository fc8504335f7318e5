//! Reliability, second round, through the real binary: a closed pipe keeps the command's exit
//! code and its recording; usage errors with any bytes exit 2; bless never loses an edit made
//! while it runs, refuses hard-linked files, and leaves the file untouched when the disk is
//! full; path errors are named as what they are.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{project, stale};

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("READYSIM_SCENARIOS")
        .args(args)
        .stdin(Stdio::null());
    c
}

/// Exit code and stderr, with stdout sent to /dev/null.
fn to_null(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = command(dir, args)
        .stdout(Stdio::null())
        .output()
        .expect("run readysim");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Exit code and stderr, with stdout a pipe whose reader is already gone (`| head -0`).
fn to_closed_pipe(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut child = command(dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_keeps_a_mismatch_exit_code() {
    let (dir, p) = project("slow-redis");
    let t = fs::read_to_string(&p).unwrap();
    fs::write(&p, t.replace("startup = \"failed\"", "startup = \"ready\"")).unwrap();
    let file = p.to_str().unwrap();
    for args in [
        &["replay", file][..],
        &["--json", "replay", file][..],
        &[][..],
    ] {
        let (null, _) = to_null(dir.path(), args);
        assert_eq!(null, 1, "{args:?}: the file does not match");
        let (code, err) = to_closed_pipe(dir.path(), args);
        assert_eq!(code, 1, "{args:?} into a closed pipe: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_closed_pipe_does_not_stop_explore_recording() {
    let dir = tempfile::tempdir().unwrap();
    let args = |rec: &str| {
        [
            "explore",
            "--seed",
            "3",
            "--cases",
            "400",
            "--preset",
            "p0",
            "--max-failures",
            "5",
            "--record",
            rec,
        ]
        .map(String::from)
    };
    let a = args("a");
    let b = args("b");
    let av: Vec<&str> = a.iter().map(String::as_str).collect();
    let bv: Vec<&str> = b.iter().map(String::as_str).collect();
    let (null, err) = to_null(dir.path(), &av);
    let (piped, err2) = to_closed_pipe(dir.path(), &bv);
    let files = |d: &str| {
        let mut v: Vec<String> = fs::read_dir(dir.path().join(d))
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert!(files("a").len() >= 2, "the search records several: {err}");
    assert_eq!(files("a"), files("b"), "the same files with stdout closed");
    assert_eq!(null, piped, "the same exit code: {err}\n{err2}");
    assert_eq!(piped, 1, "new failures: exit 1");
}

#[test]
#[cfg(unix)]
fn usage_errors_with_non_utf8_arguments_exit_2() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    for args in [
        vec![bad],
        vec!["replay".as_ref(), bad, "--no-such-flag".as_ref()],
        vec!["--json".as_ref(), "--no-such-flag".as_ref(), bad],
        vec!["explore".as_ref(), "--cases".as_ref(), bad],
    ] {
        let o = Command::new(BIN).args(&args).output().expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
#[cfg(unix)]
fn bless_refuses_a_hard_linked_file_and_leaves_both_names_alone() {
    let (dir, p) = project("slow-redis");
    stale(&p);
    let before = fs::read_to_string(&p).unwrap();
    let other = dir.path().join("other-name.toml");
    fs::hard_link(&p, &other).unwrap();
    let (code, err) = to_null(dir.path(), &["replay", p.to_str().unwrap(), "--bless"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2 hard links"), "{err}");
    assert_eq!(fs::read_to_string(&p).unwrap(), before);
    assert_eq!(fs::read_to_string(&other).unwrap(), before);
}

/// An editor saving (by rename, as editors do) at moments spread over bless's run: the edit
/// must survive every time, whether bless read it (and blessed the edited file), saw it
/// arrive (and refused), or finished before it.
#[test]
#[cfg(unix)]
fn an_edit_made_while_bless_runs_is_never_lost() {
    let (dir, p) = project("slow-redis");
    stale(&p);
    let original = fs::read_to_string(&p).unwrap();
    let edited = original.replace("summary = \"", "summary = \"EDITED ");
    let mut lost = Vec::new();
    for round in 0..40u64 {
        fs::write(&p, &original).unwrap();
        let child = command(dir.path(), &["replay", p.to_str().unwrap(), "--bless"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Spread the save over bless's whole run (a few ms to a few tens of ms).
        std::thread::sleep(std::time::Duration::from_micros(round * 700));
        let tmp = dir.path().join("editor-swap");
        fs::write(&tmp, &edited).unwrap();
        fs::rename(&tmp, &p).unwrap();
        let o = child.wait_with_output().unwrap();
        let now = fs::read_to_string(&p).unwrap();
        if !now.contains("summary = \"EDITED ") {
            lost.push((round, o.status.code()));
        }
    }
    assert!(lost.is_empty(), "edits lost (round, bless exit): {lost:?}");
}

/// A full disk, made with a file-size limit (EFBIG, SIGXFSZ ignored): bless fails with exit 3
/// and the file is what it was, byte for byte, with no temporary file beside it.
#[test]
#[cfg(target_os = "linux")]
fn bless_on_a_full_disk_leaves_the_file_untouched_and_exits_3() {
    let (dir, p) = project("slow-redis");
    stale(&p);
    let before = fs::read(&p).unwrap();
    let o = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 1; exec '{BIN}' replay '{}' --bless",
            p.display()
        ))
        .env_remove("READYSIM_SCENARIOS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not written") || err.contains("too large"),
        "{err}"
    );
    assert_eq!(fs::read(&p).unwrap(), before);
    let left: Vec<_> = fs::read_dir(p.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "only the scenario: {left:?}");
}

/// A symbolic-link loop and a dangling link are named as what they are, not "no scenario
/// named ...", with exit 2.
#[test]
#[cfg(unix)]
fn path_errors_are_named_as_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let gone = dir.path().join("gone.toml");
    std::os::unix::fs::symlink(dir.path().join("nothing.toml"), &gone).unwrap();
    for (file, words) in [(&a, "loop of symbolic links"), (&gone, "does not exist")] {
        let (code, err) = to_null(dir.path(), &["replay", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(words) && !err.contains("no scenario named"),
            "{err}"
        );
    }
}

/// Files deeper than the search goes are reported, not skipped silently.
#[test]
fn a_scenario_too_deep_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut deep = dir.path().join("scenarios");
    for i in 0..70 {
        deep = deep.join(format!("d{i}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::copy(
        scenarios().join("slow-redis.toml"),
        deep.join("slow-redis.toml"),
    )
    .unwrap();
    let (_, err) = to_null(dir.path(), &["list"]);
    assert!(err.contains("folders deep: not searched"), "{err}");
}

/// `classify` and `map` bound their work by engine steps over all their runs: past the
/// budget they stop with exit 2, say how far they got, and write nothing.
#[test]
fn classify_and_map_stop_at_their_budget() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, err) = to_null(
        root,
        &["classify", "keepalive-stall-1011", "--max-steps", "100000"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("classify stopped at its budget"), "{err}");
    let map = [
        "map",
        "keepalive-stall-1011",
        "--x",
        "redis.server.up_from_ms",
        "--y",
        "startup.services_ms",
        "--svg",
        "-",
    ];
    let (code, err) = to_null(root, &[&map[..], &["--max-steps", "100000"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("map stopped at its budget after"), "{err}");
    // Within the default budget both finish.
    let (code, err) = to_null(root, &["classify", "keepalive-stall-1011"]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = to_null(root, &[&map[..], &["--steps", "10"]].concat());
    assert_eq!(code, 0, "{err}");
}

/// `map --json` needs no `--svg`.
#[test]
fn map_json_needs_no_svg() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = [
        "--json",
        "map",
        "incident-2025-09-09",
        "--x",
        "redis.server.up_from_ms",
        "--y",
        "startup.services_ms",
        "--steps",
        "4",
    ];
    let (code, err) = to_null(root, &args);
    assert_eq!(code, 0, "{err}");
}

//! Every input, signal and file-system race ends cleanly: one test per class of failure an
//! attack on the tool found (hangs, unbounded memory, lost or corrupted files, unclear or
//! unsafe output), through the real binary, each command under a watchdog so a hang fails the
//! test instead of stalling it. Bless corruption, lost updates and kept modes and links are
//! tested in `tests/adoption.rs`; concurrent recorders in `tests/search_targets.rs`.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

/// A command's exit code (-1 when killed by a signal), stdout and stderr.
type Ran = (i32, String, String);

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .current_dir(dir)
        .env_remove("READYSIM_SCENARIOS")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run readysim")
}

/// Waits for `child` at most `secs` seconds; a child still running then is killed and the
/// test fails: the class under test is a hang.
fn finish(mut child: Child, secs: u64, what: &str) -> Ran {
    // Wall time only for the watchdog; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`readysim {what}` still ran after {secs} s: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_in(dir: &Path, args: &[&str]) -> Ran {
    finish(spawn(dir, args), 60, &args.join(" "))
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// A folder holding a copy of one shipped scenario.
fn folder_with(name: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::copy(
        shipped().join(format!("{name}.toml")),
        d.path().join(format!("{name}.toml")),
    )
    .unwrap();
    d
}

fn sh(cmd: &str, args: &[&str]) {
    let ok = Command::new(cmd).args(args).status().expect(cmd).success();
    assert!(ok, "{cmd} {args:?}");
}

const HEAD: &str = "format = 1\nname = \"x\"\nsummary = \"s\"\n[policy]\npreset = \"p2\"\n";

/// Writes `body` after a valid head as `x.toml` in a fresh folder and replays it.
fn replay_text(body: &str) -> Ran {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("x.toml"), format!("{HEAD}{body}\n")).unwrap();
    run_in(d.path(), &["replay", "x.toml"])
}

// 1. FIFOs are skipped, never opened.
#[test]
#[cfg(unix)]
fn a_fifo_in_the_scenarios_or_record_folder_is_skipped_not_read() {
    let d = folder_with("slow-redis");
    sh("mkfifo", &[d.path().join("pipe.toml").to_str().unwrap()]);
    let rec = d.path().join("found");
    fs::create_dir(&rec).unwrap();
    sh(
        "mkfifo",
        &[rec.join("p0-hang-00000000.toml").to_str().unwrap()],
    );
    let dir = d.path().to_str().unwrap();
    let (code, out, err) = run_in(d.path(), &["list", "--scenarios", dir]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("slow-redis"), "{out}");
    assert!(
        err.contains("pipe.toml") && err.contains("not a regular file"),
        "{err}"
    );
    let (code, _, err) = run_in(d.path(), &["replay", "slow-redis", "--scenarios", dir]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_in(d.path(), &["replay", "pipe.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let (code, _, err) = run_in(
        d.path(),
        &[
            "explore",
            "--seed",
            "1",
            "--cases",
            "20",
            "--preset",
            "p2",
            "--scenarios",
            dir,
        ],
    );
    assert!(code == 0 || code == 1, "{code}: {err}");
}

// 2. A folder link that loops back is skipped once; no file is listed twice.
#[test]
#[cfg(unix)]
fn a_symlink_loop_is_detected_and_files_are_listed_once() {
    let d = folder_with("slow-redis");
    let sub = d.path().join("sub");
    fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink("..", sub.join("up")).unwrap();
    std::os::unix::fs::symlink(d.path(), sub.join("again")).unwrap();
    let dir = d.path().to_str().unwrap();
    let (code, out, err) = run_in(d.path(), &["list", "--scenarios", dir]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("slow-redis").count(), 1, "{out}");
    assert!(!err.contains("duplicate"), "{err}");
    assert!(err.contains("loops back"), "{err}");
    let (code, _, err) = run_in(d.path(), &["replay", "slow-redis.toml"]);
    assert_eq!(code, 0, "{err}");
}

// 3. Devices: the size limit holds while reading, whatever the metadata says.
#[test]
#[cfg(unix)]
fn a_link_to_dev_zero_is_refused_not_read_forever() {
    let d = folder_with("slow-redis");
    for dev in ["/dev/zero", "/dev/urandom"] {
        let name = format!("{}.toml", &dev[5..]);
        std::os::unix::fs::symlink(dev, d.path().join(&name)).unwrap();
        let (code, _, err) = run_in(d.path(), &["replay", &name]);
        assert_eq!(code, 2, "{dev}: {err}");
        assert!(
            err.contains(&name) && err.contains("not a regular file"),
            "{err}"
        );
    }
    let (code, _, err) = run_in(d.path(), &["list", "--scenarios", "."]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("zero.toml"), "{err}");
}

/// The worst valid file found: 1 ms reconnects and health checks, Redis never up, a day's
/// horizon, at the largest step budget a file may ask for.
fn pathological(steps: u64) -> String {
    format!(
        "format = 1\nname = \"x\"\nsummary = \"s\"\n[policy]\npreset = \"reference\"\n\
         startup_reconnect_ms = 1\ndeadline_ms = 86000000\n[redis.server]\n\
         up_from_ms = 1000000000000\n[redis.manager]\nhealth_interval_ms = 1\n[run]\n\
         horizon_ms = 86400000\nmax_steps = {steps}\n"
    )
}

// 4. Memory: the step budget is capped at load, so the kept trace is bounded; pictures draw a
//    bounded prefix; JSON and text stream.
#[test]
fn the_step_budget_is_capped_and_the_worst_file_stays_bounded() {
    let max = readysim::scenario::limits::MAX_STEPS;
    let over = readysim::scenario::parse(&pathological(max + 1), Path::new("x.toml"), None)
        .expect_err("a budget over the cap is refused");
    assert_eq!(over.field, "run.max_steps", "{over}");
    let sc = readysim::scenario::parse(&pathological(max), Path::new("x.toml"), None).unwrap();
    let rep = readysim::replay(&sc, readysim::EngineKind::Fast).expect("a valid scenario");
    let out = &rep.evaluation.output;
    assert_eq!(out.engine.steps, max);
    // At most a few events a step: the bound docs/limits.md states (2 here, 3 allowed).
    assert!(
        out.trace.len() as u64 <= 3 * max,
        "{} events for {max} steps",
        out.trace.len()
    );
    let pic = readysim::picture::build(&sc, &rep);
    assert!(pic.marks.len() + pic.spans.len() <= 4 * readysim::picture::MAX_PICTURE_EVENTS);
    assert!(pic.summary.contains("drawn up to"), "{}", pic.summary);
}

fn signal_midway(sig: &str) -> Ran {
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("rec");
    let child = spawn(
        d.path(),
        &[
            "explore",
            "--seed",
            "3",
            "--cases",
            "18446744073709551615",
            "--preset",
            "p2",
            "--record",
            rec.to_str().unwrap(),
            "--scenarios",
            shipped().to_str().unwrap(),
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    sh("kill", &[sig, &child.id().to_string()]);
    let ran = finish(child, 30, &format!("explore, after kill {sig}"));
    // No temporary file is left behind.
    if rec.exists() {
        for e in fs::read_dir(&rec).unwrap() {
            let n = e.unwrap().file_name().into_string().unwrap();
            assert!(!n.contains(".tmp-"), "left {n}");
        }
    }
    ran
}

// 5. Ctrl-C is seen at once, even with a budget of 2^64 - 1 cases.
#[test]
#[cfg(unix)]
fn ctrl_c_stops_a_search_of_two_to_the_64_cases() {
    let (code, out, err) = signal_midway("-INT");
    assert_eq!(code, 130, "{err}");
    assert!(out.contains("case(s)"), "no summary: {out}");
    assert!(err.contains("interrupted"), "{err}");
}

// 12. SIGTERM is handled like SIGINT: the summary is printed, nothing is left behind.
#[test]
#[cfg(unix)]
fn sigterm_is_handled_like_ctrl_c() {
    let (code, out, err) = signal_midway("-TERM");
    assert_eq!(code, 130, "{err}");
    assert!(out.contains("case(s)"), "no summary: {out}");
}

// 12. Stale temporary files of processes that are gone are removed; a live one's is kept.
#[test]
#[cfg(unix)]
fn stale_temporary_files_are_removed_by_the_next_run() {
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("rec");
    fs::create_dir(&rec).unwrap();
    // No process has an id this large (Linux's pid_max is at most 2^22).
    let dead = rec.join(".p2-hang-0000.toml.tmp-4294967");
    let probe = rec.join(".readysim-write-test-4294966");
    let live = rec.join(format!(".p2-x.toml.tmp-{}", std::process::id()));
    for f in [&dead, &probe, &live] {
        fs::write(f, "half a file").unwrap();
    }
    let (code, _, err) = run_in(
        d.path(),
        &[
            "explore",
            "--seed",
            "1",
            "--cases",
            "1",
            "--preset",
            "p2",
            "--record",
            rec.to_str().unwrap(),
            "--scenarios",
            shipped().to_str().unwrap(),
        ],
    );
    assert!(code == 0 || code == 1, "{err}");
    assert!(!dead.exists() && !probe.exists(), "{err}");
    assert!(live.exists(), "a live process's file was removed");
    assert!(err.contains("removed"), "{err}");
}

// 11. A full disk mid-run: exit 3 and a summary line, distinct from "found new failures".
#[test]
fn failures_that_cannot_be_written_are_reported_as_such() {
    // Library level, runnable anywhere: the record folder vanishes after it was opened.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("rec");
    let mut rec = readysim::search::record::RecordDir::open(&dir, &[]).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, "a file where the folder was").unwrap();
    let mut opts = readysim::search::ExploreOptions::new(1).presets(&[readysim::Preset::P2]);
    opts.cases = 200;
    let s = readysim::search::explore(&opts, Some(&mut rec), &readysim::search::Quiet);
    assert!(!s.found.is_empty());
    assert!(s
        .found
        .iter()
        .all(|f| f.error.is_some() && f.path.is_none()));
    // Through the binary, where a small file system can be mounted (root on Linux).
    let mnt = tempfile::tempdir().unwrap();
    let m = mnt.path().to_str().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=80k", "tmpfs", m])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("note: cannot mount a tmpfs here; the binary-level disk-full case is skipped");
        return;
    }
    fs::write(mnt.path().join("fill"), vec![0u8; 12 * 1024]).unwrap();
    let rec = mnt.path().join("rec");
    let (code, out, err) = run_in(
        mnt.path(),
        &[
            "explore",
            "--seed",
            "1",
            "--cases",
            "500",
            "--all-presets",
            "--record",
            rec.to_str().unwrap(),
            "--scenarios",
            shipped().to_str().unwrap(),
        ],
    );
    sh("umount", &[m]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("NOT written"), "{out}");
    assert!(err.contains("No space left"), "{err}");
}

// 13. Outage windows are exactly [start, end]: extra or nested elements are refused.
#[test]
fn outage_windows_with_extra_elements_are_refused_with_the_field() {
    for (body, field) in [
        (
            "[redis.server]\noutages = [[1, 2, 3]]",
            "redis.server.outages[0]",
        ),
        (
            "[redis.server]\noutages = [[100, 200, \"x\"]]",
            "redis.server.outages[0]",
        ),
        (
            "[redis.server]\noutages = [[1, 2], [3]]",
            "redis.server.outages[1]",
        ),
        ("[auth]\noutages = [[1, 2, {a = 1}]]", "auth.outages[0]"),
        ("[auth]\noutages = [[1, 2, [3]]]", "auth.outages[0]"),
        ("[auth]\noutages = [[[1], 2]]", "auth.outages[0][0]"),
    ] {
        let (code, _, err) = replay_text(body);
        assert_eq!(code, 2, "{body}: {err}");
        assert!(err.contains(&format!("field `{field}`")), "{body}: {err}");
    }
    let (code, _, err) = replay_text("[redis.server]\noutages = [[1, 2]]");
    assert!(code == 0 || code == 1, "{err}");
}

// 14. Terminal escapes from a file are shown escaped, never sent to the terminal.
#[test]
fn control_characters_from_a_file_are_escaped_in_all_output() {
    let d = tempfile::tempdir().unwrap();
    let evil =
        "format = 1\nname = \"esc\"\nsummary = \"t \\u001b]0;pwned\\u0007 \\u001b[2J \\u009b\"\n\
                [policy]\npreset = \"p2\"\n";
    fs::write(d.path().join("esc.toml"), evil).unwrap();
    fs::write(
        d.path().join("key.toml"),
        format!("{}\"\\u001b[31m\" = 1\n", evil.replace("esc", "key")),
    )
    .unwrap();
    for args in [
        &["list", "--scenarios", "."][..],
        &["replay", "esc.toml"],
        &["compare", "esc.toml"],
        &["replay", "key.toml"],
        &["--scenarios", "."],
    ] {
        let (_, out, err) = run_in(d.path(), args);
        for text in [&out, &err] {
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t'),
                "{args:?} printed a control character: {text:?}"
            );
        }
        assert!(
            out.contains("\\u001b") || err.contains("\\u001b"),
            "{args:?}"
        );
    }
    // JSON stays JSON, with the file's text in it, C1 controls and bidi overrides included.
    let c1 = "format = 1\nname = \"c1\"\nsummary = \"t \\u009b2J \\u202e rtl\"\n\
              [policy]\npreset = \"p2\"\n";
    fs::create_dir(d.path().join("c1")).unwrap();
    fs::write(d.path().join("c1/c1.toml"), c1).unwrap();
    for args in [
        &["list", "--scenarios", "c1", "--json"][..],
        &["replay", "c1/c1.toml", "--json"],
        &["replay", "c1/c1.toml", "--json", "--trace"],
    ] {
        let (_, out, _) = run_in(d.path(), args);
        assert!(
            !out.chars().any(|c| c == '\u{9b}' || c == '\u{202e}'),
            "{args:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        if args[0] == "list" {
            let kept = v
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s["summary"] == "t \u{9b}2J \u{202e} rtl"));
            assert!(kept, "{args:?}: the text is kept: {out}");
        }
    }
}

// 15. Messages that name what is wrong.
#[test]
fn unclear_inputs_get_messages_that_say_what_is_wrong() {
    for (body, field, says) in [
        (
            "[run]\nhorizon_ms = 1979-05-27T07:32:00Z",
            "run.horizon_ms",
            "found a date/time",
        ),
        (
            "[run]\nhorizon_ms = 07:32:00",
            "run.horizon_ms",
            "date/time",
        ),
        (
            "[run]\nhorizon_ms =",
            "run.horizon_ms",
            "no value after `=`",
        ),
        (
            "[run]\nhorizon_ms = # later",
            "run.horizon_ms",
            "no value after `=`",
        ),
        (
            "[run]\nhorizon_ms = 1\u{0}",
            "run.horizon_ms",
            "U+0000 (NUL)",
        ),
        (
            "[run]\n\u{1}horizon_ms = 1",
            "run",
            "control character U+0001",
        ),
    ] {
        let (code, _, err) = replay_text(body);
        assert_eq!(code, 2, "{body:?}: {err}");
        assert!(err.contains(&format!("field `{field}")), "{body:?}: {err}");
        assert!(err.contains(says), "{body:?}: {err}");
    }
    // 100k-deep dotted keys, headers, arrays and inline tables.
    for deep in [
        format!("{}b = 1", "a.".repeat(100_000)),
        format!("[{}b]", "a.".repeat(100_000)),
        format!("x = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("x = {}1{}", "{a = ".repeat(5000), "}".repeat(5000)),
    ] {
        let (code, _, err) = replay_text(&deep);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("nested more than"),
            "{}",
            &err[..err.len().min(300)]
        );
        assert!(!err.contains("recursion"), "{}", &err[..err.len().min(300)]);
        assert!(err.len() < 600, "a {}-byte message", err.len());
    }
    let d = tempfile::tempdir().unwrap();
    // Not UTF-8 in the middle of line 3: line and column named.
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.splice(30..30, [0xff, 0xfe]);
    fs::write(d.path().join("x.toml"), &bytes).unwrap();
    let (code, _, err) = run_in(d.path(), &["replay", "x.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("x.toml:3:") && err.contains("UTF-8"), "{err}");
    // UTF-16 with a byte-order mark.
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(HEAD.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    fs::write(d.path().join("x.toml"), utf16).unwrap();
    let (code, _, err) = run_in(d.path(), &["replay", "x.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("UTF-16"), "{err}");
    assert!(err.contains("x.toml:1:1"), "{err}");
}

// 15. A file name that is not UTF-8 is named, not shown as an empty stem.
#[test]
#[cfg(unix)]
fn a_file_name_that_is_not_utf8_is_named() {
    use std::os::unix::ffi::OsStrExt as _;
    let d = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff.toml");
    fs::write(d.path().join(name), HEAD).unwrap();
    let (code, _, err) = run_in(d.path(), &["list", "--scenarios", "."]);
    assert_ne!(code, 0, "{err}");
    assert!(!err.contains("stem ``"), "{err}");
    assert!(err.contains("bad"), "{err}");
}

// 16. `list` of a folder that is missing, or of a file, says so and exits 2.
#[test]
fn list_of_a_missing_folder_or_a_file_exits_2() {
    let d = folder_with("slow-redis");
    for arg in ["nope", "slow-redis.toml"] {
        let (code, out, err) = run_in(d.path(), &["list", "--scenarios", arg]);
        assert_eq!(code, 2, "{arg}: {out}{err}");
        assert!(err.contains(arg), "{err}");
    }
}

// 17. `replay --bless --json` answers in JSON.
#[test]
fn bless_json_prints_what_was_blessed() {
    let d = folder_with("slow-redis");
    let (code, out, err) = run_in(
        d.path(),
        &["replay", "slow-redis.toml", "--bless", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["blessed"], "slow-redis.toml");
    assert_eq!(v["expect"]["startup"], "failed");
}

fn both_engines(text: &str) -> (readysim::Report, readysim::Report) {
    let sc = readysim::scenario::parse(text, Path::new("x.toml"), None).unwrap();
    (
        readysim::replay(&sc, readysim::EngineKind::Fast).expect("a valid scenario"),
        readysim::replay(&sc, readysim::EngineKind::Tokio).expect("a valid scenario"),
    )
}

// 6 and 18. The engines agree where no decision picks an order: a freeze past the horizon,
//    zero-time work past tokio's cooperative budget, and events at the horizon instant.
#[test]
fn the_engines_agree_on_freezes_budgets_and_the_horizon_instant() {
    let freeze = format!(
        "{}probe = \"faithful\"\ngrace = \"blocking\"\ngrace_ms = 1000000000000\n[run]\nhorizon_ms = 60000\n",
        HEAD.replace("p2", "p1")
    );
    let zero_time = format!(
        "{}[redis.server]\nping_ms = 0\n[auth]\nlatency_ms = 0\n{}",
        HEAD.replace("p2", "reference"),
        "[[clients]]\nat_ms = 4000\nmessages = 300\nmessage_gap_ms = 0\n".repeat(2)
    );
    let at_horizon = fs::read_to_string(shipped().join("keepalive-stall-1011.toml"))
        .unwrap()
        .replace("horizon_ms = 200000", "horizon_ms = 23010");
    for (what, text) in [
        ("freeze", freeze),
        ("zero-time", zero_time),
        ("horizon", at_horizon),
    ] {
        let (fast, tokio) = both_engines(&text);
        let h = fast.evaluation.output.engine.end_ms;
        assert!(
            fast.evaluation.output.trace.iter().all(|e| e.t <= h),
            "{what}: fast past its end"
        );
        assert_eq!(
            fast.trace_hash,
            tokio.trace_hash,
            "{what}:\nfast:\n{}\ntokio:\n{}",
            fast.trace_text(),
            tokio.trace_text()
        );
    }
}

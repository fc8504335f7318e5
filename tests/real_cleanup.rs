//! `readysim real` leaves nothing behind and never hangs, whatever the end: a SIGKILL (its
//! redis-server dies with it; the next run removes the folder), a tiny `--time-scale` (the
//! step budget and the horizon still end the run), too few file descriptors (an error, not a
//! panic), a server that fails to start (its own words in the error) or a wrapper whose child
//! keeps its output open (no pipe to hang on).
//!
//! Needs `redis-server`, like tests/real_redis.rs: without one these are ignored, with a note;
//! with READYSIM_REQUIRE_REDIS set (as `.ci/run` does) a missing server is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readysim(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(root())
        .env_remove("READYSIM_SCENARIOS")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` at most `secs` (a watchdog: the class under test is a hang), then its
/// exit code (-1 for a signal) and stderr.
// Real processes, real time: the watchdog is the only use.
#[allow(clippy::disallowed_methods)]
fn finish(mut child: Child, secs: u64, what: &str) -> Result<(i32, String), Failed> {
    let start = Instant::now();
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            let o = child.wait_with_output().map_err(|e| e.to_string())?;
            return Ok((
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ));
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what}: still running after {secs} s (a hang)").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Folders of our real runs in the temporary directory.
fn redis_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("readysim-redis-"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Live (not zombie) processes for which `keep(pid)` holds.
fn live_pids(keep: impl Fn(i32) -> bool) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            == Some("Z");
        if !zombie && keep(pid) {
            out.push(pid);
        }
    }
    out
}

/// Processes working in `dir` (redis-server rewrites its command line, so its `--dir` is
/// found through its working directory).
fn processes_in(dir: &Path) -> Vec<i32> {
    live_pids(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == dir))
}

/// Processes whose command line holds `needle`.
fn processes_with(needle: &str) -> Vec<i32> {
    live_pids(|pid| {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmd).contains(needle)
    })
}

/// SIGKILL reaches no handler: the server must die with readysim (PR_SET_PDEATHSIG), and the
/// next run must remove the folder the killed one left.
// Real processes, real time.
#[allow(clippy::disallowed_methods)]
fn sigkill_then_next_run_cleans(_bin: &Path) -> Result<(), Failed> {
    let child = readysim(&["real", "incident-2025-09-09"]).spawn()?;
    let pid = child.id() as i32;
    let prefix = format!("readysim-redis-{pid}-");
    let start = Instant::now();
    let dir = loop {
        if let Some(d) = redis_dirs().into_iter().find(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        }) {
            if !processes_in(&d).is_empty() {
                break d;
            }
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err("no redis-server of the run appeared within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    let _ = finish(child, 10, "the killed run")?;
    let start = Instant::now();
    while !processes_in(&dir).is_empty() {
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!("redis-server in {dir:?} outlived readysim's SIGKILL").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !dir.exists() {
        return Err("the killed run's folder is gone already: nothing to test".into());
    }
    // An older-named folder nothing uses, as an older readysim left them.
    let old = std::env::temp_dir().join("readysim-redis-Ab3dEf");
    std::fs::create_dir_all(&old)?;
    let next = readysim(&["real", "slow-redis", "--time-scale", "0.2"]).spawn()?;
    let (code, err) = finish(next, 120, "the next run")?;
    if code != 0 {
        return Err(format!("the next run failed ({code}): {err}").into());
    }
    if dir.exists() || old.exists() {
        return Err(format!("left behind: {dir:?} {}", old.exists()).into());
    }
    Ok(())
}

/// At 1e-5 every deadline has passed at once: the run must still end (horizon, step budget),
/// and quickly, instead of looping inside one poll and growing without bound.
fn tiny_time_scale_ends(_bin: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let text = std::fs::read_to_string(root().join("scenarios/slow-redis.toml"))?.replace(
        "[expect]",
        "[redis.manager]\nhealth_interval_ms = 1\n\n[expect]",
    );
    let file = dir.path().join("slow-redis.toml");
    std::fs::write(&file, text)?;
    let child = readysim(&["real", file.to_str().unwrap(), "--time-scale", "0.00001"]).spawn()?;
    let (code, err) = finish(child, 60, "real --time-scale 0.00001")?;
    if code == 101 || code == -1 || err.contains("panicked") {
        return Err(format!("exit {code}: {err}").into());
    }
    Ok(())
}

/// With 40 descriptors a 45-client storm cannot run: an error naming the limit, exit 2.
fn too_few_descriptors_is_an_error(_bin: &Path) -> Result<(), Failed> {
    let child = Command::new("sh")
        .current_dir(root())
        .arg("-c")
        .arg(format!(
            "ulimit -n 40 && exec '{BIN}' real manager-limit-storm"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let (code, err) = finish(child, 60, "real under ulimit -n 40")?;
    if code != 2 || !err.contains("too few file descriptors") || err.contains("panicked") {
        return Err(format!("exit {code}: {err}").into());
    }
    Ok(())
}

/// A wrapper that says why it failed (on stdout, as redis-server does) and leaves a child
/// holding its output open: the error carries the words, and readysim does not wait for the
/// child.
fn start_failure_says_why_and_never_hangs(_bin: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let wrapper = dir.path().join("redis-wrapper");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nsleep 30 &\necho \"FATAL CONFIG FILE ERROR: wrapped to fail\"\nexit 1\n",
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    }
    let child = readysim(&[
        "real",
        "slow-redis",
        "--redis-server",
        wrapper.to_str().unwrap(),
    ])
    .spawn()?;
    let (code, err) = finish(child, 25, "real with a failing wrapper")?;
    if code == 0 || !err.contains("wrapped to fail") {
        return Err(format!("exit {code}, the server's words missing: {err}").into());
    }
    if !processes_with(&wrapper.display().to_string()).is_empty() {
        return Err("the wrapper's group outlived the run".into());
    }
    Ok(())
}

type Check = fn(&Path) -> Result<(), Failed>;

fn main() {
    let mut args = Arguments::from_args();
    // Real time and shared temporary folders: one at a time.
    args.test_threads = Some(1);
    let bin = readysim::real::find_redis_server();
    let tests: [(&str, Check); 4] = [
        ("sigkill_then_next_run_cleans", sigkill_then_next_run_cleans),
        ("tiny_time_scale_ends", tiny_time_scale_ends),
        (
            "too_few_descriptors_is_an_error",
            too_few_descriptors_is_an_error,
        ),
        (
            "start_failure_says_why_and_never_hangs",
            start_failure_says_why_and_never_hangs,
        ),
    ];
    if bin.is_none() {
        let why = format!(
            "\nreal_cleanup: no redis-server found (READYSIM_REDIS_SERVER, then PATH): these {} \
             tests are SKIPPED (shown as ignored). To run them: apt-get install -y redis-server, \
             then cargo test --test real_cleanup\n",
            tests.len()
        );
        common::missing_environment("real_cleanup", &why, "READYSIM_REQUIRE_REDIS", "server");
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let ignored = bin.is_none();
            let bin = bin.clone().unwrap_or_default();
            Trial::test(name, move || f(&bin)).with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

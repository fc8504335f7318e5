//! `readysim real --app`: the example service (examples/incident-app, Python: Starlette,
//! uvicorn, redis-py) against the simulation, judged from outside, and nothing left behind by
//! any way a run can end.
//!
//! Needs `redis-server` and the example's virtual environment (`examples/incident-app/
//! install.sh`, or READYSIM_APP_PYTHON naming a Python that has its requirements). Without
//! them every test here is reported as ignored, with a note saying how to run them; with
//! READYSIM_REQUIRE_APP set (as `.ci/run` does) a missing one is a failure instead.

// Real processes in real time: waiting for them to start and to go is what these tests do.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

mod common;

use readysim::real::{self, AppSpec, RealOptions, RealReport, Source};
use readysim::scenario;

const APP: &str = "examples/incident-app/app.py";
const READY_URL: &str = "http://127.0.0.1:{port}/health/ready";

/// What the tests need: a redis-server and a Python with the example's requirements.
#[derive(Clone)]
struct Env {
    redis: PathBuf,
    python: PathBuf,
}

fn load(name: &str) -> readysim::Scenario {
    scenario::find(Path::new("scenarios"), name)
        .ok()
        .and_then(|p| scenario::load(&p).ok())
        .unwrap_or_else(|| panic!("shipped scenario {name}"))
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("READYSIM_APP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("examples/incident-app/.venv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", "import starlette, uvicorn, redis, websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(p)
}

/// Runs `name` against the example app started with `flags`, once.
fn run(env: &Env, name: &str, flags: &str) -> Result<RealReport, Failed> {
    let opts = RealOptions::new(Source::Spawn(env.redis.clone()))
        .app(AppSpec::new(format!("{} {APP} {flags}", env.python.display())).ready_url(READY_URL));
    real::run(&load(name), &opts).map_err(|e| Failed::from(e.to_string()))
}

/// The run agrees with the simulation on every field it could judge.
fn agrees(env: &Env, name: &str, flags: &str) -> Result<RealReport, Failed> {
    let r = run(env, name, flags)?;
    let run = &r.runs[0];
    let bad: Vec<String> = run
        .fields
        .iter()
        .filter(|f| !f.agree)
        .map(|f| format!("{}: simulated {}, real {}", f.field, f.simulated, f.real))
        .collect();
    if !bad.is_empty() || !run.valid {
        let tail = run.app.as_ref().map(|a| a.output_tail.join("\n  | "));
        return Err(format!(
            "{name} ({flags}) disagrees{}:\n  {}\napp output:\n  | {}",
            run.invalid.as_deref().unwrap_or(""),
            bad.join("\n  "),
            tail.unwrap_or_default()
        )
        .into());
    }
    Ok(r)
}

fn field<'a>(r: &'a RealReport, name: &str) -> Result<&'a real::FieldCheck, Failed> {
    r.runs[0]
        .fields
        .iter()
        .find(|f| f.field == name)
        .ok_or_else(|| format!("no {name} field").into())
}

/// The property-call probe fails every start after 7.5 s, with the incident's message.
fn incident(env: &Env) -> Result<(), Failed> {
    let r = agrees(env, "incident-2025-09-09", "")?;
    let elapsed: u64 = field(&r, "elapsed_ms")?.real.parse()?;
    if !(7_400..=7_800).contains(&elapsed) {
        return Err(format!("elapsed {elapsed} ms, not 7.5 s").into());
    }
    let app = r.runs[0].app.as_ref().ok_or("no app")?;
    if app.exited_ms.is_none() || app.ready_ms.is_some() {
        return Err(format!("{app:?}").into());
    }
    Ok(())
}

/// The corrected probe (with the async grace) is ready, and its client is served.
fn fixed(env: &Env) -> Result<(), Failed> {
    let r = agrees(env, "incident-probe-fixed", "--fixed")?;
    if field(&r, "startup")?.real != "\"ready\"" || r.runs[0].wire[0].http_status != Some(101) {
        return Err(format!("{:?}", r.runs[0].wire).into());
    }
    Ok(())
}

/// The f1 route's user-ID check closes the E2E user with a real 1011 "Internal error".
fn user_id_1011(env: &Env) -> Result<(), Failed> {
    let r = agrees(
        env,
        "e2e-user-id-1011",
        "--probe faithful --circular-check off",
    )?;
    let a = &r.runs[0].wire[0];
    if a.close_code != Some(1011) || a.close_reason.as_deref() != Some("Internal error") {
        return Err(format!("{a:?}").into());
    }
    Ok(())
}

/// A client in the backlog of a failing start is reset when the worker exits.
fn listen_before_ready(env: &Env) -> Result<(), Failed> {
    agrees(env, "listen-before-ready", "")?;
    Ok(())
}

/// The comparison can fail: the corrected app against the incident's file disagrees on
/// startup (the file's code fails, the app's does not).
fn disagreement_is_seen(env: &Env) -> Result<(), Failed> {
    let r = run(env, "incident-2025-09-09", "--fixed")?;
    let s = field(&r, "startup")?;
    if s.agree || r.agree() {
        return Err(format!("the corrected app agreed with the incident: {s:?}").into());
    }
    Ok(())
}

/// Temporary folders readysim makes.
fn our_temp_dirs() -> BTreeSet<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("readysim-redis-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Live (not zombie) processes whose process group is `pgid`, or whose command line
/// mentions `needle`.
fn processes(pgid: Option<i32>, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let after = stat.rsplit(')').next().unwrap_or("");
        let cols: Vec<&str> = after.split_whitespace().collect();
        if cols.first() == Some(&"Z") {
            continue;
        }
        let group: Option<i32> = cols.get(2).and_then(|g| g.parse().ok());
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if (pgid.is_some() && group == pgid) || (!needle.is_empty() && cmd.contains(needle)) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

fn port_listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Nothing of a finished run is left: the app's group, its port, the Redis server, its folder.
fn nothing_left(
    before: &BTreeSet<PathBuf>,
    pgid: Option<i32>,
    port: Option<u16>,
) -> Result<(), Failed> {
    // Processes die asynchronously after SIGKILL: give the kernel a moment.
    let t = Instant::now();
    loop {
        let new_dirs: Vec<_> = our_temp_dirs().difference(before).cloned().collect();
        let procs = processes(pgid, "readysim-redis-");
        let listening = port.is_some_and(port_listening);
        if new_dirs.is_empty() && procs.is_empty() && !listening {
            return Ok(());
        }
        if t.elapsed() > Duration::from_secs(5) {
            return Err(format!(
                "left behind: folders {new_dirs:?}, processes {procs:?}, port listening {listening}"
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// After a run that agrees and one that fails, nothing is left.
fn cleanup_after_success_and_failure(env: &Env) -> Result<(), Failed> {
    let before = our_temp_dirs();
    for (name, flags) in [
        ("incident-probe-fixed", "--fixed"),
        ("circular-check", "--probe faithful"),
    ] {
        let r = run(env, name, flags)?;
        let app = r.runs[0].app.as_ref().ok_or("no app")?;
        nothing_left(&before, Some(app.pid as i32), Some(app.port))?;
    }
    Ok(())
}

/// The app crashes (SIGSEGV) in the middle of its startup: the run reports it, and nothing
/// is left.
fn cleanup_after_a_crash(env: &Env) -> Result<(), Failed> {
    let before = our_temp_dirs();
    let opts = RealOptions::new(Source::Spawn(env.redis.clone())).app(
        AppSpec::new(format!(
            "{} {APP} --fixed & sleep 1.5; kill -SEGV $!; wait $!",
            env.python.display()
        ))
        .ready_url(READY_URL),
    );
    let r = real::run(&load("incident-probe-fixed"), &opts)?;
    let app = r.runs[0].app.as_ref().ok_or("no app")?;
    if app.exited_ms.is_none() || r.agree() {
        return Err(format!("the crash went unseen: {app:?}").into());
    }
    nothing_left(&before, Some(app.pid as i32), Some(app.port))
}

/// readysim itself is interrupted (SIGINT, as Ctrl-C; SIGTERM) while the app starts: it
/// stops the app's whole group and the Redis server, and removes the server's folder.
fn cleanup_after_signal(env: &Env, sig: &str) -> Result<(), Failed> {
    let before = our_temp_dirs();
    let dir = tempfile::tempdir()?;
    let pidfile = dir.path().join("app.pid");
    let cmd = format!(
        "echo $$ > {}; exec {} {APP}",
        pidfile.display(),
        env.python.display()
    );
    let child = Command::new(env!("CARGO_BIN_EXE_readysim"))
        .args(["real", "incident-2025-09-09", "--app", &cmd])
        .env("READYSIM_REDIS_SERVER", &env.redis)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // Wait until the app runs (its pid file), then a little into its startup.
    let t = Instant::now();
    while !pidfile.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let pgid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    if processes(Some(pgid), "").is_empty() {
        return Err("the app was not running when the signal was sent".into());
    }
    Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()?;
    let out = child.wait_with_output()?;
    if out.status.code() != Some(130) {
        return Err(format!("readysim exited with {} after SIG{sig}", out.status).into());
    }
    // It says what it stopped: the app's group, and the Redis server with its folder.
    let err = String::from_utf8_lossy(&out.stderr);
    let app = format!(
        "interrupted: stopped sh -c 'echo $$ > {}",
        pidfile.display()
    );
    let redis = "interrupted: stopped redis-server (process group ";
    if !err.contains(&app) || !err.contains(redis) || !err.contains(", removed ") {
        return Err(format!("after SIG{sig} readysim said:\n{err}").into());
    }
    nothing_left(&before, Some(pgid), None)
}

type Check = fn(&Env) -> Result<(), Failed>;

fn main() {
    let mut args = Arguments::from_args();
    // Real time on a shared machine: one real run at a time.
    args.test_threads = Some(1);
    let env = match (real::find_redis_server(), python()) {
        (Some(redis), Some(python)) => Some(Env { redis, python }),
        _ => None,
    };
    let tests: [(&str, Check); 10] = [
        ("incident_app_fails_at_7_5_s", incident),
        ("incident_app_fixed_is_ready", fixed),
        ("incident_app_user_id_1011", user_id_1011),
        ("incident_app_listen_before_ready", listen_before_ready),
        ("incident_app_disagreement_is_seen", disagreement_is_seen),
        (
            "cleanup_after_success_and_failure",
            cleanup_after_success_and_failure,
        ),
        ("cleanup_after_a_crash_of_the_app", cleanup_after_a_crash),
        ("cleanup_after_ctrl_c", |e| cleanup_after_signal(e, "INT")),
        ("cleanup_after_sigterm", |e| cleanup_after_signal(e, "TERM")),
        ("cleanup_after_sighup", |e| cleanup_after_signal(e, "HUP")),
    ];
    if env.is_none() {
        let why = format!(
            "\napp: redis-server or the example app's Python environment is missing: the {} \
             tests against examples/incident-app are SKIPPED (shown as ignored).\n  To run \
             them: apt-get install -y redis-server python3-venv; examples/incident-app/install.sh; \
             cargo test --test app (or set READYSIM_APP_PYTHON to a Python with \
             examples/incident-app/requirements.txt installed)\n",
            tests.len()
        );
        common::missing_environment("app", &why, "READYSIM_REQUIRE_APP", "environment");
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let ignored = env.is_none();
            let env = env.clone();
            Trial::test(name, move || f(env.as_ref().expect("checked: not ignored")))
                .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

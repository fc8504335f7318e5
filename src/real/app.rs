//! `readysim real NAME --app 'COMMAND'`: the scenario against the user's own service, judged
//! from outside. The service is started with its Redis URL pointed at the fault proxy, the
//! scenario's clients connect to its WebSocket endpoint, and what can be seen from outside
//! (when it listened, when it said ready, when it exited, its readiness error line, what each
//! client's wire showed) is compared with the simulation of the same file.
//!
//! ```text
//! real clients --TCP, WebSocket--> the app (sh -c COMMAND, own process group) --REDIS_URL-->
//!     fault proxy (the scenario's [redis.server] timeline) --> redis-server (private)
//! readiness poller --HTTP GET--> --ready-url        output reader <-- the app's stdout/stderr
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{clients, json, process, FieldCheck, Proxy, RealError, RealRun, StallMonitor};
use crate::engine::RealClock;
use crate::replay::Report;
use crate::scenario::fields::{Access, Group, FIELDS};
use crate::scenario::Scenario;
use crate::vocab::StartupOutcome;

/// How to start and watch the user's service: [`AppSpec::new`], then the setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AppSpec {
    /// A shell command (`sh -c`); `{port}` and `{redis_url}` are substituted.
    pub command: String,
    /// `http://HOST:PORT/PATH` polled for a 2xx answer: when the service declared itself
    /// ready (`{port}` substituted).
    pub ready_url: Option<String>,
    /// The WebSocket endpoint's path.
    pub ws_path: String,
}

impl AppSpec {
    /// `command`, no readiness URL, the endpoint at `/ws`.
    pub fn new(command: impl Into<String>) -> AppSpec {
        AppSpec {
            command: command.into(),
            ready_url: None,
            ws_path: "/ws".into(),
        }
    }

    /// The readiness URL (`{port}` substituted).
    pub fn ready_url(mut self, url: impl Into<String>) -> AppSpec {
        self.ready_url = Some(url.into());
        self
    }

    /// The WebSocket endpoint's path.
    pub fn ws_path(mut self, path: impl Into<String>) -> AppSpec {
        self.ws_path = path.into();
        self
    }
}

/// The text every readiness failure message of the model starts with; the service's output
/// is searched for it.
pub const MESSAGE_ANCHOR: &str = "GCP WebSocket readiness validation failed";
/// How often the readiness URL is asked again after a non-2xx answer or a refusal (real ms).
pub const READY_POLL_MS: u64 = 50;
/// How long the service may take to stop after SIGTERM before its group gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Output lines kept (the last ones), and the longest line kept whole.
const OUTPUT_LINES: usize = 200;
const OUTPUT_LINE_BYTES: usize = 4096;

/// What readysim saw of the service from outside, in real ms from its start.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct AppObserved {
    /// The command as run (after substitution).
    pub command: String,
    /// The port it was given.
    pub port: u16,
    /// The process id of `sh -c COMMAND`, which leads the service's process group.
    pub pid: u32,
    /// When its port was first seen listening (from `/proc/net/tcp`).
    pub listening_ms: Option<f64>,
    /// When the readiness URL first answered 2xx.
    pub ready_ms: Option<f64>,
    /// When the process exited on its own (not stopped by readysim).
    pub exited_ms: Option<f64>,
    /// Its exit status then (`exit 3`, `signal 9`).
    pub exit: Option<String>,
    /// The startup outcome as seen from outside, when it can be seen.
    pub startup: Option<StartupOutcome>,
    /// Its readiness failure line, from `MESSAGE_ANCHOR` on.
    pub message: Option<String>,
    /// Lines of output in all, and the last ones.
    pub output_lines: usize,
    /// The last lines of its stdout and stderr, interleaved as they came.
    pub output_tail: Vec<String>,
}

/// `{port}` and `{redis_url}` substituted.
pub fn substitute(s: &str, port: u16, redis_url: &str) -> String {
    s.replace("{port}", &port.to_string())
        .replace("{redis_url}", redis_url)
}

/// The environment the service starts with: where it listens and where Redis is, where it
/// runs (as the real code read it), and the scenario's startup times for a service that
/// stands in for phases it does not have.
pub fn app_env(sc: &Scenario, port: u16, proxy: SocketAddr) -> Vec<(String, String)> {
    let mut env = vec![
        ("PORT".to_string(), port.to_string()),
        ("REDIS_URL".into(), format!("redis://{proxy}/0")),
        ("REDIS_HOST".into(), proxy.ip().to_string()),
        ("REDIS_PORT".into(), proxy.port().to_string()),
        ("ENVIRONMENT".into(), sc.environment.name.name().to_string()),
        ("READYSIM_SCENARIO".into(), sc.name.clone()),
    ];
    if sc.environment.cloud_run {
        // Cloud Run sets K_SERVICE in every container.
        env.push(("K_SERVICE".into(), "readysim".into()));
    }
    for f in FIELDS.iter().filter(|f| f.group == Group::Startup) {
        if let Access::Num(get, _) = f.access {
            let name = format!("READYSIM_{}", f.path.replace('.', "_").to_uppercase());
            env.push((name, get(sc).to_string()));
        }
    }
    env
}

/// Whether something listens on loopback `port`, from `/proc/net/tcp{,6}` (no connection is
/// made: a probe connection would wait in the service's backlog like a client). `None` where
/// the table cannot be read.
fn listening(port: u16) -> Option<bool> {
    let mut seen = false;
    let mut any = false;
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(t) = std::fs::read_to_string(f) else {
            continue;
        };
        seen = true;
        let want = format!(":{port:04X}");
        any |= t.lines().skip(1).any(|l| {
            let mut cols = l.split_whitespace();
            let local = cols.nth(1).unwrap_or("");
            let state = cols.nth(1).unwrap_or("");
            local.ends_with(&want) && state == "0A"
        });
    }
    seen.then_some(any)
}

/// The shared output log: the last lines, the count, and the first readiness failure line.
#[derive(Default)]
struct OutputLog {
    tail: VecDeque<String>,
    lines: usize,
    message: Option<String>,
}

/// Reads `r` line by line into `log` (bounded), until the pipe closes.
fn read_lines(r: impl Read + Send + 'static, log: Arc<Mutex<OutputLog>>) {
    // A reader per pipe: the service writes both, and neither may block it.
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match (&mut r)
                .take(OUTPUT_LINE_BYTES as u64)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            l.lines += 1;
            if l.message.is_none() {
                if let Some(i) = line.find(MESSAGE_ANCHOR) {
                    l.message = Some(line[i..].to_string());
                }
            }
            if l.tail.len() == OUTPUT_LINES {
                l.tail.pop_front();
            }
            l.tail.push_back(line);
        }
    });
}

/// `host:port` and path of an `http://HOST:PORT/PATH` URL.
pub fn http_target(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("expected http://HOST:PORT/PATH")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    use std::net::ToSocketAddrs;
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(format!("cannot resolve {hostport}"))?;
    Ok((addr, path.to_string()))
}

/// One GET, waiting for its answer as long as `stop` is not set: the status code, or `None`
/// when the connection was refused, reset or closed without an answer.
fn get_status(addr: SocketAddr, path: &str, stop: &AtomicBool) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut head = Vec::new();
    let mut chunk = [0u8; 512];
    // One request at a time, held until answered: a service that answers only after its
    // startup leaves it in the backlog, and the answer's arrival is the instant it served.
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                head.extend_from_slice(&chunk[..n]);
                if head.windows(2).any(|w| w == b"\r\n") {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `url` on a thread until it answers 2xx or `stop` is set; the handle gives the real
/// ms (from the clock's epoch) of the first 2xx.
fn poll_ready(
    addr: SocketAddr,
    path: String,
    clock: RealClock,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Option<f64>> {
    // Blocking HTTP on a thread of its own, as a load balancer's health check runs outside.
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Some(code) = get_status(addr, &path, &stop) {
                if (200..300).contains(&code) {
                    return Some(clock.epoch.elapsed().as_secs_f64() * 1000.0);
                }
            }
            std::thread::sleep(Duration::from_millis(READY_POLL_MS));
        }
        None
    })
}

/// The scenario ms until which the run is watched: the simulation's end, its tolerance, and
/// half a second for the service's own pace.
fn watch_until_ms(sim: &Report) -> u64 {
    let end = sim.evaluation.output.engine.end_ms;
    end + super::tolerance_ms(end, 1.0) + 500
}

/// What the watch loop saw.
struct Watched {
    listening_ms: Option<f64>,
    exited: Option<(f64, String)>,
}

/// Watches the process and its port every 5 ms until the clients are done and the run is
/// over (the service exited, or the simulation's end passed), or a hard limit.
fn watch(
    app: &mut process::Owned,
    port: u16,
    clock: RealClock,
    until_ms: u64,
    clients_done: impl Fn() -> bool,
) -> Watched {
    let mut w = Watched {
        listening_ms: None,
        exited: None,
    };
    let hard = until_ms + until_ms / 5 + 5_000;
    loop {
        let now_ms = clock.epoch.elapsed().as_secs_f64() * 1000.0;
        if w.exited.is_none() {
            if let Some(st) = app.try_wait() {
                let how = match (
                    st.code(),
                    std::os::unix::process::ExitStatusExt::signal(&st),
                ) {
                    (Some(c), _) => format!("exit {c}"),
                    (None, Some(s)) => format!("signal {s}"),
                    _ => st.to_string(),
                };
                w.exited = Some((now_ms, how));
            }
        }
        if w.listening_ms.is_none() && listening(port) == Some(true) {
            w.listening_ms = Some(now_ms);
        }
        let t = clock.now_ms();
        if (clients_done() && (w.exited.is_some() || t >= until_ms))
            || t >= hard
            || process::stopping()
        {
            return w;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The startup outcome from outside: ready when the readiness URL said so (or, without one,
/// when a client's handshake was accepted), failed when the process exited first, and not
/// observable otherwise (no readiness URL and nothing accepted while it runs).
fn observed_startup(
    ready_ms: Option<f64>,
    exited_ms: Option<f64>,
    accepted_ms: Option<f64>,
    polled: bool,
) -> (Option<StartupOutcome>, Option<f64>) {
    let first_ready = ready_ms.or(accepted_ms.filter(|_| !polled));
    match (first_ready, exited_ms) {
        (Some(r), Some(e)) if e < r => (Some(StartupOutcome::Failed), Some(e)),
        (Some(_), _) => (Some(StartupOutcome::Ready), ready_ms),
        (None, Some(e)) => (Some(StartupOutcome::Failed), Some(e)),
        (None, None) if polled => (Some(StartupOutcome::Hang), None),
        (None, None) => (None, None),
    }
}

/// `Elapsed: 7.53s` in a message, in ms.
fn message_elapsed_ms(m: &str) -> Option<u64> {
    let i = m.find("Elapsed: ")?;
    let rest = &m[i + 9..];
    let secs: f64 = rest[..rest.find('s')?].parse().ok()?;
    Some((secs * 1000.0).round() as u64)
}

/// What the simulation says an outside observer would see of startup: a bypassed start
/// looks ready, a skipped validation too.
fn outside(s: Option<StartupOutcome>) -> Option<StartupOutcome> {
    match s {
        Some(StartupOutcome::Bypassed | StartupOutcome::Skipped) => Some(StartupOutcome::Ready),
        other => other,
    }
}

/// The fields that can be judged from outside, each against the simulation.
fn compare_outside(
    sc: &Scenario,
    sim: &Report,
    seen: &AppObserved,
    verdict_ms: Option<f64>,
    polled: bool,
) -> Vec<FieldCheck> {
    let mut out = Vec::new();
    let Some(startup) = seen.startup else {
        return out;
    };
    let sim_startup = outside(sim.startup);
    out.push(FieldCheck {
        field: "startup",
        simulated: json(&sim_startup),
        real: json(&Some(startup)),
        agree: sim_startup == Some(startup),
        tolerance_ms: None,
    });
    // The verdict's instant: the readiness URL's first 2xx, or the exit.
    if polled || startup == StartupOutcome::Failed {
        let tol = sim
            .verdict_at_ms
            .map(|v| super::tolerance_ms(v, 1.0) + READY_POLL_MS);
        let real = verdict_ms.map(|v| v.round() as u64);
        out.push(FieldCheck {
            field: "verdict_at_ms",
            simulated: json(&sim.verdict_at_ms),
            real: json(&real),
            agree: match (sim.verdict_at_ms, real, tol) {
                (Some(a), Some(b), Some(t)) => a.abs_diff(b) <= t,
                (None, None, _) => true,
                _ => false,
            },
            tolerance_ms: tol,
        });
    }
    // The readiness error line, up to its elapsed seconds, and the elapsed time itself.
    out.push(FieldCheck {
        field: "message",
        simulated: json(&super::message_shape(&sim.message)),
        real: json(&super::message_shape(&seen.message)),
        agree: super::message_shape(&sim.message) == super::message_shape(&seen.message),
        tolerance_ms: None,
    });
    if let Some(e) = sim.elapsed_ms.filter(|_| sim.message.is_some()) {
        let real = seen.message.as_deref().and_then(message_elapsed_ms);
        let tol = super::tolerance_ms(e, 1.0) + 10;
        out.push(FieldCheck {
            field: "elapsed_ms",
            simulated: json(&Some(e)),
            real: json(&real),
            agree: real.is_some_and(|r| r.abs_diff(e) <= tol),
            tolerance_ms: Some(tol),
        });
    }
    // Declared ready while the Redis timeline says down (the outside half of false-ready).
    let down_at = |t: Option<u64>| t.map(|t| !sc.redis.server.up(t));
    if polled {
        let sim_ready = sim_startup == Some(StartupOutcome::Ready);
        let a = sim_ready && down_at(sim.verdict_at_ms) == Some(true);
        let b = startup == StartupOutcome::Ready
            && down_at(seen.ready_ms.map(|v| v as u64)) == Some(true);
        out.push(FieldCheck {
            field: "ready_while_redis_down",
            simulated: json(&a),
            real: json(&b),
            agree: a == b,
            tolerance_ms: None,
        });
    }
    out
}

/// What the comparison cannot judge from outside, said once per report.
pub fn app_caveats(sc: &Scenario, spec: &AppSpec) -> Vec<String> {
    let mut c = vec![
        "--app: lost messages, violations and the trace are the model's inside view; from outside only startup, its instant and message, and each client's wire are compared".to_string(),
    ];
    if spec.ready_url.is_none() && sc.clients.is_empty() {
        c.push("--app without --ready-url and without clients: a start that does not fail cannot be seen; give --ready-url".into());
    }
    if sc.auth != Default::default() || sc.database != Default::default() {
        c.push("[auth] and [database] timelines are not realised in --app mode: only Redis sits behind the fault proxy".into());
    }
    c
}

/// One run of `sc` against the service `spec` starts, its Redis at `upstream` behind the
/// fault proxy.
pub(super) fn run_app_once(
    sc: &Scenario,
    upstream: SocketAddr,
    spec: &AppSpec,
    sim: &Report,
) -> Result<RealRun, RealError> {
    // Real time: the service runs at its own pace, and the scenario's clock is the wall's.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let clock = RealClock {
        epoch: started,
        scale: 1.0,
    };
    let monitor = StallMonitor::start();
    let proxy = Proxy::start(upstream, &sc.redis.server, clock)
        .map_err(|e| RealError::Server(format!("cannot start the fault proxy: {e}")))?;
    let port =
        super::server::free_port().map_err(|e| RealError::Server(format!("no free port: {e}")))?;
    let redis_url = format!("redis://{}/0", proxy.addr);
    let command = substitute(&spec.command, port, &redis_url);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&command)
        .envs(app_env(sc, port, proxy.addr))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut app = process::spawn(&mut cmd, None)
        .map_err(|e| RealError::Options(format!("--app: cannot start sh -c {command:?}: {e}")))?;
    let pid = app.child_mut().id();
    let log = Arc::new(Mutex::new(OutputLog::default()));
    if let Some(o) = app.child_mut().stdout.take() {
        read_lines(o, log.clone());
    }
    if let Some(e) = app.child_mut().stderr.take() {
        read_lines(e, log.clone());
    }
    let stop_poll = Arc::new(AtomicBool::new(false));
    let poller = match &spec.ready_url {
        Some(u) => {
            let (a, path) = http_target(&substitute(u, port, &redis_url))
                .map_err(|e| RealError::Options(format!("--ready-url {u}: {e}")))?;
            Some(poll_ready(a, path, clock, stop_poll.clone()))
        }
        None => None,
    };
    let stop = Arc::new(tokio::sync::Notify::new());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let clients = (!sc.clients.is_empty())
        .then(|| clients::start(sc, addr, &spec.ws_path, clock, stop.clone(), &[], None));
    let watched = watch(&mut app, port, clock, watch_until_ms(sim), || {
        clients.as_ref().is_none_or(|t| t.is_finished())
    });
    // Stop everything: the poller, the clients, the service's whole group, the proxy.
    stop_poll.store(true, Ordering::Relaxed);
    stop.notify_one();
    let wire = clients
        .map(|t| t.join().unwrap_or_default())
        .unwrap_or_default();
    let ready_ms = poller.and_then(|p| p.join().ok().flatten());
    app.stop(STOP_GRACE);
    drop(app);
    let proxy_log = proxy.stop();
    let stall = monitor.finish();
    let out = std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
    let accepted = wire
        .iter()
        .filter_map(|a| a.accepted_real_ms)
        .min_by(|a, b| a.total_cmp(b));
    let polled = spec.ready_url.is_some();
    let exited_ms = watched.exited.as_ref().map(|e| e.0);
    let (startup, verdict_ms) = observed_startup(ready_ms, exited_ms, accepted, polled);
    let seen = AppObserved {
        command,
        port,
        pid,
        listening_ms: watched.listening_ms,
        ready_ms,
        exited_ms,
        exit: watched.exited.map(|e| e.1),
        startup,
        message: out.message,
        output_lines: out.lines,
        output_tail: out.tail.into_iter().rev().take(40).rev().collect(),
    };
    let mut fields = compare_outside(sc, sim, &seen, verdict_ms, polled);
    if !sc.clients.is_empty() {
        fields.extend(super::compare_wire(sim, &wire));
    }
    let client_lag = wire.iter().map(|a| a.late_ms).max().unwrap_or(0) as f64;
    let stall = stall.max(client_lag);
    let valid = stall <= super::STALL_LIMIT_MS;
    let mut bench = super::bench(&wire, None, 1.0, stall);
    bench.ready_ms = ready_ms;
    Ok(RealRun {
        report: None,
        trace: Vec::new(),
        agree: fields.iter().all(|f| f.agree),
        fields,
        valid,
        invalid: (!valid).then(|| {
            format!(
                "the host stalled the run's timers by {stall:.0} ms (limit {} ms)",
                super::STALL_LIMIT_MS
            )
        }),
        bench,
        wire,
        proxy: proxy_log,
        app: Some(seen),
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted_everywhere() {
        assert_eq!(
            substitute(
                "app --port {port} --redis {redis_url} {port}",
                81,
                "redis://x/0"
            ),
            "app --port 81 --redis redis://x/0 81"
        );
    }

    #[test]
    fn the_environment_names_the_proxy_and_every_startup_time() {
        let sc = Scenario::new("t", "");
        let env = app_env(&sc, 8000, "127.0.0.1:7000".parse().unwrap());
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("REDIS_URL"), Some("redis://127.0.0.1:7000/0"));
        assert_eq!(get("PORT"), Some("8000"));
        assert_eq!(get("READYSIM_STARTUP_DATABASE_MS"), Some("519"));
        assert_eq!(get("READYSIM_SERVER_BIND_MS"), Some("0"));
        assert_eq!(get("ENVIRONMENT"), Some("production"));
    }

    #[test]
    fn urls_split_into_an_address_and_a_path() {
        let (a, p) = http_target("http://127.0.0.1:81/health/ready").unwrap();
        assert_eq!((a.port(), p.as_str()), (81, "/health/ready"));
        assert_eq!(http_target("http://127.0.0.1:81").unwrap().1, "/");
        assert!(http_target("https://x/").is_err());
    }

    #[test]
    fn startup_is_seen_from_the_first_of_ready_and_exit() {
        use StartupOutcome::*;
        assert_eq!(
            observed_startup(Some(10.0), Some(20.0), None, true),
            (Some(Ready), Some(10.0))
        );
        assert_eq!(
            observed_startup(None, Some(20.0), None, true),
            (Some(Failed), Some(20.0))
        );
        assert_eq!(observed_startup(None, None, None, true), (Some(Hang), None));
        assert_eq!(observed_startup(None, None, None, false), (None, None));
        // Without a readiness URL an accepted client shows it started, with no instant.
        assert_eq!(
            observed_startup(None, None, Some(5.0), false),
            (Some(Ready), None)
        );
    }

    #[test]
    fn elapsed_seconds_are_read_from_the_message() {
        assert_eq!(
            message_elapsed_ms("failed. Elapsed: 7.53s. This will"),
            Some(7530)
        );
        assert_eq!(message_elapsed_ms("no time here"), None);
    }

    #[test]
    fn the_port_table_knows_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if let Some(seen) = listening(port) {
            assert!(seen);
            drop(l);
            assert_eq!(listening(port), Some(false));
        }
    }
}

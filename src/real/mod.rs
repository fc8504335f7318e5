//! `readysim real`: the same scenario against a real Redis server, its `[redis.server]`
//! timeline realised by a fault proxy, the model's other actors unchanged on a real-time
//! engine; the real run's verdict compared field by field with the simulation's.
//!
//! ```text
//! model (startup, validator, gateway, clients; real clock) --manager--> RealRedis (redis crate)
//!     --TCP--> fault proxy (own thread: refusals, connect delay, latency, lost replies)
//!     --TCP--> redis-server (private, no persistence) or --redis-url
//! ```
//!
//! This is the one part of readysim with real time and real IO; it is not deterministic,
//! which is what it measures.

mod app;
mod client;
mod clients;
mod process;
mod proxy;
mod server;
mod wire;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use serde::Serialize;

pub(crate) use app::{http_target, substitute};
pub use app::{AppObserved, AppSpec};
pub use clients::WireAttempt;
pub use process::{stop_all, stopping};
pub use proxy::{Proxy, ProxyLog};
pub use server::{answers_ping, find_redis_server, RedisProcess};

use crate::engine::{EngineKind, RealClock};
use crate::replay::{self, Report};
use crate::scenario::slots::timing_slots;
use crate::scenario::Scenario;
use crate::vocab::Violation;

/// What went wrong before a real run could start.
#[derive(Debug)]
pub enum RealError {
    /// No server could be started or reached.
    Server(String),
    /// A bad option.
    Options(String),
    /// Ctrl-C or SIGTERM: the handler is stopping every process; no report is made.
    Interrupted,
}

impl std::fmt::Display for RealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RealError::Server(s) | RealError::Options(s) => f.write_str(s),
            RealError::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for RealError {}

/// Which server the runs use.
#[derive(Clone, Debug)]
pub enum Source {
    /// Start a private `redis-server` from this binary for each run.
    Spawn(PathBuf),
    /// A server already running at this `redis://host:port` URL (not stopped afterwards).
    Url(String),
}

/// How to run: [`RealOptions::new`], then the setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RealOptions {
    /// The server.
    pub source: Source,
    /// How many real runs.
    pub runs: u32,
    /// Real seconds per scenario second (1.0: real time; 0.1: ten times faster).
    pub time_scale: f64,
    /// Where the WebSocket endpoint listens (default: a free loopback port).
    pub listen: Option<SocketAddr>,
    /// Clients (1-based, as the trace numbers them) that readysim does not play: you connect
    /// them yourself, with any WebSocket client, to the URL the announcement gives.
    pub external: Vec<u32>,
    /// Called with a line to show before each run starts (the endpoint, the external clients).
    pub announce: Option<fn(&str)>,
    /// The user's own service to run the scenario against, instead of the model's.
    pub app: Option<AppSpec>,
}

impl RealOptions {
    /// One run at real time against `source`, readysim playing every client.
    pub fn new(source: Source) -> RealOptions {
        RealOptions {
            source,
            runs: 1,
            time_scale: 1.0,
            listen: None,
            external: Vec::new(),
            announce: None,
            app: None,
        }
    }

    /// Real runs (1 to 1000).
    pub fn runs(mut self, n: u32) -> RealOptions {
        self.runs = n;
        self
    }

    /// Real seconds per scenario second, in (0, 10].
    pub fn time_scale(mut self, f: f64) -> RealOptions {
        self.time_scale = f;
        self
    }

    /// Run against the user's service instead of the model's accept path.
    pub fn app(mut self, spec: AppSpec) -> RealOptions {
        self.app = Some(spec);
        self
    }
}

/// The real latency floor: a scenario time that scales below this many real ms reads as
/// longer in a real run (tokio's timers have 1 ms resolution; loopback and scheduling cost a
/// fraction of a ms).
pub const REAL_FLOOR_MS: f64 = 1.0;

/// The tolerance on a time `v` (scenario ms) at `scale`: max(50 ms, 3 % of `v`), divided by
/// the scale when it is below 1 (a real millisecond of jitter is 1/scale scenario ms).
pub fn tolerance_ms(v: u64, scale: f64) -> u64 {
    let base = (v as f64 * 0.03).max(50.0);
    (base / scale.min(1.0)).ceil() as u64
}

/// One compared field.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct FieldCheck {
    /// The `[expect]` field's name.
    pub field: &'static str,
    /// The simulation's value, as JSON text.
    pub simulated: String,
    /// The real run's value, as JSON text.
    pub real: String,
    /// Whether they agree (within the tolerance, for times).
    pub agree: bool,
    /// For times: the tolerance used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_ms: Option<u64>,
}

/// One real run.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct RealRun {
    /// The real run's report (judged by the same oracles, on the real trace); none for
    /// `--app`, which has no trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// The real run's rendered trace (times in scenario ms).
    pub trace: Vec<String>,
    /// What the real clients saw on the wire, attempt by attempt.
    pub wire: Vec<clients::WireAttempt>,
    /// The field-by-field comparison: the real trace and the wire, each against the
    /// simulation.
    pub fields: Vec<FieldCheck>,
    /// Every field agrees.
    pub agree: bool,
    /// The run's timers could be trusted: the host did not stall it beyond the tolerance.
    pub valid: bool,
    /// Why not, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    /// The team's benchmarks, measured on this run.
    pub bench: Bench,
    /// What the fault proxy did.
    pub proxy: ProxyLog,
    /// With `--app`: what was seen of the service from outside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppObserved>,
    /// Real seconds the run took.
    pub seconds: f64,
}

/// The incident team's benchmarks, measured on one real run (real milliseconds).
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Bench {
    /// From the run's start (the process's start in the model) to the first WebSocket a
    /// client saw accepted (its 101).
    pub init_ms: Option<f64>,
    /// Each grace's real length, in order.
    pub graces_ms: Vec<f64>,
    /// Handshake latency (TCP connect to the handshake's answer): median.
    pub handshake_p50_ms: Option<f64>,
    /// The same, 95th percentile.
    pub handshake_p95_ms: Option<f64>,
    /// The same, largest.
    pub handshake_max_ms: Option<f64>,
    /// 1011 closes the clients saw, by reason.
    pub closes_1011: std::collections::BTreeMap<String, u32>,
    /// The longest the host kept the stall monitor's 5 ms timer from firing on time.
    pub host_stall_ms: f64,
    /// With `--app` and `--ready-url`: when the service first answered it with 2xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<f64>,
}

/// The result of `readysim real`.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct RealReport {
    /// The scenario.
    pub name: String,
    /// The server used.
    pub server: String,
    /// The time scale.
    pub time_scale: f64,
    /// The simulation's report.
    pub simulated: Report,
    /// The simulation's rendered trace.
    pub simulated_trace: Vec<String>,
    /// Each real run.
    pub runs: Vec<RealRun>,
    /// Runs whose violations include every violation of the simulation (when it has any).
    pub failure_seen: Option<u32>,
    /// Timing values that scale below the real latency floor: (field, scenario ms).
    pub unscalable: Vec<(String, u64)>,
    /// Things the real run cannot reproduce for this scenario.
    pub caveats: Vec<String>,
}

impl RealReport {
    /// Every valid run agrees on every field, and there is one.
    pub fn agree(&self) -> bool {
        self.runs.iter().any(|r| r.valid) && self.runs.iter().filter(|r| r.valid).all(|r| r.agree)
    }

    /// Every run was invalid (the host stalled each of them).
    pub fn all_invalid(&self) -> bool {
        self.runs.iter().all(|r| !r.valid)
    }
}

/// `host:port` of a `redis://host:port[/db]` URL.
fn url_addr(url: &str) -> Result<SocketAddr, RealError> {
    let bad = || RealError::Options(format!("--redis-url {url}: expected redis://HOST:PORT"));
    let rest = url.strip_prefix("redis://").ok_or_else(bad)?;
    let hostport = rest.split('/').next().unwrap_or("");
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:6379")
    };
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(bad)
}

/// The message with its elapsed seconds blanked (`Elapsed: 7.51s` and `7.52s` agree when
/// the times do).
fn message_shape(m: &Option<String>) -> Option<String> {
    m.as_ref().map(|m| match m.find("Elapsed: ") {
        Some(i) => {
            let rest = &m[i + 9..];
            let end = rest.find('s').unwrap_or(0);
            format!("{}Elapsed: Ns{}", &m[..i], &rest[end + 1..])
        }
        None => m.clone(),
    })
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The field-by-field comparison of a real run with the simulation.
pub fn compare(sim: &Report, real: &Report, scale: f64) -> Vec<FieldCheck> {
    let mut out = Vec::new();
    let mut exact = |field: &'static str, a: String, b: String| {
        out.push(FieldCheck {
            field,
            agree: a == b,
            simulated: a,
            real: b,
            tolerance_ms: None,
        });
    };
    exact("startup", json(&sim.startup), json(&real.startup));
    exact(
        "failed_services",
        json(&sim.failed_services),
        json(&real.failed_services),
    );
    exact(
        "message",
        json(&message_shape(&sim.message)),
        json(&message_shape(&real.message)),
    );
    exact("clients", json(&sim.clients), json(&real.clients));
    exact(
        "client_reasons",
        json(&sim.client_reasons),
        json(&real.client_reasons),
    );
    exact(
        "lost_messages",
        json(&sim.lost_messages),
        json(&real.lost_messages),
    );
    exact("violations", json(&sim.violations), json(&real.violations));
    for (field, a, b) in [
        ("verdict_at_ms", sim.verdict_at_ms, real.verdict_at_ms),
        ("elapsed_ms", sim.elapsed_ms, real.elapsed_ms),
    ] {
        let tol = a.map(|v| tolerance_ms(v, scale));
        let agree = match (a, b, tol) {
            (Some(x), Some(y), Some(t)) => x.abs_diff(y) <= t,
            (None, None, _) => true,
            _ => false,
        };
        out.push(FieldCheck {
            field,
            simulated: json(&a),
            real: json(&b),
            agree,
            tolerance_ms: tol,
        });
    }
    // The order of `[expect]`.
    let order = [
        "startup",
        "verdict_at_ms",
        "elapsed_ms",
        "failed_services",
        "message",
        "clients",
        "client_reasons",
        "lost_messages",
        "violations",
    ];
    out.sort_by_key(|f| order.iter().position(|o| *o == f.field));
    out
}

/// Timing values of `sc` that `scale` takes below [`REAL_FLOOR_MS`].
pub fn unscalable(sc: &Scenario, scale: f64) -> Vec<(String, u64)> {
    timing_slots(sc)
        .into_iter()
        .map(|s| (s.name(), s.get(sc)))
        .filter(|(_, v)| *v > 0 && (*v as f64) * scale < REAL_FLOOR_MS)
        .collect()
}

/// What a real run of `sc` cannot reproduce.
fn caveats(sc: &Scenario) -> Vec<String> {
    let mut c = Vec::new();
    if !sc.run.decisions.is_empty() {
        c.push(
            "run.decisions: same-instant choices are not reproduced in real time (tokio runs ready tasks in FIFO order)"
                .into(),
        );
    }
    c
}

/// Host stalls beyond this (real ms, the stall monitor's timer late by that much) make a run
/// invalid: its timers cannot be trusted, so a difference is the host's, not the model's.
pub const STALL_LIMIT_MS: f64 = 50.0;
/// How long (real seconds) the clients may take to finish after the model's run ends.
const CLIENT_GRACE_S: f64 = 5.0;
/// Invalid runs retried, each, before they are reported as invalid.
pub const INVALID_RETRIES: u32 = 2;

/// A thread that sleeps 5 ms at a time and records the longest it was late: a host stall
/// (another process, the VM's host) delays it; the model's own freezes do not (they block
/// the model's thread, not this one).
struct StallMonitor {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<f64>>,
}

impl StallMonitor {
    fn start() -> StallMonitor {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        // A thread of its own: it measures the host, not the model's loop.
        #[allow(clippy::disallowed_methods)]
        let thread = std::thread::spawn(move || {
            let step = std::time::Duration::from_millis(5);
            let mut worst = 0f64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                // The monitor measures the host's scheduling, in real time.
                #[allow(clippy::disallowed_methods)]
                let t = Instant::now();
                std::thread::sleep(step);
                let late = t.elapsed().saturating_sub(step).as_secs_f64() * 1000.0;
                worst = worst.max(late);
            }
            worst
        });
        StallMonitor {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(0.0)
    }
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied()
}

/// The benchmarks of one run: from the wire and the real trace.
fn bench(wire: &[clients::WireAttempt], report: Option<&Report>, scale: f64, stall: f64) -> Bench {
    let mut hs: Vec<f64> = wire
        .iter()
        .flat_map(|a| a.handshake_real_ms.clone())
        .collect();
    hs.sort_by(|a, b| a.total_cmp(b));
    let mut closes = std::collections::BTreeMap::new();
    for a in wire {
        if a.close_code == Some(1011) {
            let r = a
                .reason
                .map_or("unknown".to_string(), |r| r.name().to_string());
            *closes.entry(r).or_insert(0) += 1;
        }
    }
    // A grace lasts from its event to the next event of the same actor (only a trace shows
    // graces: a service seen from outside has none).
    let trace = report.map_or(&[][..], |r| &r.evaluation.output.trace[..]);
    let graces_ms = trace
        .iter()
        .enumerate()
        .filter(|(_, e)| e.ev.name() == "grace")
        .filter_map(|(i, e)| {
            trace[i + 1..]
                .iter()
                .find(|n| n.actor == e.actor)
                .map(|n| (n.t - e.t) as f64 * scale)
        })
        .collect();
    Bench {
        init_ms: wire
            .iter()
            .filter_map(|a| a.accepted_real_ms)
            .min_by(|a, b| a.total_cmp(b)),
        graces_ms,
        handshake_p50_ms: percentile(&hs, 0.5),
        handshake_p95_ms: percentile(&hs, 0.95),
        handshake_max_ms: hs.last().copied(),
        closes_1011: closes,
        host_stall_ms: stall,
        ready_ms: None,
    }
}

/// The wire's outcomes and reasons against the simulation's, attempt by attempt.
fn compare_wire(sim: &Report, wire: &[clients::WireAttempt]) -> Vec<FieldCheck> {
    let outcomes: Vec<_> = wire.iter().map(|a| a.outcome).collect();
    let reasons: Vec<_> = wire.iter().map(|a| a.reason).collect();
    let codes: Vec<Option<u16>> = wire
        .iter()
        .map(|a| a.close_code.filter(|c| *c != 1000))
        .collect();
    let sim_codes: Vec<Option<u16>> = sim
        .clients
        .iter()
        .map(|o| match o {
            Some(crate::vocab::Outcome::Closed1011) => Some(1011),
            Some(crate::vocab::Outcome::Closed1008) => Some(1008),
            Some(crate::vocab::Outcome::Closed1001) => Some(1001),
            _ => None,
        })
        .collect();
    let check = |field: &'static str, a: String, b: String| FieldCheck {
        field,
        agree: a == b,
        simulated: a,
        real: b,
        tolerance_ms: None,
    };
    vec![
        check("wire.clients", json(&sim.clients), json(&outcomes)),
        check("wire.close_codes", json(&sim_codes), json(&codes)),
        check(
            "wire.client_reasons",
            json(&sim.client_reasons),
            json(&reasons),
        ),
    ]
}

/// What to tell before a run: the endpoint, and which clients are the user's to connect.
fn announcement(sc: &Scenario, addr: SocketAddr, external: &[u32]) -> String {
    let mut s = format!(
        "WebSocket endpoint ws://{addr}/ws?client=N&attempt=A&try=T (N 1-based, A and T from 0)"
    );
    let plans = crate::model::clients::expand(sc);
    for n in external {
        if let Some(p) = plans.get((*n as usize).saturating_sub(1)) {
            s.push_str(&format!(
                "\n  client#{n} is yours: connect to ws://{addr}/ws?client={n}&attempt=0&try=0 at {} ms after this line",
                p.at_ms
            ));
        }
    }
    s
}

/// File descriptors a run may need beyond those open now: the runtimes, listeners, the
/// proxy's pairs and the server's log (a fixed 32), and per client attempt its two ends (2),
/// as if every attempt were open at once. An upper bound: a run short of it may still work,
/// but one that runs out hangs or reports refusals that are not the scenario's.
fn descriptors_needed(sc: &Scenario) -> u64 {
    let attempts: u64 = sc
        .clients
        .iter()
        .map(|c| u64::from(c.count.max(1)) * (1 + u64::from(c.reconnects)))
        .sum();
    32 + 2 * attempts
}

/// Checks before anything starts that the run cannot run out of file descriptors (which
/// would show as refused clients, a false disagreement, or a runtime that cannot start):
/// raises the soft limit toward the hard one if needed, else says what to do.
fn enough_descriptors(sc: &Scenario) -> Result<(), RealError> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let open = std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count() as u64);
    let need = open + descriptors_needed(sc);
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    if need <= soft {
        return Ok(());
    }
    if need <= hard && setrlimit(Resource::RLIMIT_NOFILE, need, hard).is_ok() {
        return Ok(());
    }
    Err(RealError::Options(format!(
        "too few file descriptors: this run needs about {need} (clients and their connections) and the limit is {soft} (hard limit {hard}); raise it (ulimit -n {need}) or run fewer clients"
    )))
}

/// One real run of `sc` against a server at `upstream`: the fault proxy in front of it, the
/// model serving a real port, the real clients on their own thread, the stall monitor beside.
fn run_once(
    sc: &Scenario,
    upstream: SocketAddr,
    opts: &RealOptions,
    sim: &Report,
) -> Result<RealRun, RealError> {
    let scale = opts.time_scale;
    // Wall time only to say how long the run took.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let clock = RealClock {
        epoch: started,
        scale,
    };
    let monitor = StallMonitor::start();
    let proxy = match Proxy::start(upstream, &sc.redis.server, clock) {
        Ok(p) => p,
        Err(e) => {
            return Err(RealError::Server(format!(
                "cannot start the fault proxy on loopback: {e}"
            )))
        }
    };
    let url = format!("redis://{}/", proxy.addr);
    let backend = client::RealRedis::new(&url, clock).expect("a valid loopback URL");
    let listen = opts
        .listen
        .unwrap_or_else(|| "127.0.0.1:0".parse().expect("a loopback address"));
    let port = wire::RealWire::new(clock, listen).map_err(|e| {
        RealError::Options(format!(
            "--listen {listen}: cannot bind the WebSocket endpoint: {e}"
        ))
    })?;
    if let Some(say) = opts.announce {
        say(&announcement(sc, port.addr(), &opts.external));
    }
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let storms = port.arrive_together(&clients::first_arrivals(sc, &opts.external));
    let clients = (!sc.clients.is_empty()).then(|| {
        clients::start(
            sc,
            port.addr(),
            "/ws",
            clock,
            stop.clone(),
            &opts.external,
            Some(storms),
        )
    });
    let port = Rc::new(port);
    let handle: Rc<dyn crate::model::wire::Wire> = Rc::new(wire::WireHandle(port.clone()));
    let output = crate::model::run::run_real(sc, clock, Rc::new(backend), Some(handle));
    port.shutdown();
    let log = proxy.stop();
    let wire = match clients {
        Some(t) => {
            // Real time: the clients finish on the wire's clock.
            #[allow(clippy::disallowed_methods)]
            let deadline = Instant::now() + std::time::Duration::from_secs_f64(CLIENT_GRACE_S);
            #[allow(clippy::disallowed_methods)]
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            stop.notify_one();
            t.join().unwrap_or_default()
        }
        None => Vec::new(),
    };
    let stall = monitor.finish();
    let ev = replay::judged(sc, output);
    let mut s = sc.clone();
    s.expect = None;
    let report = replay::report(&s, ev);
    let mut fields = compare(sim, &report, scale);
    if !sc.clients.is_empty() && opts.external.is_empty() {
        fields.extend(compare_wire(sim, &wire));
    }
    // The clients' own timers count too: a storm that left late or spread out is not the
    // scenario's storm.
    let client_lag = wire.iter().map(|a| a.late_ms).max().unwrap_or(0) as f64 * scale;
    let stall = stall.max(client_lag);
    let valid = stall <= STALL_LIMIT_MS;
    Ok(RealRun {
        trace: report.trace_text().lines().map(str::to_string).collect(),
        agree: fields.iter().all(|f| f.agree),
        fields,
        valid,
        invalid: (!valid).then(|| {
            format!(
                "the host stalled the run's timers by {stall:.0} ms (limit {STALL_LIMIT_MS} ms)"
            )
        }),
        bench: bench(&wire, Some(&report), scale, stall),
        wire,
        report: Some(report),
        proxy: log,
        app: None,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One run against the model's own accept path, or against the user's service.
fn run_one(
    sc: &Scenario,
    upstream: SocketAddr,
    opts: &RealOptions,
    sim: &Report,
) -> Result<RealRun, RealError> {
    match &opts.app {
        Some(spec) => app::run_app_once(sc, upstream, spec, sim),
        None => run_once(sc, upstream, opts, sim),
    }
}

/// Runs `sc` in simulation once and `opts.runs` times for real, and compares each real run
/// with the simulation. A private server is started (and stopped) per run, so no run sees
/// another's state.
pub fn run(sc: &Scenario, opts: &RealOptions) -> Result<RealReport, RealError> {
    if !(opts.time_scale > 0.0 && opts.time_scale <= 10.0) {
        return Err(RealError::Options(format!(
            "--time-scale {}: expected a number in (0, 10]",
            opts.time_scale
        )));
    }
    if opts.runs == 0 || opts.runs > 1000 {
        return Err(RealError::Options(format!(
            "--runs {}: expected 1 to 1000",
            opts.runs
        )));
    }
    if opts.app.is_some() && (opts.time_scale != 1.0 || !opts.external.is_empty()) {
        return Err(RealError::Options(
            "--app runs at real time with readysim playing every client: --time-scale and --external-client do not apply".into(),
        ));
    }
    enough_descriptors(sc)?;
    let mut s = sc.clone();
    s.expect = None;
    let simulated = replay::replay_valid(&s, EngineKind::Fast);
    let (server, url_target) = match &opts.source {
        Source::Spawn(bin) => (format!("{} (private, no persistence)", bin.display()), None),
        Source::Url(u) => {
            let a = url_addr(u)?;
            if !answers_ping(a) {
                return Err(RealError::Server(format!(
                    "--redis-url {u}: no Redis answers PING at {a}"
                )));
            }
            (u.clone(), Some(a))
        }
    };
    let mut runs = Vec::new();
    for _ in 0..opts.runs {
        // A run the host stalled is tried again, up to INVALID_RETRIES times; the last try
        // stays in the report either way.
        for retry in 0..=INVALID_RETRIES {
            let run = match (&opts.source, url_target) {
                (_, Some(a)) => run_one(sc, a, opts, &simulated),
                (Source::Spawn(bin), None) => {
                    RedisProcess::start(bin).and_then(|p| run_one(sc, p.addr, opts, &simulated))
                }
                (Source::Url(_), None) => unreachable!("a URL source has its address"),
            };
            // What a run saw while the handler killed its processes is not a result.
            if stopping() {
                return Err(RealError::Interrupted);
            }
            let run = run?;
            let valid = run.valid;
            if valid || retry == INVALID_RETRIES {
                runs.push(run);
                break;
            }
        }
    }
    let target: Vec<Violation> = simulated.violations.clone();
    let failure_seen = (!target.is_empty() && opts.app.is_none()).then(|| {
        runs.iter()
            .filter(|r| {
                r.report
                    .as_ref()
                    .is_some_and(|rep| target.iter().all(|v| rep.violations.contains(v)))
            })
            .count() as u32
    });
    Ok(RealReport {
        name: sc.name.clone(),
        server,
        time_scale: opts.time_scale,
        simulated_trace: simulated.trace_text().lines().map(str::to_string).collect(),
        simulated,
        runs,
        failure_seen,
        unscalable: unscalable(sc, opts.time_scale),
        caveats: match &opts.app {
            Some(spec) => app::app_caveats(sc, spec),
            None => caveats(sc),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_50_ms_or_3_percent_and_grows_as_time_shrinks() {
        assert_eq!(tolerance_ms(1000, 1.0), 50);
        assert_eq!(tolerance_ms(10_000, 1.0), 300);
        assert_eq!(tolerance_ms(1000, 0.5), 100);
        assert_eq!(tolerance_ms(1000, 2.0), 50);
    }

    #[test]
    fn messages_agree_up_to_their_elapsed_seconds() {
        let a = Some("failed. Elapsed: 7.51s. This will".to_string());
        let b = Some("failed. Elapsed: 7.52s. This will".to_string());
        assert_eq!(message_shape(&a), message_shape(&b));
        assert_ne!(message_shape(&a), message_shape(&Some("other".into())));
    }

    #[test]
    fn urls_name_a_host_and_port() {
        assert_eq!(
            url_addr("redis://127.0.0.1:7000/0").unwrap(),
            "127.0.0.1:7000".parse().unwrap()
        );
        assert_eq!(url_addr("redis://127.0.0.1").unwrap().port(), 6379);
        assert!(url_addr("http://x").is_err());
    }

    #[test]
    fn the_incident_has_nothing_that_cannot_scale_at_real_time_but_ms_fields_at_a_tenth() {
        let sc = Scenario::new("t", "");
        let at_one: Vec<String> = unscalable(&sc, 1.0).into_iter().map(|f| f.0).collect();
        assert!(at_one.is_empty(), "{at_one:?}");
        let tenth: Vec<String> = unscalable(&sc, 0.1).into_iter().map(|f| f.0).collect();
        assert!(
            tenth.contains(&"redis.server.ping_ms".to_string()),
            "{tenth:?}"
        );
    }
}

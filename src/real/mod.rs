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

mod client;
mod proxy;
mod server;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use serde::Serialize;

pub use proxy::{Proxy, ProxyLog};
pub use server::{answers_ping, find_redis_server, stop_all, RedisProcess};

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
}

impl std::fmt::Display for RealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RealError::Server(s) | RealError::Options(s) => f.write_str(s),
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

/// How to run.
#[derive(Clone, Debug)]
pub struct RealOptions {
    /// The server.
    pub source: Source,
    /// How many real runs.
    pub runs: u32,
    /// Real seconds per scenario second (1.0: real time; 0.1: ten times faster).
    pub time_scale: f64,
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
pub struct RealRun {
    /// The real run's report (judged by the same oracles, on the real trace).
    pub report: Report,
    /// The real run's rendered trace (times in scenario ms).
    pub trace: Vec<String>,
    /// The field-by-field comparison with the simulation.
    pub fields: Vec<FieldCheck>,
    /// Every field agrees.
    pub agree: bool,
    /// What the fault proxy did.
    pub proxy: ProxyLog,
    /// Real seconds the run took.
    pub seconds: f64,
}

/// The result of `readysim real`.
#[derive(Debug, Serialize)]
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
    /// Every run agrees on every field.
    pub fn agree(&self) -> bool {
        self.runs.iter().all(|r| r.agree)
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

/// One real run of `sc` against a server at `upstream`.
fn run_once(sc: &Scenario, upstream: SocketAddr, scale: f64, sim: &Report) -> RealRun {
    // Wall time only to say how long the run took.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let clock = RealClock {
        epoch: started,
        scale,
    };
    let proxy = Proxy::start(upstream, &sc.redis.server, clock);
    let (output, log) = match proxy {
        Ok(p) => {
            let url = format!("redis://{}/", p.addr);
            let backend = client::RealRedis::new(&url, clock).expect("a valid loopback URL");
            let out = crate::model::run::run_real(sc, clock, Rc::new(backend));
            (out, p.stop())
        }
        Err(e) => panic!("cannot start the fault proxy on loopback: {e}"),
    };
    let ev = replay::judged(sc, output);
    let mut s = sc.clone();
    s.expect = None;
    let report = replay::report(&s, ev);
    let fields = compare(sim, &report, scale);
    RealRun {
        trace: report.trace_text().lines().map(str::to_string).collect(),
        agree: fields.iter().all(|f| f.agree),
        fields,
        report,
        proxy: log,
        seconds: started.elapsed().as_secs_f64(),
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
    let mut s = sc.clone();
    s.expect = None;
    let simulated = replay::replay(&s, EngineKind::Fast);
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
        let run = match (&opts.source, url_target) {
            (_, Some(a)) => run_once(sc, a, opts.time_scale, &simulated),
            (Source::Spawn(bin), None) => {
                let p = RedisProcess::start(bin)?;
                let r = run_once(sc, p.addr, opts.time_scale, &simulated);
                drop(p);
                r
            }
            (Source::Url(_), None) => unreachable!("a URL source has its address"),
        };
        runs.push(run);
    }
    let target: Vec<Violation> = simulated.violations.clone();
    let failure_seen = (!target.is_empty()).then(|| {
        runs.iter()
            .filter(|r| target.iter().all(|v| r.report.violations.contains(v)))
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
        caveats: caveats(sc),
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

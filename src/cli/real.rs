//! `readysim real`: options, the side-by-side traces, the agreement table and JSON. The runs
//! themselves are `crate::real`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use crate::real::{self, RealOptions, RealReport, Source};
use crate::scenario;

use super::{resolve, BadInput, Cli, Exit};

/// `readysim real` options.
#[derive(Args, Debug)]
pub struct RealArgs {
    /// Scenario name or path (or --all).
    #[arg(required_unless_present = "all")]
    pub name: Option<String>,
    /// Every scenario under the scenarios folder whose run takes at most --max-seconds.
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
    /// The redis-server binary to start (default: READYSIM_REDIS_SERVER, then PATH).
    #[arg(long, value_name = "PATH", conflicts_with = "redis_url")]
    pub redis_server: Option<PathBuf>,
    /// Use a server already running at this URL (redis://HOST:PORT) instead of starting one.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// Real runs per scenario: for a race, how often the real run shows the failure.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub runs: u32,
    /// Real seconds per scenario second (0.1 runs ten times faster; times below the real
    /// latency floor cannot shrink, and the report lists them).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub time_scale: f64,
    /// With --all: skip scenarios whose run would take longer than this (real seconds).
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub max_seconds: f64,
    /// Where the WebSocket endpoint listens (default: a free loopback port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// A client (1-based, as traces number them) you play yourself with any WebSocket client:
    /// readysim prints its URL and when to connect, and waits up to 60 s of scenario time for it (repeatable).
    #[arg(long = "external-client", value_name = "N", conflicts_with = "all")]
    pub external: Vec<u32>,
    /// Your own service instead of readysim's model: a shell command started for each run
    /// with PORT, REDIS_URL (the fault proxy) and the scenario's environment; `{port}` and
    /// `{redis_url}` in it are substituted. Stopped (its whole process group) when the run ends.
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["external", "listen"])]
    pub app: Option<String>,
    /// With --app: an http://HOST:PORT/PATH URL (`{port}` substituted) whose first 2xx answer
    /// is when the service declared itself ready.
    #[arg(long, value_name = "URL", requires = "app")]
    pub ready_url: Option<String>,
    /// With --app: the path of the service's WebSocket endpoint.
    #[arg(long, value_name = "PATH", default_value = "/ws", requires = "app")]
    pub ws_path: String,
}

fn source(a: &RealArgs) -> Result<Source, BadInput> {
    if let Some(u) = &a.redis_url {
        return Ok(Source::Url(u.clone()));
    }
    let bin = match &a.redis_server {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => {
            return Err(BadInput::msg(format!(
                "--redis-server {}: no such file",
                p.display()
            )))
        }
        None => real::find_redis_server().ok_or_else(|| {
            BadInput::msg(
                "no redis-server found (READYSIM_REDIS_SERVER, then PATH): install it (Debian: apt-get install -y redis-server), or give --redis-server PATH or --redis-url URL"
                    .into(),
            )
        })?,
    };
    Ok(Source::Spawn(bin))
}

/// The `--app` options, checked before anything starts.
fn app_spec(a: &RealArgs) -> Result<Option<real::AppSpec>, BadInput> {
    let Some(command) = &a.app else {
        return Ok(None);
    };
    if command.trim().is_empty() {
        return Err(BadInput::msg("--app: an empty command".into()));
    }
    if let Some(u) = &a.ready_url {
        real::http_target(&real::substitute(u, 1, ""))
            .map_err(|e| BadInput::msg(format!("--ready-url {u}: {e}")))?;
    }
    if !a.ws_path.starts_with('/') {
        return Err(BadInput::msg(format!(
            "--ws-path {}: expected a path starting with /",
            a.ws_path
        )));
    }
    Ok(Some(real::AppSpec {
        command: command.clone(),
        ready_url: a.ready_url.clone(),
        ws_path: a.ws_path.clone(),
    }))
}

/// What was seen of the user's service (`--app`), run by run.
fn app_text(r: &RealReport) -> String {
    let mut o = String::new();
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} ms"));
    for (i, run) in r.runs.iter().enumerate() {
        let Some(s) = &run.app else { continue };
        let _ = writeln!(
            o,
            "app run {}: port {} listening at {}; ready at {}; exited at {}{}; {} output lines",
            i + 1,
            s.port,
            ms(s.listening_ms),
            ms(s.ready_ms),
            ms(s.exited_ms),
            s.exit.as_ref().map_or(String::new(), |e| format!(" ({e})")),
            s.output_lines
        );
        if !run.agree {
            let _ = writeln!(o, "  its last output lines:");
            for l in s.output_tail.iter().rev().take(10).rev() {
                let _ = writeln!(o, "  | {l}");
            }
        }
    }
    o
}

/// The two traces side by side, row by row.
fn side_by_side(r: &RealReport, run: usize) -> String {
    let left = &r.simulated_trace;
    let right = &r.runs[run].trace;
    let w = left
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(20);
    let mut o = String::new();
    let _ = writeln!(o, "{:<w$}  | real run {}", "simulated", run + 1);
    for i in 0..left.len().max(right.len()) {
        let a = left.get(i).map_or("", String::as_str);
        let b = right.get(i).map_or("", String::as_str);
        let _ = writeln!(o, "{a:<w$}  | {b}");
    }
    o
}

fn fields_table(r: &RealReport) -> String {
    let mut o = String::new();
    let Some(first) = r.runs.first() else {
        return o;
    };
    let n = r.runs.len();
    let w = first
        .fields
        .iter()
        .map(|f| f.field.len())
        .max()
        .unwrap_or(0)
        .max(16);
    let _ = write!(
        o,
        "{:<w$} {:<40} {:<40} {:<8}",
        "field", "simulated", "real (run 1)", "agrees"
    );
    if n > 1 {
        let _ = write!(o, " agreeing runs");
    }
    o.push('\n');
    for (k, f) in first.fields.iter().enumerate() {
        let mut sim = f.simulated.clone();
        if let Some(t) = f.tolerance_ms {
            sim = format!("{sim} (+-{t})");
        }
        let _ = write!(
            o,
            "{:<w$} {:<40} {:<40} {:<8}",
            f.field,
            clip(&sim, 40),
            clip(&f.real, 40),
            if f.agree { "yes" } else { "NO" }
        );
        if n > 1 {
            let k = r.runs.iter().filter(|run| run.fields[k].agree).count();
            let _ = write!(o, " {k} of {n}");
        }
        o.push('\n');
    }
    o
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 3).collect();
        t.push_str("...");
        t
    }
}

fn text(r: &RealReport, traces: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario  {}  against {}  time scale {}",
        r.name, r.server, r.time_scale
    );
    let _ = writeln!(
        o,
        "times agree within max(50 ms, 3 %){}",
        if r.time_scale < 1.0 {
            ", divided by the time scale"
        } else {
            ""
        }
    );
    let app = r.runs.iter().any(|run| run.app.is_some());
    if app {
        o.push('\n');
        o.push_str(&app_text(r));
    } else if traces && !r.runs.is_empty() {
        o.push('\n');
        o.push_str(&side_by_side(r, 0));
    }
    o.push('\n');
    o.push_str(&fields_table(r));
    for (i, run) in r.runs.iter().enumerate() {
        let _ = writeln!(
            o,
            "run {}: {} in {:.1} s real; proxy: {} joined, {} refused, {} reset, {} replies lost",
            i + 1,
            if !run.valid {
                format!(
                    "INVALID ({}), not compared",
                    run.invalid.as_deref().unwrap_or("the host stalled it")
                )
            } else if run.agree {
                "agrees on every field".to_string()
            } else {
                let d: Vec<&str> = run
                    .fields
                    .iter()
                    .filter(|f| !f.agree)
                    .map(|f| f.field)
                    .collect();
                format!("differs on {}", d.join(", "))
            },
            run.seconds,
            run.proxy.joined,
            run.proxy.refused,
            run.proxy.reset,
            run.proxy.lost_replies
        );
    }
    for (i, run) in r.runs.iter().enumerate() {
        o.push_str(&bench_text(i + 1, &run.bench));
    }
    if let Some(k) = r.failure_seen {
        let v: Vec<&str> = r.simulated.violations.iter().map(|v| v.name()).collect();
        let _ = writeln!(
            o,
            "the simulated failure ({}) shows in {k} of {} real run(s)",
            v.join(", "),
            r.runs.len()
        );
    }
    if !r.unscalable.is_empty() {
        let f: Vec<String> = r
            .unscalable
            .iter()
            .map(|(n, v)| format!("{n} = {v} ms"))
            .collect();
        let _ = writeln!(
            o,
            "cannot scale below the real latency floor at {}: {}",
            r.time_scale,
            f.join(", ")
        );
    }
    for c in &r.caveats {
        let _ = writeln!(o, "caveat: {c}");
    }
    o
}

/// The benchmark block of one run (real milliseconds).
fn bench_text(run: usize, b: &crate::real::Bench) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let graces: Vec<String> = b.graces_ms.iter().map(|g| format!("{g:.0}")).collect();
    let closes: Vec<String> = b
        .closes_1011
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let ready = b.ready_ms.map_or(String::new(), |r| {
        format!("ready (first 2xx of --ready-url) {r:.1} ms; ")
    });
    format!(
        "bench {run}: {ready}init (start to first accepted WebSocket) {} ms; graces {} ms; handshake p50 {} / p95 {} / max {} ms; 1011 closes: {}; host stall {:.1} ms\n",
        ms(b.init_ms),
        if graces.is_empty() { "-".to_string() } else { graces.join(", ") },
        ms(b.handshake_p50_ms),
        ms(b.handshake_p95_ms),
        ms(b.handshake_max_ms),
        if closes.is_empty() { "none".to_string() } else { closes.join(", ") },
        b.host_stall_ms
    )
}

/// Runs `readysim real`.
pub fn real_cmd(cli: &Cli, a: &RealArgs) -> Result<Exit, BadInput> {
    let opts = RealOptions {
        runs: a.runs,
        time_scale: a.time_scale,
        listen: a.listen,
        external: a.external.clone(),
        announce: Some(|line| errln!("{line}")),
        app: app_spec(a)?,
        ..RealOptions::new(source(a)?)
    };
    // Ctrl-C stops every server this process started before it exits.
    let _ = ctrlc::set_handler(|| {
        let stopped = real::stop_all();
        if stopped.is_empty() {
            errln!("interrupted: no process of this run was running");
        }
        for line in stopped {
            errln!("interrupted: {line}");
        }
        std::process::exit(130);
    });
    let scenarios = match &a.name {
        Some(n) => vec![resolve(&cli.scenarios, n)?.1],
        None => {
            let mut v = Vec::new();
            for p in scenario::files_under(&cli.scenarios) {
                v.push(scenario::load(&p)?);
            }
            v
        }
    };
    let mut reports = Vec::new();
    let mut skipped = Vec::new();
    for sc in &scenarios {
        if a.all {
            let sim = crate::replay::replay_valid(sc, crate::EngineKind::Fast);
            let secs = sim.evaluation.output.engine.end_ms as f64 / 1000.0 * a.time_scale;
            if secs > a.max_seconds {
                skipped.push(format!("{} ({secs:.0} s)", sc.name));
                continue;
            }
            errln!("real: {} (about {secs:.0} s)", sc.name);
        }
        let r = match real::run(sc, &opts) {
            Ok(r) => r,
            // The handler is stopping everything and exits 130 itself: report nothing.
            Err(real::RealError::Interrupted) => loop {
                std::thread::park();
            },
            Err(e) => return Err(BadInput::msg(e.to_string())),
        };
        reports.push(r);
    }
    let agree = reports.iter().all(RealReport::agree);
    if cli.json {
        let v = serde_json::json!({"reports": reports, "skipped": skipped});
        let v = if a.all {
            v
        } else {
            serde_json::to_value(&reports[0]).expect("json")
        };
        super::output::print_or_exit(&(serde_json::to_string_pretty(&v).expect("json") + "\n"));
    } else if a.all {
        use super::colour::{cell, Tone};
        let mut o = String::new();
        // A table, so names longer than a column stay aligned and long lists wrap to fit.
        let mut t = super::output::table(&["scenario", "agrees", "disagreeing fields"]);
        for r in &reports {
            let d: Vec<String> = r
                .runs
                .iter()
                .flat_map(|run| run.fields.iter().filter(|f| !f.agree))
                .map(|f| format!("{} (sim {}, real {})", f.field, f.simulated, f.real))
                .collect();
            t.add_row(vec![
                comfy_table::Cell::new(&r.name),
                if r.agree() {
                    cell("yes", Tone::Good)
                } else {
                    cell("NO", Tone::Bad)
                },
                comfy_table::Cell::new(if d.is_empty() {
                    "-".into()
                } else {
                    d.join("; ")
                }),
            ]);
        }
        let _ = writeln!(o, "{}", t.trim_fmt());
        if !skipped.is_empty() {
            let _ = writeln!(
                o,
                "skipped (longer than --max-seconds {}): {}",
                a.max_seconds,
                skipped.join(", ")
            );
        }
        super::output::print_or_exit(&o);
    } else {
        super::output::print_or_exit(&text(&reports[0], true));
    }
    Ok(if agree { Exit::Ok } else { Exit::Mismatch })
}

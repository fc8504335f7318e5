//! The model against a real Redis server (`readysim real`): each scenario runs in simulation
//! and for real (a private redis-server behind the fault proxy, the model's actors on the
//! real-time engine), and every compared field must agree.
//!
//! Needs `redis-server` (READYSIM_REDIS_SERVER, else PATH). Without one every test here is
//! reported as ignored, with a note saying how to run them; with READYSIM_REQUIRE_REDIS set
//! (as `.ci/run` does) a missing server is a failure instead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

use readysim::engine::RealClock;
use readysim::real::{self, Proxy, RealOptions, RedisProcess, Source};
use readysim::scenario::{self, RedisServer};
use readysim::Violation;

fn load(name: &str) -> readysim::Scenario {
    scenario::find(Path::new("scenarios"), name)
        .ok()
        .and_then(|p| scenario::load(&p).ok())
        .unwrap_or_else(|| panic!("shipped scenario {name}"))
}

/// Runs `name` for real at `scale` and checks that every field agrees.
fn agrees(bin: &Path, name: &str, scale: f64) -> Result<real::RealReport, Failed> {
    let sc = load(name);
    let opts = RealOptions {
        source: Source::Spawn(bin.to_path_buf()),
        runs: 1,
        time_scale: scale,
    };
    let r = real::run(&sc, &opts).map_err(|e| Failed::from(e.to_string()))?;
    let run = &r.runs[0];
    let bad: Vec<String> = run
        .fields
        .iter()
        .filter(|f| !f.agree)
        .map(|f| format!("{}: simulated {}, real {}", f.field, f.simulated, f.real))
        .collect();
    if !bad.is_empty() {
        return Err(format!(
            "{name} disagrees:\n  {}\nreal trace:\n{}",
            bad.join("\n  "),
            run.trace.join("\n")
        )
        .into());
    }
    Ok(r)
}

fn incident(bin: &Path) -> Result<(), Failed> {
    let r = agrees(bin, "incident-2025-09-09", 1.0)?;
    let real = &r.runs[0].report;
    // The fault is the validator's: about 7.5 s whatever Redis does.
    let e = real.elapsed_ms.ok_or("no elapsed")?;
    if !(7400..=7800).contains(&e) {
        return Err(format!("elapsed {e} ms, expected about 7508").into());
    }
    if !real
        .message
        .as_deref()
        .unwrap_or("")
        .contains("Failed services: [redis]")
    {
        return Err(format!("message {:?}", real.message).into());
    }
    if r.failure_seen != Some(1) {
        return Err("the simulated failure did not show".into());
    }
    Ok(())
}

/// The same failure with the server never up: Redis's state does not matter.
fn incident_redis_down(bin: &Path) -> Result<(), Failed> {
    let r = agrees(bin, "incident-redis-down", 1.0)?;
    let e = r.runs[0].report.elapsed_ms.ok_or("no elapsed")?;
    if !(7400..=7800).contains(&e) {
        return Err(format!("elapsed {e} ms, expected about 7.5 s").into());
    }
    if r.runs[0].proxy.joined != 0 {
        return Err("a connection reached a server that is down".into());
    }
    Ok(())
}

fn slow_redis(bin: &Path) -> Result<(), Failed> {
    let r = agrees(bin, "slow-redis", 1.0)?;
    if r.runs[0].proxy.refused < 3 {
        return Err(format!("the proxy refused {:?}", r.runs[0].proxy).into());
    }
    Ok(())
}

fn sticky_breaker(bin: &Path) -> Result<(), Failed> {
    let r = agrees(bin, "sticky-breaker", 1.0)?;
    let rep = &r.runs[0].report;
    if rep.lost_messages != 5 || !rep.violations.contains(&Violation::LostMessage) {
        return Err(format!("lost {} messages", rep.lost_messages).into());
    }
    Ok(())
}

/// Redis goes down while the app serves: queued connections, handshakes that fail.
fn queued_then_lost(bin: &Path) -> Result<(), Failed> {
    let r = agrees(bin, "queued-then-lost", 1.0)?;
    if r.runs[0].proxy.refused + r.runs[0].proxy.reset + r.runs[0].proxy.lost_replies == 0 {
        return Err("the outage never showed at the proxy".into());
    }
    Ok(())
}

fn outage_while_serving(bin: &Path) -> Result<(), Failed> {
    let r = agrees(bin, "outage-while-serving", 1.0)?;
    if r.runs[0].report.lost_messages == 0 {
        return Err("no message was lost in the outage".into());
    }
    Ok(())
}

/// Sends PING on a fresh connection; `Some(reply latency)` when `+PONG` came back.
fn ping(addr: std::net::SocketAddr) -> Option<Duration> {
    // Measuring a real proxy is the point of this test.
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(800))).ok()?;
    s.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).ok()?;
    (&buf == b"+PONG\r\n").then(|| t.elapsed())
}

/// The proxy realises a timeline: refused before up, connect delay, a spike, an outage.
fn proxy_realises_the_timeline(bin: &Path) -> Result<(), Failed> {
    let server = RedisProcess::start(bin).map_err(|e| e.to_string())?;
    let timeline = RedisServer {
        up_from_ms: 300,
        outages: vec![[1500, 2500]],
        connect_ms: 100,
        refuse_ms: 0,
        ping_ms: 1,
        ping_spikes: vec![readysim::scenario::PingSpike {
            at_ms: 1000,
            extra_ms: 300,
        }],
    };
    #[allow(clippy::disallowed_methods)]
    let clock = RealClock {
        epoch: Instant::now(),
        scale: 1.0,
    };
    let proxy = Proxy::start(server.addr, &timeline, clock).map_err(|e| e.to_string())?;
    let wait_until = |ms: u64| {
        let now = clock.now_ms();
        if ms > now {
            std::thread::sleep(Duration::from_millis(ms - now));
        }
    };
    if ping(proxy.addr).is_some() {
        return Err("answered before up_from_ms".into());
    }
    wait_until(400);
    let d = ping(proxy.addr).ok_or("no answer once up")?;
    if d < Duration::from_millis(100) || d > Duration::from_millis(250) {
        return Err(format!("connect took {d:?}, expected connect_ms 100").into());
    }
    wait_until(1000);
    // A connection made inside the spike pays the spike on its handshake.
    let d = ping(proxy.addr).ok_or("no answer in the spike")?;
    if d < Duration::from_millis(390) {
        return Err(format!("spike not felt: {d:?}").into());
    }
    wait_until(1600);
    if ping(proxy.addr).is_some() {
        return Err("answered during the outage".into());
    }
    wait_until(2600);
    ping(proxy.addr).ok_or("no answer after the outage")?;
    let log = proxy.stop();
    if log.refused < 2 || log.joined < 3 {
        return Err(format!("{log:?}").into());
    }
    Ok(())
}

/// One test against a real server.
type Check = fn(&Path) -> Result<(), Failed>;

fn main() {
    let args = Arguments::from_args();
    let bin: Option<PathBuf> = real::find_redis_server();
    let tests: [(&str, Check); 7] = [
        ("proxy_realises_the_timeline", proxy_realises_the_timeline),
        ("incident_fails_at_7_5_s_against_real_redis", incident),
        (
            "incident_fails_the_same_with_redis_down",
            incident_redis_down,
        ),
        ("slow_redis_agrees", slow_redis),
        ("sticky_breaker_agrees", sticky_breaker),
        ("queued_then_lost_agrees", queued_then_lost),
        ("outage_while_serving_agrees", outage_while_serving),
    ];
    if bin.is_none() {
        let names: Vec<&str> = tests.iter().map(|t| t.0).collect();
        eprintln!(
            "\nreal_redis: no redis-server found (READYSIM_REDIS_SERVER, then PATH): the {} tests \
             against a real server are SKIPPED (shown as ignored): {}.\n  To run them: apt-get \
             install -y redis-server (or set READYSIM_REDIS_SERVER=/path/to/redis-server), then \
             cargo test --test real_redis\n",
            names.len(),
            names.join(", ")
        );
        if std::env::var_os("READYSIM_REQUIRE_REDIS").is_some() {
            eprintln!("real_redis: READYSIM_REQUIRE_REDIS is set: a missing server is a failure");
            std::process::exit(1);
        }
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let ignored = bin.is_none();
            let bin = bin.clone();
            Trial::test(name, move || {
                f(bin.as_deref().expect("checked: not ignored"))
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

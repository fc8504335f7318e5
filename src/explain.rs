//! `readysim explain NAME`: what a preset, a violation, a client outcome, a close reason or a
//! scenario field means, from the same tables the tool runs on; and the generated reference
//! sections of `docs/format.md`, `docs/presets.md` and `docs/violations.md` (a test keeps
//! them equal to these functions' output).

use std::fmt::Write as _;

use crate::policy::{Policy, Preset};
use crate::scenario::{builtin, fields};
use crate::vocab::{Outcome, Reason, Violation};

/// When a violation fires, in one or two sentences.
pub fn violation(v: Violation) -> &'static str {
    match v {
        Violation::BlockedLoop => "A step blocks the whole event loop for more than 50 ms (a `time.sleep` in a coroutine, a blocking per-connection check): every other task, heartbeat and request waits.",
        Violation::DeadConfig => "A check fails at an elapsed time (from its start) that differs from its declared timeout T by more than its delay d: the configured timeout is read by no loop (the incident's 30 s that was really 7.5 s).",
        Violation::FalseReady => "Redis is declared ready while it is not Operational (connected, stabilised, breaker closed, server up): the redis check passes, readiness is published, the guard admits a connection, or a readiness flag is set. A verdict marked degraded is not a declaration.",
        Violation::Hang => "The run ended (horizon, step budget, or every task waiting for ever) before startup and every client reached an outcome.",
        Violation::LostConnection => "A client attempt ended without an outcome it can see: queued and dropped, a handshake never answered.",
        Violation::LostMessage => "A message sent after accept was neither handled nor answered with an error frame; a silent default (the data operation returned nothing and the message was reported handled) counts as lost.",
        Violation::LyingFlag => "`gcp_websocket_ready` or `startup_complete` was set while what it claims was false.",
        Violation::MaskedProbeError => "A probe raised and the error was logged below WARN, or (in GCP) the error was turned into ready.",
        Violation::Nondeterminism => "Two runs of the same scenario gave different traces (replay runs every scenario twice).",
        Violation::SelfDependency => "A check waited on state that only the end of startup produces (the circular websocket-integration check) and failed for it.",
        Violation::SpuriousFailure => "The redis check failed although Redis was Operational throughout [X, end of the check] for some X no later than the check's start + T - d: a correct check with its declared budget would have passed.",
        Violation::StaleVerdict => "A published ready differed from what a probe would say at the instant of publishing (Redis dropped during the grace).",
        Violation::UnawaitedProbe => "A probe's result was used without the probe having run (a coroutine taken as truthy).",
        Violation::Ws1011 => "A client was closed with 1011 by the system's own doing: the factory's per-user manager limit, the user-ID check's internal error, an auth failure on route f3, a keepalive timeout after a stall, or (counterfactual) a Redis error while the Redis server is up. Under the reference policy any 1011 counts.",
    }
}

/// What a client outcome means.
pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Served => "Accepted; every message was handled (or answered with an error frame) and the client closed normally.",
        Outcome::Closed1011 => "The server closed the WebSocket with 1011 (internal error); `client_reasons` says which path.",
        Outcome::Closed1008 => "The server closed the WebSocket with 1008 (policy violation), e.g. an auth failure outside route f3.",
        Outcome::Closed1001 => "The server closed the WebSocket with 1001 (going away): shutdown while connected.",
        Outcome::Rejected503 => "The guard answered HTTP 503 with Retry-After and the client had no retries left.",
        Outcome::HandshakeFailed => "The WebSocket handshake never completed (a queued connection, the route returned without accepting).",
        Outcome::Reset => "The TCP connection was reset before any WebSocket frame: the client waited in the listen backlog and the worker exited.",
        Outcome::Refused => "The connection was refused: the port was not bound yet.",
    }
}

/// What a close reason means.
pub fn reason(r: Reason) -> &'static str {
    match r {
        Reason::FactoryLimit => "1011 \"Factory SSOT validation failed\": the user already holds the route's limit of per-user managers (20) and the emergency cleanup reclaimed none within its window C.",
        Reason::InternalError => "1011 \"Internal error\": the route's catch-all, raised by the user-ID format check refusing an id its predicate does not accept.",
        Reason::AuthFailed => "\"SSOT Auth failed\": authentication failed (rejected token, auth service timed out or down, a breaker open); 1011 on route f3, 1008 on the others.",
        Reason::Keepalive => "1011 \"keepalive ping timeout\": the pong arrived but was processed after the pong wait expired, because the event loop was frozen.",
        Reason::RedisError => "1011 from a Redis error while serving; only with the counterfactual `close_1011` knob (no real route does this).",
    }
}

/// Where a preset comes from, what it changed, and the windows it leaves open.
pub fn preset_story(p: Preset) -> (&'static str, &'static str, &'static str) {
    match p {
        Preset::P0 => (
            "the validator as deployed at the incident (commit 7dcbbe8d7, 2025-09-08 18:37 PDT; the failures of 2025-09-09)",
            "The redis probe calls `is_connected()` although it is a property: it always raises, the error is logged at DEBUG and counted \"not ready\". A linear poll of 5 retries x 1.5 s in GCP: 7.5 s, whatever the declared 30 s says. The websocket-integration check waits on state only the end of startup sets.",
            "Every GCP start fails after 7.51 s (the incident). With the probe fixed: false ready whenever Redis is connected but not yet stable at the probe; false failure whenever Redis needs more than 7.5 s.",
        ),
        Preset::P1 => (
            "first fix (9babd6985, 18:48 PDT)",
            "A 500 ms grace after a connected probe, as a blocking `time.sleep`; the redis timeout raised to 60 s (read by no loop).",
            "The grace freezes the whole event loop, stabilisation included, so it protects nothing; 60 s is dead config, the budget stays 7.5 s.",
        ),
        Preset::P2 => (
            "async grace (4e99b54cc, 19:03 PDT; the team's tests came with it)",
            "The grace becomes `await asyncio.sleep(0.5)`; the probe is made async.",
            "Any stabilisation over 500 ms still passes as ready (no re-probe after the grace); a drop during the grace is published as ready.",
        ),
        Preset::P4 => (
            "staging masking (7d5356c91, 19:49 PDT)",
            "In staging a probe that says false or raises is turned into ready; blocking grace again.",
            "Staging readiness says nothing about Redis; production keeps the fault.",
        ),
        Preset::P5 => (
            "non-critical in staging (cd1603e38, 23:06 PDT)",
            "In staging, redis and websocket-integration become non-critical.",
            "As p4; a staging start with Redis down is reported healthy.",
        ),
        Preset::P6 => (
            "budget cut and bypass (bdda41252 and follow-ups, 2025-09-09 04:06-10:46 PDT)",
            "Redis 4 x 1.5 s, group timeouts 20/10/5 s, the circular check removed; a staging failure is bypassed and the app starts anyway. The accept path of the day: per-user manager cleanup window 10 s, proactive cleanup from 12, numeric user ids, a blocking per-connection check; route f3 closes auth failures with 1011.",
            "Redis slower than 6 s fails production; staging starts with `gcp_websocket_ready` set although validation failed; the blocking check stalls the loop per connection (keepalive 1011 under a storm).",
        ),
        Preset::P7 => (
            "final constants and the guard (47b91c9b3 .. 69e673311, 2025-09-10 22:37 PDT)",
            "The `final` table (redis 3 x 0.5 s, G 1.5/1/0.5 s); a per-connection guard that runs the validation and accepts degraded; route f4 releases managers on close.",
            "Redis slower than ~1.5 s fails startup; still the property-call probe until p8.",
        ),
        Preset::P8 => (
            "probe fixed (e51615fe9, 2025-09-11 09:40 PDT)",
            "The probe finally reads `is_connected` as a property.",
            "The race the team claimed is now real: `is_connected` ignores stabilisation and the breaker, so a connected-but-unstable Redis passes within the 500 ms grace (false ready); the sticky breaker blocks data while the check says ready.",
        ),
        Preset::P9 => (
            "exponential loop and the queue (77e8a9a36 .. b614caebd, 2025-09-12 .. 09-16)",
            "An exponential poll with wall-clock jitter; connections arriving while not ready are queued (50, for 30 s) and never accepted.",
            "The attempt count depends on the clock (2 or 3 probes at the boundary); queued connections are lost (handshake never answered).",
        ),
        Preset::Reference => (
            "readysim's design, not a historical version",
            "An operational probe (connected, stabilised, breaker closed, a live ping), an event-driven wait with one 60 s deadline, a re-check at the instant of publishing, 503 with Retry-After while not ready, an error frame instead of a silent loss, its own accept route.",
            "None the oracles know of: every shipped scenario is clean under it as it ships (held to the stricter contract, where any 1011 counts; a test checks each file). `compare` keeps a file's own knob overrides, so the three files that set another design's knob (auth-breaker-1011's route f3, manager-limit-storm's route f1, ping-spike-1011's on_redis_error) still show that knob's 1011 in its reference row.",
        ),
    }
}

/// Every knob of `p`, resolved, in the knob list's order: (the file's knob name, value), with
/// the constants every check ends up with after `constants` (R/d/T) and the group timeouts
/// the phases use, right after the knobs they come from. The list is the policy's own
/// (`knobs!` in policy.rs): a knob added there shows here.
pub fn knobs(p: Preset) -> Vec<(String, String)> {
    let pol = Policy::preset(p);
    let rdt =
        |c: &crate::policy::CheckConst| format!("{}/{}/{}", c.retries, c.delay_ms, c.declared_ms);
    let checks: Vec<String> = crate::vocab::Check::ALL
        .iter()
        .zip(pol.checks().iter())
        .map(|(c, k)| format!("{} {}", c.name(), rdt(k)))
        .collect();
    let mut out = Vec::new();
    for (k, v) in pol.knobs() {
        out.push((k.to_string(), v));
        if k == "constants" {
            out.push(("checks (R/d/T)".to_string(), checks.join(", ")));
        }
        if k == "group_timeouts_ms" {
            let g = pol.group_timeouts().map(|g| g.to_string()).join(", ");
            out.push(("group timeouts in use".to_string(), g));
        }
    }
    out
}

/// Shipped scenarios whose `[expect]` lists `v`.
pub fn shown_by(v: Violation) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in builtin::all() {
        let p = builtin::path_of(rel);
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if let Ok(sc) = crate::scenario::parse(text, &p, Some(stem)) {
            if sc
                .expect
                .is_some_and(|e| e.violations.is_some_and(|vs| vs.contains(&v)))
            {
                out.push(sc.name);
            }
        }
    }
    out
}

/// Every name `explain` knows.
fn all_names() -> Vec<String> {
    let mut n: Vec<String> = Vec::new();
    n.extend(Preset::NAMES.iter().map(|s| s.to_string()));
    n.extend(Violation::NAMES.iter().map(|s| s.to_string()));
    n.extend(Outcome::NAMES.iter().map(|s| s.to_string()));
    n.extend(Reason::NAMES.iter().map(|s| s.to_string()));
    n.extend(fields::FIELDS.iter().map(|f| f.path.to_string()));
    n
}

/// The explanation of `name`: a preset, a violation, an outcome, a close reason or a field
/// (`redis.server.up_from_ms`, `clients[0].at_ms`).
pub fn explain(name: &str) -> Result<String, String> {
    let mut o = String::new();
    if let Some(p) = Preset::from_name(name) {
        let (from, changed, open) = preset_story(p);
        let _ = writeln!(o, "preset {name}: {from}\n\nWhat changed: {changed}\n\nWindows it leaves open: {open}\n\nEvery knob (override any of them in [policy]):");
        let k = knobs(p);
        let w = k.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (n, v) in k {
            let _ = writeln!(o, "  {n:<w$}  {v}");
        }
        return Ok(o);
    }
    if let Some(v) = Violation::from_name(name) {
        let _ = writeln!(o, "violation {name}: {}", violation(v));
        let s = shown_by(v);
        if !s.is_empty() {
            let _ = writeln!(o, "\nShipped scenarios that show it: {}", s.join(", "));
        }
        return Ok(o);
    }
    if let Some(x) = Outcome::from_name(name) {
        let _ = writeln!(o, "client outcome {name}: {}", outcome(x));
        return Ok(o);
    }
    if let Some(r) = Reason::from_name(name) {
        let _ = writeln!(o, "close reason {name}: {}", reason(r));
        return Ok(o);
    }
    if let Some(f) = fields::field(name) {
        let _ = writeln!(
            o,
            "field {}: {}\n\nRole: {} (group {})\nAllowed: {}\nWhen absent: {}",
            f.path,
            f.doc,
            f.role().name(),
            f.group.name(),
            f.allowed(),
            default_of(f)
        );
        return Ok(o);
    }
    let names = all_names();
    Err(crate::suggest::unknown_name(
        "name (a preset, violation, outcome, close reason or field)",
        name,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .split("; allowed:")
    .next()
    .unwrap_or("")
    .to_string()
        + "; see readysim explain --list")
}

/// Every name, grouped, for `explain --list`.
pub fn list() -> String {
    let mut o = String::new();
    let _ = writeln!(o, "presets:    {}", Preset::NAMES.join(", "));
    let _ = writeln!(o, "violations: {}", Violation::NAMES.join(", "));
    let _ = writeln!(o, "outcomes:   {}", Outcome::NAMES.join(", "));
    let _ = writeln!(o, "reasons:    {}", Reason::NAMES.join(", "));
    let f: Vec<&str> = fields::FIELDS.iter().map(|f| f.path).collect();
    let _ = writeln!(o, "fields:     {}", f.join(", "));
    o
}

fn default_of(f: &fields::Field) -> String {
    if f.required() {
        return "required".into();
    }
    match (f.default_value(), f.kind) {
        (Some(v), _) if f.ty == fields::Ty::Ms => format!("{v} ms"),
        (Some(v), _) => v.to_string(),
        (None, fields::Kind::Knob) => "the preset's value (readysim explain PRESET)".into(),
        (None, _) => "-".into(),
    }
}

#[cfg(test)]
/// The field reference of `docs/format.md`: one row per field of the table.
pub fn fields_markdown() -> String {
    let mut o = String::from(
        "| field | role (group) | allowed | when absent | meaning |\n|---|---|---|---|---|\n",
    );
    for f in fields::FIELDS {
        let _ = writeln!(
            o,
            "| `{}` | {} ({}) | {} | {} | {} |",
            f.path,
            f.role().name(),
            f.group.name(),
            f.allowed().replace('|', "\\|"),
            default_of(f),
            f.doc.replace('|', "\\|")
        );
    }
    o
}

#[cfg(test)]
/// The body of `docs/presets.md`: each preset's story, then one row per knob and one column
/// per preset.
pub fn presets_markdown() -> String {
    let mut o = String::new();
    for p in Preset::ALL {
        let (from, changed, open) = preset_story(p);
        let _ = writeln!(
            o,
            "### `{}`: {from}\n\n{changed}\n\n*Windows it leaves open:* {open}\n",
            p.name()
        );
    }
    o.push_str("### Every knob, by preset\n\n| knob |");
    for p in Preset::ALL {
        let _ = write!(o, " {} |", p.name());
    }
    o.push_str("\n|---|");
    for _ in Preset::ALL {
        o.push_str("---|");
    }
    o.push('\n');
    let cols: Vec<Vec<(String, String)>> = Preset::ALL.iter().map(|p| knobs(*p)).collect();
    for (i, (name, _)) in cols[0].iter().enumerate() {
        let _ = write!(o, "| `{name}` |");
        for c in &cols {
            let _ = write!(o, " {} |", c[i].1);
        }
        o.push('\n');
    }
    o
}

#[cfg(test)]
/// The table of `docs/violations.md`: each oracle, when it fires, the scenarios that show it.
pub fn violations_markdown() -> String {
    let mut o = String::from(
        "| violation | fires when | shipped scenarios that show it |\n|---|---|---|\n",
    );
    for v in Violation::ALL {
        let s = shown_by(v);
        let _ = writeln!(
            o,
            "| `{}` | {} | {} |",
            v.name(),
            violation(v),
            if s.is_empty() {
                "-".to_string()
            } else {
                s.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    o
}

#[cfg(test)]
/// The generated section between `<!-- BEGIN name -->` and `<!-- END name -->` in a doc.
pub fn section<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let b = format!("<!-- BEGIN {name} -->\n");
    let e = format!("<!-- END {name} -->");
    let i = doc.find(&b)? + b.len();
    let j = doc[i..].find(&e)? + i;
    Some(&doc[i..j])
}

#[cfg(test)]
/// `doc` with its generated section `name` replaced by `body`.
pub fn with_section(doc: &str, name: &str, body: &str) -> Option<String> {
    let cur = section(doc, name)?;
    let start = cur.as_ptr() as usize - doc.as_ptr() as usize;
    Some(format!(
        "{}{}{}",
        &doc[..start],
        body,
        &doc[start + cur.len()..]
    ))
}

#[cfg(test)]
/// The docs with generated sections: (file under `docs/`, section, its current text).
pub fn generated() -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("format.md", "fields", fields_markdown()),
        ("presets.md", "presets", presets_markdown()),
        ("violations.md", "violations", violations_markdown()),
    ]
}

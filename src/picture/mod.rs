//! Pictures of runs: a scenario's timeline (SVG, a self-contained HTML page), the race map of
//! a failure region over two fields, and a Chrome/Perfetto trace. Every picture is built from
//! one [`Picture`]: the lanes, spans and marks read off a run's trace and environment, so the
//! SVG, the page and the trace file always agree.
//!
//! ```text
//! Report (trace, results, findings) + Scenario (environment) --build--> Picture
//!     --timeline--> SVG / HTML        --chrome--> trace JSON
//! ```

pub mod chrome;
pub mod html;
pub mod map;
pub mod timeline;

use std::collections::BTreeMap;

use crate::judge::{self, Env, Site};
use crate::replay::Report;
use crate::scenario::deps::Dep;
use crate::scenario::{Scenario, Timeline};
use crate::trace::{Ev, Event, ProbeResult};
use crate::vocab::Actor;

/// One horizontal lane of a timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// What the lane shows (`validator`, `client#3`, `redis server`).
    pub label: String,
}

/// What a span is, for its colour and its name in the legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A startup phase.
    Phase,
    /// A readiness check that passed.
    CheckPassed,
    /// A readiness check that failed.
    CheckFailed,
    /// A sleep of a poll loop or a backoff.
    Sleep,
    /// An async grace.
    Grace,
    /// A freeze of the whole event loop.
    Freeze,
    /// A connect attempt that connected.
    Connected,
    /// A connect attempt that failed.
    ConnectFailed,
    /// A wait for the connect lock.
    LockWait,
    /// A client attempt, arrival to outcome.
    Attempt,
    /// Waiting in the listen backlog.
    Backlog,
    /// A message, sent to answered.
    Message,
    /// Authentication.
    Auth,
    /// The socket held open after the last message.
    Hold,
    /// The Redis server (or the auth service) reachable.
    Up,
    /// The Redis server (or the auth service) unreachable.
    Down,
    /// A latency spike.
    Spike,
    /// Redis Operational.
    Operational,
    /// Redis not Operational.
    NotOperational,
}

impl Kind {
    /// The legend's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Phase => "startup phase",
            Kind::CheckPassed => "check passed",
            Kind::CheckFailed => "check failed",
            Kind::Sleep => "poll sleep / backoff",
            Kind::Grace => "async grace",
            Kind::Freeze => "event loop frozen",
            Kind::Connected => "connect: ok",
            Kind::ConnectFailed => "connect: failed",
            Kind::LockWait => "waiting for the connect lock",
            Kind::Attempt => "client attempt",
            Kind::Backlog => "in the listen backlog",
            Kind::Message => "message",
            Kind::Auth => "authentication",
            Kind::Hold => "socket held open",
            Kind::Up => "reachable",
            Kind::Down => "unreachable",
            Kind::Spike => "latency spike",
            Kind::Operational => "Redis Operational",
            Kind::NotOperational => "Redis not Operational",
        }
    }
}

/// A stretch of time on a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Index into [`Picture::lanes`].
    pub lane: usize,
    /// Start (virtual ms).
    pub from: u64,
    /// End (virtual ms).
    pub to: u64,
    /// What it is.
    pub kind: Kind,
    /// Its label (shown when it fits, and as a tooltip).
    pub label: String,
}

/// What an instant mark is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A probe or a ping that said ready.
    ProbeOk,
    /// A probe or a ping that did not (not ready, raised, failed).
    ProbeFailed,
    /// The validator's verdict.
    Verdict,
    /// A violation, at the instant it first happened.
    Violation,
    /// A same-instant decision of the engine.
    Decision,
    /// A client's outcome.
    Outcome,
    /// A breaker changed state (Redis, auth service, WebSocket authenticator).
    Breaker,
    /// Anything else worth a tick (an error frame, a 503).
    Event,
}

impl MarkKind {
    /// Its category as scripts and trace viewers see it: the SVG's `data-kind`, the Chrome
    /// trace's `cat` (both probe kinds are `probe`).
    pub fn category(self) -> &'static str {
        match self {
            MarkKind::ProbeOk | MarkKind::ProbeFailed => "probe",
            MarkKind::Verdict => "verdict",
            MarkKind::Violation => "violation",
            MarkKind::Decision => "decision",
            MarkKind::Outcome => "outcome",
            MarkKind::Breaker => "breaker",
            MarkKind::Event => "event",
        }
    }
}

/// An instant on a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Index into [`Picture::lanes`].
    pub lane: usize,
    /// When.
    pub t: u64,
    /// What.
    pub kind: MarkKind,
    /// Its text.
    pub label: String,
    /// Steady-state background (a health ping that succeeded): it does not keep a stretch of
    /// the time axis from being compressed.
    pub ambient: bool,
}

/// Everything a picture of one run shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// The scenario's name.
    pub title: String,
    /// Its summary.
    pub summary: String,
    /// The verdict in one line (startup, instant, failed services).
    pub verdict: String,
    /// The startup error's text, if any.
    pub message: Option<String>,
    /// The lanes, top to bottom.
    pub lanes: Vec<Lane>,
    /// The spans.
    pub spans: Vec<Span>,
    /// The instants.
    pub marks: Vec<Mark>,
    /// The run's end.
    pub end: u64,
}

/// Lanes in a fixed order: actors as they appear, the environment's bands first.
struct Lanes {
    lanes: Vec<Lane>,
    index: BTreeMap<String, usize>,
}

impl Lanes {
    fn get(&mut self, label: &str) -> usize {
        if let Some(i) = self.index.get(label) {
            return *i;
        }
        self.lanes.push(Lane {
            label: label.to_string(),
        });
        self.index.insert(label.to_string(), self.lanes.len() - 1);
        self.lanes.len() - 1
    }
}

fn actor_lane(a: Actor) -> String {
    a.to_string()
}

/// The most events a picture draws (and an HTML page lists): a longer trace is drawn up to
/// that event, and the summary says so. A picture of more is unreadable anyway, and drawing
/// all of a million-event trace took gigabytes.
pub const MAX_PICTURE_EVENTS: usize = 20_000;

/// Reads the picture off a replay of `sc`.
pub fn build(sc: &Scenario, rep: &Report) -> Picture {
    let out = &rep.evaluation.output;
    let whole: &[Event] = &out.trace;
    let (trace, end) = if whole.len() > MAX_PICTURE_EVENTS {
        (
            &whole[..MAX_PICTURE_EVENTS],
            whole[MAX_PICTURE_EVENTS].t.max(1),
        )
    } else {
        let end = out
            .engine
            .end_ms
            .max(whole.last().map_or(0, |e| e.t))
            .max(1);
        (whole, end)
    };
    let mut lanes = Lanes {
        lanes: Vec::new(),
        index: BTreeMap::new(),
    };
    let mut spans = Vec::new();
    let mut marks = Vec::new();
    // The environment: every dependency of the table (Redis always; the others when the file
    // sets them), then Operational(t) under Redis's lane.
    for dep in Dep::all() {
        let row = dep.row();
        let t = (row.timeline)(sc);
        let default = t.up_from_ms == 0 && t.outages.is_empty() && t.spikes.is_empty();
        if !row.always_drawn && default && t.latency_ms == 0 {
            continue;
        }
        dependency_spans(lanes.get(row.name), &t, end, &mut spans);
        if dep == Dep::REDIS {
            operational_spans(lanes.get("Operational(t)"), sc, trace, end, &mut spans);
        }
    }
    spans_from_trace(trace, end, &mut lanes, &mut spans, &mut marks);
    // One mark per violation, where and when it first happened (findings are in site order;
    // the earliest instant wins, the first site on a tie).
    let mut first: BTreeMap<crate::vocab::Violation, (u64, Site)> = BTreeMap::new();
    for (f, t) in &rep.evaluation.findings {
        let e = first.entry(f.violation).or_insert((*t, f.site));
        if *t < e.0 {
            *e = (*t, f.site);
        }
    }
    for (v, (t, site)) in first {
        let lane = match site {
            Site::Run => lanes.get("startup"),
            Site::Actor(a) => lanes.get(&actor_lane(a)),
            Site::Client { index, .. } => lanes.get(&actor_lane(Actor::Client(index))),
        };
        marks.push(Mark {
            lane,
            t,
            kind: MarkKind::Violation,
            label: v.name().to_string(),
            ambient: false,
        });
    }
    let drawn = out
        .engine
        .choices
        .iter()
        .filter(|c| c.ready >= 2 && (trace.len() == whole.len() || c.at_ms < end))
        .take(MAX_PICTURE_EVENTS);
    for c in drawn {
        let lane = lanes.get("decisions");
        marks.push(Mark {
            lane,
            t: c.at_ms,
            kind: MarkKind::Decision,
            label: format!("ran #{} of {} ready", c.chosen, c.ready),
            ambient: false,
        });
    }
    let (lanes, spans, marks) = ordered(lanes.lanes, spans, marks);
    let r = &out.results;
    let verdict = match (r.startup, r.verdict_at_ms) {
        (Some(s), Some(t)) => format!(
            "startup {} at {t} ms (elapsed {} ms){}",
            s,
            r.elapsed_ms.unwrap_or(0),
            if r.failed_services.is_empty() {
                String::new()
            } else {
                format!(
                    ", failed: {}",
                    r.failed_services
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        (Some(s), None) => format!("startup {s}"),
        _ => "startup did not end".into(),
    };
    Picture {
        title: sc.name.clone(),
        summary: if trace.len() < whole.len() {
            format!(
                "{} (drawn up to {end} ms: the first {} of {} events)",
                sc.summary,
                trace.len(),
                whole.len()
            )
        } else {
            sc.summary.clone()
        },
        verdict,
        message: r.message(),
        lanes,
        spans,
        marks,
        end,
    }
}

/// A dependency's lane: refused before its up time, each outage, the up bands between, each
/// latency spike.
fn dependency_spans(lane: usize, t: &Timeline<'_>, end: u64, spans: &mut Vec<Span>) {
    if t.up_from_ms > 0 {
        spans.push(Span {
            lane,
            from: 0,
            to: t.up_from_ms.min(end),
            kind: Kind::Down,
            label: format!("refused until {}", t.up_from_ms),
        });
    }
    for [a, b] in t.outages {
        if *a < end {
            spans.push(Span {
                lane,
                from: *a,
                to: (*b).min(end),
                kind: Kind::Down,
                label: format!("outage {a}..{b}"),
            });
        }
    }
    up_bands(lane, end, spans);
    for s in t.spikes {
        if s.at_ms < end {
            spans.push(Span {
                lane,
                from: s.at_ms,
                to: s.at_ms.saturating_add(s.extra_ms).min(end),
                kind: Kind::Spike,
                label: format!("+{} ms", s.extra_ms),
            });
        }
    }
}

/// The Operational(t) lane: the judge's ground truth, folded from the trace.
fn operational_spans(lane: usize, sc: &Scenario, trace: &[Event], end: u64, spans: &mut Vec<Span>) {
    let mut at = 0;
    for (a, b) in judge::operational_intervals(&Env::of(sc), trace, end) {
        if a > at {
            spans.push(Span {
                lane,
                from: at,
                to: a,
                kind: Kind::NotOperational,
                label: "not Operational".into(),
            });
        }
        spans.push(Span {
            lane,
            from: a,
            to: b,
            kind: Kind::Operational,
            label: "Operational".into(),
        });
        at = b;
    }
    if at < end {
        spans.push(Span {
            lane,
            from: at,
            to: end,
            kind: Kind::NotOperational,
            label: "not Operational".into(),
        });
    }
}

/// The `Up` spans of a lane: `[0, end)` less its `Down` spans.
fn up_bands(lane: usize, end: u64, spans: &mut Vec<Span>) {
    let mut down: Vec<(u64, u64)> = spans
        .iter()
        .filter(|s| s.lane == lane && s.kind == Kind::Down)
        .map(|s| (s.from, s.to))
        .collect();
    down.sort_unstable();
    let mut at = 0;
    let mut up = Vec::new();
    for (a, b) in down {
        if a > at {
            up.push((at, a));
        }
        at = at.max(b);
    }
    if at < end {
        up.push((at, end));
    }
    for (a, b) in up {
        spans.push(Span {
            lane,
            from: a,
            to: b,
            kind: Kind::Up,
            label: "up".into(),
        });
    }
}

/// Where a lane goes, top to bottom: the environment, startup, the Redis manager's tasks,
/// the validator and its checks, the gateway, the clients by number, the decisions.
fn lane_rank(label: &str) -> (u8, u64) {
    let fixed = [
        "redis server",
        "Operational(t)",
        "auth service",
        "startup",
        "manager",
        "reconnect",
        "health",
        "validator",
    ];
    if let Some(i) = fixed.iter().position(|f| *f == label) {
        return (i as u8, 0);
    }
    if label.starts_with("validator: ") {
        return (8, 0);
    }
    if let Some(n) = label.strip_prefix("client#") {
        return (10, n.parse().unwrap_or(0));
    }
    match label {
        "decisions" => (11, 0),
        _ => (9, 0),
    }
}

/// The lanes sorted by [`lane_rank`] (first appearance breaks ties), spans and marks
/// renumbered to match.
fn ordered(
    lanes: Vec<Lane>,
    mut spans: Vec<Span>,
    mut marks: Vec<Mark>,
) -> (Vec<Lane>, Vec<Span>, Vec<Mark>) {
    let mut order: Vec<usize> = (0..lanes.len()).collect();
    order.sort_by_key(|&i| (lane_rank(&lanes[i].label), i));
    let mut new_of = vec![0; lanes.len()];
    for (new, &old) in order.iter().enumerate() {
        new_of[old] = new;
    }
    for s in &mut spans {
        s.lane = new_of[s.lane];
    }
    for m in &mut marks {
        m.lane = new_of[m.lane];
    }
    let lanes = order.into_iter().map(|i| lanes[i].clone()).collect();
    (lanes, spans, marks)
}

/// The spans and marks every actor's events make.
fn spans_from_trace(
    trace: &[Event],
    end: u64,
    lanes: &mut Lanes,
    spans: &mut Vec<Span>,
    marks: &mut Vec<Mark>,
) {
    let startup = lanes.get("startup");
    let mut r = TraceReader {
        lanes,
        spans,
        marks,
        end,
        startup,
        open: BTreeMap::new(),
        phase: None,
        check_lane: None,
    };
    for e in trace {
        let lane = r.lane_of(e);
        // Each event is one reader's: the three take disjoint sets of events.
        let _ = r.phase_event(e, lane) || r.span_event(e, lane) || r.mark_event(e, lane);
    }
    r.finish();
}

/// Reads a trace into spans and marks, event by event.
struct TraceReader<'a> {
    lanes: &'a mut Lanes,
    spans: &'a mut Vec<Span>,
    marks: &'a mut Vec<Mark>,
    end: u64,
    /// The startup lane (phases).
    startup: usize,
    /// Open spans per (lane, what): where they started and their label.
    open: BTreeMap<(usize, u8), (u64, String)>,
    /// The phase running, since when.
    phase: Option<(u64, String)>,
    /// The validator draws one lane per check, so a check's probes and sleeps read as a row.
    check_lane: Option<usize>,
}

impl TraceReader<'_> {
    /// The event's lane: its actor's, or the validator's check's while a check runs.
    fn lane_of(&mut self, e: &Event) -> usize {
        let mut lane = self.lanes.get(&actor_lane(e.actor));
        if e.actor == Actor::Validator {
            if let Ev::CheckStart { check, .. } = &e.ev {
                self.check_lane = Some(self.lanes.get(&format!("validator: {}", check.name())));
            }
            if let Some(l) = self.check_lane {
                lane = l;
            }
            if matches!(e.ev, Ev::CheckPassed { .. } | Ev::CheckFailed { .. }) {
                self.check_lane = None;
            }
        }
        lane
    }

    /// Ends the open span `key` at `t` (with `extra` after its label), if one is open.
    fn close(&mut self, key: (usize, u8), t: u64, kind: Kind, extra: &str) {
        if let Some((from, label)) = self.open.remove(&key) {
            self.spans.push(Span {
                lane: key.0,
                from,
                to: t,
                kind,
                label: if extra.is_empty() {
                    label
                } else {
                    format!("{label} {extra}")
                },
            });
        }
    }

    /// Ends the running phase at `t`.
    fn end_phase(&mut self, t: u64) {
        if let Some((from, label)) = self.phase.take() {
            self.spans.push(Span {
                lane: self.startup,
                from,
                to: t,
                kind: Kind::Phase,
                label,
            });
        }
    }

    fn mark(&mut self, lane: usize, t: u64, kind: MarkKind, label: String) {
        self.marks.push(Mark {
            lane,
            t,
            kind,
            label,
            ambient: false,
        });
    }

    /// Startup phases and their end.
    fn phase_event(&mut self, e: &Event, lane: usize) -> bool {
        match &e.ev {
            Ev::Phase(p) => {
                self.end_phase(e.t);
                self.phase = Some((e.t, (*p).to_string()));
            }
            Ev::StartupComplete | Ev::WorkerExit => {
                self.end_phase(e.t);
                self.mark(lane, e.t, MarkKind::Event, e.ev.name().to_string());
            }
            _ => return false,
        }
        true
    }

    /// Events that open or close a span, or are a span of known length.
    fn span_event(&mut self, e: &Event, lane: usize) -> bool {
        let t = e.t;
        let timed = |kind: Kind, ms: u64, label: String| Span {
            lane,
            from: t,
            to: t.saturating_add(ms).min(self.end),
            kind,
            label,
        };
        match &e.ev {
            Ev::CheckStart { check, .. } => {
                self.open.insert((lane, 0), (t, check.name().to_string()));
            }
            Ev::CheckPassed { .. } => self.close((lane, 0), t, Kind::CheckPassed, ""),
            Ev::CheckFailed { .. } => self.close((lane, 0), t, Kind::CheckFailed, ""),
            Ev::PollSleep { ms } | Ev::Backoff { ms } => {
                let s = timed(Kind::Sleep, *ms, format!("sleep {ms} ms"));
                self.spans.push(s);
            }
            Ev::Grace { ms } => {
                let s = timed(Kind::Grace, *ms, format!("grace {ms} ms"));
                self.spans.push(s);
            }
            Ev::Freeze { ms } => {
                let s = timed(Kind::Freeze, *ms, format!("frozen {ms} ms"));
                self.spans.push(s);
            }
            Ev::Hold { ms } => {
                let s = timed(Kind::Hold, *ms, format!("hold {ms} ms"));
                self.spans.push(s);
            }
            Ev::ConnectStart { .. } => {
                self.close((lane, 2), t, Kind::LockWait, "");
                self.open.insert((lane, 1), (t, "connect".into()));
            }
            Ev::Connected => self.close((lane, 1), t, Kind::Connected, "ok"),
            Ev::ConnectRefused { .. } => self.close((lane, 1), t, Kind::ConnectFailed, "refused"),
            Ev::ConnectTimedOut { .. } => {
                self.close((lane, 1), t, Kind::ConnectFailed, "timed out")
            }
            Ev::LockWait => {
                self.open.insert((lane, 2), (t, "lock".into()));
            }
            Ev::ConnectReused => self.close((lane, 2), t, Kind::LockWait, "reused"),
            Ev::Arrive => {
                self.open.entry((lane, 3)).or_insert((t, "attempt".into()));
            }
            Ev::Backlog => {
                self.open.insert((lane, 4), (t, "backlog".into()));
            }
            Ev::Dispatch | Ev::Reset => self.close((lane, 4), t, Kind::Backlog, ""),
            Ev::MessageSend { n } => {
                self.open.insert((lane, 5), (t, format!("message #{n}")));
            }
            Ev::MessageHandled => self.close((lane, 5), t, Kind::Message, "handled"),
            Ev::MessageLost => self.close((lane, 5), t, Kind::Message, "LOST"),
            Ev::AuthOk { ms } | Ev::AuthFailed { ms, .. } => self.spans.push(Span {
                lane,
                from: t.saturating_sub(*ms),
                to: t,
                kind: Kind::Auth,
                label: e.ev.name().to_string(),
            }),
            Ev::Done(o) => {
                self.close((lane, 5), t, Kind::Message, "");
                self.close((lane, 3), t, Kind::Attempt, o.name());
                self.mark(lane, t, MarkKind::Outcome, o.name().to_string());
            }
            _ => return false,
        }
        true
    }

    /// Events that are an instant: probes, pings, the verdict, closes, breakers.
    fn mark_event(&mut self, e: &Event, lane: usize) -> bool {
        let t = e.t;
        match &e.ev {
            Ev::Probe { result, .. } => {
                let mut d = String::new();
                e.ev.details(&mut d);
                let kind = if *result == ProbeResult::Ready {
                    MarkKind::ProbeOk
                } else {
                    MarkKind::ProbeFailed
                };
                self.mark(lane, t, kind, format!("probe {d}"));
            }
            Ev::HealthPing { ok } => {
                let kind = if *ok {
                    MarkKind::ProbeOk
                } else {
                    MarkKind::ProbeFailed
                };
                let label = format!("health ping {}", if *ok { "ok" } else { "failed" });
                self.marks.push(Mark {
                    lane,
                    t,
                    kind,
                    label,
                    ambient: *ok,
                });
            }
            Ev::Verdict { ready, .. } => {
                let label = if *ready {
                    "verdict: ready"
                } else {
                    "verdict: failed"
                };
                self.mark(lane, t, MarkKind::Verdict, label.into());
            }
            Ev::Close1011 { reason } | Ev::Close1008 { reason } => self.mark(
                lane,
                t,
                MarkKind::Event,
                format!("{} {reason}", e.ev.name()),
            ),
            Ev::BreakerFailure { open: true, .. } => {
                self.mark(lane, t, MarkKind::Breaker, "redis breaker open".into())
            }
            Ev::AuthBreaker { state } => {
                self.mark(lane, t, MarkKind::Breaker, format!("auth breaker {state}"))
            }
            Ev::WsAuthBreaker { open: true, .. } => {
                self.mark(lane, t, MarkKind::Breaker, "ws auth breaker open".into())
            }
            Ev::ErrorFrame | Ev::Reject503 { .. } | Ev::Queued | Ev::WokeLate { .. } => {
                self.mark(lane, t, MarkKind::Event, e.ev.name().to_string())
            }
            _ => return false,
        }
        true
    }

    /// Spans still open at the end run to it.
    fn finish(mut self) {
        self.end_phase(self.end);
        for ((lane, what), (from, label)) in std::mem::take(&mut self.open) {
            let kind = match what {
                0 => Kind::CheckPassed,
                1 => Kind::ConnectFailed,
                2 => Kind::LockWait,
                3 => Kind::Attempt,
                4 => Kind::Backlog,
                _ => Kind::Message,
            };
            self.spans.push(Span {
                lane,
                from,
                to: self.end,
                kind,
                label,
            });
        }
    }
}

/// `&`, `<`, `>` and quotes escaped, and control characters dropped, for SVG and HTML text.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

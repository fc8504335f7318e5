//! The fixed-column rendering of trace events and the trace hash.

use std::fmt::Write as _;

use super::{ConnectWhy, Ev, Event, PassVia, ProbeResult};

impl Ev {
    /// The event's name column.
    pub fn name(&self) -> &'static str {
        match self {
            Ev::Phase(_) => "phase",
            Ev::StartupComplete => "startup-complete",
            Ev::GcpReadyFlag => "flag-set",
            Ev::StartupError => "startup-error",
            Ev::Bypassed => "bypassed",
            Ev::WorkerExit => "worker-exit",
            Ev::ValidatorStart { .. } => "validator-start",
            Ev::Skipped => "skipped",
            Ev::CheckStart { .. } => "check-start",
            Ev::Probe { .. } => "probe",
            Ev::PollSleep { .. } => "poll-sleep",
            Ev::Grace { .. } => "grace",
            Ev::Freeze { .. } => "freeze",
            Ev::CheckPassed { .. } => "check-passed",
            Ev::CheckFailed { .. } => "check-failed",
            Ev::WaitGate { .. } => "wait-gate",
            Ev::GateWoke => "gate-woke",
            Ev::DeadlineHit => "deadline",
            Ev::Verdict { .. } => "verdict",
            Ev::ConnectStart { .. } => "connect",
            Ev::Connected => "connected",
            Ev::ConnectRefused { .. } => "refused",
            Ev::ClientDropped => "client-dropped",
            Ev::BreakerFailure { .. } => "breaker-failure",
            Ev::BreakerSuccess { .. } => "breaker-success",
            Ev::Backoff { .. } => "backoff",
            Ev::LongPause => "long-pause",
            Ev::WokeLate { .. } => "woke-late",
            Ev::HealthPing { .. } => "ping",
            Ev::HealthFailed => "health-failed",
            Ev::OpFailed => "op-failed",
            Ev::BreakerBlocked => "breaker-blocked",
            Ev::NoClient => "no-client",
            Ev::LockWait => "lock-wait",
            Ev::ConnectReused => "reused",
            Ev::ConnectTimedOut { .. } => "timed-out",
            Ev::PingFailed { .. } => "ping-failed",
            Ev::GatePublish { .. } => "gate",
            Ev::Arrive => "arrive",
            Ev::Refused => "refused",
            Ev::Backlog => "backlog",
            Ev::Dispatch => "dispatch",
            Ev::Reset => "reset",
            Ev::Admit { .. } => "admit",
            Ev::Accept => "accept",
            Ev::AcceptDegraded => "accept-degraded",
            Ev::Reject503 { .. } => "reject-503",
            Ev::Retry => "retry",
            Ev::Queued => "queued",
            Ev::RouteReturned => "route-returned",
            Ev::QueueDropped => "queue-dropped",
            Ev::MessageSend { .. } => "message",
            Ev::MessageHandled => "handled",
            Ev::MessageLost => "lost",
            Ev::ErrorFrame => "error-frame",
            Ev::Close1011 { .. } => "close-1011",
            Ev::Close1008 { .. } => "close-1008",
            Ev::AcceptSleep { .. } => "accept-sleep",
            Ev::AuthOk { .. } => "auth-ok",
            Ev::AuthFailed { .. } => "auth-failed",
            Ev::WsAuthBreaker { .. } => "ws-auth-breaker",
            Ev::AuthBreaker { .. } => "auth-breaker",
            Ev::ManagerCreated { .. } => "manager",
            Ev::ManagerCleanup { .. } => "cleanup",
            Ev::ManagerRefused { .. } => "factory-refused",
            Ev::ManagerSweep { .. } => "sweep",
            Ev::ServiceCheck { .. } => "service-check",
            Ev::UserIdRejected { .. } => "user-id-rejected",
            Ev::Welcome => "welcome",
            Ev::KeepalivePing { .. } => "ka-ping",
            Ev::Pong => "pong",
            Ev::Hold { .. } => "hold",
            Ev::ClientClose => "close",
            Ev::Reconnect { .. } => "reconnect",
            Ev::Done(_) => "outcome",
        }
    }

    /// Appends the event's details column to `out`.
    pub fn details(&self, out: &mut String) {
        let _ = match self {
            Ev::Phase(p) => write!(out, "{p}"),
            Ev::GcpReadyFlag => write!(out, "gcp_websocket_ready = true"),
            Ev::ValidatorStart { gcp, validates } => {
                if *gcp || !*validates {
                    write!(out, "gcp={gcp}")
                } else {
                    write!(out, "gcp=false (validates everywhere)")
                }
            }
            Ev::CheckStart {
                check,
                retries,
                delay_ms,
                declared_ms,
                group_ms,
            } => write!(
                out,
                "{} R={retries} d={delay_ms} T={declared_ms} G={group_ms}",
                check.name()
            ),
            Ev::Probe { check, result } => {
                let r = match result {
                    ProbeResult::Ready => "ready",
                    ProbeResult::NotReady => "not-ready",
                    ProbeResult::RaisedDebug => "raised (logged at DEBUG)",
                    ProbeResult::RaisedError => "raised (logged at ERROR)",
                    ProbeResult::Unawaited => "unawaited coroutine (truthy, never ran)",
                };
                write!(out, "{} -> {r}", check.name())
            }
            Ev::PollSleep { ms } | Ev::Grace { ms } | Ev::Freeze { ms } | Ev::Backoff { ms } => {
                write!(out, "{ms}ms")
            }
            Ev::CheckPassed { check, via } => {
                let _ = write!(out, "{}", check.name());
                match via {
                    PassVia::Probe { probed_at } => write!(out, " (probed at {probed_at})"),
                    PassVia::Masked => write!(out, " (masked in staging)"),
                    PassVia::Unawaited => write!(out, " (unawaited)"),
                    PassVia::Recheck => write!(out, " (re-checked)"),
                }
            }
            Ev::CheckFailed {
                check,
                critical,
                elapsed_ms,
                circular,
            } => write!(
                out,
                "{} after {elapsed_ms}ms{}{}",
                check.name(),
                if *critical { "" } else { " (non-critical)" },
                if *circular {
                    " (needs startup_complete)"
                } else {
                    ""
                }
            ),
            Ev::WaitGate { deadline_ms } => write!(out, "until {deadline_ms}"),
            Ev::Verdict {
                ready, elapsed_ms, ..
            } => write!(
                out,
                "{} elapsed={elapsed_ms}ms",
                if *ready { "ready" } else { "failed" }
            ),
            Ev::ConnectStart { why } => write!(
                out,
                "{}",
                match why {
                    ConnectWhy::Init => "initial attempt",
                    ConnectWhy::Reconnect => "reconnect attempt",
                    ConnectWhy::Inline => "inline attempt",
                }
            ),
            Ev::ConnectRefused { failures } | Ev::ConnectTimedOut { failures } => {
                write!(out, "failures={failures}")
            }
            Ev::ConnectReused => write!(out, "the connection the lock holder made"),
            Ev::BreakerFailure { consecutive, open } => write!(
                out,
                "consecutive={consecutive}{}",
                if *open { " OPEN" } else { "" }
            ),
            Ev::BreakerSuccess { closed } => {
                write!(out, "{}", if *closed { "closed" } else { "" })
            }
            Ev::WokeLate { late_ms } => write!(out, "{late_ms}ms late"),
            Ev::HealthPing { ok } => write!(out, "{}", if *ok { "ok" } else { "failed" }),
            Ev::PingFailed { after_ms } => write!(out, "after {after_ms}ms"),
            Ev::GatePublish { ready } => {
                write!(out, "{}", if *ready { "ready" } else { "not-ready" })
            }
            Ev::Admit { via } => match via {
                PassVia::Probe { probed_at } => write!(out, "ready (probed at {probed_at})"),
                PassVia::Masked => write!(out, "ready (masked in staging)"),
                PassVia::Unawaited => write!(out, "ready (unawaited)"),
                PassVia::Recheck => write!(out, "ready (re-checked)"),
            },
            Ev::Reject503 { retry_after_ms } => write!(out, "Retry-After {retry_after_ms}ms"),
            Ev::MessageSend { n } => write!(out, "#{n}"),
            Ev::Done(o) => write!(out, "{}", o.name()),
            Ev::Close1011 { reason } | Ev::Close1008 { reason } => {
                write!(out, "\"{}\" ({reason})", reason.close_text())
            }
            Ev::AcceptSleep { ms } | Ev::Hold { ms } => write!(out, "{ms}ms"),
            Ev::AuthOk { ms } => write!(out, "after {ms}ms"),
            Ev::AuthFailed { step, ms } => write!(out, "{step} after {ms}ms"),
            Ev::WsAuthBreaker { failures, open } => write!(
                out,
                "failures={failures}{}",
                if *open { " OPEN" } else { "" }
            ),
            Ev::AuthBreaker { state } => write!(out, "{state}"),
            Ev::ManagerCreated { managers } | Ev::ManagerRefused { managers } => {
                write!(out, "user has {managers}")
            }
            Ev::ManagerCleanup { reclaimed } | Ev::ManagerSweep { reclaimed } => {
                write!(out, "reclaimed {reclaimed}")
            }
            Ev::ServiceCheck { kind } => write!(out, "{kind}"),
            Ev::UserIdRejected { user_id } => write!(out, "{user_id:?}"),
            Ev::Reconnect { attempt } => write!(out, "#{attempt}"),
            _ => Ok(()),
        };
    }
}

/// Renders one event as a fixed-column line (no newline).
pub fn render_line(e: &Event, out: &mut String) {
    let _ = write!(out, "{:>9}  {:<10} {:<16}", e.t, e.actor, e.ev.name());
    let start = out.len();
    out.push(' ');
    e.ev.details(out);
    if out.len() == start + 1 {
        out.truncate(start);
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
}

/// Renders the whole trace, one line per event.
pub fn render(events: &[Event]) -> String {
    let mut out = String::with_capacity(events.len() * 64);
    for e in events {
        render_line(e, &mut out);
        out.push('\n');
    }
    out
}

/// FNV-1a 64 of the rendered trace, as 16 hex digits.
pub fn hash(events: &[Event]) -> String {
    let mut h = TraceHasher::default();
    for e in events {
        h.push(e);
    }
    h.hex()
}

/// The trace hash computed line by line, without keeping the rendered text: the same value
/// as [`fnv1a64`] of [`render`], in memory of one line.
#[derive(Clone, Debug)]
pub struct TraceHasher {
    h: u64,
    line: String,
}

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher {
            h: FNV_OFFSET,
            line: String::with_capacity(96),
        }
    }
}

impl TraceHasher {
    /// Adds one event's line (and its newline) to the hash.
    pub fn push(&mut self, e: &Event) {
        self.line.clear();
        render_line(e, &mut self.line);
        self.line.push('\n');
        self.h = fnv1a64_from(self.h, self.line.as_bytes());
    }

    /// The hash so far, as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.h)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_from(FNV_OFFSET, bytes)
}

/// FNV-1a 64 continued from `h` over `bytes`.
fn fnv1a64_from(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

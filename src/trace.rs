//! Trace events, their fixed-column rendering, and the trace hash.
//!
//! A run records compact events; text is rendered only on demand (replay, snapshots, hashing),
//! so search pays nothing for it. The hash is 64-bit FNV-1a over the UTF-8 bytes of the
//! rendered text (each line ended by `\n`), printed as 16 lowercase hex digits: the same on
//! every platform, and it changes whenever any rendered line changes.

use std::fmt::Write as _;

use crate::vocab::{Actor, Check, Outcome};

/// What a probe returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// It said ready.
    Ready,
    /// It said not ready.
    NotReady,
    /// It raised; the error was logged at DEBUG and counted as not ready.
    RaisedDebug,
    /// It raised; the error was logged at ERROR and counted as not ready.
    RaisedError,
    /// An un-awaited coroutine was taken as truthy: the probe never ran.
    Unawaited,
}

/// How a check came to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassVia {
    /// A probe said ready (and any grace ran) at `probed_at`.
    Probe {
        /// When the probe that said ready read the state.
        probed_at: u64,
    },
    /// Staging masking turned a false or raising probe into ready.
    Masked,
    /// An un-awaited probe.
    Unawaited,
    /// The reference re-check at the instant of publishing.
    Recheck,
}

/// Why the manager tried to connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectWhy {
    /// `initialize()` in phase CACHE.
    Init,
    /// The reconnect task.
    Reconnect,
    /// `get_client()` found no connected client.
    Inline,
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A startup phase began.
    Phase(&'static str),
    /// `startup_complete` was set.
    StartupComplete,
    /// `gcp_websocket_ready` was set to true.
    GcpReadyFlag,
    /// DeterministicStartupError was raised.
    StartupError,
    /// Staging bypass: the failure was logged and startup carried on.
    Bypassed,
    /// The worker process exited.
    WorkerExit,
    /// The validator started (`gcp`: whether it thinks it runs in GCP).
    ValidatorStart {
        /// GCP detected.
        gcp: bool,
        /// Whether it checks anything (GCP, or a policy that validates everywhere).
        validates: bool,
    },
    /// Outside GCP the validator skips everything and reports ready.
    Skipped,
    /// A check began.
    CheckStart {
        /// Which.
        check: Check,
        /// Retries R.
        retries: u32,
        /// Delay d.
        delay_ms: u64,
        /// Declared timeout T.
        declared_ms: u64,
        /// Group timeout G.
        group_ms: u64,
    },
    /// A probe read the state.
    Probe {
        /// Which check.
        check: Check,
        /// What it returned.
        result: ProbeResult,
    },
    /// A poll-loop sleep.
    PollSleep {
        /// For how long.
        ms: u64,
    },
    /// An async grace began.
    Grace {
        /// For how long.
        ms: u64,
    },
    /// The event loop froze (a blocking call).
    Freeze {
        /// For how long.
        ms: u64,
    },
    /// A check passed.
    CheckPassed {
        /// Which.
        check: Check,
        /// How.
        via: PassVia,
    },
    /// A check failed.
    CheckFailed {
        /// Which.
        check: Check,
        /// Whether it fails its phase.
        critical: bool,
        /// From the check's start.
        elapsed_ms: u64,
        /// Whether the circular check failed because startup was not complete.
        circular: bool,
    },
    /// The event-driven wait began.
    WaitGate {
        /// Its deadline (absolute).
        deadline_ms: u64,
    },
    /// The readiness gate woke the waiter.
    GateWoke,
    /// The wait hit its deadline.
    DeadlineHit,
    /// The validator published its verdict.
    Verdict {
        /// Ready or not.
        ready: bool,
        /// From the validator's start.
        elapsed_ms: u64,
        /// The redis readiness it rests on was probed at this time (for stale-verdict).
        redis_probed_at: Option<u64>,
    },
    /// A connect attempt began (the old client is discarded).
    ConnectStart {
        /// Why.
        why: ConnectWhy,
    },
    /// Connected: client present, failures 0, retry delay 1000.
    Connected,
    /// The attempt was refused.
    ConnectRefused {
        /// Consecutive failures now.
        failures: u32,
    },
    /// `connected = false` and the client dropped.
    ClientDropped,
    /// The breaker recorded a failure.
    BreakerFailure {
        /// Consecutive failures.
        consecutive: u32,
        /// Whether it is open now.
        open: bool,
    },
    /// The breaker recorded a success.
    BreakerSuccess {
        /// Whether this closed an open breaker (non-sticky breakers only).
        closed: bool,
    },
    /// The reconnect task sleeps.
    Backoff {
        /// For how long.
        ms: u64,
    },
    /// The reconnect task paused after too many failures.
    LongPause,
    /// A background task woke later than it asked (the loop was frozen).
    WokeLate {
        /// By how much.
        late_ms: u64,
    },
    /// A health ping.
    HealthPing {
        /// Whether it answered in time.
        ok: bool,
    },
    /// Health failure: `connected = false`, client kept.
    HealthFailed,
    /// A data operation failed: `connected = false`, client kept.
    OpFailed,
    /// `get_client()` found the breaker blocking.
    BreakerBlocked,
    /// `get_client()` found no connected client: it reconnects inline.
    NoClient,
    /// A connect attempt found the connect lock held and waits for it.
    LockWait,
    /// After waiting for the lock, the holder's connection is used (no attempt).
    ConnectReused,
    /// The handshake reached the manager's ping timeout: a failure.
    ConnectTimedOut {
        /// Consecutive failures now.
        failures: u32,
    },
    /// `get_client()`'s ping timed out or failed.
    PingFailed {
        /// After how long.
        after_ms: u64,
    },
    /// The reference gate published readiness.
    GatePublish {
        /// Ready or not.
        ready: bool,
    },
    /// A client arrived.
    Arrive,
    /// Nothing listens: refused.
    Refused,
    /// Waiting in the listen backlog.
    Backlog,
    /// Dispatched to the app.
    Dispatch,
    /// The worker exited with the client in the backlog.
    Reset,
    /// The guard admitted the connection as ready.
    Admit {
        /// The probe behind the admission, if any.
        via: PassVia,
    },
    /// Accepted without a guard.
    Accept,
    /// Accepted in degraded mode after the guard said not ready.
    AcceptDegraded,
    /// HTTP 503 with Retry-After.
    Reject503 {
        /// The Retry-After.
        retry_after_ms: u64,
    },
    /// A retry after a 503.
    Retry,
    /// Held in the startup queue (never accepted).
    Queued,
    /// The route returned without accepting a queued connection: its handshake fails now.
    RouteReturned,
    /// The queue dropped an expired entry (its close reaches no one).
    QueueDropped,
    /// A message was sent.
    MessageSend {
        /// 1-based.
        n: u32,
    },
    /// The message was handled.
    MessageHandled,
    /// A silent default: reported handled, but lost.
    MessageLost,
    /// The client got an error frame.
    ErrorFrame,
    /// The socket was closed with 1011.
    Close1011,
    /// The client's final outcome.
    Done(Outcome),
}

/// One trace line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Virtual ms.
    pub t: u64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub ev: Ev,
}

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
            Ev::Close1011 => "close-1011",
            Ev::Done(_) => "outcome",
        }
    }

    fn details(&self, out: &mut String) {
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
    format!("{:016x}", fnv1a64(render(events).as_bytes()))
}

/// 64-bit FNV-1a.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn lines_have_fixed_columns() {
        let e = Event {
            t: 9670,
            actor: Actor::Validator,
            ev: Ev::Verdict {
                ready: false,
                elapsed_ms: 7508,
                redis_probed_at: None,
            },
        };
        let mut s = String::new();
        render_line(&e, &mut s);
        assert_eq!(
            s,
            "     9670  validator  verdict          failed elapsed=7508ms"
        );
        let e2 = Event {
            t: 0,
            actor: Actor::Client(12),
            ev: Ev::Arrive,
        };
        let mut s2 = String::new();
        render_line(&e2, &mut s2);
        assert_eq!(s2, "        0  client#12  arrive");
    }
}

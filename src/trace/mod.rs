//! Trace events, their fixed-column rendering, and the trace hash.
//!
//! A run records compact events; text is rendered only on demand (replay, snapshots, hashing),
//! so search pays nothing for it. The hash is 64-bit FNV-1a over the UTF-8 bytes of the
//! rendered text (each line ended by `\n`), printed as 16 lowercase hex digits: the same on
//! every platform, and it changes whenever any rendered line changes.

mod render;

pub use render::{fnv1a64, hash, render, render_line, TraceHasher};

use crate::vocab::{names, Actor, Check, ConnectionCheck, Outcome, Reason};

names! {
    /// The step of authentication that failed a connection.
    pub enum AuthStep {
        /// The WebSocket authenticator's breaker was open (a fast failure, not counted).
        WsBreaker => "ws-breaker",
        /// The health pre-check timed out or met an outage.
        Precheck => "precheck",
        /// The auth-service breaker was open, or half-open with its trials taken.
        Breaker => "breaker",
        /// The call timed out or met an outage.
        Call => "call",
        /// The service rejected the token.
        Rejected => "rejected",
    }
}

names! {
    /// The auth-service breaker's state.
    pub enum BreakerState {
        /// Calls go through.
        Closed => "closed",
        /// Calls fail at once.
        Open => "open",
        /// Up to three trial calls go through.
        HalfOpen => "half-open",
    }
}

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
    /// The server closed the socket with 1011.
    Close1011 {
        /// Why.
        reason: Reason,
    },
    /// The server closed the socket with 1008 (a failed authentication outside route f3).
    Close1008 {
        /// Why.
        reason: Reason,
    },
    /// The route's sleeps after accept.
    AcceptSleep {
        /// For how long.
        ms: u64,
    },
    /// Authentication passed.
    AuthOk {
        /// How long it took.
        ms: u64,
    },
    /// Authentication failed.
    AuthFailed {
        /// At which step.
        step: AuthStep,
        /// How long it took.
        ms: u64,
    },
    /// The WebSocket authenticator's breaker counted a failure or reset.
    WsAuthBreaker {
        /// Failures counted now.
        failures: u32,
        /// Whether it is open now.
        open: bool,
    },
    /// The auth-service breaker changed state.
    AuthBreaker {
        /// The new state.
        state: BreakerState,
    },
    /// The factory created a per-user manager.
    ManagerCreated {
        /// The user's managers now.
        managers: u32,
    },
    /// The emergency cleanup ran for this user.
    ManagerCleanup {
        /// Managers reclaimed.
        reclaimed: u32,
    },
    /// The factory refused: the user holds the limit.
    ManagerRefused {
        /// The user's managers.
        managers: u32,
    },
    /// The background sweep ran.
    ManagerSweep {
        /// Managers reclaimed.
        reclaimed: u32,
    },
    /// The per-connection service check began.
    ServiceCheck {
        /// Which.
        kind: ConnectionCheck,
    },
    /// The user-ID format check refused the client's id.
    UserIdRejected {
        /// The id (escaped when printed).
        user_id: String,
    },
    /// The welcome frame (connection established) was sent.
    Welcome,
    /// The server keepalive sent a ping and waits `wait_ms` for its pong (not rendered: the
    /// wait is the keepalive interval, a constant of the run, so traces and their hashes stay
    /// as they were).
    KeepalivePing {
        /// How long the server waits for the pong.
        wait_ms: u64,
    },
    /// Its pong was processed.
    Pong,
    /// The client keeps its socket open this long.
    Hold {
        /// For how long.
        ms: u64,
    },
    /// The client closed its socket normally.
    ClientClose,
    /// The client reconnects after a server close or a reset.
    Reconnect {
        /// Which reconnect (1-based).
        attempt: u32,
    },
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
    fn the_streamed_hash_equals_the_hash_of_the_rendered_text() {
        let events: Vec<Event> = (0..50)
            .map(|i| Event {
                t: i * 7,
                actor: Actor::Client(i as u32),
                ev: if i % 2 == 0 {
                    Ev::Arrive
                } else {
                    Ev::ClientClose
                },
            })
            .collect();
        let whole = format!("{:016x}", fnv1a64(render(&events).as_bytes()));
        assert_eq!(hash(&events), whole);
        assert_ne!(hash(&events[1..]), whole);
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

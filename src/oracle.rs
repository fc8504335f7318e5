//! The oracles: the Operational(t) ground truth rebuilt from the trace, and one rule per named
//! violation. They read the scenario's environment and the trace only, never policy code, so a
//! policy bug cannot hide itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::server::ServerModel;
use crate::model::RunOutput;
use crate::scenario::{Preset, Scenario};
use crate::trace::{Actor, Check, Ev, Event, PassVia, ProbeResult};

/// A named violation (`model.md` section 4, plus `hang`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Violation {
    /// Redis declared ready while not Operational.
    FalseReady,
    /// The redis check failed although Redis was Operational long enough.
    SpuriousFailure,
    /// A check failed far from its declared timeout.
    DeadConfig,
    /// A probe error was logged below WARN or turned into ready.
    MaskedProbeError,
    /// A probe result was used without the probe running.
    UnawaitedProbe,
    /// The event loop froze for more than 50 ms.
    BlockedLoop,
    /// A published ready differed from a probe at the instant of publishing.
    StaleVerdict,
    /// A check waited on state only the end of startup produces.
    SelfDependency,
    /// A 1011 close of the system's own doing.
    Ws1011,
    /// A client attempt ended without an outcome it could see.
    LostConnection,
    /// A message was neither handled nor answered.
    LostMessage,
    /// A readiness flag claimed something false.
    LyingFlag,
    /// The same scenario gave a different trace.
    Nondeterminism,
    /// The run ended (horizon, step budget, deadlock) before startup and every client did.
    Hang,
}

impl Violation {
    /// Every violation, in name order.
    pub const ALL: [Violation; 14] = [
        Violation::BlockedLoop,
        Violation::DeadConfig,
        Violation::FalseReady,
        Violation::Hang,
        Violation::LostConnection,
        Violation::LostMessage,
        Violation::LyingFlag,
        Violation::MaskedProbeError,
        Violation::Nondeterminism,
        Violation::SelfDependency,
        Violation::SpuriousFailure,
        Violation::StaleVerdict,
        Violation::UnawaitedProbe,
        Violation::Ws1011,
    ];

    /// The stable name used in files, JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Violation::FalseReady => "false-ready",
            Violation::SpuriousFailure => "spurious-failure",
            Violation::DeadConfig => "dead-config",
            Violation::MaskedProbeError => "masked-probe-error",
            Violation::UnawaitedProbe => "unawaited-probe",
            Violation::BlockedLoop => "blocked-loop",
            Violation::StaleVerdict => "stale-verdict",
            Violation::SelfDependency => "self-dependency",
            Violation::Ws1011 => "ws-1011",
            Violation::LostConnection => "lost-connection",
            Violation::LostMessage => "lost-message",
            Violation::LyingFlag => "lying-flag",
            Violation::Nondeterminism => "nondeterminism",
            Violation::Hang => "hang",
        }
    }

    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Violation> {
        Violation::ALL.into_iter().find(|v| v.name() == s)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A loop freezing longer than this is a `blocked-loop`.
pub const BLOCKED_LOOP_MS: u64 = 50;
/// The breaker allows a call only when more than this has passed since the last failure.
const BREAKER_RECOVERY_MS: u64 = 60_000;

/// The manager's state as the trace tells it, and the server's as the scenario does.
struct Ground<'a> {
    server: &'a ServerModel,
    stabilize_ms: u64,
    ping_timeout_ms: u64,
    connected: bool,
    client: bool,
    connected_at: Option<u64>,
    breaker_open: bool,
    breaker_closed_at: u64,
    last_failure: Option<u64>,
}

impl Ground<'_> {
    fn apply(&mut self, e: &Event) {
        match e.ev {
            Ev::ConnectStart { .. } | Ev::ClientDropped => {
                self.connected = false;
                self.client = false;
            }
            Ev::Connected => {
                self.connected = true;
                self.client = true;
                self.connected_at = Some(e.t);
            }
            Ev::HealthFailed | Ev::OpFailed => self.connected = false,
            Ev::BreakerFailure { open, .. } => {
                self.last_failure = Some(e.t);
                self.breaker_open = open;
            }
            Ev::BreakerSuccess { closed: true } => {
                self.breaker_open = false;
                self.breaker_closed_at = e.t;
            }
            _ => {}
        }
    }

    fn is_connected(&self) -> bool {
        self.connected && self.client
    }

    /// Since when Operational has held without a break, if it holds at `t`.
    fn operational_since(&self, t: u64) -> Option<u64> {
        if !self.is_connected() {
            return None;
        }
        let up = self.server.up_since(t)?;
        let stable = self.connected_at?.saturating_add(self.stabilize_ms);
        if t < stable {
            return None;
        }
        let breaker = if self.breaker_open {
            let allowed = self.last_failure.map_or(0, |f| f + BREAKER_RECOVERY_MS + 1);
            if t < allowed {
                return None;
            }
            allowed
        } else {
            self.breaker_closed_at
        };
        Some(up.max(stable).max(breaker))
    }

    fn operational(&self, t: u64) -> bool {
        self.operational_since(t).is_some()
    }

    /// Since when Redis has been *usable* without a break: Operational, and answering a ping
    /// within the manager's own ping timeout. A failure is only spurious against a usable Redis
    /// (a server that takes a minute to answer is up, but nobody could call it ready).
    fn usable_since(&self, t: u64) -> Option<u64> {
        let op = self.operational_since(t)?;
        let responsive = self.server.responsive_since(t, self.ping_timeout_ms)?;
        Some(op.max(responsive))
    }
}

/// The declared constants of the check an actor is running.
#[derive(Clone, Copy)]
struct OpenCheck {
    start: u64,
    declared_ms: u64,
    delay_ms: u64,
}

/// Every violation of the run (all but `nondeterminism`, which needs a second run).
pub fn check(sc: &Scenario, out: &RunOutput) -> BTreeSet<Violation> {
    let server = ServerModel::new(&sc.redis.server);
    let mut g = Ground {
        server: &server,
        stabilize_ms: sc.redis.manager.stabilize_ms,
        ping_timeout_ms: sc.redis.manager.ping_timeout_ms,
        connected: false,
        client: false,
        connected_at: None,
        breaker_open: false,
        breaker_closed_at: 0,
        last_failure: None,
    };
    let reference = sc.policy.preset == Preset::Reference;
    let mut v = BTreeSet::new();
    let mut open: BTreeMap<ActorKey, OpenCheck> = BTreeMap::new();
    let mut verdict_ready = None;
    for e in &out.trace {
        g.apply(e);
        let t = e.t;
        let stale = |probed_at: u64| probed_at < t && !g.is_connected();
        match &e.ev {
            Ev::CheckStart {
                declared_ms,
                delay_ms,
                ..
            } => {
                open.insert(
                    ActorKey(e.actor),
                    OpenCheck {
                        start: t,
                        declared_ms: *declared_ms,
                        delay_ms: *delay_ms,
                    },
                );
            }
            Ev::CheckPassed {
                check: Check::Redis,
                via,
            } => {
                if !g.operational(t) {
                    v.insert(Violation::FalseReady);
                }
                if let PassVia::Probe { probed_at } = via {
                    if stale(*probed_at) {
                        v.insert(Violation::StaleVerdict);
                    }
                }
            }
            Ev::CheckFailed {
                check,
                elapsed_ms,
                circular,
                ..
            } => {
                if let Some(c) = open.get(&ActorKey(e.actor)) {
                    if elapsed_ms.abs_diff(c.declared_ms) > c.delay_ms {
                        v.insert(Violation::DeadConfig);
                    }
                    let latest_x = c
                        .start
                        .saturating_add(c.declared_ms.saturating_sub(c.delay_ms));
                    if *check == Check::Redis
                        && g.usable_since(t).is_some_and(|since| since <= latest_x)
                    {
                        v.insert(Violation::SpuriousFailure);
                    }
                }
                if *circular {
                    v.insert(Violation::SelfDependency);
                }
            }
            Ev::Probe { result, .. } => match result {
                ProbeResult::RaisedDebug => {
                    v.insert(Violation::MaskedProbeError);
                }
                ProbeResult::Unawaited => {
                    v.insert(Violation::UnawaitedProbe);
                }
                _ => {}
            },
            Ev::Freeze { ms } if *ms > BLOCKED_LOOP_MS => {
                v.insert(Violation::BlockedLoop);
            }
            Ev::Verdict {
                ready,
                redis_probed_at,
                ..
            } => {
                verdict_ready = Some(*ready);
                if *ready {
                    if !g.operational(t) {
                        v.insert(Violation::FalseReady);
                    }
                    if redis_probed_at.is_some_and(stale) {
                        v.insert(Violation::StaleVerdict);
                    }
                }
            }
            Ev::Admit { via } => {
                if !g.operational(t) {
                    v.insert(Violation::FalseReady);
                }
                if let PassVia::Probe { probed_at } = via {
                    if stale(*probed_at) {
                        v.insert(Violation::StaleVerdict);
                    }
                }
            }
            Ev::GcpReadyFlag => {
                if !g.operational(t) {
                    v.insert(Violation::FalseReady);
                }
                if verdict_ready == Some(false) {
                    v.insert(Violation::LyingFlag);
                }
            }
            Ev::Close1011 if reference || server.up(t) => {
                v.insert(Violation::Ws1011);
            }
            Ev::QueueDropped => {
                v.insert(Violation::LostConnection);
            }
            Ev::MessageLost => {
                v.insert(Violation::LostMessage);
            }
            _ => {}
        }
    }
    if out.hung() {
        v.insert(Violation::Hang);
    }
    v
}

/// Orders actors for the per-actor open-check map.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ActorKey(Actor);

impl ActorKey {
    fn rank(self) -> (u8, u32) {
        match self.0 {
            Actor::Startup => (0, 0),
            Actor::Validator => (1, 0),
            Actor::Manager => (2, 0),
            Actor::Reconnect => (3, 0),
            Actor::Health => (4, 0),
            Actor::Gateway => (5, 0),
            Actor::Client(n) => (6, n),
        }
    }
}

impl PartialOrd for ActorKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ActorKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

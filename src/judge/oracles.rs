//! One rule per named violation, applied while folding the trace into the ground truth.

use std::collections::BTreeMap;

use super::ground::Ground;
use super::{Contract, Env};
use crate::spec::BLOCKED_LOOP_MS;
use crate::trace::{Ev, Event, PassVia, ProbeResult};
use crate::vocab::{Actor, Check, Reason, Violation};

/// The declared constants of the check an actor is running.
#[derive(Clone, Copy)]
struct OpenCheck {
    start: u64,
    declared_ms: u64,
    delay_ms: u64,
}

/// Where a violation happened: an actor of the system, or one attempt of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// The run as a whole (`hang`).
    Run,
    /// An actor other than a client: the validator's checks, startup's flags.
    Actor(Actor),
    /// Client `index` (1-based, as in the trace), its `attempt`-th connection (0 = the first).
    Client {
        /// 1-based client index.
        index: u32,
        /// 0 for the first connection, then one per reconnect.
        attempt: u32,
    },
}

/// One violation at one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Finding {
    /// Which property.
    pub violation: Violation,
    /// Where.
    pub site: Site,
}

/// The findings of one judgement, each with the instant it first happened, and each
/// client's current attempt. Small keyed lists, not maps: a run has a handful of findings and
/// actors, and the judge runs once per search case, so a map's allocations would dominate.
#[derive(Default)]
struct Found {
    set: Keyed<Finding, u64>,
    attempts: Keyed<u32, u32>,
}

impl Found {
    fn insert(&mut self, violation: Violation, e: &Event) {
        let site = match e.actor {
            Actor::Client(index) => Site::Client {
                index,
                attempt: self.attempts.get(index).unwrap_or(0),
            },
            a => Site::Actor(a),
        };
        // The first instant wins.
        self.set.insert_absent(Finding { violation, site }, e.t);
    }

    /// The findings keyed and ordered as callers see them.
    fn into_map(self) -> BTreeMap<Finding, u64> {
        self.set.0.into_iter().collect()
    }
}

/// A map with few keys kept as a list in insertion order: lookups scan.
struct Keyed<K, V>(Vec<(K, V)>);

impl<K, V> Default for Keyed<K, V> {
    fn default() -> Self {
        Keyed(Vec::new())
    }
}

impl<K: PartialEq, V: Copy> Keyed<K, V> {
    fn get(&self, k: K) -> Option<V> {
        self.0.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
    }

    /// Sets `k` to `v`, replacing an earlier value.
    fn insert(&mut self, k: K, v: V) {
        match self.0.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
    }

    /// Sets `k` to `v` unless `k` already has a value.
    fn insert_absent(&mut self, k: K, v: V) {
        if !self.0.iter().any(|(key, _)| *key == k) {
            self.0.push((k, v));
        }
    }
}

/// Every violation of a run's trace with the site where it happened and the instant it first
/// did (all but `nondeterminism`, which needs a second run; `hang`, at the run's last event,
/// when the run ended before everything it waited for).
pub fn findings(
    env: &Env,
    trace: &[Event],
    contract: Contract,
    hung: bool,
) -> BTreeMap<Finding, u64> {
    let mut r = Rules {
        env,
        contract,
        g: Ground::new(env),
        v: Found::default(),
        open: Keyed::default(),
        raised_last: Keyed::default(),
        pong_wait: Keyed::default(),
        verdict_ready: None,
    };
    for e in trace {
        r.g.apply(e);
        if let (Ev::Reconnect { attempt }, Actor::Client(n)) = (&e.ev, e.actor) {
            r.v.attempts.insert(n, *attempt);
        }
        // Each event is one family's: the two take disjoint sets of events.
        let _ = r.readiness(e) || r.serving(e);
    }
    let mut set = r.v.into_map();
    if hung {
        set.insert(
            Finding {
                violation: Violation::Hang,
                site: Site::Run,
            },
            trace.last().map_or(0, |e| e.t),
        );
    }
    set
}

/// The oracles' state along one trace: the ground truth, what was found, and what each rule
/// remembers of earlier events.
struct Rules<'a> {
    env: &'a Env<'a>,
    contract: Contract,
    g: Ground<'a>,
    v: Found,
    open: Keyed<Actor, OpenCheck>,
    /// Whether each actor's latest probe raised: masking it into ready hides the error.
    raised_last: Keyed<Actor, bool>,
    /// Each client's latest keepalive pong wait.
    pong_wait: Keyed<Actor, u64>,
    verdict_ready: Option<bool>,
}

impl Rules<'_> {
    /// A verdict from a probe taken before `t` while Redis is not connected now.
    fn stale(&self, probed_at: u64, t: u64) -> bool {
        probed_at < t && !self.g.is_connected()
    }

    /// Readiness: the validator's checks, probes and verdict, the guard's admits, the flag.
    fn readiness(&mut self, e: &Event) -> bool {
        let t = e.t;
        match &e.ev {
            Ev::CheckStart {
                declared_ms,
                delay_ms,
                ..
            } => {
                let c = OpenCheck {
                    start: t,
                    declared_ms: *declared_ms,
                    delay_ms: *delay_ms,
                };
                self.open.insert(e.actor, c);
            }
            Ev::CheckPassed {
                check: Check::Redis,
                via,
            } => {
                if !self.g.operational(t) {
                    self.v.insert(Violation::FalseReady, e);
                }
                if *via == PassVia::Masked && self.raised_last.get(e.actor) == Some(true) {
                    self.v.insert(Violation::MaskedProbeError, e);
                }
                if let PassVia::Probe { probed_at } = via {
                    if self.stale(*probed_at, t) {
                        self.v.insert(Violation::StaleVerdict, e);
                    }
                }
            }
            Ev::CheckFailed {
                check,
                elapsed_ms,
                circular,
                ..
            } => self.check_failed(e, *check, *elapsed_ms, *circular),
            Ev::Probe { result, .. } => {
                match result {
                    ProbeResult::RaisedDebug => self.v.insert(Violation::MaskedProbeError, e),
                    ProbeResult::Unawaited => self.v.insert(Violation::UnawaitedProbe, e),
                    _ => {}
                }
                let raised = matches!(result, ProbeResult::RaisedDebug | ProbeResult::RaisedError);
                self.raised_last.insert(e.actor, raised);
            }
            Ev::Verdict {
                ready,
                redis_probed_at,
                ..
            } => {
                self.verdict_ready = Some(*ready);
                if *ready {
                    if !self.g.operational(t) {
                        self.v.insert(Violation::FalseReady, e);
                    }
                    if redis_probed_at.is_some_and(|p| self.stale(p, t)) {
                        self.v.insert(Violation::StaleVerdict, e);
                    }
                }
            }
            Ev::Admit { via } => {
                if !self.g.operational(t) {
                    self.v.insert(Violation::FalseReady, e);
                }
                if let PassVia::Probe { probed_at } = via {
                    if self.stale(*probed_at, t) {
                        self.v.insert(Violation::StaleVerdict, e);
                    }
                }
            }
            Ev::GcpReadyFlag => {
                if !self.g.operational(t) {
                    self.v.insert(Violation::FalseReady, e);
                }
                if self.verdict_ready == Some(false) {
                    self.v.insert(Violation::LyingFlag, e);
                }
            }
            _ => return false,
        }
        true
    }

    /// A failed check: past its declared timeout (dead config), failed although Redis was
    /// usable in time (spurious), or waiting on itself (circular).
    fn check_failed(&mut self, e: &Event, check: Check, elapsed_ms: u64, circular: bool) {
        let t = e.t;
        if let Some(c) = self.open.get(e.actor) {
            if elapsed_ms.abs_diff(c.declared_ms) > c.delay_ms {
                self.v.insert(Violation::DeadConfig, e);
            }
            let latest_x = c
                .start
                .saturating_add(c.declared_ms.saturating_sub(c.delay_ms));
            if check == Check::Redis
                && self
                    .g
                    .usable_since(t)
                    .is_some_and(|since| since <= latest_x)
            {
                self.v.insert(Violation::SpuriousFailure, e);
            }
        }
        if circular {
            self.v.insert(Violation::SelfDependency, e);
        }
    }

    /// Serving: blocked loops, 1011 closes, connections and messages lost.
    fn serving(&mut self, e: &Event) -> bool {
        match &e.ev {
            Ev::Freeze { ms } if *ms > BLOCKED_LOOP_MS => {
                self.v.insert(Violation::BlockedLoop, e);
            }
            Ev::KeepalivePing { wait_ms } => self.pong_wait.insert(e.actor, *wait_ms),
            // Every 1011 of the accept path is the system's own doing; a 1011 for a Redis
            // error only while the server is up; under the strict contract, any 1011. Never
            // a keepalive close of a client whose own round trip is at least the pong wait:
            // that client was unresponsive, whatever the server did.
            Ev::Close1011 { reason } => {
                let unresponsive = *reason == Reason::Keepalive
                    && match (e.actor, self.pong_wait.get(e.actor)) {
                        (Actor::Client(n), Some(wait)) => {
                            self.env.rtt_ms(n).is_some_and(|r| r >= wait)
                        }
                        _ => false,
                    };
                let own = *reason != Reason::RedisError || self.env.server.up(e.t);
                if (own || self.contract.strict) && !unresponsive {
                    self.v.insert(Violation::Ws1011, e);
                }
            }
            Ev::RouteReturned => self.v.insert(Violation::LostConnection, e),
            Ev::MessageLost => self.v.insert(Violation::LostMessage, e),
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::RedisServer;

    fn at(t: u64, actor: Actor, ev: Ev) -> Event {
        Event { t, actor, ev }
    }

    /// A finding keeps the instant it first happened, and a client's findings are filed
    /// under the attempt that was current when they happened.
    #[test]
    fn findings_keep_their_first_instant_and_the_attempt_they_happened_in() {
        let server = RedisServer::default();
        let env = Env {
            server: &server,
            stabilize_ms: 0,
            ping_timeout_ms: 100,
            clients: &[],
        };
        let c = Actor::Client(1);
        let trace = [
            at(10, c, Ev::RouteReturned),
            at(20, c, Ev::RouteReturned),
            at(30, c, Ev::Reconnect { attempt: 1 }),
            at(40, c, Ev::RouteReturned),
            at(50, c, Ev::MessageLost),
            at(60, c, Ev::Reconnect { attempt: 2 }),
            at(65, c, Ev::RouteReturned),
            at(70, c, Ev::Reconnect { attempt: 1 }),
            at(80, c, Ev::MessageLost),
        ];
        let got: Vec<_> = findings(&env, &trace, Contract::default(), false)
            .into_iter()
            .map(|(f, t)| (f.violation, f.site, t))
            .collect();
        let site = |attempt| Site::Client { index: 1, attempt };
        let mut want = vec![
            (Violation::LostConnection, site(0), 10),
            (Violation::LostConnection, site(1), 40),
            (Violation::LostMessage, site(1), 50),
            (Violation::LostConnection, site(2), 65),
        ];
        want.sort();
        assert_eq!(got, want);
    }
}

//! Named orderings that matter, recognised in a run's trace, so a search can say how often it
//! reached each one and which it never reached.

use super::Env;
use crate::engine::Choice;
use crate::trace::{ConnectWhy, Ev, Event, ProbeResult};
use crate::vocab::{Actor, Check};

/// The named orderings, in report order. Each is a bit of a `Reached` mask.
pub const ORDERINGS: [(&str, &str); 16] = [
    (
        "probe-before-connect",
        "the validator probed redis before the manager's first successful connect",
    ),
    (
        "connect-during-grace",
        "the manager connected while a redis grace was running",
    ),
    (
        "deadline-during-connect",
        "a redis check gave up while a connect attempt was in flight",
    ),
    (
        "pass-before-stabilised",
        "a redis check passed after a connect but before stabilize_ms had passed",
    ),
    (
        "verdict-during-outage",
        "a ready verdict was published while the Redis server was down",
    ),
    (
        "health-failure-while-serving",
        "the health task marked Redis failed after startup completed",
    ),
    (
        "breaker-open-while-connected",
        "is_connected was true while the breaker was open",
    ),
    (
        "client-in-backlog",
        "a client waited in the listen backlog during startup",
    ),
    (
        "admit-while-disconnected",
        "the per-connection guard admitted while is_connected was false",
    ),
    (
        "message-during-outage",
        "a message was sent while the Redis server was down",
    ),
    (
        "inline-reconnect",
        "get_client's ping failed and it reconnected inline",
    ),
    (
        "reconnect-long-pause",
        "the reconnect task paused 300 s after more than 10 failures",
    ),
    (
        "late-timer",
        "a background timer fired late behind a blocked event loop",
    ),
    (
        "same-instant-choice",
        "two or more tasks were ready at once and a decision picked one",
    ),
    (
        "reject-then-retry",
        "a client got a 503 and came back after Retry-After",
    ),
    (
        "queue-dropped",
        "the startup queue dropped a connection it never accepted",
    ),
];

/// A bit mask over [`ORDERINGS`].
pub type Reached = u32;

fn bit(name: &str) -> Reached {
    let i = ORDERINGS
        .iter()
        .position(|(n, _)| *n == name)
        .expect("a named ordering");
    1 << i
}

/// The orderings one run reached: its trace, and the same-instant choices its engine made.
pub fn reached(env: &Env, trace: &[Event], choices: &[Choice]) -> Reached {
    let server = env.server;
    let stabilize = env.stabilize_ms;
    let mut r: Reached = 0;
    let mut any_connected = false;
    let mut connected = false;
    let mut connected_at = 0u64;
    let mut breaker_open = false;
    let mut connecting = false;
    // Graces running, per actor (the validator's and each client guard's): one actor's check
    // passing ends only its own grace.
    let mut graces: Vec<(Actor, u64)> = Vec::new();
    let mut serving = false;
    for e in trace {
        let t = e.t;
        match &e.ev {
            Ev::Probe {
                check: Check::Redis,
                result,
            } if e.actor == Actor::Validator
                && !any_connected
                && matches!(
                    result,
                    ProbeResult::NotReady | ProbeResult::RaisedDebug | ProbeResult::RaisedError
                ) =>
            {
                r |= bit("probe-before-connect");
            }
            Ev::Grace { ms } | Ev::Freeze { ms } => {
                let until = t.saturating_add(*ms);
                match graces.iter_mut().find(|(a, _)| *a == e.actor) {
                    Some(g) => g.1 = until,
                    None => graces.push((e.actor, until)),
                }
            }
            Ev::ConnectStart { why } => {
                connecting = true;
                connected = false;
                if *why == ConnectWhy::Inline {
                    r |= bit("inline-reconnect");
                }
            }
            Ev::Connected => {
                connecting = false;
                connected = true;
                any_connected = true;
                connected_at = t;
                if graces.iter().any(|(_, g)| t < *g) {
                    r |= bit("connect-during-grace");
                }
            }
            Ev::ConnectRefused { .. } | Ev::ConnectTimedOut { .. } => connecting = false,
            Ev::ClientDropped | Ev::OpFailed => connected = false,
            Ev::HealthFailed => {
                connected = false;
                if serving {
                    r |= bit("health-failure-while-serving");
                }
            }
            Ev::BreakerFailure { open, .. } => breaker_open = *open,
            Ev::BreakerSuccess { closed: true } => breaker_open = false,
            Ev::CheckFailed {
                check: Check::Redis,
                ..
            }
            | Ev::DeadlineHit
                if connecting =>
            {
                r |= bit("deadline-during-connect");
            }
            Ev::CheckPassed {
                check: Check::Redis,
                ..
            } => {
                graces.retain(|(a, _)| *a != e.actor);
                if connected && t < connected_at.saturating_add(stabilize) {
                    r |= bit("pass-before-stabilised");
                }
            }
            Ev::Verdict { ready: true, .. } if !server.up(t) => {
                r |= bit("verdict-during-outage");
            }
            Ev::StartupComplete => serving = true,
            Ev::Backlog => r |= bit("client-in-backlog"),
            Ev::Admit { .. } if !connected => r |= bit("admit-while-disconnected"),
            Ev::MessageSend { .. } if !server.up(t) => r |= bit("message-during-outage"),
            Ev::LongPause => r |= bit("reconnect-long-pause"),
            Ev::WokeLate { .. } => r |= bit("late-timer"),
            Ev::Retry => r |= bit("reject-then-retry"),
            Ev::RouteReturned => r |= bit("queue-dropped"),
            _ => {}
        }
        if connected && breaker_open {
            r |= bit("breaker-open-while-connected");
        }
    }
    if choices.iter().any(|c| c.ready >= 2) {
        r |= bit("same-instant-choice");
    }
    r
}

/// Per-ordering counts of cases that reached it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts(pub [u64; ORDERINGS.len()]);

impl Counts {
    /// Adds one run's mask.
    pub fn add(&mut self, r: Reached) {
        for (i, c) in self.0.iter_mut().enumerate() {
            if r & (1 << i) != 0 {
                *c += 1;
            }
        }
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, o: &Counts) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a += b;
        }
    }

    /// (name, count) in report order.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        ORDERINGS
            .iter()
            .zip(self.0.iter())
            .map(|((n, _), c)| (*n, *c))
            .collect()
    }

    /// Names never reached.
    pub fn never(&self) -> Vec<&'static str> {
        self.named()
            .into_iter()
            .filter(|(_, c)| *c == 0)
            .map(|(n, _)| n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    /// Client 1's check passes at 5501 while client 2's guard grace runs (5301-5801); client
    /// 1's inline reconnect completes at 5756, inside client 2's grace.
    #[test]
    fn a_connect_inside_one_clients_grace_counts_after_another_clients_check_passed() {
        let src = r#"
format = 1
name = "t"
summary = "t"
[policy]
preset = "p8"
[redis.server]
ping_spikes = [{ at_ms = 5500, extra_ms = 150 }]
[[clients]]
at_ms = 5000
messages = 1
[[clients]]
at_ms = 5300
messages = 1
"#;
        let sc = crate::scenario::parse(src, std::path::Path::new("<t>"), None).expect("loads");
        let out = crate::model::run(&sc, EngineKind::Fast);
        let r = reached(&Env::of(&sc), &out.trace, &out.engine.choices);
        assert_ne!(r & bit("connect-during-grace"), 0);
        let mut early = sc.clone();
        early.clients[1].at_ms = 5000;
        let out = crate::model::run(&early, EngineKind::Fast);
        let r = reached(&Env::of(&early), &out.trace, &out.engine.choices);
        assert_eq!(r & bit("connect-during-grace"), 0);
    }
}

//! One rule per named violation, applied while folding the trace into the ground truth.

use std::collections::{BTreeMap, BTreeSet};

use super::ground::Ground;
use super::{Contract, Env};
use crate::spec::BLOCKED_LOOP_MS;
use crate::trace::{Ev, Event, PassVia, ProbeResult};
use crate::vocab::{Actor, Check, Violation};

/// The declared constants of the check an actor is running.
#[derive(Clone, Copy)]
struct OpenCheck {
    start: u64,
    declared_ms: u64,
    delay_ms: u64,
}

/// Every violation of a run's trace (all but `nondeterminism`, which needs a second run;
/// `hang` when the run ended before everything it waited for happened).
pub fn violations(
    env: &Env,
    trace: &[Event],
    contract: Contract,
    hung: bool,
) -> BTreeSet<Violation> {
    let mut g = Ground::new(env);
    let mut v = BTreeSet::new();
    let mut open: BTreeMap<Actor, OpenCheck> = BTreeMap::new();
    // Whether each actor's latest probe raised: masking it into ready hides the error.
    let mut raised_last: BTreeMap<Actor, bool> = BTreeMap::new();
    let mut verdict_ready = None;
    for e in trace {
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
                    e.actor,
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
                if *via == PassVia::Masked && raised_last.get(&e.actor) == Some(&true) {
                    v.insert(Violation::MaskedProbeError);
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
                if let Some(c) = open.get(&e.actor) {
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
            Ev::Probe { result, .. } => {
                match result {
                    ProbeResult::RaisedDebug => {
                        v.insert(Violation::MaskedProbeError);
                    }
                    ProbeResult::Unawaited => {
                        v.insert(Violation::UnawaitedProbe);
                    }
                    _ => {}
                }
                let raised = matches!(result, ProbeResult::RaisedDebug | ProbeResult::RaisedError);
                raised_last.insert(e.actor, raised);
            }
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
            Ev::Close1011 if contract.strict || env.server.up(t) => {
                v.insert(Violation::Ws1011);
            }
            Ev::RouteReturned => {
                v.insert(Violation::LostConnection);
            }
            Ev::MessageLost => {
                v.insert(Violation::LostMessage);
            }
            _ => {}
        }
    }
    if hung {
        v.insert(Violation::Hang);
    }
    v
}

//! The readiness validator: checks in phases, linear and exponential poll loops, probe modes,
//! grace, staging masking, and the reference policy's event-driven wait with a real deadline.

use std::rc::Rc;

use super::manager;
use super::probe::RedisProbe;
use super::world::World;
use crate::engine::{first_of, Either};
use crate::spec;
use crate::trace::{Ev, PassVia, ProbeResult};
use crate::vocab::{Actor, Check, EnvName, GraceMode, LogLevel, LoopShape, ProbeMode};

/// Checks of each validation phase, in order.
pub const PHASES: [&[Check]; 3] = [
    &[Check::Database, Check::Redis, Check::Auth],
    &[Check::AgentSupervisor, Check::WebsocketBridge],
    &[Check::WebsocketIntegration],
];

/// The validator's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Ready (or skipped).
    pub ready: bool,
    /// Outside GCP nothing was checked.
    pub skipped: bool,
    /// From the validator's start.
    pub elapsed_ms: u64,
    /// Failed critical checks.
    pub failed: Vec<Check>,
}

/// How one check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It passed.
    Pass(PassVia),
    /// It gave up.
    Fail,
}

/// What a probe call amounts to, after staging masking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probed {
    Ready,
    NotReady,
    Raised,
    Masked,
    Unawaited,
}

/// Runs validation as startup's step 22 does, and publishes the verdict.
pub async fn run(w: &Rc<World>) -> Verdict {
    run_with(w, w).await
}

/// [`run`] with Redis seen through `p` (the world itself, or a mock in tests).
pub async fn run_with(w: &Rc<World>, p: &dyn RedisProbe) -> Verdict {
    let start = w.now();
    w.emit(
        Actor::Validator,
        Ev::ValidatorStart {
            gcp: w.gcp,
            validates: w.validates,
        },
    );
    let (verdict, redis_probed_at) = if !w.validates {
        w.emit(Actor::Validator, Ev::Skipped);
        let v = Verdict {
            ready: true,
            skipped: true,
            elapsed_ms: 0,
            failed: Vec::new(),
        };
        (v, None)
    } else if w.policy.loop_shape == LoopShape::Event {
        run_event_driven(w, p, start).await
    } else {
        run_polling(w, p, start).await
    };
    w.emit(
        Actor::Validator,
        Ev::Verdict {
            ready: verdict.ready,
            elapsed_ms: verdict.elapsed_ms,
            redis_probed_at,
        },
    );
    verdict
}

fn critical(w: &World, check: Check) -> bool {
    let noncritical = w.env == EnvName::Staging
        && w.policy.noncritical_in_staging
        && matches!(check, Check::Redis | Check::WebsocketIntegration);
    !noncritical
}

fn fail(w: &World, actor: Actor, check: Check, started: u64) -> bool {
    let crit = critical(w, check);
    let circular = check == Check::WebsocketIntegration && w.policy.circular_check;
    w.emit(
        actor,
        Ev::CheckFailed {
            check,
            critical: crit,
            elapsed_ms: w.now() - started,
            circular,
        },
    );
    crit
}

async fn run_polling(w: &Rc<World>, p: &dyn RedisProbe, start: u64) -> (Verdict, Option<u64>) {
    let polled = poll_phases(w, p, Actor::Validator).await;
    let redis_probed_at = match polled.redis {
        Some(PassVia::Probe { probed_at }) => Some(probed_at),
        _ => None,
    };
    let v = Verdict {
        ready: polled.failed.is_empty(),
        skipped: false,
        elapsed_ms: w.now() - start,
        failed: polled.failed,
    };
    (v, redis_probed_at)
}

/// What a polling validation found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Polled {
    /// Failed critical checks, in check order.
    pub failed: Vec<Check>,
    /// How the redis check passed, if it ran and passed.
    pub redis: Option<PassVia>,
}

/// Every phase's checks one after another, as `actor` (the validator, or a client's guard
/// running the whole validation): a phase with a failed critical check ends it.
pub async fn poll_phases(w: &Rc<World>, p: &dyn RedisProbe, actor: Actor) -> Polled {
    let mut failed = Vec::new();
    let mut redis = None;
    for (i, phase) in PHASES.iter().enumerate() {
        let group = w.policy.group_timeouts()[i];
        for &check in phase.iter() {
            let started = w.now();
            match run_check_with(w, p, actor, check, group).await {
                CheckOutcome::Pass(via) => {
                    if check == Check::Redis {
                        redis = Some(via);
                    }
                }
                CheckOutcome::Fail => {
                    if fail(w, actor, check, started) {
                        failed.push(check);
                    }
                }
            }
        }
        if !failed.is_empty() {
            break;
        }
    }
    Polled { failed, redis }
}

/// One polling check, Redis seen through `p`: probe, sleep, stop after R retries or when the
/// group timeout is exceeded (the declared timeout T is never read). Emits `CheckPassed` on
/// success; on failure the caller decides what the failure means.
pub async fn run_check_with(
    w: &Rc<World>,
    p: &dyn RedisProbe,
    actor: Actor,
    check: Check,
    group_ms: u64,
) -> CheckOutcome {
    let cc = w.policy.check(check);
    w.emit(
        actor,
        Ev::CheckStart {
            check,
            retries: cc.retries,
            delay_ms: cc.delay_ms,
            declared_ms: cc.declared_ms,
            group_ms,
        },
    );
    let start = w.now();
    let exponential = w.policy.loop_shape == LoopShape::Exponential;
    let attempts = if exponential {
        (cc.retries + 1).min(spec::EXPONENTIAL_MAX_ATTEMPTS)
    } else {
        cc.retries.saturating_add(1)
    };
    for k in 0..attempts {
        let probed_at = w.now();
        let via = match probe(w, p, actor, check).await {
            Probed::Ready => {
                if check == Check::Redis && !grace_then_still_ready(w, p, actor).await {
                    None
                } else {
                    Some(PassVia::Probe { probed_at })
                }
            }
            Probed::Masked => Some(PassVia::Masked),
            Probed::Unawaited => Some(PassVia::Unawaited),
            Probed::NotReady | Probed::Raised => None,
        };
        if let Some(via) = via {
            w.emit(actor, Ev::CheckPassed { check, via });
            return CheckOutcome::Pass(via);
        }
        // A raising probe catches its own error: the loop sees an ordinary not-ready.
        if k < cc.retries {
            let ms = if exponential {
                exponential_delay(w, cc.delay_ms, k)
            } else {
                cc.delay_ms
            };
            w.emit(actor, Ev::PollSleep { ms });
            w.rt.sleep(ms).await;
        }
        if w.now() - start > group_ms {
            break;
        }
    }
    CheckOutcome::Fail
}

/// `min(d x 2^k x f, 5000)` with f in (0.9, 1.0] from the decisions list: value v gives
/// f = 1 - (v mod 100) / 1000; an exhausted list gives f = 1.
fn exponential_delay(w: &World, d: u64, k: u32) -> u64 {
    let per_mille = 1000 - u64::from(w.rt.draw().map_or(0, |v| v % 100));
    let base = d.saturating_mul(1u64 << k.min(40));
    (base.saturating_mul(per_mille) / 1000).min(spec::EXPONENTIAL_CAP_MS)
}

/// The grace on the connected branch. Without `reprobe_after_grace` the check passes whatever
/// happened meanwhile.
async fn grace_then_still_ready(w: &Rc<World>, p: &dyn RedisProbe, actor: Actor) -> bool {
    let ms = w.policy.grace_ms;
    match w.policy.grace {
        GraceMode::None => return true,
        GraceMode::Blocking => {
            w.emit(actor, Ev::Freeze { ms });
            w.rt.freeze(ms).await;
        }
        GraceMode::Async => {
            w.emit(actor, Ev::Grace { ms });
            w.rt.sleep(ms).await;
        }
    }
    if !w.policy.reprobe_after_grace {
        return true;
    }
    probe(w, p, actor, Check::Redis).await == Probed::Ready
}

/// One probe call: reads the state at the instant it is called, then costs `probe_cost_ms`.
async fn probe(w: &Rc<World>, p: &dyn RedisProbe, actor: Actor, check: Check) -> Probed {
    let now = w.now();
    let result = match check {
        Check::Redis => match w.policy.probe {
            ProbeMode::Unawaited => {
                w.emit(
                    actor,
                    Ev::Probe {
                        check,
                        result: ProbeResult::Unawaited,
                    },
                );
                return Probed::Unawaited;
            }
            ProbeMode::PropertyCall => match w.policy.probe_error_log {
                LogLevel::Debug => ProbeResult::RaisedDebug,
                LogLevel::Error => ProbeResult::RaisedError,
            },
            ProbeMode::Faithful => ready_if(p.is_connected()),
            ProbeMode::Operational => ready_if(p.operational()),
        },
        Check::Database => {
            let db = w.database.timeline();
            // The probe meets the database's timeline: down, it fails after `refuse_ms`; up,
            // it answers after its latency (both on top of the probe cost).
            let (end, up) = db.answer(now);
            let waited = end.saturating_sub(now);
            if waited > 0 {
                w.rt.sleep(waited).await;
            }
            ready_if(up && now >= w.services.database_ready_at_ms)
        }
        Check::Auth => ready_if(now >= w.services.auth_ready_at_ms),
        Check::AgentSupervisor => ready_if(now >= w.services.agent_supervisor_ready_at_ms),
        Check::WebsocketBridge => ready_if(now >= w.services.websocket_bridge_ready_at_ms),
        Check::WebsocketIntegration => {
            ready_if(!w.policy.circular_check || w.startup_complete.get())
        }
    };
    w.emit(actor, Ev::Probe { check, result });
    let cost = w.startup_cfg.probe_cost_ms;
    if cost > 0 {
        w.rt.sleep(cost).await;
    }
    let masked = check == Check::Redis && w.env == EnvName::Staging && w.policy.mask_in_staging;
    match result {
        ProbeResult::Ready => Probed::Ready,
        _ if masked => Probed::Masked,
        ProbeResult::RaisedDebug | ProbeResult::RaisedError => Probed::Raised,
        _ => Probed::NotReady,
    }
}

fn ready_if(b: bool) -> ProbeResult {
    if b {
        ProbeResult::Ready
    } else {
        ProbeResult::NotReady
    }
}

/// The reference validator: every check waits for its readiness (redis on the manager's gate)
/// until one deadline read from config, and redis is re-checked at the instant of publishing.
async fn run_event_driven(w: &Rc<World>, p: &dyn RedisProbe, start: u64) -> (Verdict, Option<u64>) {
    let deadline = start.saturating_add(w.policy.deadline_ms);
    let mut failed = Vec::new();
    for phase in PHASES {
        for &check in phase {
            let ok = if check == Check::Redis {
                wait_redis(w, p, deadline).await
            } else {
                wait_service(w, p, check, deadline).await
            };
            if !ok && critical(w, check) {
                failed.push(check);
            }
        }
        if !failed.is_empty() {
            break;
        }
    }
    // Checks after redis took time: publish only what a re-check says now.
    while failed.is_empty() {
        if p.recheck(recheck_timeout(w)).await {
            let v = Verdict {
                ready: true,
                skipped: false,
                elapsed_ms: w.now() - start,
                failed,
            };
            return (v, Some(w.now()));
        }
        if !wait_redis(w, p, deadline).await {
            failed.push(Check::Redis);
        }
    }
    let v = Verdict {
        ready: false,
        skipped: false,
        elapsed_ms: w.now() - start,
        failed,
    };
    (v, None)
}

/// How long a reference re-check ping may take: the manager's own ping timeout (a server
/// slower than that fails the manager's health check too).
fn recheck_timeout(w: &World) -> u64 {
    w.mgr.cfg.ping_timeout_ms
}

/// The longest the reference can take to notice that Redis became usable: a re-check in flight
/// may take its whole timeout, and the next one starts a period later.
fn reaction_bound(w: &World) -> u64 {
    recheck_timeout(w).saturating_add(recheck_period(w))
}

fn recheck_period(w: &World) -> u64 {
    w.policy
        .startup_reconnect_ms
        .unwrap_or(spec::REFERENCE_RECHECK_MS)
        .max(1)
}

async fn wait_redis(w: &Rc<World>, p: &dyn RedisProbe, deadline: u64) -> bool {
    let a = Actor::Validator;
    let started = w.now();
    w.emit(
        a,
        Ev::CheckStart {
            check: Check::Redis,
            retries: 0,
            delay_ms: reaction_bound(w),
            // One deadline is shared by every check: what a check may use is what is left.
            declared_ms: deadline.saturating_sub(started),
            group_ms: deadline.saturating_sub(started),
        },
    );
    loop {
        if p.gate_ready() {
            if p.recheck(recheck_timeout(w)).await {
                w.emit(
                    a,
                    Ev::CheckPassed {
                        check: Check::Redis,
                        via: PassVia::Recheck,
                    },
                );
                return true;
            }
            // The gate lags the server (an outage the manager has not noticed): look again
            // after one period instead of spinning.
            if w.now() >= deadline {
                break;
            }
            let next = w.now().saturating_add(recheck_period(w)).min(deadline);
            w.rt.sleep_until(next).await;
            continue;
        }
        if w.now() >= deadline {
            break;
        }
        w.emit(
            a,
            Ev::WaitGate {
                deadline_ms: deadline,
            },
        );
        match first_of(p.wait_ready(), w.rt.sleep_until(deadline)).await {
            Either::Left(_) => w.emit(a, Ev::GateWoke),
            Either::Right(()) => {
                w.emit(a, Ev::DeadlineHit);
                break;
            }
        }
    }
    fail(w, a, Check::Redis, started);
    false
}

async fn wait_service(w: &Rc<World>, p: &dyn RedisProbe, check: Check, deadline: u64) -> bool {
    let a = Actor::Validator;
    let started = w.now();
    w.emit(
        a,
        Ev::CheckStart {
            check,
            retries: 0,
            delay_ms: recheck_period(w),
            declared_ms: deadline.saturating_sub(started),
            group_ms: deadline.saturating_sub(started),
        },
    );
    let ready_at = match check {
        // Ready, and the database up: the first such instant its timeline has.
        Check::Database => {
            let db = w.database.timeline();
            let from = started.max(w.services.database_ready_at_ms);
            db.recoveries()
                .chain([from])
                .filter(|t| *t >= from && db.up(*t))
                .min()
                .unwrap_or(u64::MAX)
        }
        Check::Auth => w.services.auth_ready_at_ms,
        Check::AgentSupervisor => w.services.agent_supervisor_ready_at_ms,
        Check::WebsocketBridge => w.services.websocket_bridge_ready_at_ms,
        // The circular check can only pass once startup completes: never inside it.
        Check::WebsocketIntegration if w.policy.circular_check => u64::MAX,
        _ => 0,
    };
    if ready_at > deadline {
        w.rt.sleep_until(deadline).await;
        fail(w, a, check, started);
        return false;
    }
    w.rt.sleep_until(ready_at).await;
    probe(w, p, a, check).await;
    w.emit(
        a,
        Ev::CheckPassed {
            check,
            via: PassVia::Probe { probed_at: w.now() },
        },
    );
    true
}

/// The reference guard's decision for one connection: admit only on a re-check that passes
/// at the instant of admission.
pub async fn guard_recheck(w: &Rc<World>) -> bool {
    manager::recheck_operational(w, w.mgr.cfg.ping_timeout_ms).await
}

#[cfg(test)]
#[path = "validator_tests.rs"]
mod tests;

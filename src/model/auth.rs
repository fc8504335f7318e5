//! T3, authentication: the auth service (latency, outages, spikes from `[auth]`), the
//! WebSocket authenticator's breaker (routes f3 and f4), the health pre-check, the
//! auth-service breaker with its half-open trials, and the two-request call.
//!
//! The first step that fails decides. A result counts when it completes, whatever a breaker's
//! state is then: an opening breaker does not cancel calls in flight.

use std::cell::RefCell;

use super::world::World;
use crate::scenario::Auth;
use crate::spec;
use crate::trace::{AuthStep, BreakerState, Ev};
use crate::vocab::{Actor, EnvName, Route, Token};

/// The WebSocket authenticator's breaker: counts failed connections, opens at a threshold,
/// fails connections at once while within its window of the last counted failure.
#[derive(Clone, Debug, Default)]
struct WsBreaker {
    failures: u32,
    last_failure: u64,
    open: bool,
}

/// The auth-service breaker.
#[derive(Clone, Debug, Default)]
struct ServiceBreaker {
    consecutive: u32,
    /// When it opened (it is open while this is set).
    opened_at: Option<u64>,
    /// Trial calls in flight while half-open.
    trials: u32,
}

impl ServiceBreaker {
    fn state(&self, now: u64) -> BreakerState {
        match self.opened_at {
            None => BreakerState::Closed,
            Some(o) if now < o.saturating_add(spec::AUTH_BREAKER_OPEN_MS) => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }
}

/// The auth service and both breakers: one per worker.
pub struct AuthService {
    cfg: Auth,
    ws: RefCell<WsBreaker>,
    svc: RefCell<ServiceBreaker>,
}

/// How one request to the service ends: at `end`, answered or not.
struct Request {
    end: u64,
    ok: bool,
}

impl AuthService {
    /// The service of `[auth]`, both breakers closed.
    pub fn new(cfg: &Auth) -> AuthService {
        AuthService {
            cfg: cfg.clone(),
            ws: RefCell::new(WsBreaker::default()),
            svc: RefCell::new(ServiceBreaker::default()),
        }
    }

    /// A request starting at `a` and bounded at `limit`: while the service is down it fails
    /// after `refuse_ms`, and an answer that would take until the bound or longer fails at the
    /// bound (the service's timeline decides both).
    fn request(&self, a: u64, limit: u64) -> Request {
        let (end, ok) = self.cfg.timeline().answer(a);
        if end >= limit {
            Request {
                end: limit,
                ok: false,
            }
        } else {
            Request { end, ok }
        }
    }
}

fn uses_ws_breaker(route: Route) -> bool {
    matches!(route, Route::F3 | Route::F4)
}

/// Authenticates one connection of a client with `token`; `Ok` or the step that failed.
pub async fn authenticate(w: &World, actor: Actor, token: Token) -> Result<(), AuthStep> {
    let a = &w.auth;
    let start = w.now();
    let ws = uses_ws_breaker(w.policy.route);
    if ws {
        let mut b = a.ws.borrow_mut();
        if b.open {
            if start < b.last_failure.saturating_add(w.policy.ws_auth_breaker_ms) {
                drop(b);
                w.emit(
                    actor,
                    Ev::AuthFailed {
                        step: AuthStep::WsBreaker,
                        ms: 0,
                    },
                );
                return Err(AuthStep::WsBreaker);
            }
            b.open = false;
            b.failures = 0;
            drop(b);
            w.emit(
                actor,
                Ev::WsAuthBreaker {
                    failures: 0,
                    open: false,
                },
            );
        }
    }
    let result = check(w, actor, token).await;
    let ms = w.now() - start;
    match result {
        Ok(()) => {
            if ws {
                a.ws.borrow_mut().failures = 0;
            }
            w.emit(actor, Ev::AuthOk { ms });
        }
        Err(step) => {
            w.emit(actor, Ev::AuthFailed { step, ms });
            if ws {
                let (failures, open) = {
                    let mut b = a.ws.borrow_mut();
                    b.failures += 1;
                    b.last_failure = w.now();
                    if b.failures >= w.policy.ws_auth_breaker_failures {
                        b.open = true;
                    }
                    (b.failures, b.open)
                };
                w.emit(actor, Ev::WsAuthBreaker { failures, open });
            }
        }
    }
    result
}

/// The health pre-check, the auth-service breaker and the call.
async fn check(w: &World, actor: Actor, token: Token) -> Result<(), AuthStep> {
    let a = &w.auth;
    let staging = w.env == EnvName::Staging;
    let now = w.now();
    let bound = if staging {
        spec::AUTH_PRECHECK_STAGING_MS
    } else {
        spec::AUTH_PRECHECK_MS
    };
    let pre = a.request(now, now.saturating_add(bound));
    w.rt.sleep_until(pre.end).await;
    if !pre.ok {
        return Err(AuthStep::Precheck);
    }
    // The breaker decides whether the call runs at all.
    let trial = {
        let mut b = a.svc.borrow_mut();
        match b.state(w.now()) {
            BreakerState::Closed => false,
            BreakerState::Open => return Err(AuthStep::Breaker),
            BreakerState::HalfOpen if b.trials >= spec::AUTH_BREAKER_TRIALS => {
                return Err(AuthStep::Breaker)
            }
            BreakerState::HalfOpen => {
                b.trials += 1;
                if b.trials == 1 {
                    drop(b);
                    w.emit(
                        actor,
                        Ev::AuthBreaker {
                            state: BreakerState::HalfOpen,
                        },
                    );
                }
                true
            }
        }
    };
    let t0 = w.now();
    let deadline = t0.saturating_add(spec::AUTH_CALL_MS);
    let read = if staging {
        spec::AUTH_READ_TIMEOUT_STAGING_MS
    } else {
        spec::AUTH_READ_TIMEOUT_MS
    };
    let first = a.request(t0, t0.saturating_add(read).min(deadline));
    let outcome = if first.ok {
        a.request(first.end, first.end.saturating_add(read).min(deadline))
    } else {
        first
    };
    w.rt.sleep_until(outcome.end).await;
    let rejected = outcome.ok && token == Token::Invalid;
    let ok = outcome.ok && !rejected;
    record(w, actor, ok, trial);
    match (ok, rejected) {
        (true, _) => Ok(()),
        (false, true) => Err(AuthStep::Rejected),
        (false, false) => Err(AuthStep::Call),
    }
}

/// A completed call's result, applied to the breaker in whatever state it is in now.
fn record(w: &World, actor: Actor, ok: bool, trial: bool) {
    let now = w.now();
    let change = {
        let mut b = w.auth.svc.borrow_mut();
        if trial {
            b.trials = b.trials.saturating_sub(1);
        }
        let before = b.state(now);
        match (ok, before) {
            (true, BreakerState::HalfOpen) | (true, BreakerState::Closed) => {
                b.consecutive = 0;
                b.opened_at = None;
                b.trials = 0;
            }
            (true, BreakerState::Open) => b.consecutive = 0,
            (false, BreakerState::HalfOpen) => {
                b.opened_at = Some(now);
                b.trials = 0;
            }
            (false, BreakerState::Closed) => {
                b.consecutive += 1;
                if b.consecutive >= spec::AUTH_BREAKER_FAILURES {
                    b.opened_at = Some(now);
                }
            }
            (false, BreakerState::Open) => b.consecutive += 1,
        }
        let after = b.state(now);
        (before != after).then_some(after)
    };
    if let Some(state) = change {
        w.emit(actor, Ev::AuthBreaker { state });
    }
}

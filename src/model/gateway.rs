//! The gateway: a connection attempt's way to the route: refusal before bind or after exit,
//! the listen backlog and dispatch, the per-connection guard (the whole validation, the
//! reference re-check, 503 with Retry-After) and the startup queue.

use std::rc::Rc;

use super::validator;
use super::wire::ConnKey;
use super::world::{AppPhase, World};
use crate::engine::{first_of, Either};
use crate::spec;
use crate::trace::{Ev, PassVia};
use crate::vocab::{Actor, GuardMode, Outcome};

enum Guarded {
    Accepted,
    Rejected,
    Queued,
}

/// One connection attempt up to the route: arrival, refusal, the backlog, the guard (and its
/// 503 retries, within the attempt). `Ok` with the connection accepted, else the attempt's
/// final outcome. With a wire, each decision is also made on the real connection `key`.
pub async fn connect(
    w: &Rc<World>,
    actor: Actor,
    retries: u32,
    mut key: ConnKey,
) -> Result<ConnKey, Outcome> {
    let mut retries_left = retries;
    loop {
        w.emit(actor, Ev::Arrive);
        if w.exited() || w.now() < w.bind_ms {
            w.emit(actor, Ev::Refused);
            return Err(Outcome::Refused);
        }
        let pre_ready_503 = w.validates && w.policy.guard == GuardMode::Reject;
        let guarded = if !w.startup_complete.get() && pre_ready_503 {
            // The reference server answers while starting instead of holding the backlog.
            reject(w, actor)
        } else {
            if !w.startup_complete.get() {
                w.emit(actor, Ev::Backlog);
                let mut rx = w.app.subscribe();
                let phase = match rx.wait_for(|p| *p != AppPhase::Starting).await {
                    Ok(p) => *p,
                    Err(_) => AppPhase::Exited,
                };
                if phase == AppPhase::Exited {
                    w.emit(actor, Ev::Reset);
                    return Err(Outcome::Reset);
                }
                w.emit(actor, Ev::Dispatch);
            }
            guard(w, actor).await
        };
        if let Some(wire) = &w.wire {
            // The real connection gets the model's answer (refusals and resets happen to it
            // by themselves: no port yet, or the backlog reset when the worker exits).
            if wire.take(key).await {
                match guarded {
                    Guarded::Accepted => wire.accept(key).await,
                    Guarded::Rejected => wire.reject_503(key, w.policy.retry_after_ms).await,
                    Guarded::Queued => wire.drop_unanswered(key),
                }
            }
        }
        match guarded {
            Guarded::Accepted => return Ok(key),
            Guarded::Rejected if retries_left > 0 => {
                retries_left -= 1;
                key.try_no += 1;
                w.emit(actor, Ev::Retry);
                w.rt.sleep(w.policy.retry_after_ms).await;
            }
            Guarded::Rejected => return Err(Outcome::Rejected503),
            Guarded::Queued => {
                w.emit(actor, Ev::RouteReturned);
                return Err(Outcome::HandshakeFailed);
            }
        }
    }
}

fn reject(w: &World, actor: Actor) -> Guarded {
    w.emit(
        actor,
        Ev::Reject503 {
            retry_after_ms: w.policy.retry_after_ms,
        },
    );
    Guarded::Rejected
}

async fn guard(w: &Rc<World>, actor: Actor) -> Guarded {
    if !w.validates || w.policy.guard == GuardMode::None {
        w.emit(actor, Ev::Accept);
        return Guarded::Accepted;
    }
    if w.policy.guard == GuardMode::Reject {
        if validator::guard_recheck(w).await {
            w.emit(
                actor,
                Ev::Admit {
                    via: PassVia::Recheck,
                },
            );
            return Guarded::Accepted;
        }
        return reject(w, actor);
    }
    // The guard runs the whole validation as the policy configures it, within its limit.
    let limit = w.now().saturating_add(w.policy.guard_timeout(w.env));
    let validation = validator::poll_phases(w, w, actor);
    if let Either::Left(polled) = first_of(validation, w.rt.sleep_until(limit)).await {
        if polled.failed.is_empty() {
            let via = polled
                .redis
                .unwrap_or(PassVia::Probe { probed_at: w.now() });
            w.emit(actor, Ev::Admit { via });
            return Guarded::Accepted;
        }
    }
    match w.policy.guard {
        GuardMode::Queue if w.queue_len.get() >= spec::QUEUE_CAPACITY => reject(w, actor),
        GuardMode::Queue => {
            queue(w, actor);
            Guarded::Queued
        }
        _ => {
            w.emit(actor, Ev::AcceptDegraded);
            Guarded::Accepted
        }
    }
}

/// Holds the connection in the startup queue: the route returns without accepting, so the
/// client's handshake fails at once; the entry lives on for its hold time (its close at
/// expiry reaches no one), counting against the queue's capacity.
fn queue(w: &Rc<World>, actor: Actor) {
    w.queue_len.set(w.queue_len.get() + 1);
    w.emit(actor, Ev::Queued);
    let w2 = w.clone();
    w.rt.spawn(async move {
        w2.rt.sleep(spec::QUEUE_HOLD_MS).await;
        w2.queue_len.set(w2.queue_len.get() - 1);
        w2.emit(actor, Ev::QueueDropped);
    });
}

//! The serving path: listen backlog, dispatch, the per-connection guard, the startup queue,
//! messages through `get_client`, and close codes. Each client is its own task.

use std::rc::Rc;

use super::manager;
use super::validator;
use super::world::{AppPhase, World};
use crate::engine::{first_of, Either};
use crate::scenario::Client;
use crate::spec;
use crate::trace::{Ev, PassVia};
use crate::vocab::{Actor, GuardMode, OnRedisError, Outcome};

enum Guarded {
    Accepted,
    Rejected,
    Queued,
}

/// One client: connect at `at_ms`, wait, pass the guard, send messages; exactly one outcome.
pub async fn client(w: Rc<World>, idx: usize, spec: Client) {
    let actor = Actor::Client(idx as u32 + 1);
    let mut retries_left = spec.retries;
    let mut at = spec.at_ms;
    loop {
        w.rt.sleep_until(at).await;
        w.emit(actor, Ev::Arrive);
        if w.exited() || w.now() < w.bind_ms {
            w.emit(actor, Ev::Refused);
            return w.client_done(idx, Outcome::Refused);
        }
        let pre_ready_503 = w.validates && w.policy.guard == GuardMode::Reject;
        let guarded = if !w.startup_complete.get() && pre_ready_503 {
            // The reference server answers while starting instead of holding the backlog.
            reject(&w, actor)
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
                    return w.client_done(idx, Outcome::Reset);
                }
                w.emit(actor, Ev::Dispatch);
            }
            guard(&w, actor).await
        };
        match guarded {
            Guarded::Accepted => return serve(&w, idx, &spec, actor).await,
            Guarded::Rejected if retries_left > 0 => {
                retries_left -= 1;
                at = w.now().saturating_add(w.policy.retry_after_ms);
                w.emit(actor, Ev::Retry);
            }
            Guarded::Rejected => return w.client_done(idx, Outcome::Rejected503),
            Guarded::Queued => {
                w.emit(actor, Ev::RouteReturned);
                return w.client_done(idx, Outcome::HandshakeFailed);
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

async fn serve(w: &Rc<World>, idx: usize, spec: &Client, actor: Actor) {
    for n in 1..=spec.messages {
        if n > 1 {
            w.rt.sleep(spec.message_gap_ms).await;
        }
        w.emit(actor, Ev::MessageSend { n });
        if manager::data_op(w, actor).await {
            w.emit(actor, Ev::MessageHandled);
            continue;
        }
        match w.policy.on_redis_error {
            OnRedisError::Silent => {
                w.emit(actor, Ev::MessageLost);
                w.results().lost_messages += 1;
            }
            OnRedisError::ErrorFrame => w.emit(actor, Ev::ErrorFrame),
            OnRedisError::Close1011 => {
                w.emit(actor, Ev::Close1011);
                return w.client_done(idx, Outcome::Closed1011);
            }
        }
    }
    w.client_done(idx, Outcome::Served)
}

//! The WebSocket route of an accepted connection, in the order the real routes ran it: the
//! post-accept sleeps, authentication (T3), the per-user manager (T1, route f1), the
//! per-connection service check (routes f1 and f3), the user-ID check (T2, route f1), the
//! welcome frame, the message loop and the hold; the server keepalive (T5) runs beside all of
//! it from accept on.

use std::rc::Rc;

use super::clients::{Ended, Plan};
use super::registry::Handle;
use super::world::World;
use super::{auth, keepalive, manager, user_id};
use crate::engine::{first_of, Either};
use crate::spec;
use crate::trace::Ev;
use crate::vocab::{Actor, ConnectionCheck, OnRedisError, Outcome, Reason, Route};

/// Serves one accepted connection to its end.
pub async fn serve(w: &Rc<World>, plan: &Plan, actor: Actor) -> Ended {
    let mut mgr: Option<Handle> = None;
    w.in_session(plan.index, true);
    let session = session(w, plan, actor, &mut mgr);
    let keepalive = keepalive::run(w, actor, w.now(), plan.spec.rtt_ms);
    let ended = match first_of(session, keepalive).await {
        Either::Left(ended) => ended,
        Either::Right(()) => close(w, actor, Outcome::Closed1011, Reason::Keepalive),
    };
    if let Some(h) = &mgr {
        w.registry.closed(h, w.now());
    }
    w.in_session(plan.index, false);
    ended
}

/// Closes the socket from the server side: 1011 or 1008 with its reason.
fn close(w: &World, actor: Actor, outcome: Outcome, reason: Reason) -> Ended {
    if outcome == Outcome::Closed1011 {
        w.emit(actor, Ev::Close1011 { reason });
    } else {
        w.emit(actor, Ev::Close1008 { reason });
    }
    Ended {
        outcome,
        reason: Some(reason),
    }
}

/// An error frame, the route's 100 ms sleep, then the close.
async fn fail_after_frame(w: &World, actor: Actor, outcome: Outcome, reason: Reason) -> Ended {
    w.emit(actor, Ev::ErrorFrame);
    w.rt.sleep(spec::CLOSE_DELAY_MS).await;
    close(w, actor, outcome, reason)
}

async fn session(w: &Rc<World>, plan: &Plan, actor: Actor, mgr: &mut Option<Handle>) -> Ended {
    let p = &w.policy;
    if p.accept_sleep_ms > 0 {
        w.emit(
            actor,
            Ev::AcceptSleep {
                ms: p.accept_sleep_ms,
            },
        );
        w.rt.sleep(p.accept_sleep_ms).await;
    }
    if auth::authenticate(w, actor, plan.spec.token).await.is_err() {
        let code = if p.route == Route::F3 {
            Outcome::Closed1011
        } else {
            Outcome::Closed1008
        };
        return fail_after_frame(w, actor, code, Reason::AuthFailed).await;
    }
    if p.route == Route::F1 {
        match w.registry.create(w, actor, &plan.user_id, w.now()) {
            Ok(h) => *mgr = Some(h),
            Err(_) => {
                // FACTORY_INIT_FAILED, then 1011 at once.
                w.emit(actor, Ev::ErrorFrame);
                return close(w, actor, Outcome::Closed1011, Reason::FactoryLimit);
            }
        }
    }
    if matches!(p.route, Route::F1 | Route::F3) {
        service_check(w, actor).await;
    }
    if p.route == Route::F1 && !user_id::accepts(p.user_id_check, &plan.user_id) {
        w.emit(
            actor,
            Ev::UserIdRejected {
                user_id: plan.user_id.clone(),
            },
        );
        return fail_after_frame(w, actor, Outcome::Closed1011, Reason::InternalError).await;
    }
    w.emit(actor, Ev::Welcome);
    touch(w, mgr);
    for n in 1..=plan.spec.messages {
        if n > 1 {
            w.rt.sleep(plan.spec.message_gap_ms).await;
        }
        w.emit(actor, Ev::MessageSend { n });
        if manager::data_op(w, actor).await {
            w.emit(actor, Ev::MessageHandled);
            touch(w, mgr);
            continue;
        }
        match p.on_redis_error {
            OnRedisError::Silent => {
                w.emit(actor, Ev::MessageLost);
                w.results().lost_messages += 1;
            }
            OnRedisError::ErrorFrame => w.emit(actor, Ev::ErrorFrame),
            OnRedisError::Close1011 => {
                return close(w, actor, Outcome::Closed1011, Reason::RedisError);
            }
        }
        touch(w, mgr);
    }
    if plan.spec.hold_ms > 0 {
        w.emit(
            actor,
            Ev::Hold {
                ms: plan.spec.hold_ms,
            },
        );
        w.rt.sleep(plan.spec.hold_ms).await;
    }
    w.emit(actor, Ev::ClientClose);
    Ended::plain(Outcome::Served)
}

/// A server send on the connection's manager (f1 counts it as activity).
fn touch(w: &World, mgr: &Option<Handle>) {
    if let Some(h) = mgr {
        w.registry.touch(h, w.now());
    }
}

/// The per-connection service check of routes f1 and f3.
async fn service_check(w: &World, actor: Actor) {
    let kind = w.policy.connection_check;
    match kind {
        ConnectionCheck::None => {}
        ConnectionCheck::AsyncBackoff => {
            // The faulty Redis check raises on every try: the whole backoff is slept.
            w.emit(actor, Ev::ServiceCheck { kind });
            w.rt.sleep(spec::ASYNC_BACKOFF_MS).await;
        }
        ConnectionCheck::Blocking => {
            if !manager::is_connected(w) {
                return;
            }
            w.emit(actor, Ev::ServiceCheck { kind });
            let ms = spec::BLOCKING_CHECK_FREEZE_MS;
            w.emit(actor, Ev::Freeze { ms });
            w.rt.freeze(ms).await;
            w.redis.ping(&w.rt, w.mgr.cfg.ping_timeout_ms).await;
            w.emit(actor, Ev::Freeze { ms });
            w.rt.freeze(ms).await;
        }
    }
}

//! The WebSocket route of an accepted connection, in the order the real routes ran it: the
//! post-accept sleeps, authentication (T3), the per-user manager (T1, route f1), the
//! per-connection service check (routes f1 and f3), the user-ID check (T2, route f1), the
//! welcome frame, the message loop and the hold; the server keepalive (T5) runs beside all of
//! it from accept on.

use std::rc::Rc;

use super::clients::{Ended, Plan};
use super::registry::Handle;
use super::wire::{ConnKey, Frame};
use super::world::World;
use super::{auth, keepalive, manager, user_id};
use crate::engine::{first_of, Either};
use crate::spec;
use crate::trace::Ev;
use crate::vocab::{Actor, ConnectionCheck, OnRedisError, Outcome, Reason, Route};

/// Serves one accepted connection to its end.
pub async fn serve(w: &Rc<World>, plan: &Plan, actor: Actor, key: ConnKey) -> Ended {
    let mut mgr: Option<Handle> = None;
    w.in_session(plan.index, true);
    let c = Conn { w, actor, key };
    let session = session(&c, plan, &mut mgr);
    let keepalive = keepalive::run(w, actor, w.now(), plan.spec.rtt_ms, key);
    let ended = match first_of(session, keepalive).await {
        Either::Left(ended) => ended,
        Either::Right(()) => c.close(Outcome::Closed1011, Reason::Keepalive).await,
    };
    if let Some(h) = &mgr {
        w.registry.closed(h, w.now());
    }
    if let Some(wire) = &w.wire {
        wire.finish(key);
    }
    w.in_session(plan.index, false);
    ended
}

/// One accepted connection as the route sees it: its events go to the trace, and, with a
/// wire, its frames to the real socket.
struct Conn<'a> {
    w: &'a Rc<World>,
    actor: Actor,
    key: ConnKey,
}

impl Conn<'_> {
    /// Sends a text frame (a trace event says which; this puts it on the wire).
    async fn send(&self, frame: Frame) {
        if let Some(wire) = &self.w.wire {
            wire.send(self.key, frame).await;
        }
    }

    /// Closes the socket from the server side: 1011 or 1008 with its reason.
    async fn close(&self, outcome: Outcome, reason: Reason) -> Ended {
        let (w, actor) = (self.w, self.actor);
        let code = if outcome == Outcome::Closed1011 {
            w.emit(actor, Ev::Close1011 { reason });
            1011
        } else {
            w.emit(actor, Ev::Close1008 { reason });
            1008
        };
        if let Some(wire) = &w.wire {
            wire.close(self.key, code, reason.close_text()).await;
        }
        Ended {
            outcome,
            reason: Some(reason),
        }
    }

    /// An error frame, the route's 100 ms sleep, then the close.
    async fn fail_after_frame(&self, outcome: Outcome, reason: Reason) -> Ended {
        self.w.emit(self.actor, Ev::ErrorFrame);
        self.send(Frame::Error).await;
        self.w.rt.sleep(spec::CLOSE_DELAY_MS).await;
        self.close(outcome, reason).await
    }

    /// Waits for the client's message `n`: its gap in simulation, the frame on a wire.
    async fn next_message(&self, n: u32, gap_ms: u64) -> bool {
        match &self.w.wire {
            Some(wire) => wire.recv_message(self.key).await,
            None => {
                if n > 1 {
                    self.w.rt.sleep(gap_ms).await;
                }
                true
            }
        }
    }

    /// The client's hold: its length in simulation, until its close on a wire.
    async fn hold(&self, hold_ms: u64) {
        match &self.w.wire {
            Some(wire) => wire.client_closed(self.key).await,
            None => self.w.rt.sleep(hold_ms).await,
        }
    }
}

async fn session(c: &Conn<'_>, plan: &Plan, mgr: &mut Option<Handle>) -> Ended {
    let (w, actor) = (c.w, c.actor);
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
        return c.fail_after_frame(code, Reason::AuthFailed).await;
    }
    if p.route == Route::F1 {
        match w.registry.create(w, actor, &plan.user_id, w.now()) {
            Ok(h) => *mgr = Some(h),
            Err(_) => {
                // FACTORY_INIT_FAILED, then 1011 at once.
                w.emit(actor, Ev::ErrorFrame);
                c.send(Frame::Error).await;
                return c.close(Outcome::Closed1011, Reason::FactoryLimit).await;
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
        return c
            .fail_after_frame(Outcome::Closed1011, Reason::InternalError)
            .await;
    }
    w.emit(actor, Ev::Welcome);
    c.send(Frame::Welcome).await;
    touch(w, mgr);
    for n in 1..=plan.spec.messages {
        if !c.next_message(n, plan.spec.message_gap_ms).await {
            break;
        }
        w.emit(actor, Ev::MessageSend { n });
        if manager::data_op(w, actor).await {
            w.emit(actor, Ev::MessageHandled);
            c.send(Frame::Reply(n)).await;
            touch(w, mgr);
            continue;
        }
        match p.on_redis_error {
            OnRedisError::Silent => {
                // The silent default reports the message handled: the client gets a reply.
                w.emit(actor, Ev::MessageLost);
                w.results().lost_messages += 1;
                c.send(Frame::Reply(n)).await;
            }
            OnRedisError::ErrorFrame => {
                w.emit(actor, Ev::ErrorFrame);
                c.send(Frame::Error).await;
            }
            OnRedisError::Close1011 => {
                return c.close(Outcome::Closed1011, Reason::RedisError).await;
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
    }
    if plan.spec.hold_ms > 0 || w.wire.is_some() {
        c.hold(plan.spec.hold_ms).await;
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

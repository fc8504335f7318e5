//! T5, the server keepalive of one accepted connection: sleep the interval, ping, and wait
//! the same again for the pong, which arrives `rtt_ms` after the ping and is processed on the
//! first loop pass after it arrives. After a frozen loop, due timers run before pongs that
//! arrived during the freeze, so a pong wait that expired during a stall closes the
//! connection with 1011 "keepalive ping timeout" although the pong had arrived.

use super::wire::ConnKey;
use super::world::World;
use crate::engine::{first_of, Either};
use crate::trace::Ev;
use crate::vocab::Actor;

/// Runs from `started` (the accept) until a pong wait expires (then returns: the caller
/// closes with 1011); pongs in time keep it going for ever. Cancelled by dropping it when the
/// connection closes.
pub async fn run(w: &World, actor: Actor, started: u64, rtt_ms: u64, key: ConnKey) {
    let interval = w.policy.keepalive_ms.max(1);
    let mut next = started.saturating_add(interval);
    loop {
        w.rt.sleep_until(next).await;
        w.emit(actor, Ev::KeepalivePing { wait_ms: interval });
        let sent = w.now();
        if let Some(wire) = &w.wire {
            wire.ping(key).await;
        }
        let pong = async {
            match &w.wire {
                // The real client answers after its own round trip.
                Some(wire) => wire.pong(key).await,
                None => {
                    w.rt.sleep_until(sent.saturating_add(rtt_ms)).await;
                    // The pong's bytes are read on one pass and the waiter woken on the next.
                    w.rt.yield_now().await;
                }
            }
        };
        match first_of(pong, w.rt.sleep_until(sent.saturating_add(interval))).await {
            Either::Left(()) => w.emit(actor, Ev::Pong),
            Either::Right(()) => return,
        }
        next = w.now().saturating_add(interval);
    }
}

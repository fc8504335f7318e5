//! The seam between the model's accept path and real sockets (`readysim real`): the gateway,
//! the route and the keepalive say what the server does to a connection (answer 503, accept,
//! send a frame, close 1011, ping), and a [`Wire`] does it on a real socket. In simulation
//! there is no wire and the model's own timings stand in for the client. The model only calls
//! this trait; the sockets live in `real/`.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::world::{AppPhase, World};
use crate::vocab::GuardMode;

/// Which connection: a client (0-based over the expanded clients), its attempt (0 = first, one
/// more per reconnect) and its try (one more per retry after a 503).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnKey {
    /// 0-based client index.
    pub client: u32,
    /// 0 for the first connection, then one per reconnect.
    pub attempt: u32,
    /// 0 for the first try, then one per retry after a 503.
    pub try_no: u32,
}

/// A frame the server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The welcome frame after a connection is set up.
    Welcome,
    /// The answer to message `n` (a silent default answers the same: it reports success).
    Reply(u32),
    /// An error frame.
    Error,
}

/// A future a wire hands back.
pub type WireFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Real sockets behind the model's accept path.
pub trait Wire {
    /// The port is bound (the model's `bind_ms`): connections from now on are not refused;
    /// `answer_while_starting`: the policy answers connections during startup (a 503) instead
    /// of leaving them in the backlog.
    fn bind(&self, answer_while_starting: bool);
    /// Startup completed: connections waiting in the backlog are dispatched.
    fn serving(&self);
    /// The worker exited: the port closes, and the connections in its backlog are reset.
    fn exited(&self);
    /// Completes when the model may look at the connection `key` arriving now: at once, but
    /// for real, a connection that is one of a storm (several due at one instant) waits until
    /// the storm's requests have all been read, as the model has them all at that instant.
    fn arrival(&self, _key: ConnKey) -> WireFut<'_, ()> {
        Box::pin(std::future::ready(()))
    }
    /// The connection `key`, once its client's upgrade request has been read; false when it
    /// never came (the model goes on, the comparison shows the disagreement).
    fn take(&self, key: ConnKey) -> WireFut<'_, bool>;
    /// Answers HTTP 503 with `Retry-After` and closes.
    fn reject_503(&self, key: ConnKey, retry_after_ms: u64) -> WireFut<'_, ()>;
    /// Closes without answering the handshake (a queued connection the route never accepted).
    fn drop_unanswered(&self, key: ConnKey);
    /// Completes the WebSocket handshake (HTTP 101).
    fn accept(&self, key: ConnKey) -> WireFut<'_, ()>;
    /// Sends a text frame (written at once, as an asyncio transport does).
    fn send(&self, key: ConnKey, frame: Frame) -> WireFut<'_, ()>;
    /// Sends a close frame with this code and reason text, then closes.
    fn close(&self, key: ConnKey, code: u16, reason: &'static str) -> WireFut<'_, ()>;
    /// The client's next message; false when the client went away instead.
    fn recv_message(&self, key: ConnKey) -> WireFut<'_, bool>;
    /// Completes when the client closes its socket (after its hold).
    fn client_closed(&self, key: ConnKey) -> WireFut<'_, ()>;
    /// Sends a keepalive ping.
    fn ping(&self, key: ConnKey) -> WireFut<'_, ()>;
    /// Completes when the client's pong to the last ping has been read.
    fn pong(&self, key: ConnKey) -> WireFut<'_, ()>;
    /// The model is done with the connection.
    fn finish(&self, key: ConnKey);
}

/// Tells the wire when the port opens, when startup completes and when the worker exits, as
/// the model sees them.
pub async fn drive(w: Rc<World>, wire: Rc<dyn Wire>) {
    w.rt.sleep_until(w.bind_ms).await;
    if w.exited() {
        wire.exited();
        return;
    }
    wire.bind(w.validates && w.policy.guard == GuardMode::Reject);
    let mut rx = w.app.subscribe();
    let phase = match rx.wait_for(|p| *p != AppPhase::Starting).await {
        Ok(p) => *p,
        Err(_) => AppPhase::Exited,
    };
    match phase {
        AppPhase::Exited => wire.exited(),
        _ => wire.serving(),
    }
}

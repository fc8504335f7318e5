//! The server side of the real wire: a loopback port that the model's accept path serves with
//! real sockets. Bound (listening) at the scenario's `bind_ms`, refusing before; connections
//! left in the kernel's backlog until startup completes (or answered at once by a policy that
//! answers while starting), reset with the backlog when the worker exits; HTTP 503 with
//! `Retry-After`, a closed connection without an answer, or the 101 handshake, as the model
//! decides; then WebSocket frames (tokio-tungstenite): the welcome, replies, error frames,
//! keepalive pings and their pongs, close frames with their codes and reason texts.
//!
//! It runs on the model's own current_thread runtime, so a freeze of the model's event loop
//! stalls the accept loop and every socket too, as a blocking call does in the real server.
//! Clients say which connection they are in the request path
//! (`/ws?client=C&attempt=A&try=T`), so each real connection meets its session in the model.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::engine::RealClock;
use crate::model::wire::{ConnKey, Frame, Wire, WireFut};

/// Longest request head read from a connection (an upgrade request is a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;
/// How long (scenario ms) the model waits for a connection it expects before going on
/// without it; the comparison then shows the disagreement. Generous on purpose: the request
/// head is read by the accept loop, which runs only when no model task is ready, so a storm
/// of blocking checks (45 connections, 1 s of freezes each, in keepalive-stall-1011) can
/// delay the read of a connection that did arrive by tens of seconds; with 5 s, 1 real run in
/// 10 showed 18 storm clients as `handshake-failed` on the wire while the model served them.
/// It costs time only when a client never connects, which is itself a disagreement; and it
/// is long enough for a person playing a client by hand (`--external-client`).
pub const TAKE_TIMEOUT_MS: u64 = 60_000;

/// What the clients' thread tells the server about each storm: which of the connections due
/// at one instant it established (a refused one will never be read, so nobody waits for it).
#[derive(Default)]
pub struct Storms {
    established: Mutex<BTreeMap<u64, Vec<u32>>>,
    notify: Notify,
}

impl Storms {
    /// The clients of the storm due at `at_ms` whose connections were established.
    pub fn report(&self, at_ms: u64, clients: Vec<u32>) {
        self.established
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(at_ms, clients);
        self.notify.notify_waiters();
    }

    fn established(&self, at_ms: u64) -> Option<Vec<u32>> {
        self.established
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&at_ms)
            .cloned()
    }
}

/// The path and key of a client's upgrade request.
#[derive(Debug)]
struct Request {
    key: ConnKey,
    ws_key: String,
}

/// `GET /ws?client=3&attempt=0&try=1 HTTP/1.1` with a `Sec-WebSocket-Key`.
fn parse_request(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split_whitespace().nth(1)?;
    let query = path.split_once('?')?.1;
    let mut key = ConnKey {
        client: u32::MAX,
        attempt: 0,
        try_no: 0,
    };
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            // 1-based, as traces number clients.
            "client" => key.client = v.checked_sub(1)?,
            "attempt" => key.attempt = v,
            "try" => key.try_no = v,
            _ => {}
        }
    }
    let ws_key = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_string())
    })?;
    (key.client != u32::MAX).then_some(Request { key, ws_key })
}

/// Reads a request head (up to the blank line).
async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut byte).await.ok()?;
        if n == 0 || buf.len() + n > MAX_HEAD {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    String::from_utf8(buf).ok()
}

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// One accepted WebSocket: its sending half, and what its reader has seen.
struct Live {
    sink: tokio::sync::Mutex<Option<Sink>>,
    messages: RefCell<VecDeque<String>>,
    pongs: Cell<u64>,
    pongs_seen: Cell<u64>,
    closed: Cell<bool>,
    notify: Notify,
}

/// The server's end of every real connection of one run.
pub struct RealWire {
    clock: RealClock,
    addr: SocketAddr,
    socket: RefCell<Option<TcpSocket>>,
    listener: RefCell<Option<Rc<TcpListener>>>,
    /// Answer connections from the bind on (a policy that answers while starting).
    early: Cell<bool>,
    accepting: Cell<bool>,
    /// Connections read, waiting for their session.
    arrived: RefCell<BTreeMap<ConnKey, (TcpStream, String)>>,
    /// Connections taken by their session, waiting for its decision.
    held: RefCell<BTreeMap<ConnKey, (TcpStream, String)>>,
    live: RefCell<BTreeMap<ConnKey, Rc<Live>>>,
    /// Every connection whose request was read, ever (for [`RealWire::arrive_together`]).
    seen: RefCell<BTreeSet<ConnKey>>,
    /// For a client whose first connection is due at the same instant as others': that
    /// instant (see [`RealWire::arrive_together`]).
    storm_at: RefCell<BTreeMap<u32, u64>>,
    /// What the clients' thread says it established of each storm.
    storms: Arc<Storms>,
    arrivals: Notify,
    stop: Rc<Notify>,
}

impl RealWire {
    /// A port at `listen`, bound but not listening (a connection is refused until
    /// [`Wire::bind`]).
    pub fn new(clock: RealClock, listen: SocketAddr) -> std::io::Result<RealWire> {
        let socket = if listen.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(listen)?;
        let addr = socket.local_addr()?;
        Ok(RealWire {
            clock,
            addr,
            socket: RefCell::new(Some(socket)),
            listener: RefCell::new(None),
            early: Cell::new(false),
            accepting: Cell::new(false),
            arrived: RefCell::new(BTreeMap::new()),
            held: RefCell::new(BTreeMap::new()),
            live: RefCell::new(BTreeMap::new()),
            seen: RefCell::new(BTreeSet::new()),
            storm_at: RefCell::new(BTreeMap::new()),
            storms: Arc::new(Storms::default()),
            arrivals: Notify::new(),
            stop: Rc::new(Notify::new()),
        })
    }

    /// Clients whose first connections are due at one instant (a storm), as `(client, at_ms)`
    /// of every client readysim plays; returns what the clients' thread reports to. In the
    /// model a storm is there at once; for real, its requests reach the accept loop one by
    /// one, and the accept loop runs only between model tasks. Without this, the first
    /// sessions could start their blocking work before the rest of the storm was read, and the
    /// reads that follow would let other traffic (a keepalive pong) in between, which the
    /// model's instant does not. So a session arriving on such a connection waits, before it
    /// shows in the trace, until every connection of its storm that the clients established
    /// has been read ([`Wire::arrival`], bounded like [`Wire::take`]).
    pub fn arrive_together(&self, first: &[(u32, u64)]) -> Arc<Storms> {
        let mut count: BTreeMap<u64, usize> = BTreeMap::new();
        for &(_, at) in first {
            *count.entry(at).or_default() += 1;
        }
        let mut storm_at = self.storm_at.borrow_mut();
        for &(client, at) in first.iter().filter(|(_, at)| count[at] > 1) {
            storm_at.insert(client, at);
        }
        self.storms.clone()
    }

    /// Whether every established connection of `key`'s storm has been read (true for a
    /// connection that is not a storm's first).
    fn storm_read(&self, key: ConnKey) -> bool {
        if key.attempt != 0 || key.try_no != 0 {
            return true;
        }
        let Some(at) = self.storm_at.borrow().get(&key.client).copied() else {
            return true;
        };
        let Some(clients) = self.storms.established(at) else {
            return false;
        };
        let seen = self.seen.borrow();
        clients.iter().all(|&client| {
            seen.contains(&ConnKey {
                client,
                attempt: 0,
                try_no: 0,
            })
        })
    }

    /// Moves `key`'s read connection to the held ones; false when it was not read.
    fn hold(&self, key: ConnKey) -> bool {
        let Some(c) = self.arrived.borrow_mut().remove(&key) else {
            return false;
        };
        self.held.borrow_mut().insert(key, c);
        true
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts the accept loop (once): each connection's request is read, then it waits for
    /// its session.
    fn start_accepting(self: &Rc<Self>) {
        if self.accepting.replace(true) {
            return;
        }
        let Some(listener) = self.listener.borrow().clone() else {
            return;
        };
        let me = self.clone();
        // Real sockets are what this engine is for.
        #[allow(clippy::disallowed_methods)]
        tokio::task::spawn_local(async move {
            loop {
                let accepted = tokio::select! {
                    biased;
                    _ = me.stop.notified() => return,
                    a = listener.accept() => a,
                };
                let Ok((mut s, _)) = accepted else { return };
                let _ = s.set_nodelay(true);
                let me2 = me.clone();
                #[allow(clippy::disallowed_methods)]
                tokio::task::spawn_local(async move {
                    let Some(head) = read_head(&mut s).await else {
                        return;
                    };
                    let Some(req) = parse_request(&head) else {
                        let _ = s
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    };
                    me2.seen.borrow_mut().insert(req.key);
                    me2.arrived.borrow_mut().insert(req.key, (s, req.ws_key));
                    me2.arrivals.notify_waiters();
                });
            }
        });
    }

    fn live(&self, key: ConnKey) -> Option<Rc<Live>> {
        self.live.borrow().get(&key).cloned()
    }

    /// Closes everything: the listener, held and live connections (the run is over).
    pub fn shutdown(&self) {
        self.stop.notify_waiters();
        self.listener.borrow_mut().take();
        self.socket.borrow_mut().take();
        self.arrived.borrow_mut().clear();
        self.held.borrow_mut().clear();
        for live in self.live.borrow().values() {
            live.closed.set(true);
            live.notify.notify_waiters();
        }
        self.live.borrow_mut().clear();
    }
}

/// The wire as the model holds it.
pub struct WireHandle(pub Rc<RealWire>);

impl Wire for WireHandle {
    fn bind(&self, answer_while_starting: bool) {
        let w = &self.0;
        w.early.set(answer_while_starting);
        if let Some(socket) = w.socket.borrow_mut().take() {
            if let Ok(l) = socket.listen(1024) {
                *w.listener.borrow_mut() = Some(Rc::new(l));
            }
        }
        if w.early.get() {
            w.start_accepting();
        }
    }

    fn serving(&self) {
        self.0.start_accepting();
    }

    fn exited(&self) {
        // Closing the listener resets every connection still in its backlog.
        let w = &self.0;
        w.stop.notify_waiters();
        w.listener.borrow_mut().take();
        w.socket.borrow_mut().take();
    }

    fn arrival(&self, key: ConnKey) -> WireFut<'_, ()> {
        let w = self.0.clone();
        Box::pin(async move {
            // Only a port that is reading requests can have read the storm; in the backlog
            // (or refused) the model does not look at the connection yet.
            if !w.accepting.get() {
                return;
            }
            let deadline = tokio::time::Instant::from_std(
                w.clock
                    .instant(w.clock.now_ms().saturating_add(TAKE_TIMEOUT_MS)),
            );
            loop {
                let read = w.arrivals.notified();
                let reported = w.storms.notify.notified();
                if w.storm_read(key) {
                    return;
                }
                #[allow(clippy::disallowed_methods)]
                let timeout = tokio::time::sleep_until(deadline);
                tokio::select! {
                    biased;
                    _ = read => {}
                    _ = reported => {}
                    _ = timeout => return,
                }
            }
        })
    }

    fn take(&self, key: ConnKey) -> WireFut<'_, bool> {
        let w = self.0.clone();
        Box::pin(async move {
            let deadline = tokio::time::Instant::from_std(
                w.clock
                    .instant(w.clock.now_ms().saturating_add(TAKE_TIMEOUT_MS)),
            );
            loop {
                let notified = w.arrivals.notified();
                if w.hold(key) {
                    return true;
                }
                #[allow(clippy::disallowed_methods)]
                let timeout = tokio::time::sleep_until(deadline);
                tokio::select! {
                    biased;
                    _ = notified => {}
                    _ = timeout => return false,
                }
            }
        })
    }

    fn reject_503(&self, key: ConnKey, retry_after_ms: u64) -> WireFut<'_, ()> {
        let held = self.0.held.borrow_mut().remove(&key);
        Box::pin(async move {
            let Some((mut s, _)) = held else { return };
            // Retry-After is in whole seconds on the wire; the exact ms travel beside it.
            let secs = retry_after_ms.div_ceil(1000);
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {secs}\r\nX-Retry-After-Ms: {retry_after_ms}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.shutdown().await;
        })
    }

    fn drop_unanswered(&self, key: ConnKey) {
        // Dropped: the client reads the end of the stream before any answer.
        self.0.held.borrow_mut().remove(&key);
    }

    fn accept(&self, key: ConnKey) -> WireFut<'_, ()> {
        let w = self.0.clone();
        Box::pin(async move {
            let Some((mut s, ws_key)) = w.held.borrow_mut().remove(&key) else {
                return;
            };
            let live = Rc::new(Live {
                sink: tokio::sync::Mutex::new(None),
                messages: RefCell::new(VecDeque::new()),
                pongs: Cell::new(0),
                pongs_seen: Cell::new(0),
                closed: Cell::new(false),
                notify: Notify::new(),
            });
            w.live.borrow_mut().insert(key, live.clone());
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(ws_key.as_bytes());
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).await.is_err() {
                live.closed.set(true);
                live.notify.notify_waiters();
                return;
            }
            let ws = WebSocketStream::from_raw_socket(s, Role::Server, None).await;
            let (sink, stream) = ws.split();
            *live.sink.lock().await = Some(sink);
            #[allow(clippy::disallowed_methods)]
            tokio::task::spawn_local(read_frames(stream, live));
        })
    }

    fn send(&self, key: ConnKey, frame: Frame) -> WireFut<'_, ()> {
        let live = self.0.live(key);
        Box::pin(async move {
            let Some(live) = live else { return };
            let text = match frame {
                Frame::Welcome => "{\"type\":\"connection_established\"}".to_string(),
                Frame::Reply(n) => format!("{{\"type\":\"reply\",\"n\":{n}}}"),
                Frame::Error => "{\"type\":\"error\"}".to_string(),
            };
            write(&live, Message::text(text)).await;
        })
    }

    fn close(&self, key: ConnKey, code: u16, reason: &'static str) -> WireFut<'_, ()> {
        let live = self.0.live(key);
        Box::pin(async move {
            let Some(live) = live else { return };
            write(
                &live,
                Message::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })),
            )
            .await;
            // No more frames: the socket closes once the close frame is out.
            let taken = live.sink.lock().await.take();
            if let Some(mut sink) = taken {
                let _ = sink.close().await;
            }
        })
    }

    fn recv_message(&self, key: ConnKey) -> WireFut<'_, bool> {
        let live = self.0.live(key);
        Box::pin(async move {
            let Some(live) = live else { return false };
            loop {
                let notified = live.notify.notified();
                if live.messages.borrow_mut().pop_front().is_some() {
                    return true;
                }
                if live.closed.get() {
                    return false;
                }
                notified.await;
            }
        })
    }

    fn client_closed(&self, key: ConnKey) -> WireFut<'_, ()> {
        let live = self.0.live(key);
        Box::pin(async move {
            let Some(live) = live else { return };
            while !live.closed.get() {
                let notified = live.notify.notified();
                if live.closed.get() {
                    break;
                }
                notified.await;
            }
        })
    }

    fn ping(&self, key: ConnKey) -> WireFut<'_, ()> {
        let live = self.0.live(key);
        Box::pin(async move {
            let Some(live) = live else { return };
            live.pongs_seen.set(live.pongs.get());
            write(&live, Message::Ping(Vec::new().into())).await;
        })
    }

    fn pong(&self, key: ConnKey) -> WireFut<'_, ()> {
        let live = self.0.live(key);
        Box::pin(async move {
            let Some(live) = live else {
                return std::future::pending().await;
            };
            loop {
                let notified = live.notify.notified();
                if live.pongs.get() > live.pongs_seen.get() {
                    // Seen on one pass, acted on at the next, as in the model: a pong read in
                    // the pass where the wait's deadline passed loses to the deadline.
                    let mut yielded = false;
                    std::future::poll_fn(|cx| {
                        if yielded {
                            std::task::Poll::Ready(())
                        } else {
                            yielded = true;
                            cx.waker().wake_by_ref();
                            std::task::Poll::Pending
                        }
                    })
                    .await;
                    return;
                }
                if live.closed.get() {
                    // A closed socket never answers: the keepalive's own timeout decides.
                    return std::future::pending().await;
                }
                notified.await;
            }
        })
    }

    fn finish(&self, key: ConnKey) {
        // The socket closes when its last handle goes (the reader ends on its own).
        self.0.live.borrow_mut().remove(&key);
    }
}

/// Writes one frame now (as an asyncio transport writes at once), if the socket is still open.
async fn write(live: &Live, m: Message) {
    let mut sink = live.sink.lock().await;
    if let Some(s) = sink.as_mut() {
        if s.send(m).await.is_err() {
            sink.take();
        }
    }
}

/// Reads what the client sends: messages, pongs, its close.
async fn read_frames(mut stream: SplitStream<WebSocketStream<TcpStream>>, live: Rc<Live>) {
    while let Some(m) = stream.next().await {
        match m {
            Ok(Message::Text(t)) => live.messages.borrow_mut().push_back(t.to_string()),
            Ok(Message::Pong(_)) => live.pongs.set(live.pongs.get() + 1),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
        live.notify.notify_waiters();
    }
    live.closed.set(true);
    live.notify.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_their_connection() {
        let head = "GET /ws?client=4&attempt=1&try=2 HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: abc==\r\n\r\n";
        let r = parse_request(head).expect("parses");
        assert_eq!(
            r.key,
            ConnKey {
                client: 3,
                attempt: 1,
                try_no: 2
            }
        );
        assert_eq!(r.ws_key, "abc==");
        assert!(parse_request("GET /ws HTTP/1.1\r\n\r\n").is_none());
    }
}

//! The real clients of `readysim real`: every `[[clients]]` entry (expanded by `count`) as a
//! WebSocket client on its own thread, outside the server's event loop (a frozen server does
//! not freeze its clients), recording what the wire showed it: refused, reset, the HTTP status,
//! close code and reason text, frames, and when.
//!
//! The client speaks WebSocket by hand (RFC 6455 framing, masked client frames) because it
//! must answer a ping only after its own round trip (`rtt_ms`): the libraries answer pings
//! themselves, at once. Each attempt follows the client's plan: connect at its arrival, retry
//! after a 503's `Retry-After` while `retries` allow, send its first message on the welcome
//! and each next one `message_gap_ms` after the previous answer, hold its socket
//! `hold_ms` after the last one, close normally, and reconnect `reconnect_gap_ms` after a
//! server close or a reset while `reconnects` allow (a refusal ends it).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::engine::RealClock;
use crate::scenario::{Scenario, Token};
use crate::vocab::{Outcome, Reason};

/// What the wire showed one client attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WireAttempt {
    /// 1-based client index, as the trace numbers clients.
    pub client: u32,
    /// 0 for the first connection, then one per reconnect.
    pub attempt: u32,
    /// How it ended, in the model's words.
    pub outcome: Option<Outcome>,
    /// The close frame's code, if the server sent one.
    pub close_code: Option<u16>,
    /// The close frame's reason text.
    pub close_reason: Option<String>,
    /// The reason its text names (`keepalive ping timeout` is `keepalive`).
    pub reason: Option<Reason>,
    /// The HTTP status of the last handshake answer (101, 503), if any came.
    pub http_status: Option<u16>,
    /// 503s received (and retried, as far as `retries` allowed).
    pub rejected_503: u32,
    /// Text frames received: the welcome, replies, error frames.
    pub frames: u32,
    /// Error frames among them.
    pub error_frames: u32,
    /// Keepalive pings received (each answered after `rtt_ms`).
    pub pings: u32,
    /// When it connected (scenario ms).
    pub connect_at_ms: Option<u64>,
    /// From its TCP connect to the handshake's answer, real ms (per try).
    pub handshake_real_ms: Vec<f64>,
    /// Real ms from the run's start to its 101, if it got one.
    pub accepted_real_ms: Option<f64>,
    /// How late (scenario ms) its first connect started: the client side's own timer lag.
    pub late_ms: u64,
}

/// The plan of one client, as the wire needs it.
#[derive(Clone, Debug)]
struct Plan {
    index: u32,
    at_ms: u64,
    retries: u32,
    messages: u32,
    gap_ms: u64,
    hold_ms: u64,
    reconnects: u32,
    reconnect_gap_ms: u64,
    rtt_ms: u64,
    user_id: String,
    token: Token,
    /// The endpoint's path (`/ws`).
    path: std::sync::Arc<str>,
}

fn plans(sc: &Scenario, path: &str) -> Vec<Plan> {
    let path: std::sync::Arc<str> = path.into();
    crate::model::clients::expand(sc)
        .into_iter()
        .map(|p| Plan {
            index: p.index as u32,
            at_ms: p.at_ms,
            retries: p.spec.retries,
            messages: p.spec.messages,
            gap_ms: p.spec.message_gap_ms,
            hold_ms: p.spec.hold_ms,
            reconnects: p.spec.reconnects,
            reconnect_gap_ms: p.spec.reconnect_gap_ms,
            rtt_ms: p.spec.rtt_ms,
            user_id: p.user_id,
            token: p.spec.token,
            path: path.clone(),
        })
        .collect()
}

async fn sleep_until(clock: RealClock, t: u64) {
    // Real time is what this mode measures.
    #[allow(clippy::disallowed_methods)]
    tokio::time::sleep_until(tokio::time::Instant::from_std(clock.instant(t))).await;
}

/// `(client, at_ms)` of the first connection of every client readysim plays (not the
/// `external` ones, played by a person).
pub fn first_arrivals(sc: &Scenario, external: &[u32]) -> Vec<(u32, u64)> {
    plans(sc, "/")
        .iter()
        .filter(|p| !external.contains(&(p.index + 1)))
        .map(|p| (p.index, p.at_ms))
        .collect()
}

/// Runs every client of `sc` against `addr` (its WebSocket endpoint at `path`) on its own
/// thread; the handle gives back what each attempt saw, in attempt order (client by client),
/// once they are all done or `stop` is set.
pub fn start(
    sc: &Scenario,
    addr: SocketAddr,
    path: &str,
    clock: RealClock,
    stop: std::sync::Arc<tokio::sync::Notify>,
    external: &[u32],
    storms: Option<std::sync::Arc<super::wire::Storms>>,
) -> std::thread::JoinHandle<Vec<WireAttempt>> {
    let mut plans = plans(sc, path);
    plans.retain(|p| !external.contains(&(p.index + 1)));
    // The clients are outside the server: their own thread, so a frozen server loop does not
    // freeze them (real threads are what this mode is for).
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the clients");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            // Clients due at one instant connect together, then send their requests: a storm
            // reaches the server's backlog at once, as it does from many machines.
            let mut groups: std::collections::BTreeMap<
                u64,
                Vec<(u32, tokio::sync::oneshot::Sender<Connected>)>,
            > = std::collections::BTreeMap::new();
            let mut handles = Vec::new();
            for p in plans {
                let (tx, rx) = tokio::sync::oneshot::channel();
                groups.entry(p.at_ms).or_default().push((p.index, tx));
                #[allow(clippy::disallowed_methods)]
                handles.push(tokio::task::spawn_local(client(p, addr, clock, rx)));
            }
            for (at, txs) in groups {
                let storms = storms.clone();
                #[allow(clippy::disallowed_methods)]
                tokio::task::spawn_local(async move {
                    sleep_until(clock, at).await;
                    let late = clock.now_ms().saturating_sub(at);
                    let conns = futures_util::future::join_all(
                        txs.iter().map(|_| TcpStream::connect(addr)),
                    )
                    .await;
                    // The server waits for the storm's established connections (wire.rs).
                    if let (Some(storms), true) = (&storms, txs.len() > 1) {
                        let ok = txs.iter().zip(&conns).filter(|(_, c)| c.is_ok());
                        storms.report(at, ok.map(|((i, _), _)| *i).collect());
                    }
                    for ((_, tx), c) in txs.into_iter().zip(conns) {
                        let _ = tx.send(Connected {
                            stream: c,
                            late_ms: late,
                        });
                    }
                });
            }
            let all = async {
                let mut out = Vec::new();
                for h in handles {
                    out.extend(h.await.unwrap_or_default());
                }
                out
            };
            tokio::select! {
                biased;
                out = all => out,
                _ = stop.notified() => Vec::new(),
            }
        })
    })
}

/// A first connection made by the client's group, and how late its timer fired.
struct Connected {
    stream: std::io::Result<TcpStream>,
    late_ms: u64,
}

/// How one try of a connection ended before or at its handshake.
enum Handshake {
    Refused,
    Reset,
    NoAnswer,
    Status(u16, Option<u64>, TcpStream, Vec<u8>),
}

async fn client(
    p: Plan,
    addr: SocketAddr,
    clock: RealClock,
    first: tokio::sync::oneshot::Receiver<Connected>,
) -> Vec<WireAttempt> {
    let mut out = Vec::new();
    let mut at = p.at_ms;
    let mut first = Some(first);
    for attempt in 0..=p.reconnects {
        let pre = match first.take() {
            Some(rx) => rx.await.ok(),
            None => {
                sleep_until(clock, at).await;
                None
            }
        };
        let a = one_attempt(&p, attempt, addr, clock, pre).await;
        let again = matches!(
            a.outcome,
            Some(Outcome::Closed1011 | Outcome::Closed1008 | Outcome::Closed1001 | Outcome::Reset)
        );
        out.push(a);
        if !again {
            break;
        }
        at = clock.now_ms().saturating_add(p.reconnect_gap_ms);
    }
    out
}

async fn handshake(
    p: &Plan,
    attempt: u32,
    try_no: u32,
    addr: SocketAddr,
    pre: Option<std::io::Result<TcpStream>>,
) -> Handshake {
    let connected = match pre {
        Some(c) => c,
        None => TcpStream::connect(addr).await,
    };
    let mut s = match connected {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Handshake::Refused,
        Err(_) => return Handshake::Reset,
    };
    let _ = s.set_nodelay(true);
    let req = format!(
        "GET {}?client={}&attempt={attempt}&try={try_no} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {}\r\nX-User-Id: {}\r\n\r\n",
        p.path,
        p.index + 1,
        if p.token == Token::Invalid { "invalid" } else { "valid" },
        p.user_id
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return Handshake::Reset;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => return Handshake::NoAnswer,
            Ok(0) => return Handshake::Reset,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Handshake::Reset,
            Err(_) => return Handshake::Reset,
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let rest = buf[end + 4..].to_vec();
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let retry_ms = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("x-retry-after-ms")
                    .then(|| v.trim().parse().ok())
                    .flatten()
            });
            return Handshake::Status(status, retry_ms, s, rest);
        }
    }
}

async fn one_attempt(
    p: &Plan,
    attempt: u32,
    addr: SocketAddr,
    clock: RealClock,
    pre: Option<Connected>,
) -> WireAttempt {
    let mut a = WireAttempt {
        client: p.index + 1,
        attempt,
        outcome: None,
        close_code: None,
        close_reason: None,
        reason: None,
        http_status: None,
        rejected_503: 0,
        frames: 0,
        error_frames: 0,
        pings: 0,
        connect_at_ms: Some(clock.now_ms()),
        handshake_real_ms: Vec::new(),
        accepted_real_ms: None,
        late_ms: pre.as_ref().map_or(0, |c| c.late_ms),
    };
    let mut pre = pre.map(|c| c.stream);
    let mut try_no = 0;
    loop {
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        let h = handshake(p, attempt, try_no, addr, pre.take()).await;
        match h {
            Handshake::Refused => {
                a.outcome = Some(Outcome::Refused);
                return a;
            }
            Handshake::Reset => {
                a.outcome = Some(Outcome::Reset);
                return a;
            }
            Handshake::NoAnswer => {
                a.outcome = Some(Outcome::HandshakeFailed);
                return a;
            }
            Handshake::Status(status, retry_ms, s, rest) => {
                a.handshake_real_ms
                    .push(started.elapsed().as_secs_f64() * 1000.0);
                a.http_status = Some(status);
                if status == 503 {
                    a.rejected_503 += 1;
                    if try_no < p.retries {
                        try_no += 1;
                        let wait = retry_ms.unwrap_or(10_000);
                        sleep_until(clock, clock.now_ms().saturating_add(wait)).await;
                        continue;
                    }
                    a.outcome = Some(Outcome::Rejected503);
                    return a;
                }
                if status != 101 {
                    a.outcome = Some(Outcome::HandshakeFailed);
                    return a;
                }
                a.accepted_real_ms = Some(clock.epoch.elapsed().as_secs_f64() * 1000.0);
                session(p, s, rest, clock, &mut a).await;
                return a;
            }
        }
    }
}

/// A server frame.
enum In {
    Text(String),
    Ping(Vec<u8>),
    Close(Option<u16>, String),
}

/// Reads one server frame (unmasked), from `buf` first.
async fn read_frame(s: &mut tokio::net::tcp::OwnedReadHalf, buf: &mut Vec<u8>) -> Option<In> {
    loop {
        if let Some((frame, used)) = parse_frame(buf) {
            buf.drain(..used);
            return frame;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One frame of `b` and the bytes it used; None when `b` holds less than a frame. The outer
/// Option of the frame is None for frames the client ignores (pongs, binary).
fn parse_frame(b: &[u8]) -> Option<(Option<In>, usize)> {
    if b.len() < 2 {
        return None;
    }
    let op = b[0] & 0x0f;
    let masked = b[1] & 0x80 != 0;
    let (len, mut at) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (u64::from(u16::from_be_bytes([b[2], b[3]])), 4)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[2..10]);
            (u64::from_be_bytes(x), 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        if b.len() < at + 4 {
            return None;
        }
        let m = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    if b.len() < end {
        return None;
    }
    let mut payload = b[at..end].to_vec();
    if let Some(m) = mask {
        for (i, x) in payload.iter_mut().enumerate() {
            *x ^= m[i % 4];
        }
    }
    let frame = match op {
        0x1 => Some(In::Text(String::from_utf8_lossy(&payload).into_owned())),
        0x8 => {
            let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or(&[])).into_owned();
            Some(In::Close(code, reason))
        }
        0x9 => Some(In::Ping(payload)),
        _ => None,
    };
    Some((frame, end))
}

/// A masked client frame (a fixed mask: this client is a test peer, not a browser).
fn frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x5a, 0x11, 0xc3, 0x7e];
    let mut f = vec![0x80 | op];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, x)| x ^ mask[i % 4]));
    f
}

/// What the client does next, on its own schedule.
enum Next {
    Send(u32),
    Close,
}

async fn session(p: &Plan, s: TcpStream, rest: Vec<u8>, clock: RealClock, a: &mut WireAttempt) {
    let (mut rd, wr) = s.into_split();
    let wr = std::rc::Rc::new(tokio::sync::Mutex::new(wr));
    let mut buf = rest;
    let mut welcomed = false;
    let mut answered = 0u32;
    // When the client acts next: its first message on the welcome, the next one a gap after
    // an answer, its close after the hold.
    let mut due: Option<(u64, Next)> = None;
    loop {
        let wait = async {
            match &due {
                Some((t, _)) => sleep_until(clock, *t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            f = read_frame(&mut rd, &mut buf) => match f {
                None => {
                    // The socket ended without a close frame.
                    if a.outcome.is_none() {
                        a.outcome = Some(Outcome::Reset);
                    }
                    return;
                }
                Some(In::Ping(data)) => {
                    a.pings += 1;
                    // The pong leaves after this client's round trip.
                    let wr = wr.clone();
                    let rtt = p.rtt_ms;
                    let at = clock.now_ms().saturating_add(rtt);
                    #[allow(clippy::disallowed_methods)]
                    tokio::task::spawn_local(async move {
                        sleep_until(clock, at).await;
                        let _ = wr.lock().await.write_all(&frame(0xA, &data)).await;
                    });
                }
                Some(In::Close(code, reason)) => {
                    a.close_code = code;
                    a.reason = Reason::ALL.into_iter().find(|r| r.close_text() == reason);
                    a.close_reason = Some(reason);
                    a.outcome = Some(match code {
                        Some(1011) => Outcome::Closed1011,
                        Some(1008) => Outcome::Closed1008,
                        Some(1001) => Outcome::Closed1001,
                        // A normal close: the session ended as a served one does.
                        _ => Outcome::Served,
                    });
                    let _ = wr.lock().await.write_all(&frame(0x8, &code.unwrap_or(1000).to_be_bytes())).await;
                    return;
                }
                Some(In::Text(t)) => {
                    a.frames += 1;
                    if t.contains("\"error\"") {
                        a.error_frames += 1;
                    }
                    if !welcomed && t.contains("connection_established") {
                        welcomed = true;
                        due = Some(if p.messages > 0 {
                            (clock.now_ms(), Next::Send(1))
                        } else {
                            (clock.now_ms().saturating_add(p.hold_ms), Next::Close)
                        });
                    } else if welcomed && (t.contains("\"reply\"") || t.contains("\"error\"")) {
                        answered += 1;
                        due = Some(if answered < p.messages {
                            (clock.now_ms().saturating_add(p.gap_ms), Next::Send(answered + 1))
                        } else {
                            (clock.now_ms().saturating_add(p.hold_ms), Next::Close)
                        });
                    }
                }
            },
            _ = wait => {
                match due.take() {
                    Some((_, Next::Send(n))) => {
                        let msg = format!("{{\"type\":\"message\",\"n\":{n}}}");
                        let _ = wr.lock().await.write_all(&frame(0x1, msg.as_bytes())).await;
                    }
                    Some((_, Next::Close)) => {
                        a.outcome = Some(Outcome::Served);
                        let _ = wr.lock().await.write_all(&frame(0x8, &1000u16.to_be_bytes())).await;
                        // Wait for the server's close (its echo), briefly.
                        let end = clock.now_ms().saturating_add(2_000);
                        tokio::select! {
                            biased;
                            _ = async { while let Some(f) = read_frame(&mut rd, &mut buf).await {
                                if let In::Close(code, reason) = f {
                                    if code.is_some_and(|c| c != 1000) {
                                        a.close_code = code;
                                        a.close_reason = Some(reason);
                                    }
                                    break;
                                }
                            } } => {}
                            _ = sleep_until(clock, end) => {}
                        }
                        return;
                    }
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_parser() {
        let f = frame(0x1, b"hello");
        let (got, used) = parse_frame(&f).expect("a whole frame");
        assert_eq!(used, f.len());
        assert!(matches!(got, Some(In::Text(t)) if t == "hello"));
        let long = vec![b'x'; 300];
        let f = frame(0x1, &long);
        assert!(matches!(parse_frame(&f), Some((Some(In::Text(t)), _)) if t.len() == 300));
        assert!(parse_frame(&f[..f.len() - 1]).is_none());
        let mut close = vec![0x88, 0x00];
        let payload = [&1011u16.to_be_bytes()[..], b"Internal error"].concat();
        close[1] = payload.len() as u8;
        close.extend_from_slice(&payload);
        assert!(
            matches!(parse_frame(&close), Some((Some(In::Close(Some(1011), r)), _)) if r == "Internal error")
        );
    }
}

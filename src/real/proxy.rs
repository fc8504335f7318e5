//! The fault proxy: a loopback TCP proxy in front of a real Redis server that realises the
//! scenario's `[redis.server]` timeline in real time, on its own thread (so a frozen model
//! event loop does not freeze the network too).
//!
//! - While the timeline says down (before `up_from_ms`, in an outage) with `refuse_ms = 0`,
//!   the proxy does not listen: a connect fails with `ECONNREFUSED`, as against a server that
//!   is not there. With `refuse_ms > 0` a refusal takes that long: the connection is accepted
//!   and reset (RST) after `refuse_ms`. A request on an open connection while down resets it
//!   after `refuse_ms`: the client sees its request fail, as the model's `Failed`.
//! - An outage is an unreachable server: an idle established connection survives it (nothing
//!   on it notices until it is used), as TCP does across a partition.
//! - An accepted connection is joined to the server only after `connect_ms` plus any spike
//!   covering its start, so the handshake takes what the model says.
//! - Every request is held `ping_ms` plus any spike covering the instant it arrived, in
//!   order, before it goes upstream.
//! - A reply that comes back while the timeline says down is dropped (the model's lost reply:
//!   the caller's bound fires), and the connection is closed when the server is up again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::engine::RealClock;
use crate::scenario::RedisServer;

/// What the proxy did, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyLog {
    /// Connections joined to the server.
    pub joined: u64,
    /// Connections refused (closed) because the timeline said down.
    pub refused: u64,
    /// Open connections closed by a request made while down.
    pub reset: u64,
    /// Replies dropped because they came back while down.
    pub lost_replies: u64,
}

#[derive(Default)]
struct Counters {
    joined: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    lost_replies: AtomicU64,
}

/// A running proxy; stopped (every connection closed) on [`Proxy::stop`] or drop.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    counters: Arc<Counters>,
}

/// The first instant at or after `t` at which `s` is up (`t` itself if it is up).
fn next_up(s: &RedisServer, t: u64) -> u64 {
    let mut c: Vec<u64> = vec![t, s.up_from_ms];
    c.extend(s.outages.iter().map(|[_, e]| *e));
    c.sort_unstable();
    c.into_iter()
        .filter(|x| *x >= t)
        .find(|x| s.up(*x))
        .unwrap_or(u64::MAX)
}

/// The first instant after `t` at which `s` goes down (an outage's start), if any.
fn next_down(s: &RedisServer, t: u64) -> u64 {
    s.outages
        .iter()
        .map(|[a, _]| *a)
        .filter(|a| *a > t)
        .min()
        .unwrap_or(u64::MAX)
}

/// A loopback socket bound to `addr`, reusable at once after its listener closes.
fn bound_socket(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    Ok(s)
}

async fn sleep_until(clock: RealClock, t: u64) {
    #[allow(clippy::disallowed_methods)]
    tokio::time::sleep_until(tokio::time::Instant::from_std(clock.instant(t))).await;
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    s: Arc<RedisServer>,
    clock: RealClock,
    n: Arc<Counters>,
) {
    let a = clock.now_ms();
    if !s.up(a) {
        sleep_until(clock, a.saturating_add(s.refuse_ms)).await;
        n.refused.fetch_add(1, Ordering::Relaxed);
        // A reset, not a graceful close: what a refusal looks like once the TCP handshake is done.
        let _ = client.set_zero_linger();
        return;
    }
    sleep_until(clock, a + s.connect_ms + s.spike_extra(a)).await;
    let Ok(up) = TcpStream::connect(upstream).await else {
        return;
    };
    n.joined.fetch_add(1, Ordering::Relaxed);
    let _ = up.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Vec<u8>)>();
    let requests = {
        let s = s.clone();
        let n = n.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let Ok(k) = cr.read(&mut buf).await else {
                    return;
                };
                if k == 0 {
                    return;
                }
                let r = clock.now_ms();
                if !s.up(r) {
                    sleep_until(clock, r.saturating_add(s.refuse_ms)).await;
                    n.reset.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let at = r + s.ping_ms + s.spike_extra(r);
                if tx.send((at, buf[..k].to_vec())).is_err() {
                    return;
                }
            }
        }
    };
    let forward = async move {
        // In order: a request never overtakes an earlier one.
        let mut last = 0;
        while let Some((at, bytes)) = rx.recv().await {
            last = at.max(last);
            sleep_until(clock, last).await;
            if uw.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    let replies = {
        let s = s.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let Ok(k) = ur.read(&mut buf).await else {
                    return;
                };
                if k == 0 {
                    return;
                }
                let t = clock.now_ms();
                if !s.up(t) {
                    n.lost_replies.fetch_add(1, Ordering::Relaxed);
                    sleep_until(clock, next_up(&s, t)).await;
                    return;
                }
                if cw.write_all(&buf[..k]).await.is_err() {
                    return;
                }
            }
        }
    };
    // Whichever side ends first ends the connection: both sockets close on return.
    tokio::select! {
        biased;
        _ = requests => {}
        _ = forward => {}
        _ = replies => {}
    }
}

impl Proxy {
    /// Starts a proxy on a free loopback port in front of `upstream`, realising `server` on
    /// `clock`.
    pub fn start(
        upstream: SocketAddr,
        server: &RedisServer,
        clock: RealClock,
    ) -> std::io::Result<Proxy> {
        // The port is reserved now; it listens only while connections are to be taken.
        let first = bound_socket("127.0.0.1:0".parse().expect("a loopback address"))?;
        let addr = first.local_addr()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let counters = Arc::new(Counters::default());
        let s = Arc::new(server.clone());
        let n = counters.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Start returns once the port is in the state the timeline says (listening or not).
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        // The proxy is real network IO on purpose; it has its own thread so a blocking call in
        // the model (a freeze) stalls the app, not the network.
        #[allow(clippy::disallowed_methods)]
        let thread = std::thread::Builder::new()
            .name("readysim-proxy".into())
            .spawn(move || {
                rt.block_on(async move {
                    let mut socket = Some(first);
                    let mut ready = Some(ready_tx);
                    loop {
                        let now = clock.now_ms();
                        // Refusing at once: not listening, so the kernel answers RST.
                        if s.refuse_ms == 0 && !s.up(now) {
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                            let up = next_up(&s, now);
                            tokio::select! {
                                biased;
                                _ = &mut stopped => break,
                                _ = sleep_until(clock, up) => {}
                            }
                            continue;
                        }
                        let Some(sock) = socket.take().or_else(|| bound_socket(addr).ok()) else {
                            break;
                        };
                        let Ok(listener) = sock.listen(1024) else { break };
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                        let down = if s.refuse_ms == 0 { next_down(&s, now) } else { u64::MAX };
                        loop {
                            tokio::select! {
                                biased;
                                _ = &mut stopped => return,
                                _ = sleep_until(clock, down), if down != u64::MAX => break,
                                r = listener.accept() => {
                                    if let Ok((sock, _)) = r {
                                        #[allow(clippy::disallowed_methods)]
                                        tokio::spawn(serve(sock, upstream, s.clone(), clock, n.clone()));
                                    }
                                }
                            }
                        }
                        // The listener closes here: new connects are refused until it is back.
                    }
                });
                // Dropping the runtime cancels every connection task: all sockets close.
                drop(rt);
            })?;
        let _ = ready_rx.recv();
        Ok(Proxy {
            addr,
            stop: Some(stop),
            thread: Some(thread),
            counters,
        })
    }

    /// Stops the proxy, closing every connection, and says what it did.
    pub fn stop(mut self) -> ProxyLog {
        self.shutdown();
        self.log()
    }

    /// What it did so far.
    pub fn log(&self) -> ProxyLog {
        let c = &self.counters;
        ProxyLog {
            joined: c.joined.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            reset: c.reset.load(Ordering::Relaxed),
            lost_replies: c.lost_replies.load(Ordering::Relaxed),
        }
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_up_skips_outages() {
        let s = RedisServer {
            up_from_ms: 100,
            outages: vec![[500, 600], [600, 700]],
            ..RedisServer::default()
        };
        assert_eq!(next_up(&s, 0), 100);
        assert_eq!(next_up(&s, 300), 300);
        assert_eq!(next_up(&s, 550), 700);
    }
}

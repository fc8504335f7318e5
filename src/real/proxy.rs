//! The fault proxy: a loopback TCP proxy in front of a real Redis server that realises the
//! scenario's `[redis.server]` timeline in real time, on its own thread (so a frozen model
//! event loop does not freeze the network too).
//!
//! - While the timeline says down (before `up_from_ms`, in an outage), a new connection is
//!   closed after `refuse_ms`, and a request on an open one closes it after `refuse_ms`:
//!   the client sees a refused or reset connection, as the model's `Failed`.
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
use tokio::net::{TcpListener, TcpStream};

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
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let counters = Arc::new(Counters::default());
        let s = Arc::new(server.clone());
        let n = counters.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // The proxy is real network IO on purpose; it has its own thread so a blocking call in
        // the model (a freeze) stalls the app, not the network.
        #[allow(clippy::disallowed_methods)]
        let thread = std::thread::Builder::new()
            .name("readysim-proxy".into())
            .spawn(move || {
                rt.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            biased;
                            _ = &mut stopped => break,
                            r = listener.accept() => {
                                if let Ok((sock, _)) = r {
                                    #[allow(clippy::disallowed_methods)]
                                    tokio::spawn(serve(sock, upstream, s.clone(), clock, n.clone()));
                                }
                            }
                        }
                    }
                });
                // Dropping the runtime cancels every connection task: all sockets close.
                drop(rt);
            })?;
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

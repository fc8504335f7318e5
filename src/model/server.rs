//! The Redis server: the environment. Up time, outages, connect and ping latency, spikes.
//!
//! Pure functions of virtual time: every answer is known when a request starts, so callers
//! just sleep until it (no select, no timers of its own). [`Link`] is the one seam between
//! the manager and a server: the modelled one here, or a real one behind [`RedisBackend`]
//! (`readysim real`), so the manager's code is the same in both.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::engine::Rt;
use crate::scenario::RedisServer;

/// How a request to the server ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answered at this time.
    Ok(u64),
    /// Failed (refused) at this time.
    Failed(u64),
    /// The caller's timeout fired at this time.
    TimedOut(u64),
}

impl Reply {
    /// When the caller learns the result.
    pub fn at(self) -> u64 {
        match self {
            Reply::Ok(t) | Reply::Failed(t) | Reply::TimedOut(t) => t,
        }
    }

    /// Whether it answered.
    pub fn ok(self) -> bool {
        matches!(self, Reply::Ok(_))
    }
}

/// The server's behaviour, from `[redis.server]`: its timeline (`up`, `spike_extra`) is the
/// scenario's own; this actor answers requests against it.
#[derive(Clone, Debug)]
pub struct ServerModel {
    s: RedisServer,
}

impl ServerModel {
    /// From the scenario's `[redis.server]`.
    pub fn new(s: &RedisServer) -> ServerModel {
        ServerModel { s: s.clone() }
    }

    /// Whether the server accepts connections and answers at `t`.
    pub fn up(&self, t: u64) -> bool {
        self.s.up(t)
    }

    /// A connect attempt starting at `a`, bounded by the caller's `timeout`: it succeeds iff
    /// the server is up at `a` and the handshake (`connect_ms` plus any spike covering `a`)
    /// takes less than `timeout`; a handshake of `timeout` or more fails at the bound.
    pub fn connect(&self, a: u64, timeout: u64) -> Reply {
        let limit = a.saturating_add(timeout);
        let end = if self.up(a) {
            a.saturating_add(self.s.connect_ms.saturating_add(self.s.spike_extra(a)))
        } else {
            a.saturating_add(self.s.refuse_ms)
        };
        match (self.up(a), end >= limit) {
            (_, true) => Reply::TimedOut(limit),
            (true, false) => Reply::Ok(end),
            (false, false) => Reply::Failed(end),
        }
    }

    /// A ping (or any request) starting at `a` with the caller's `timeout`. A reply that would
    /// arrive while the server is down is lost, so the caller waits for its timeout; a reply
    /// due at the instant of the timeout is not seen either (`wait_for` fires first).
    pub fn ping(&self, a: u64, timeout: u64) -> Reply {
        let limit = a.saturating_add(timeout);
        if !self.up(a) {
            let t = a.saturating_add(self.s.refuse_ms);
            return if t >= limit {
                Reply::TimedOut(limit)
            } else {
                Reply::Failed(t)
            };
        }
        let b = a.saturating_add(self.s.ping_ms.saturating_add(self.s.spike_extra(a)));
        if b >= limit || !self.up(b) {
            Reply::TimedOut(limit)
        } else {
            Reply::Ok(b)
        }
    }
}

/// How a request to a real server ended (its time is the clock's when it did).
#[cfg_attr(not(feature = "real"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Answered.
    Answered,
    /// Failed: refused, reset, closed.
    Failed,
    /// The caller's bound passed first.
    TimedOut,
}

/// A boxed future of a backend call.
pub type Call<'a> = Pin<Box<dyn Future<Output = Ending> + 'a>>;

/// A Redis server seen the way the manager uses one: each call waits for its answer or its
/// bound (`timeout_ms`, in scenario milliseconds) and says how it ended. `readysim real`
/// implements it with a real client; the model's own server is [`ServerModel`].
pub trait RedisBackend {
    /// Drops the current connection, opens a new one and pings it (the handshake).
    fn connect(&self, timeout_ms: u64) -> Call<'_>;
    /// Pings the current connection (fails at once without one).
    fn ping(&self, timeout_ms: u64) -> Call<'_>;
    /// One data operation (a message's write) on the current connection.
    fn write(&self, timeout_ms: u64) -> Call<'_>;
    /// Forgets the current connection (the manager dropped its client).
    fn drop_connection(&self);
}

/// What the manager talks to: the modelled server, or an external one.
pub enum Link {
    /// The scenario's `[redis.server]`, answered in virtual time.
    Model(ServerModel),
    /// A real server (`readysim real`).
    External(Rc<dyn RedisBackend>),
}

impl Link {
    fn ended(e: Ending, rt: &Rt) -> Reply {
        let t = rt.now();
        match e {
            Ending::Answered => Reply::Ok(t),
            Ending::Failed => Reply::Failed(t),
            Ending::TimedOut => Reply::TimedOut(t),
        }
    }

    /// A connect attempt (with its handshake) bounded by `timeout`; returns when it ends.
    pub async fn connect(&self, rt: &Rt, timeout: u64) -> Reply {
        match self {
            Link::Model(s) => {
                let r = s.connect(rt.now(), timeout);
                rt.sleep_until(r.at()).await;
                r
            }
            Link::External(b) => Link::ended(b.connect(timeout).await, rt),
        }
    }

    /// A ping bounded by `timeout`; returns when it ends.
    pub async fn ping(&self, rt: &Rt, timeout: u64) -> Reply {
        match self {
            Link::Model(s) => {
                let r = s.ping(rt.now(), timeout);
                rt.sleep_until(r.at()).await;
                r
            }
            Link::External(b) => Link::ended(b.ping(timeout).await, rt),
        }
    }

    /// A data operation bounded by `timeout` (the model answers it as a ping).
    pub async fn write(&self, rt: &Rt, timeout: u64) -> Reply {
        match self {
            Link::Model(s) => {
                let r = s.ping(rt.now(), timeout);
                rt.sleep_until(r.at()).await;
                r
            }
            Link::External(b) => Link::ended(b.write(timeout).await, rt),
        }
    }

    /// The manager dropped its client.
    pub fn drop_connection(&self) {
        if let Link::External(b) = self {
            b.drop_connection();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::PingSpike;

    fn server() -> ServerModel {
        ServerModel::new(&RedisServer {
            up_from_ms: 100,
            outages: vec![[500, 600]],
            connect_ms: 5,
            refuse_ms: 2,
            ping_ms: 1,
            ping_spikes: vec![PingSpike {
                at_ms: 1000,
                extra_ms: 300,
            }],
        })
    }

    #[test]
    fn connect_depends_only_on_the_start_instant() {
        let s = server();
        assert_eq!(s.connect(50, 5000), Reply::Failed(52));
        assert_eq!(s.connect(496, 5000), Reply::Ok(501));
        assert_eq!(
            s.connect(1000, 5000),
            Reply::Ok(1305),
            "a spike covering the start"
        );
    }

    #[test]
    fn a_handshake_as_long_as_the_timeout_fails_at_the_bound() {
        let mut r = server().s;
        r.ping_spikes = vec![PingSpike {
            at_ms: 1000,
            extra_ms: 4995,
        }];
        let s = ServerModel::new(&r);
        // 5 + 4995 = 5000: equal to the timeout is a timeout, a failure at the bound.
        assert_eq!(s.connect(1000, 5000), Reply::TimedOut(6000));
        assert_eq!(s.connect(1000, 5001), Reply::Ok(6000));
        r.ping_spikes[0].extra_ms = 6000;
        let s = ServerModel::new(&r);
        assert_eq!(
            s.connect(1000, 5000),
            Reply::TimedOut(6000),
            "6005 ms is cut at 5000"
        );
        r.refuse_ms = 7000;
        let s = ServerModel::new(&r);
        assert_eq!(s.connect(50, 5000), Reply::TimedOut(5050));
    }

    #[test]
    fn a_reply_due_at_the_timeout_is_not_seen() {
        let s = server();
        assert_eq!(s.ping(200, 2), Reply::Ok(201));
        assert_eq!(s.ping(200, 1), Reply::TimedOut(201));
        assert_eq!(s.ping(550, 2), Reply::TimedOut(552));
        assert_eq!(s.ping(1000, 301), Reply::TimedOut(1301));
        assert_eq!(s.ping(1000, 302), Reply::Ok(1301));
    }

    #[test]
    fn pings_time_out_in_spikes_and_lose_replies_in_outages() {
        let s = server();
        assert_eq!(s.ping(200, 100), Reply::Ok(201));
        assert_eq!(s.ping(1000, 100), Reply::TimedOut(1100));
        assert_eq!(s.ping(1299, 5000), Reply::Ok(1600));
        assert_eq!(s.ping(1300, 100), Reply::Ok(1301));
        assert_eq!(s.ping(499, 100), Reply::TimedOut(599));
        assert_eq!(s.ping(550, 100), Reply::Failed(552));
        assert_eq!(s.ping(550, 1), Reply::TimedOut(551));
    }
}

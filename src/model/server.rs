//! The Redis server: the environment. Up time, outages, connect and ping latency, spikes.
//!
//! Pure functions of virtual time: every answer is known when a request starts, so callers
//! just sleep until it (no select, no timers of its own).

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

    /// A connect attempt starting at `a`: it succeeds iff the server is up at `a`.
    pub fn connect(&self, a: u64) -> Reply {
        if self.up(a) {
            Reply::Ok(a.saturating_add(self.s.connect_ms.saturating_add(self.s.spike_extra(a))))
        } else {
            Reply::Failed(a.saturating_add(self.s.refuse_ms))
        }
    }

    /// A ping (or any request) starting at `a` with the caller's `timeout`. A reply that would
    /// arrive while the server is down is lost, so the caller waits for its timeout.
    pub fn ping(&self, a: u64, timeout: u64) -> Reply {
        let limit = a.saturating_add(timeout);
        if !self.up(a) {
            let t = a.saturating_add(self.s.refuse_ms);
            return if t > limit {
                Reply::TimedOut(limit)
            } else {
                Reply::Failed(t)
            };
        }
        let b = a.saturating_add(self.s.ping_ms.saturating_add(self.s.spike_extra(a)));
        if b > limit || !self.up(b) {
            Reply::TimedOut(limit)
        } else {
            Reply::Ok(b)
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
        assert_eq!(s.connect(50), Reply::Failed(52));
        assert_eq!(s.connect(496), Reply::Ok(501));
        assert_eq!(s.connect(1000), Reply::Ok(1305));
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

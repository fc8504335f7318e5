//! The Redis server: the environment. Up time, outages, connect and ping latency, spikes.
//!
//! Pure functions of virtual time: every answer is known when a request starts, so callers
//! just sleep until it (no select, no timers of its own).

use crate::scenario::{PingSpike, RedisServer};

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

/// The server's behaviour, from `[redis.server]`.
#[derive(Clone, Debug)]
pub struct ServerModel {
    up_from: u64,
    outages: Vec<[u64; 2]>,
    connect_ms: u64,
    refuse_ms: u64,
    ping_ms: u64,
    spikes: Vec<PingSpike>,
}

impl ServerModel {
    /// From the scenario's `[redis.server]` (outages assumed valid: sorted on load).
    pub fn new(s: &RedisServer) -> ServerModel {
        let mut outages = s.outages.clone();
        outages.sort_unstable();
        ServerModel {
            up_from: s.up_from_ms,
            outages,
            connect_ms: s.connect_ms,
            refuse_ms: s.refuse_ms,
            ping_ms: s.ping_ms,
            spikes: s.ping_spikes.clone(),
        }
    }

    /// Whether the server accepts connections and answers at `t`.
    pub fn up(&self, t: u64) -> bool {
        t >= self.up_from && !self.outages.iter().any(|[s, e]| *s <= t && t < *e)
    }

    /// Start of the up-interval that contains `t`, if the server is up at `t`.
    pub fn up_since(&self, t: u64) -> Option<u64> {
        if !self.up(t) {
            return None;
        }
        let since = self
            .outages
            .iter()
            .filter(|[_, e]| *e <= t)
            .map(|[_, e]| *e)
            .max()
            .unwrap_or(0);
        Some(since.max(self.up_from))
    }

    /// Whether the server is up at `t` and a ping starting then answers within `timeout`.
    pub fn responsive(&self, t: u64, timeout: u64) -> bool {
        self.up(t) && self.ping_ms.saturating_add(self.spike_extra(t)) <= timeout
    }

    /// Start of the responsive stretch that contains `t`, if the server is responsive at `t`.
    pub fn responsive_since(&self, t: u64, timeout: u64) -> Option<u64> {
        if !self.responsive(t, timeout) {
            return None;
        }
        // Responsiveness only changes where an outage or a spike starts or ends.
        let mut edges: Vec<u64> = self
            .spikes
            .iter()
            .flat_map(|s| [s.at_ms, s.at_ms.saturating_add(s.extra_ms)])
            .chain(self.outages.iter().flat_map(|[a, b]| [*a, *b]))
            .chain([self.up_from])
            .filter(|e| *e > 0 && *e <= t)
            .collect();
        edges.sort_unstable_by(|a, b| b.cmp(a));
        edges.dedup();
        Some(
            edges
                .into_iter()
                .find(|e| !self.responsive(e - 1, timeout))
                .unwrap_or(0),
        )
    }

    /// Extra latency of a ping (or a connect's handshake ping) that starts at `a`.
    pub fn spike_extra(&self, a: u64) -> u64 {
        self.spikes
            .iter()
            .filter(|s| s.at_ms <= a && a < s.at_ms.saturating_add(s.extra_ms))
            .fold(0u64, |acc, s| acc.saturating_add(s.extra_ms))
    }

    /// A connect attempt starting at `a`: it succeeds iff the server is up at `a`.
    pub fn connect(&self, a: u64) -> Reply {
        if self.up(a) {
            Reply::Ok(a.saturating_add(self.connect_ms.saturating_add(self.spike_extra(a))))
        } else {
            Reply::Failed(a.saturating_add(self.refuse_ms))
        }
    }

    /// A ping (or any request) starting at `a` with the caller's `timeout`. A reply that would
    /// arrive while the server is down is lost, so the caller waits for its timeout.
    pub fn ping(&self, a: u64, timeout: u64) -> Reply {
        let limit = a.saturating_add(timeout);
        if !self.up(a) {
            let t = a.saturating_add(self.refuse_ms);
            return if t > limit {
                Reply::TimedOut(limit)
            } else {
                Reply::Failed(t)
            };
        }
        let b = a.saturating_add(self.ping_ms.saturating_add(self.spike_extra(a)));
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
    fn up_respects_up_from_and_half_open_outages() {
        let s = server();
        assert!(!s.up(99));
        assert!(s.up(100));
        assert!(s.up(499));
        assert!(!s.up(500));
        assert!(!s.up(599));
        assert!(s.up(600));
        assert_eq!(s.up_since(700), Some(600));
        assert_eq!(s.up_since(200), Some(100));
        assert_eq!(s.up_since(550), None);
    }

    #[test]
    fn responsiveness_ends_in_outages_and_in_spikes_above_the_timeout() {
        let s = server();
        assert_eq!(s.responsive_since(700, 5000), Some(600));
        assert_eq!(
            s.responsive_since(1100, 5000),
            Some(600),
            "a 300 ms spike is fine"
        );
        assert_eq!(
            s.responsive_since(1100, 200),
            None,
            "but not against 200 ms"
        );
        assert_eq!(s.responsive_since(1400, 200), Some(1300));
        assert_eq!(s.responsive_since(550, 5000), None);
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

//! The Redis server's timeline as the scenario describes it: when it is up, since when, and
//! how long a ping starting at an instant takes. Pure functions of virtual time, read by the
//! model's server actor and by the judge alike (the environment is data, not an actor).

use super::types::RedisServer;

impl RedisServer {
    /// Whether the server accepts connections and answers at `t`.
    pub fn up(&self, t: u64) -> bool {
        t >= self.up_from_ms && !self.outages.iter().any(|[s, e]| *s <= t && t < *e)
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
        Some(since.max(self.up_from_ms))
    }

    /// Extra latency of a ping (or a connect's handshake ping) that starts at `a`: the sum of
    /// every spike covering `a`.
    pub fn spike_extra(&self, a: u64) -> u64 {
        self.ping_spikes
            .iter()
            .filter(|s| s.at_ms <= a && a < s.at_ms.saturating_add(s.extra_ms))
            .fold(0u64, |acc, s| acc.saturating_add(s.extra_ms))
    }

    /// Whether the server is up at `t` and a ping starting then answers before `timeout`
    /// (a reply due at the timeout is not seen).
    pub fn responsive(&self, t: u64, timeout: u64) -> bool {
        self.up(t) && self.ping_ms.saturating_add(self.spike_extra(t)) < timeout
    }

    /// Start of the responsive stretch that contains `t`, if the server is responsive at `t`.
    pub fn responsive_since(&self, t: u64, timeout: u64) -> Option<u64> {
        if !self.responsive(t, timeout) {
            return None;
        }
        // Responsiveness only changes where an outage or a spike starts or ends.
        let mut edges: Vec<u64> = self
            .ping_spikes
            .iter()
            .flat_map(|s| [s.at_ms, s.at_ms.saturating_add(s.extra_ms)])
            .chain(self.outages.iter().flat_map(|[a, b]| [*a, *b]))
            .chain([self.up_from_ms])
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
}

#[cfg(test)]
mod tests {
    use super::super::types::PingSpike;
    use super::*;

    fn server() -> RedisServer {
        RedisServer {
            up_from_ms: 100,
            outages: vec![[500, 600]],
            connect_ms: 5,
            refuse_ms: 2,
            ping_ms: 1,
            ping_spikes: vec![PingSpike {
                at_ms: 1000,
                extra_ms: 300,
            }],
        }
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
}

//! A dependency's timeline as the scenario describes it: when it is up, since when, and how
//! long a request starting at an instant takes. Pure functions of virtual time, read by the
//! model's actors and by the judge alike (the environment is data, not an actor). Redis, the
//! auth service and the database each expose theirs as a [`Timeline`].

use super::types::{PingSpike, RedisServer, Service};

/// What a dependency does over time: refused before `up_from_ms` and inside `outages`, a
/// request otherwise taking `latency_ms` plus every spike covering its start, a request to a
/// down dependency failing after `refuse_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeline<'a> {
    /// Before this, every request is refused.
    pub up_from_ms: u64,
    /// `[start, end)` windows in which it is unreachable.
    pub outages: &'a [[u64; 2]],
    /// A request's duration.
    pub latency_ms: u64,
    /// How long a request to it while it is down takes to fail.
    pub refuse_ms: u64,
    /// Requests starting in `[at_ms, at_ms + extra_ms)` take `extra_ms` longer.
    pub spikes: &'a [PingSpike],
}

impl Timeline<'_> {
    /// Whether it accepts connections and answers at `t`.
    pub fn up(&self, t: u64) -> bool {
        t >= self.up_from_ms && !self.outages.iter().any(|[s, e]| *s <= t && t < *e)
    }

    /// Start of the up-interval that contains `t`, if it is up at `t`.
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

    /// Extra latency of a request that starts at `a`: the sum of every spike covering `a`.
    pub fn spike_extra(&self, a: u64) -> u64 {
        self.spikes
            .iter()
            .filter(|s| s.at_ms <= a && a < s.at_ms.saturating_add(s.extra_ms))
            .fold(0u64, |acc, s| acc.saturating_add(s.extra_ms))
    }

    /// When a request starting at `a` ends, and whether it succeeded: after `refuse_ms` as a
    /// failure when down at `a`, else after the latency and spikes.
    pub fn answer(&self, a: u64) -> (u64, bool) {
        if self.up(a) {
            (
                a.saturating_add(self.latency_ms.saturating_add(self.spike_extra(a))),
                true,
            )
        } else {
            (a.saturating_add(self.refuse_ms), false)
        }
    }

    /// Whether it is up at `t` and a request starting then answers before `timeout` (a reply
    /// due at the timeout is not seen).
    pub fn responsive(&self, t: u64, timeout: u64) -> bool {
        self.up(t) && self.latency_ms.saturating_add(self.spike_extra(t)) < timeout
    }

    /// Start of the responsive stretch that contains `t`, if it is responsive at `t`.
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

    /// The instants where what it does may change: its up time, every outage's end and every
    /// spike's end (where a usable stretch can begin).
    pub fn recoveries(&self) -> impl Iterator<Item = u64> + '_ {
        [0, self.up_from_ms]
            .into_iter()
            .chain(self.outages.iter().map(|[_, e]| *e))
            .chain(
                self.spikes
                    .iter()
                    .map(|s| s.at_ms.saturating_add(s.extra_ms)),
            )
    }
}

impl RedisServer {
    /// The server's timeline: its pings are its requests.
    pub fn timeline(&self) -> Timeline<'_> {
        Timeline {
            up_from_ms: self.up_from_ms,
            outages: &self.outages,
            latency_ms: self.ping_ms,
            refuse_ms: self.refuse_ms,
            spikes: &self.ping_spikes,
        }
    }

    /// Whether the server accepts connections and answers at `t`.
    pub fn up(&self, t: u64) -> bool {
        self.timeline().up(t)
    }

    /// Start of the up-interval that contains `t`, if the server is up at `t`.
    pub fn up_since(&self, t: u64) -> Option<u64> {
        self.timeline().up_since(t)
    }

    /// Extra latency of a ping (or a connect's handshake ping) that starts at `a`.
    pub fn spike_extra(&self, a: u64) -> u64 {
        self.timeline().spike_extra(a)
    }

    /// Whether the server is up at `t` and a ping starting then answers before `timeout`.
    pub fn responsive(&self, t: u64, timeout: u64) -> bool {
        self.timeline().responsive(t, timeout)
    }

    /// Start of the responsive stretch that contains `t`, if the server is responsive at `t`.
    pub fn responsive_since(&self, t: u64, timeout: u64) -> Option<u64> {
        self.timeline().responsive_since(t, timeout)
    }
}

impl Service {
    /// The service's timeline.
    pub fn timeline(&self) -> Timeline<'_> {
        Timeline {
            up_from_ms: self.up_from_ms,
            outages: &self.outages,
            latency_ms: self.latency_ms,
            refuse_ms: self.refuse_ms,
            spikes: &self.spikes,
        }
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

    #[test]
    fn a_service_answers_after_its_latency_or_fails_after_refuse_ms() {
        let svc = Service {
            up_from_ms: 0,
            latency_ms: 20,
            outages: vec![[100, 200]],
            refuse_ms: 3,
            spikes: vec![PingSpike {
                at_ms: 300,
                extra_ms: 50,
            }],
        };
        let t = svc.timeline();
        assert_eq!(t.answer(10), (30, true));
        assert_eq!(t.answer(150), (153, false));
        assert_eq!(t.answer(320), (390, true));
    }
}

//! The judge: reads a run's trace and the environment the scenario describes (never policy
//! code, so a policy bug cannot hide itself) and says which named properties were violated,
//! and which named orderings the run reached.
//!
//! ```text
//! trace + Env (server timeline, manager knobs) + Contract --fold (ground)--> violations
//!                                                          \--> orderings reached (coverage)
//! ```

pub mod coverage;
mod ground;
mod oracles;

pub use ground::operational_intervals;
pub use oracles::{findings, Finding, Site};

use crate::scenario::{Client, RedisServer, Scenario};

/// What the judge knows besides the trace: the environment as the scenario describes it.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// The Redis server's timeline.
    pub server: &'a RedisServer,
    /// The manager is Operational only this long after its last connect.
    pub stabilize_ms: u64,
    /// The manager's own ping timeout: slower answers make Redis unusable.
    pub ping_timeout_ms: u64,
    /// The clients as the file lists them (an entry stands for `count` clients).
    pub clients: &'a [Client],
}

impl<'a> Env<'a> {
    /// The environment of `sc`.
    pub fn of(sc: &'a Scenario) -> Env<'a> {
        Env {
            server: &sc.redis.server,
            stabilize_ms: sc.redis.manager.stabilize_ms,
            ping_timeout_ms: sc.redis.manager.ping_timeout_ms,
            clients: &sc.clients,
        }
    }

    /// The keepalive round trip of client `index` (1-based, entries expanded by `count`, as
    /// the trace numbers them).
    pub fn rtt_ms(&self, index: u32) -> Option<u64> {
        let mut left = u64::from(index.checked_sub(1)?);
        for c in self.clients {
            let n = u64::from(c.count);
            if left < n {
                return Some(c.rtt_ms);
            }
            left -= n;
        }
        None
    }
}

/// The promises of the design under judgement that go beyond the real system's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contract {
    /// The reference design's stricter rules: any 1011 at all is a violation.
    pub strict: bool,
}

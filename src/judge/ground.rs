//! The ground truth, rebuilt from the trace and the environment: the manager's state as the
//! trace tells it and the server's as the scenario does, hence Operational(t).

use super::Env;
use crate::spec::BREAKER_RECOVERY_MS;
use crate::trace::{Ev, Event};

/// The manager's state as the trace tells it, and the server's as the scenario does.
pub(super) struct Ground<'a> {
    env: &'a Env<'a>,
    connected: bool,
    client: bool,
    connected_at: Option<u64>,
    breaker_open: bool,
    breaker_closed_at: u64,
    last_failure: Option<u64>,
}

impl<'a> Ground<'a> {
    /// Before the first event: nothing connected, the breaker closed.
    pub(super) fn new(env: &'a Env<'a>) -> Ground<'a> {
        Ground {
            env,
            connected: false,
            client: false,
            connected_at: None,
            breaker_open: false,
            breaker_closed_at: 0,
            last_failure: None,
        }
    }

    /// Folds one event in.
    pub(super) fn apply(&mut self, e: &Event) {
        match e.ev {
            Ev::ConnectStart { .. } | Ev::ClientDropped => {
                self.connected = false;
                self.client = false;
            }
            Ev::Connected => {
                self.connected = true;
                self.client = true;
                self.connected_at = Some(e.t);
            }
            Ev::HealthFailed | Ev::OpFailed => self.connected = false,
            Ev::BreakerFailure { open, .. } => {
                self.last_failure = Some(e.t);
                self.breaker_open = open;
            }
            Ev::BreakerSuccess { closed: true } => {
                self.breaker_open = false;
                self.breaker_closed_at = e.t;
            }
            _ => {}
        }
    }

    /// `is_connected` as the trace tells it.
    pub(super) fn is_connected(&self) -> bool {
        self.connected && self.client
    }

    /// Since when Operational has held without a break, if it holds at `t`.
    fn operational_since(&self, t: u64) -> Option<u64> {
        if !self.is_connected() {
            return None;
        }
        let up = self.env.server.up_since(t)?;
        let stable = self.connected_at?.saturating_add(self.env.stabilize_ms);
        if t < stable {
            return None;
        }
        let breaker = if self.breaker_open {
            let allowed = self.last_failure.map_or(0, |f| f + BREAKER_RECOVERY_MS + 1);
            if t < allowed {
                return None;
            }
            allowed
        } else {
            self.breaker_closed_at
        };
        Some(up.max(stable).max(breaker))
    }

    /// Operational(t).
    pub(super) fn operational(&self, t: u64) -> bool {
        self.operational_since(t).is_some()
    }

    /// Since when Redis has been *usable* without a break: Operational, and answering a ping
    /// within the manager's own ping timeout. A failure is only spurious against a usable Redis
    /// (a server that takes a minute to answer is up, but nobody could call it ready).
    pub(super) fn usable_since(&self, t: u64) -> Option<u64> {
        let op = self.operational_since(t)?;
        let responsive = self
            .env
            .server
            .responsive_since(t, self.env.ping_timeout_ms)?;
        Some(op.max(responsive))
    }
}

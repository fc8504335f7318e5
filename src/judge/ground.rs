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

/// The stretches `[from, to)` of `0..end` in which Redis was Operational, as the trace and the
/// environment tell it (for pictures; the oracles evaluate Operational at each event).
pub fn operational_intervals(env: &Env, trace: &[Event], end: u64) -> Vec<(u64, u64)> {
    let mut g = Ground::new(env);
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut push = |from: u64, to: u64, on: bool| {
        if !on || from >= to {
            return;
        }
        match out.last_mut() {
            Some(last) if last.1 == from => last.1 = to,
            _ => out.push((from, to)),
        }
    };
    let server = env.server;
    let mut env_edges: Vec<u64> = vec![server.up_from_ms];
    env_edges.extend(server.outages.iter().flat_map(|[a, b]| [*a, *b]));
    let mut i = 0;
    let mut t = 0;
    loop {
        while i < trace.len() && trace[i].t <= t {
            g.apply(&trace[i]);
            i += 1;
        }
        let next = trace.get(i).map_or(end, |e| e.t).min(end);
        // Within [t, next) the manager's state is fixed; Operational can still change where
        // the server goes up or down, stabilisation ends, or the breaker allows again.
        let mut edges: Vec<u64> = env_edges.clone();
        if let Some(c) = g.connected_at {
            edges.push(c.saturating_add(env.stabilize_ms));
        }
        if let Some(f) = g.last_failure {
            edges.push(f.saturating_add(BREAKER_RECOVERY_MS + 1));
        }
        edges.retain(|e| *e > t && *e < next);
        edges.sort_unstable();
        edges.dedup();
        let mut from = t;
        for e in edges.into_iter().chain([next]) {
            push(from, e, g.operational(from));
            from = e;
        }
        if next >= end {
            break;
        }
        t = next;
    }
    out
}

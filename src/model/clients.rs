//! The clients: `[[clients]]` entries expanded by `count`, each a task that connects, is
//! served by the route, and reconnects after a server close or a reset as often as its
//! `reconnects` allow. Every attempt has exactly one outcome (and a reason for a 1011/1008).

use std::rc::Rc;

use super::wire::ConnKey;
use super::world::World;
use super::{gateway, route};
use crate::scenario::{Client, Scenario};
use crate::trace::Ev;
use crate::vocab::{Actor, Outcome, Reason};

/// One client of the run: an entry's copy, with its own arrival and identity.
#[derive(Clone, Debug)]
pub struct Plan {
    /// 0-based index over the expanded clients (its actor is `client#index+1`).
    pub index: usize,
    /// When it first connects.
    pub at_ms: u64,
    /// Who it authenticates as.
    pub user_id: String,
    /// The entry it stands for.
    pub spec: Client,
}

/// The clients of `sc`: each entry `count` times, `every_ms` apart, in file order; the
/// default user id is `user_<k>`, k the entry's 1-based position.
pub fn expand(sc: &Scenario) -> Vec<Plan> {
    let mut out = Vec::new();
    for (k, c) in sc.clients.iter().enumerate() {
        let user_id = c
            .user_id
            .clone()
            .unwrap_or_else(|| format!("user_{}", k + 1));
        for i in 0..u64::from(c.count) {
            out.push(Plan {
                index: out.len(),
                at_ms: c.at_ms.saturating_add(i.saturating_mul(c.every_ms)),
                user_id: user_id.clone(),
                spec: c.clone(),
            });
        }
    }
    out
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// What the client saw.
    pub outcome: Outcome,
    /// The close reason of a 1011 or 1008.
    pub reason: Option<Reason>,
}

impl Ended {
    /// An outcome without a close reason.
    pub fn plain(outcome: Outcome) -> Ended {
        Ended {
            outcome,
            reason: None,
        }
    }

    /// Whether a client comes back after it: a server close or a reset.
    fn reconnects(self) -> bool {
        matches!(
            self.outcome,
            Outcome::Closed1011 | Outcome::Closed1008 | Outcome::Closed1001 | Outcome::Reset
        )
    }
}

/// One client's task: its attempts, one after another.
pub async fn run(w: Rc<World>, plan: Plan) {
    let actor = Actor::Client(plan.index as u32 + 1);
    let mut at = plan.at_ms;
    let mut attempt = 0u32;
    loop {
        w.rt.sleep_until(at).await;
        let key = ConnKey {
            client: plan.index as u32,
            attempt,
            try_no: 0,
        };
        if let Some(wire) = &w.wire {
            // Before the attempt shows in the trace: waiting here is arriving later within
            // the instant, not interleaving with other arrivals.
            wire.arrival(key).await;
        }
        let ended = match gateway::connect(&w, actor, plan.spec.retries, key).await {
            Ok(key) => route::serve(&w, &plan, actor, key).await,
            Err(outcome) => Ended::plain(outcome),
        };
        w.attempt_done(plan.index, ended);
        if ended.reconnects() && attempt < plan.spec.reconnects {
            attempt += 1;
            at = w.now().saturating_add(plan.spec.reconnect_gap_ms);
            w.emit(actor, Ev::Reconnect { attempt });
            continue;
        }
        w.client_finished(plan.index);
        return;
    }
}

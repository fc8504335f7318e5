//! T1, the f1 route's per-user manager registry: one per worker. Each accepted, authenticated
//! connection creates a manager that the route never releases; the factory refuses a user at
//! the limit unless the emergency cleanup reclaims enough; a background sweep reclaims idle
//! managers. Reclaiming never closes a socket.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use super::world::World;
use crate::trace::Ev;
use crate::vocab::Actor;

/// One per-user manager.
#[derive(Clone, Copy, Debug)]
struct Mgr {
    id: u64,
    created: u64,
    /// Creation, every server send on it (welcome, replies), and its socket's close.
    last_activity: u64,
    open: bool,
}

/// The registry: managers by user (a `BTreeMap`, so a sweep visits users in a fixed order).
#[derive(Default)]
pub struct Registry {
    users: RefCell<BTreeMap<String, Vec<Mgr>>>,
    next: Cell<u64>,
}

/// A manager handed to a connection: whose, and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    user: String,
    id: u64,
}

impl Registry {
    /// The factory's decision for a new connection of `user` at `now`: a manager, or a refusal
    /// (the user still holds `limit` after the cleanup). The cleanup runs at the limit, or from
    /// `proactive_at` managers on when that is not 0.
    pub fn create(&self, w: &World, actor: Actor, user: &str, now: u64) -> Result<Handle, u32> {
        let p = &w.policy;
        let mut users = self.users.borrow_mut();
        let list = users.entry(user.to_string()).or_default();
        let n = list.len() as u32;
        if n >= p.manager_limit || (p.manager_proactive_at > 0 && n >= p.manager_proactive_at) {
            let before = list.len();
            if let Some(cutoff) = now.checked_sub(p.manager_cleanup_ms) {
                list.retain(|m| !(m.last_activity < cutoff || (m.created < cutoff && !m.open)));
            }
            let reclaimed = (before - list.len()) as u32;
            w.emit(actor, Ev::ManagerCleanup { reclaimed });
        }
        let n = list.len() as u32;
        if n >= p.manager_limit {
            w.emit(actor, Ev::ManagerRefused { managers: n });
            return Err(n);
        }
        let id = self.next.get();
        self.next.set(id + 1);
        list.push(Mgr {
            id,
            created: now,
            last_activity: now,
            open: true,
        });
        w.emit(actor, Ev::ManagerCreated { managers: n + 1 });
        Ok(Handle {
            user: user.to_string(),
            id,
        })
    }

    fn with(&self, h: &Handle, f: impl FnOnce(&mut Mgr)) {
        if let Some(m) = self
            .users
            .borrow_mut()
            .get_mut(&h.user)
            .and_then(|l| l.iter_mut().find(|m| m.id == h.id))
        {
            f(m);
        }
    }

    /// A server send on the manager's socket (a reclaimed manager is gone: nothing to do).
    pub fn touch(&self, h: &Handle, now: u64) {
        self.with(h, |m| m.last_activity = now);
    }

    /// Its socket closed: the manager stays tracked (f1 never releases it).
    pub fn closed(&self, h: &Handle, now: u64) {
        self.with(h, |m| {
            m.last_activity = now;
            m.open = false;
        });
    }

    /// Reclaims every manager idle for more than `idle_ms`; returns how many.
    fn sweep(&self, now: u64, idle_ms: u64) -> u32 {
        let Some(cutoff) = now.checked_sub(idle_ms) else {
            return 0;
        };
        let mut n = 0;
        for list in self.users.borrow_mut().values_mut() {
            let before = list.len();
            list.retain(|m| m.last_activity >= cutoff);
            n += (before - list.len()) as u32;
        }
        n
    }
}

/// The background sweep: every `manager_sweep_ms`, the first that long after startup
/// completes, while the worker lives.
pub async fn sweep_task(w: Rc<World>) {
    let period = w.policy.manager_sweep_ms.max(1);
    loop {
        w.rt.sleep(period).await;
        if w.exited() {
            return;
        }
        let reclaimed = w.registry.sweep(w.now(), w.policy.manager_idle_ms);
        if reclaimed > 0 {
            w.emit(Actor::Gateway, Ev::ManagerSweep { reclaimed });
        }
    }
}

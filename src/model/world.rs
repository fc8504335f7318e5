//! The shared state of one simulated deployment: what several actors read or write, and the
//! trace they write to. Each actor's own state lives in its module; nothing here runs.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::auth::AuthService;
use super::clients::{Ended, Plan};
use super::manager::Manager;
use super::registry::Registry;
use super::server::{Link, ServerModel};
use super::watch;
use super::wire::Wire;
use crate::engine::Rt;
use crate::gate::ReadinessGate;
use crate::policy::Policy;
use crate::scenario::{EnvName, Scenario, Service, Services, Startup};
use crate::trace::{Ev, Event, TraceHasher};
use crate::vocab::{Actor, Check, Outcome, Reason, StartupOutcome};

/// Where the app is, as the accept path sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppPhase {
    /// Lifespan startup runs; connections wait in the backlog.
    Starting,
    /// Startup completed: requests are dispatched.
    Serving,
    /// The worker exited.
    Exited,
}

/// What the run produced besides the trace.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// How startup ended (None until it does).
    pub startup: Option<StartupOutcome>,
    /// When the validator published its verdict.
    pub verdict_at_ms: Option<u64>,
    /// From the validator's start.
    pub elapsed_ms: Option<u64>,
    /// Failed critical services, in check order.
    pub failed_services: Vec<Check>,
    /// Whether validation failed (the DeterministicStartupError was raised).
    pub validation_failed: bool,
    /// One outcome per client attempt: clients in order, each followed by its reconnects
    /// (none for an attempt that had none when the run ended).
    pub clients: Vec<Option<Outcome>>,
    /// The close reason of each attempt's 1011 or 1008, in the order of `clients`.
    pub reasons: Vec<Option<Reason>>,
    /// How many entries of `clients` each client has (its attempts), in client order.
    pub attempts: Vec<usize>,
    /// Messages lost in all.
    pub lost_messages: u64,
}

impl Results {
    /// The position in `clients` of client `index`'s (1-based) attempt `attempt` (0-based).
    pub fn attempt_position(&self, index: u32, attempt: u32) -> Option<usize> {
        let i = (index as usize).checked_sub(1)?;
        let n = *self.attempts.get(i)?;
        ((attempt as usize) < n)
            .then(|| self.attempts[..i].iter().sum::<usize>() + attempt as usize)
    }

    /// The DeterministicStartupError text, built on demand (search never needs it).
    pub fn message(&self) -> Option<String> {
        let elapsed = self.elapsed_ms?;
        self.validation_failed.then(|| {
            let names: Vec<&str> = self.failed_services.iter().map(|c| c.name()).collect();
            super::startup::startup_error_message(&names, elapsed)
        })
    }
}

/// One simulated deployment: every actor's shared state.
pub struct World {
    /// Time and tasks.
    pub rt: Rt,
    /// The resolved policy.
    pub policy: Policy,
    /// The Redis server: the modelled one, or a real one (`readysim real`).
    pub redis: Link,
    /// The environment name.
    pub env: EnvName,
    /// Whether the validator believes it runs in GCP.
    pub gcp: bool,
    /// Whether the validator and the guard check anything: GCP detected, or a policy that
    /// validates everywhere (reference).
    pub validates: bool,
    /// The Redis manager (its state, breaker and connect lock).
    pub mgr: Manager,
    /// Phase durations.
    pub startup_cfg: Startup,
    /// Other dependencies.
    pub services: Services,
    /// The database's timeline (what its check's probe meets).
    pub database: Service,
    /// When the port is bound.
    pub bind_ms: u64,
    /// The reference policy's readiness gate.
    pub gate: ReadinessGate,
    /// The app's phase, watched by the accept path.
    pub app: watch::Sender<AppPhase>,
    /// `startup_complete`.
    pub startup_complete: Cell<bool>,
    /// Connections held by the startup queue.
    pub queue_len: Cell<u32>,
    /// The f1 route's per-user managers.
    pub registry: Registry,
    /// The auth service and its breakers.
    pub auth: AuthService,
    /// Real sockets behind the accept path (`readysim real`); none in simulation.
    pub wire: Option<Rc<dyn Wire>>,
    trace: RefCell<Sink>,
    results: RefCell<Results>,
    /// Per client: its attempts' ends, whether it is being served now, whether it is done.
    attempts: RefCell<Vec<ClientState>>,
    pending: Cell<usize>,
}

/// Where the world writes its events: kept for the judge, or only hashed, for a re-run that
/// checks determinism and needs the hash alone (so it costs one line of memory, not a trace).
#[derive(Debug)]
enum Sink {
    Keep(Vec<Event>),
    Hash(TraceHasher),
}

/// What the world knows of one client while the run goes.
#[derive(Clone, Debug, Default)]
struct ClientState {
    ended: Vec<Ended>,
    in_session: bool,
    done: bool,
}

impl World {
    /// The world of `sc` on `rt`, before any actor runs, for the clients `plans`.
    pub fn new(sc: &Scenario, rt: Rt, plans: &[Plan]) -> World {
        let policy = Policy::resolve(&sc.policy);
        let gcp = policy.detects_gcp(sc.environment.name, sc.environment.cloud_run);
        let validates = policy.validates(sc.environment.name, sc.environment.cloud_run);
        let (app, _) = watch::channel(AppPhase::Starting);
        World {
            rt,
            gcp,
            validates,
            policy,
            redis: Link::Model(ServerModel::new(&sc.redis.server)),
            env: sc.environment.name,
            mgr: Manager::new(&sc.redis.manager),
            startup_cfg: sc.startup.clone(),
            services: sc.services.clone(),
            database: sc.database.clone(),
            bind_ms: sc.server.bind_ms,
            gate: ReadinessGate::new(),
            app,
            startup_complete: Cell::new(false),
            queue_len: Cell::new(0),
            registry: Registry::default(),
            auth: AuthService::new(&sc.auth),
            wire: None,
            trace: RefCell::new(Sink::Keep(Vec::with_capacity(64))),
            results: RefCell::new(Results::default()),
            attempts: RefCell::new(vec![ClientState::default(); plans.len()]),
            pending: Cell::new(1 + plans.len()),
        }
    }

    /// Records an event at the current virtual time.
    pub fn emit(&self, actor: Actor, ev: Ev) {
        let e = Event {
            t: self.rt.now(),
            actor,
            ev,
        };
        match &mut *self.trace.borrow_mut() {
            Sink::Keep(events) => events.push(e),
            Sink::Hash(h) => h.push(&e),
        }
    }

    /// Keeps only the trace's hash from now on (call before any actor runs).
    pub(super) fn hash_only(&mut self) {
        self.trace = RefCell::new(Sink::Hash(TraceHasher::default()));
    }

    /// Now.
    pub fn now(&self) -> u64 {
        self.rt.now()
    }

    /// Updates the results.
    pub fn results(&self) -> std::cell::RefMut<'_, Results> {
        self.results.borrow_mut()
    }

    /// Whether the worker has exited (background tasks end then).
    pub fn exited(&self) -> bool {
        *self.app.borrow() == AppPhase::Exited
    }

    /// One goal (startup's end, a client's outcome) reached; stops the run after the last.
    pub fn goal_done(&self) {
        let left = self.pending.get() - 1;
        self.pending.set(left);
        if left == 0 {
            self.rt.stop();
        }
    }

    /// Records how one of client `idx`'s attempts ended.
    pub fn attempt_done(&self, idx: usize, ended: Ended) {
        self.emit(Actor::Client(idx as u32 + 1), Ev::Done(ended.outcome));
        self.attempts.borrow_mut()[idx].ended.push(ended);
    }

    /// Client `idx` is being served (accepted, not closed) or no longer.
    pub fn in_session(&self, idx: usize, on: bool) {
        self.attempts.borrow_mut()[idx].in_session = on;
    }

    /// How many clients the run has (entries expanded by `count`).
    pub fn client_count(&self) -> usize {
        self.attempts.borrow().len()
    }

    /// Client `idx` made its last attempt.
    pub fn client_finished(&self, idx: usize) {
        self.attempts.borrow_mut()[idx].done = true;
        self.goal_done();
    }

    /// Whether something the run waits for had not happened when it ended: startup, or a
    /// client that is neither done nor connected (a connected client counts as served).
    pub(super) fn unfinished(&self) -> bool {
        self.results.borrow().startup.is_none()
            || self
                .attempts
                .borrow()
                .iter()
                .any(|c| !c.done && !c.in_session)
    }

    /// The trace (empty when only hashed), its hash when only hashed, and the results, once
    /// the run is over: every client's attempts in order, a client still connected counted as
    /// served.
    pub(super) fn take(&self) -> (Vec<Event>, Option<String>, Results) {
        let mut r = self.results.take();
        for c in self.attempts.take() {
            r.attempts.push(c.ended.len() + usize::from(!c.done));
            for e in &c.ended {
                r.clients.push(Some(e.outcome));
                r.reasons.push(e.reason);
            }
            if !c.done {
                r.clients.push(c.in_session.then_some(Outcome::Served));
                r.reasons.push(None);
            }
        }
        match self.trace.replace(Sink::Keep(Vec::new())) {
            Sink::Keep(events) => (events, None, r),
            Sink::Hash(h) => (Vec::new(), Some(h.hex()), r),
        }
    }
}

//! The shared state of one simulated deployment: what several actors read or write, and the
//! trace they write to. Each actor's own state lives in its module; nothing here runs.

use std::cell::{Cell, RefCell};

use super::manager::Manager;
use super::server::ServerModel;
use super::watch;
use crate::engine::Rt;
use crate::gate::ReadinessGate;
use crate::policy::Policy;
use crate::scenario::{EnvName, Scenario, Services, Startup};
use crate::trace::{Ev, Event};
use crate::vocab::{Actor, Check, Outcome, StartupOutcome};

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
    /// One outcome per client.
    pub clients: Vec<Option<Outcome>>,
    /// Messages lost in all.
    pub lost_messages: u64,
}

impl Results {
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
    /// The Redis server.
    pub server: ServerModel,
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
    trace: RefCell<Vec<Event>>,
    results: RefCell<Results>,
    pending: Cell<usize>,
}

impl World {
    /// The world of `sc` on `rt`, before any actor runs.
    pub fn new(sc: &Scenario, rt: Rt) -> World {
        let policy = Policy::resolve(&sc.policy);
        let gcp = policy.detects_gcp(sc.environment.name, sc.environment.cloud_run);
        let validates = policy.validates(sc.environment.name, sc.environment.cloud_run);
        let (app, _) = watch::channel(AppPhase::Starting);
        World {
            rt,
            gcp,
            validates,
            policy,
            server: ServerModel::new(&sc.redis.server),
            env: sc.environment.name,
            mgr: Manager::new(&sc.redis.manager),
            startup_cfg: sc.startup.clone(),
            services: sc.services.clone(),
            bind_ms: sc.server.bind_ms,
            gate: ReadinessGate::new(),
            app,
            startup_complete: Cell::new(false),
            queue_len: Cell::new(0),
            trace: RefCell::new(Vec::with_capacity(64)),
            results: RefCell::new(Results {
                clients: vec![None; sc.clients.len()],
                ..Results::default()
            }),
            pending: Cell::new(1 + sc.clients.len()),
        }
    }

    /// Records an event at the current virtual time.
    pub fn emit(&self, actor: Actor, ev: Ev) {
        self.trace.borrow_mut().push(Event {
            t: self.rt.now(),
            actor,
            ev,
        });
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

    /// Records a client's final outcome.
    pub fn client_done(&self, idx: usize, outcome: Outcome) {
        self.emit(Actor::Client(idx as u32 + 1), Ev::Done(outcome));
        self.results.borrow_mut().clients[idx] = Some(outcome);
        self.goal_done();
    }

    /// The trace and the results, once the run is over.
    pub(super) fn take(&self) -> (Vec<Event>, Results) {
        (self.trace.take(), self.results.take())
    }
}

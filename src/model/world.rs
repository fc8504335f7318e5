//! Wires the actors for one run: shared state, the trace, goals, and the run entry point.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::watch;

use super::policy::Policy;
use super::server::ServerModel;
use super::{gateway, startup};
use crate::engine::{self, EndReason, EngineKind, EngineReport, Rt, RunConfig};
use crate::gate::ReadinessGate;
use crate::scenario::{Client, EnvName, RedisManager, Scenario, Services, Startup};
use crate::trace::{Actor, Check, Ev, Event, Outcome};

/// Default step budget: far above any valid scenario's needs, far below a hang's cost.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// The circuit breaker (`model.md` 2.2): opens after 5 consecutive failures; while open a call
/// is allowed only when more than 60000 ms have passed since the last failure.
#[derive(Clone, Debug, Default)]
pub struct Breaker {
    /// Consecutive failures (reset by a success).
    pub consecutive: u32,
    /// Open (sticky breakers never close).
    pub open: bool,
    /// The last recorded failure.
    pub last_failure: Option<u64>,
}

impl Breaker {
    /// Whether a call is allowed at `now`.
    pub fn allows(&self, now: u64) -> bool {
        !self.open
            || self
                .last_failure
                .is_none_or(|f| now.saturating_sub(f) > 60000)
    }
}

/// The Redis manager's state.
#[derive(Clone, Debug)]
pub struct MgrState {
    /// The `connected` flag.
    pub connected: bool,
    /// Whether a client handle exists.
    pub client: bool,
    /// Consecutive failures (the reconnect task's counter).
    pub failures: u32,
    /// The reconnect task's next backoff.
    pub retry_delay_ms: u64,
    /// The last successful connect.
    pub connected_at: Option<u64>,
    /// Bumped whenever a connection starts, ends or is marked failed: identifies one connection.
    pub epoch: u64,
    /// The circuit breaker.
    pub breaker: Breaker,
}

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

/// How startup ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupOutcome {
    /// The validator said ready.
    Ready,
    /// DeterministicStartupError; the worker exited.
    Failed,
    /// Failed, but the staging bypass carried on.
    Bypassed,
    /// Outside GCP the validator skipped everything.
    Skipped,
    /// Startup had not ended when the run did.
    Hang,
}

impl StartupOutcome {
    /// The name used in files and JSON.
    pub fn name(self) -> &'static str {
        match self {
            StartupOutcome::Ready => "ready",
            StartupOutcome::Failed => "failed",
            StartupOutcome::Bypassed => "bypassed",
            StartupOutcome::Skipped => "skipped",
            StartupOutcome::Hang => "hang",
        }
    }
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
    /// Whether the validator and the guard check anything: GCP detected, or a policy that
    /// validates everywhere (reference).
    pub gcp: bool,
    /// Manager knobs.
    pub mgr_cfg: RedisManager,
    /// Phase durations.
    pub startup_cfg: Startup,
    /// Other dependencies.
    pub services: Services,
    /// When the port is bound.
    pub bind_ms: u64,
    /// The manager's state.
    pub mgr: RefCell<MgrState>,
    /// Serialises connect attempts (reconnect task and inline `get_client`).
    pub connect_lock: tokio::sync::Mutex<()>,
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

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The events, in order.
    pub trace: Vec<Event>,
    /// What the model reported.
    pub results: Results,
    /// What the engine reported.
    pub engine: EngineReport,
}

impl RunOutput {
    /// Whether the run ended before everything it waited for happened.
    pub fn hung(&self) -> bool {
        self.engine.end != EndReason::Stopped
    }
}

/// Builds the world of `sc` on the chosen engine and runs it to its end.
pub fn run(sc: &Scenario, kind: EngineKind) -> RunOutput {
    let config = RunConfig {
        horizon_ms: sc.run.horizon_ms,
        max_steps: sc.run.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
        decisions: sc.run.decisions.clone(),
    };
    let slot: Rc<RefCell<Option<Rc<World>>>> = Rc::new(RefCell::new(None));
    let clients: Vec<Client> = sc.clients.clone();
    let engine = {
        let slot = slot.clone();
        engine::run(kind, &config, move |rt| {
            let world = Rc::new(build(sc, rt.clone()));
            *slot.borrow_mut() = Some(world.clone());
            rt.spawn(startup::run(world.clone()));
            for (i, c) in clients.into_iter().enumerate() {
                rt.spawn(gateway::client(world.clone(), i, c));
            }
        })
    };
    let world = slot.borrow_mut().take().expect("the root ran");
    let mut results = world.results.take();
    if engine.end != EndReason::Stopped && results.startup.is_none() {
        results.startup = Some(StartupOutcome::Hang);
    }
    let trace = world.trace.take();
    RunOutput {
        trace,
        results,
        engine,
    }
}

/// Builds the world of `sc` on `rt` without running anything (unit tests drive parts of it).
pub(crate) fn build(sc: &Scenario, rt: Rt) -> World {
    let policy = Policy::resolve(&sc.policy);
    let gcp = policy.validates(sc.environment.name, sc.environment.cloud_run);
    let (app, _) = watch::channel(AppPhase::Starting);
    World {
        rt,
        gcp,
        policy,
        server: ServerModel::new(&sc.redis.server),
        env: sc.environment.name,
        mgr_cfg: sc.redis.manager.clone(),
        startup_cfg: sc.startup.clone(),
        services: sc.services.clone(),
        bind_ms: sc.server.bind_ms,
        mgr: RefCell::new(MgrState {
            connected: false,
            client: false,
            failures: 0,
            retry_delay_ms: 1000,
            connected_at: None,
            epoch: 0,
            breaker: Breaker::default(),
        }),
        connect_lock: tokio::sync::Mutex::new(()),
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

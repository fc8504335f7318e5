//! The model's run entry: build the world of a scenario on an engine, spawn its actors, run
//! it to its end, and hand back the trace and results.

use std::cell::RefCell;
use std::rc::Rc;

use super::server::{Link, RedisBackend};
use super::wire::Wire;
use super::world::{Results, World};
use super::{clients, startup};
use crate::engine::{Builder, EndReason, EngineKind, EngineReport, RealClock, Rt};
use crate::scenario::Scenario;
use crate::trace::Event;
use crate::vocab::StartupOutcome;

/// Default step budget: far above any valid scenario's needs, far below a hang's cost.
pub const DEFAULT_MAX_STEPS: u64 = crate::scenario::limits::MAX_STEPS;

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The events, in order.
    pub trace: Vec<Event>,
    /// What the model reported.
    pub results: Results,
    /// What the engine reported.
    pub engine: EngineReport,
    /// The trace hash, set instead of `trace` by `run_hashed`.
    pub trace_hash: Option<String>,
    /// Whether the run ended before everything it waited for happened (startup, and every
    /// client that is not still connected).
    pub hung: bool,
}

impl RunOutput {
    /// Whether the run ended before everything it waited for happened.
    pub fn hung(&self) -> bool {
        self.hung
    }
}

/// Builds the world of `sc` on the chosen engine, spawns startup and every client, and runs
/// it to its end.
pub fn run(sc: &Scenario, kind: EngineKind) -> RunOutput {
    run_with(sc, Builder::new().engine(kind), None, false)
}

/// The same run keeping only the trace's hash (`trace` empty, `trace_hash` set): the
/// determinism re-run of a replay, in the memory of one trace line instead of a whole trace.
pub fn run_hashed(sc: &Scenario, kind: EngineKind) -> RunOutput {
    run_with(sc, Builder::new().engine(kind), None, true)
}

/// The same world in real time on `clock`, its manager talking to `redis` instead of the
/// modelled server, and its accept path serving real sockets through `wire` when given
/// (`readysim real`).
#[cfg(feature = "real")]
pub fn run_real(
    sc: &Scenario,
    clock: RealClock,
    redis: Rc<dyn RedisBackend>,
    wire: Option<Rc<dyn Wire>>,
) -> RunOutput {
    run_with(sc, Builder::new(), Some((clock, redis, wire)), false)
}

/// What a real run adds: its clock, its Redis, and its sockets.
type Real = (RealClock, Rc<dyn RedisBackend>, Option<Rc<dyn Wire>>);

fn run_with(sc: &Scenario, builder: Builder, real: Option<Real>, hash_only: bool) -> RunOutput {
    let slot: Rc<RefCell<Option<Rc<World>>>> = Rc::new(RefCell::new(None));
    let builder = builder
        .horizon_ms(sc.run.horizon_ms)
        .max_steps(sc.run.max_steps.unwrap_or(DEFAULT_MAX_STEPS))
        .decisions(sc.run.decisions.clone())
        .decisions_from_ms(sc.run.decisions_from_ms);
    let root = {
        let slot = slot.clone();
        let backend = real.as_ref().map(|(_, b, _)| b.clone());
        let wire = real.as_ref().and_then(|(_, _, w)| w.clone());
        move |rt: Rt| {
            let plans = clients::expand(sc);
            let mut world = World::new(sc, rt.clone(), &plans);
            if let Some(b) = backend {
                world.redis = Link::External(b);
            }
            world.wire = wire.clone();
            if hash_only {
                world.hash_only();
            }
            let world = Rc::new(world);
            *slot.borrow_mut() = Some(world.clone());
            rt.spawn(startup::run(world.clone()));
            if let Some(wire) = wire {
                rt.spawn(super::wire::drive(world.clone(), wire));
            }
            for plan in plans {
                rt.spawn(clients::run(world.clone(), plan));
            }
        }
    };
    let engine = match real {
        None => builder.run(root),
        Some((clock, ..)) => builder.run_real(clock, root),
    };
    let world = slot.borrow_mut().take().expect("the root ran");
    let hung = engine.end != EndReason::Stopped && world.unfinished();
    let (trace, trace_hash, mut results) = world.take();
    if engine.end != EndReason::Stopped && results.startup.is_none() {
        results.startup = Some(StartupOutcome::Hang);
    }
    RunOutput {
        trace,
        results,
        engine,
        trace_hash,
        hung,
    }
}

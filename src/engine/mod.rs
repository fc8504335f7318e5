//! The virtual-time engines: readysim's own executor and tokio's paused runtime behind one handle.
//!
//! Model code sees only [`Rt`]: `now`, `sleep`, `sleep_until`, `spawn`, `yield_now`, `freeze`,
//! `draw` and `stop`. It never names an engine, so the same model runs on both, and the tokio
//! engine can cross-check the fast one. Nothing here knows about Redis or validators: the
//! engine runs any model of async services.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! use readysim::engine::{Builder, EndReason};
//!
//! // A poller that checks every 250 ms for a service that becomes ready at 600 ms.
//! let seen = Rc::new(Cell::new(None));
//! let out = seen.clone();
//! let report = Builder::new().horizon_ms(10_000).run(move |rt| {
//!     let rt2 = rt.clone();
//!     rt.spawn(async move {
//!         while rt2.now() < 600 {
//!             rt2.sleep(250).await;
//!         }
//!         out.set(Some(rt2.now()));
//!         rt2.stop();
//!     });
//! });
//! assert_eq!(seen.get(), Some(750));
//! assert_eq!(report.end, EndReason::Stopped);
//! ```

mod decide;
mod fast;
mod real;
#[cfg(feature = "tokio-engine")]
mod tokio_rt;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pub use fast::Choice;
pub use real::RealClock;

/// Which engine runs a world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// readysim's single-threaded executor: decisions choose among same-instant ready tasks.
    #[default]
    Fast,
    /// tokio's current_thread runtime with paused time: FIFO only, the cross-check
    /// (feature `tokio-engine`).
    #[cfg(feature = "tokio-engine")]
    Tokio,
}

impl EngineKind {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Fast => "fast",
            #[cfg(feature = "tokio-engine")]
            EngineKind::Tokio => "tokio",
        }
    }
}

/// Limits and choices of one run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The run stops at this virtual time at the latest.
    pub horizon_ms: u64,
    /// Task polls allowed before the run is cut short.
    pub max_steps: u64,
    /// Same-instant choices and drawn values, consumed in order.
    pub decisions: Vec<u32>,
    /// The decisions apply from this virtual instant on; before it every choice is the first
    /// (FIFO) and every drawn value absent, and nothing is consumed.
    pub decisions_from_ms: u64,
}

impl RunConfig {
    /// The decisions cursor of one run.
    fn decisions(&self) -> decide::Decisions {
        decide::Decisions::new(self.decisions.clone(), self.decisions_from_ms)
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The model called [`Rt::stop`]: everything it waits for has happened.
    Stopped,
    /// The next event lay beyond the horizon.
    Horizon,
    /// The step budget ran out.
    StepBudget,
    /// No task was ready and no timer pending: every task waits forever.
    Quiescent,
}

/// What the engine reports after a run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineReport {
    /// Why it ended.
    pub end: EndReason,
    /// The virtual time at the end.
    pub end_ms: u64,
    /// Task polls made.
    pub steps: u64,
    /// Same-instant choices made (fast engine), in order.
    pub choices: Vec<Choice>,
    /// Decision values consumed, by choices and draws together.
    pub decisions_used: usize,
}

/// The handle model code uses for time, tasks and decisions. Opaque: which engine is behind
/// it is the engine's business (the model never names one).
#[derive(Clone)]
pub struct Rt(pub(crate) Engine);

/// The engine behind an [`Rt`].
#[derive(Clone)]
pub(crate) enum Engine {
    /// readysim's executor.
    Fast(Rc<fast::Core>),
    /// tokio's paused runtime.
    #[cfg(feature = "tokio-engine")]
    Tokio(Rc<tokio_rt::Core>),
    /// tokio with the real clock (`readysim real`).
    Real(Rc<real::Core>),
}

impl Rt {
    /// Virtual now, in ms.
    #[inline]
    pub fn now(&self) -> u64 {
        match &self.0 {
            Engine::Fast(c) => c.now(),
            #[cfg(feature = "tokio-engine")]
            Engine::Tokio(c) => c.now(),
            Engine::Real(c) => c.now(),
        }
    }

    /// Completes at virtual time `t` (at once if `t` has passed).
    pub fn sleep_until(&self, t: u64) -> Sleep {
        Sleep(match &self.0 {
            Engine::Fast(c) => SleepOn::Fast(fast::Core::sleep_until(c, t)),
            #[cfg(feature = "tokio-engine")]
            Engine::Tokio(c) => SleepOn::Tokio(c.sleep_until(t)),
            Engine::Real(c) => SleepOn::Real(c.sleep_until(t)),
        })
    }

    /// Completes `d` ms from now.
    pub fn sleep(&self, d: u64) -> Sleep {
        self.sleep_until(self.now().saturating_add(d))
    }

    /// Runs a task concurrently; its order among same-instant ready tasks is a decision.
    #[inline(always)]
    pub fn spawn(&self, fut: impl Future<Output = ()> + 'static) {
        match &self.0 {
            Engine::Fast(c) => c.spawn(fut),
            #[cfg(feature = "tokio-engine")]
            Engine::Tokio(c) => c.spawn(fut),
            Engine::Real(c) => c.spawn(fut),
        }
    }

    /// Lets every other ready task run before this one continues.
    pub fn yield_now(&self) -> YieldNow {
        YieldNow { yielded: false }
    }

    /// Blocks the whole event loop for `d` ms: the clock moves, no other task runs meanwhile,
    /// and timers that fell due fire late afterwards (a `time.sleep` inside a coroutine).
    pub async fn freeze(&self, d: u64) {
        match &self.0 {
            Engine::Fast(c) => c.freeze(d),
            #[cfg(feature = "tokio-engine")]
            Engine::Tokio(c) => c.freeze(d),
            Engine::Real(c) => c.freeze(d),
        }
    }

    /// The next decision value, if the list is not exhausted (for drawn factors).
    pub fn draw(&self) -> Option<u32> {
        match &self.0 {
            Engine::Fast(c) => c.draw(),
            #[cfg(feature = "tokio-engine")]
            Engine::Tokio(c) => c.draw(),
            Engine::Real(c) => c.draw(),
        }
    }

    /// Ends the run after the current step: the model has seen all it waits for.
    pub fn stop(&self) {
        match &self.0 {
            Engine::Fast(c) => c.stop(),
            #[cfg(feature = "tokio-engine")]
            Engine::Tokio(c) => c.stop(),
            Engine::Real(c) => c.stop(),
        }
    }
}

/// A virtual-time sleep of any engine (opaque: await it).
pub struct Sleep(SleepOn);

/// The engine's own timer behind a [`Sleep`].
enum SleepOn {
    /// The fast engine's timer.
    Fast(fast::Sleep),
    /// The tokio engine's timer.
    #[cfg(feature = "tokio-engine")]
    Tokio(tokio_rt::Sleep),
    /// The real-time engine's timer.
    Real(real::Sleep),
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().0 {
            SleepOn::Fast(s) => Pin::new(s).poll(cx),
            #[cfg(feature = "tokio-engine")]
            SleepOn::Tokio(s) => Pin::new(s).poll(cx),
            SleepOn::Real(s) => Pin::new(s).poll(cx),
        }
    }
}

/// Yields once to the scheduler.
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// One run of an engine, configured step by step: which engine, the horizon, the step budget
/// and the decisions list; [`Builder::run`] then calls the root that spawns the tasks.
#[derive(Clone, Debug)]
pub struct Builder {
    kind: EngineKind,
    config: RunConfig,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The fast engine, a 120 s horizon, a budget of 1,000,000 steps, no decisions (FIFO).
    pub fn new() -> Builder {
        Builder {
            kind: EngineKind::Fast,
            config: RunConfig {
                horizon_ms: 120_000,
                max_steps: 1_000_000,
                decisions: Vec::new(),
                decisions_from_ms: 0,
            },
        }
    }

    /// Which engine runs the tasks.
    pub fn engine(mut self, kind: EngineKind) -> Builder {
        self.kind = kind;
        self
    }

    /// The run stops at this virtual time at the latest.
    pub fn horizon_ms(mut self, ms: u64) -> Builder {
        self.config.horizon_ms = ms;
        self
    }

    /// Task polls allowed before the run is cut short.
    pub fn max_steps(mut self, steps: u64) -> Builder {
        self.config.max_steps = steps;
        self
    }

    /// Same-instant choices and drawn values, consumed in order.
    pub fn decisions(mut self, decisions: Vec<u32>) -> Builder {
        self.config.decisions = decisions;
        self
    }

    /// The decisions apply from virtual time `ms` on (FIFO before it).
    pub fn decisions_from_ms(mut self, ms: u64) -> Builder {
        self.config.decisions_from_ms = ms;
        self
    }

    /// Runs `root` (which spawns the tasks through the [`Rt`] it is given) until the model
    /// stops, the horizon passes, the budget runs out or no task can run.
    pub fn run(self, root: impl FnOnce(Rt)) -> EngineReport {
        run(self.kind, &self.config, root)
    }

    /// Runs `root` in real time on `clock` instead of an engine's virtual time (the engine
    /// chosen with [`Builder::engine`] is ignored): for comparing the model with real
    /// services. Not deterministic.
    pub fn run_real(self, clock: RealClock, root: impl FnOnce(Rt)) -> EngineReport {
        real::run(&self.config, clock, root)
    }
}

/// Runs `root` (which spawns the world's tasks) on the chosen engine until it stops.
pub fn run<F>(kind: EngineKind, config: &RunConfig, root: F) -> EngineReport
where
    F: FnOnce(Rt),
{
    match kind {
        EngineKind::Fast => fast::run(config, root),
        #[cfg(feature = "tokio-engine")]
        EngineKind::Tokio => tokio_rt::run(config, root),
    }
}

/// Polls `a` then `b` (in that fixed order, like `select!` with `biased;`) and returns the
/// first to complete.
pub async fn first_of<A, B>(a: A, b: B) -> Either<A::Output, B::Output>
where
    A: Future,
    B: Future,
{
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}

/// The result of [`first_of`].
#[derive(Debug, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first future completed.
    Left(A),
    /// The second future completed.
    Right(B),
}

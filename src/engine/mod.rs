//! The virtual-time engines: readysim's own executor and tokio's paused runtime behind one handle.
//!
//! Model code sees only [`Rt`]: `now`, `sleep`, `sleep_until`, `spawn`, `yield_now`, `freeze`,
//! `draw` and `stop`. It never names an engine, so the same model runs on both, and the tokio
//! engine can cross-check the fast one. Nothing here knows about Redis or validators.

mod fast;
mod tokio_rt;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pub use fast::Choice;

/// Which engine runs a world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// readysim's single-threaded executor: decisions choose among same-instant ready tasks.
    #[default]
    Fast,
    /// tokio's current_thread runtime with paused time: FIFO only, the cross-check.
    Tokio,
}

impl EngineKind {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Fast => "fast",
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

/// The handle model code uses for time, tasks and decisions.
#[derive(Clone)]
pub enum Rt {
    /// readysim's executor.
    Fast(Rc<fast::Core>),
    /// tokio's paused runtime.
    Tokio(Rc<tokio_rt::Core>),
}

impl Rt {
    /// Virtual now, in ms.
    pub fn now(&self) -> u64 {
        match self {
            Rt::Fast(c) => c.now(),
            Rt::Tokio(c) => c.now(),
        }
    }

    /// Completes at virtual time `t` (at once if `t` has passed).
    pub fn sleep_until(&self, t: u64) -> Sleep {
        match self {
            Rt::Fast(c) => Sleep::Fast(fast::Core::sleep_until(c, t)),
            Rt::Tokio(c) => Sleep::Tokio(c.sleep_until(t)),
        }
    }

    /// Completes `d` ms from now.
    pub fn sleep(&self, d: u64) -> Sleep {
        self.sleep_until(self.now().saturating_add(d))
    }

    /// Runs a task concurrently; its order among same-instant ready tasks is a decision.
    pub fn spawn(&self, fut: impl Future<Output = ()> + 'static) {
        match self {
            Rt::Fast(c) => c.spawn(Box::pin(fut)),
            Rt::Tokio(c) => c.spawn(fut),
        }
    }

    /// Lets every other ready task run before this one continues.
    pub fn yield_now(&self) -> YieldNow {
        YieldNow { yielded: false }
    }

    /// Blocks the whole event loop for `d` ms: the clock moves, no other task runs meanwhile,
    /// and timers that fell due fire late afterwards (a `time.sleep` inside a coroutine).
    pub async fn freeze(&self, d: u64) {
        match self {
            Rt::Fast(c) => c.freeze(d),
            Rt::Tokio(c) => c.freeze(d).await,
        }
    }

    /// The next decision value, if the list is not exhausted (for drawn factors).
    pub fn draw(&self) -> Option<u32> {
        match self {
            Rt::Fast(c) => c.draw(),
            Rt::Tokio(c) => c.draw(),
        }
    }

    /// Ends the run after the current step: the model has seen all it waits for.
    pub fn stop(&self) {
        match self {
            Rt::Fast(c) => c.stop(),
            Rt::Tokio(c) => c.stop(),
        }
    }
}

/// A virtual-time sleep of either engine.
pub enum Sleep {
    /// The fast engine's timer.
    Fast(fast::Sleep),
    /// A tokio timer.
    Tokio(Pin<Box<tokio::time::Sleep>>),
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Sleep::Fast(s) => Pin::new(s).poll(cx),
            Sleep::Tokio(s) => s.as_mut().poll(cx),
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

/// Runs `root` (which spawns the world's tasks) on the chosen engine until it stops.
pub fn run<F>(kind: EngineKind, config: &RunConfig, root: F) -> EngineReport
where
    F: FnOnce(Rt),
{
    match kind {
        EngineKind::Fast => fast::run(config, root),
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

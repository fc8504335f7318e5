//! The cross-check engine: the same model on tokio's current_thread runtime with paused time.
//!
//! tokio runs same-instant ready tasks in FIFO order and offers no way to choose among them, so
//! this engine makes no scheduling choices; drawn values still come from the decisions list.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use tokio::time::{Duration, Instant};

use super::{EndReason, EngineReport, Rt, RunConfig};

/// State of a tokio-engine run.
pub struct Core {
    start: Instant,
    decisions: Vec<u32>,
    cursor: Cell<usize>,
    stopped: Cell<bool>,
    stop: tokio::sync::Notify,
    /// Task polls made, and the budget: tokio offers no hook, so every spawned task counts
    /// its own polls (see `Counted`).
    steps: Cell<u64>,
    max_steps: u64,
    budget_hit: Cell<bool>,
}

impl Core {
    pub(super) fn now(&self) -> u64 {
        Instant::now().duration_since(self.start).as_millis() as u64
    }

    // The tokio engine *is* the wrapper that maps Rt onto tokio's paused runtime: its
    // timers and spawn are virtual-time and FIFO here, so the determinism lint does not apply.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn sleep_until(&self, t: u64) -> Pin<Box<tokio::time::Sleep>> {
        Box::pin(tokio::time::sleep_until(self.at(t)))
    }

    fn at(&self, t: u64) -> Instant {
        // Far-future deadlines saturate instead of overflowing `Instant`.
        let t = t.min(u64::MAX / 4);
        self.start + Duration::from_millis(t)
    }

    // The tokio engine *is* the wrapper that maps Rt onto tokio's paused runtime: its
    // timers and spawn are virtual-time and FIFO here, so the determinism lint does not apply.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn spawn(self: &Rc<Self>, fut: impl Future<Output = ()> + 'static) {
        tokio::task::spawn_local(Counted {
            core: self.clone(),
            fut: Box::pin(fut),
        });
    }

    // The tokio engine *is* the wrapper that maps Rt onto tokio's paused runtime: its
    // timers and spawn are virtual-time and FIFO here, so the determinism lint does not apply.
    #[allow(clippy::disallowed_methods)]
    pub(super) async fn freeze(&self, d: u64) {
        // The clock jumps with no other task polled until this one yields; timers that fell
        // due fire late, as after a blocking sleep.
        tokio::time::advance(Duration::from_millis(d)).await;
    }

    pub(super) fn draw(&self) -> Option<u32> {
        let i = self.cursor.get();
        let v = self.decisions.get(i).copied();
        if v.is_some() {
            self.cursor.set(i + 1);
        }
        v
    }

    pub(super) fn stop(&self) {
        self.stopped.set(true);
        self.stop.notify_one();
    }
}

/// A task that counts its polls against the step budget; over budget it stops the run and
/// is never polled again.
struct Counted {
    core: Rc<Core>,
    fut: Pin<Box<dyn Future<Output = ()>>>,
}

impl Future for Counted {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let n = self.core.steps.get();
        if n >= self.core.max_steps {
            if !self.core.budget_hit.replace(true) {
                self.core.stop();
            }
            return std::task::Poll::Pending;
        }
        self.core.steps.set(n + 1);
        self.fut.as_mut().poll(cx)
    }
}

// The run's horizon is a tokio timer on the paused clock (virtual time, not the wall clock).
#[allow(clippy::disallowed_methods)]
pub(super) fn run<F: FnOnce(Rt)>(config: &RunConfig, root: F) -> EngineReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current_thread runtime with paused time");
    let local = tokio::task::LocalSet::new();
    let horizon = config.horizon_ms;
    let decisions = config.decisions.clone();
    let (end, end_ms, used, steps) = local.block_on(&rt, async move {
        let core = Rc::new(Core {
            start: Instant::now(),
            decisions,
            cursor: Cell::new(0),
            stopped: Cell::new(false),
            stop: tokio::sync::Notify::new(),
            steps: Cell::new(0),
            max_steps: config.max_steps,
            budget_hit: Cell::new(false),
        });
        root(Rt::Tokio(core.clone()));
        let stopped = tokio::time::timeout_at(core.at(horizon), core.stop.notified()).await;
        let end = match stopped {
            Ok(()) if core.budget_hit.get() => EndReason::StepBudget,
            Ok(()) => EndReason::Stopped,
            Err(_) => EndReason::Horizon,
        };
        let end_ms = core.now().min(horizon);
        (end, end_ms, core.cursor.get(), core.steps.get())
    });
    drop(local);
    EngineReport {
        end,
        end_ms,
        steps,
        choices: Vec::new(),
        decisions_used: used,
    }
}

//! The real-time engine: the same model on tokio's current_thread runtime with the real clock,
//! for `readysim real`. Nothing here is deterministic, on purpose: it measures what the model
//! predicts against real sockets and real scheduling.
//!
//! Scenario time is real time divided by the scale (`scale` real seconds per scenario
//! second, so 0.1 runs ten times faster). A freeze really blocks the thread, as a blocking
//! call in a coroutine blocks an event loop: every task, the Redis client's driver included,
//! waits. No same-instant choices are made; drawn values still come from the decisions list.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::decide::Decisions;
use super::{first_of, Either, EndReason, EngineReport, Rt, RunConfig};

/// The real clock of a run: when scenario time 0 is, and how fast scenario time runs.
#[derive(Clone, Copy, Debug)]
pub struct RealClock {
    /// The instant of scenario time 0.
    pub epoch: Instant,
    /// Real seconds per scenario second (1.0 is real time; 0.1 is ten times faster).
    pub scale: f64,
}

impl RealClock {
    /// Scenario ms now.
    // The real engine is the one place that reads the wall clock (see the module doc).
    #[allow(clippy::disallowed_methods)]
    pub fn now_ms(&self) -> u64 {
        (Instant::now().duration_since(self.epoch).as_secs_f64() * 1000.0 / self.scale) as u64
    }

    /// The real instant of scenario ms `t`.
    pub fn instant(&self, t: u64) -> Instant {
        // Far-future deadlines (a horizon of days) saturate instead of overflowing.
        let secs = (t as f64 * self.scale / 1000.0).min(1e9);
        self.epoch + Duration::from_secs_f64(secs)
    }

    /// The real duration of `ms` scenario milliseconds.
    pub fn real(&self, ms: u64) -> Duration {
        Duration::from_secs_f64((ms as f64 * self.scale / 1000.0).min(1e9))
    }
}

/// Model tasks, woken by id. Wakers are called from the runtime's IO driver and from other
/// threads (the clients' Notify), so the queue is behind a lock; the tasks themselves stay on
/// this thread.
#[derive(Default)]
struct ReadyQueue {
    ids: VecDeque<usize>,
    queued: BTreeSet<usize>,
    driver: Option<Waker>,
}

/// Wakes one model task: queues it (once) and wakes the executor's driver.
struct TaskWaker {
    id: usize,
    queue: Arc<Mutex<ReadyQueue>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let driver = {
            let mut q = self
                .queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if q.queued.insert(self.id) {
                q.ids.push_back(self.id);
            }
            q.driver.clone()
        };
        if let Some(d) = driver {
            d.wake();
        }
    }
}

/// The model's tasks, run by the engine itself rather than by tokio's LocalSet: a LocalSet
/// hands control back to the runtime after 61 task polls, and the runtime then reads the
/// sockets, so a pong could be read in the middle of a stall of back-to-back freezes (the
/// real keepalive-stall-1011 agreed in about half the runs). Here every ready model task
/// runs, FIFO, before the driver returns: sockets and timers are looked at only when no model
/// task is ready, as an asyncio loop looks at them only between its iterations.
#[derive(Default)]
struct Executor {
    /// The tasks by id; `None` once done (or while being polled).
    tasks: RefCell<Vec<Option<Task>>>,
    queue: Arc<Mutex<ReadyQueue>>,
}

/// A model task.
type Task = Pin<Box<dyn Future<Output = ()>>>;

impl Executor {
    fn spawn(&self, fut: Task) {
        let id = {
            let mut tasks = self.tasks.borrow_mut();
            tasks.push(Some(fut));
            tasks.len() - 1
        };
        Waker::from(Arc::new(TaskWaker {
            id,
            queue: self.queue.clone(),
        }))
        .wake();
    }

    fn next(&self) -> Option<usize> {
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = q.ids.pop_front()?;
        q.queued.remove(&id);
        Some(id)
    }
}

/// Polls the model's ready tasks until none is ready; never completes.
struct Drive {
    core: Rc<Core>,
}

impl Future for Drive {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let exec = &self.core.exec;
        exec.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .driver = Some(cx.waker().clone());
        while let Some(id) = exec.next() {
            // Not polled after a stop or past the budget (it stays pending, as before).
            if self.core.stopped.get() || !self.core.take_step() {
                continue;
            }
            // Out of the table while it runs: it may spawn tasks, which go into the table.
            let Some(mut fut) = exec.tasks.borrow_mut()[id].take() else {
                continue;
            };
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                queue: exec.queue.clone(),
            }));
            if fut
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
            {
                exec.tasks.borrow_mut()[id] = Some(fut);
            }
        }
        Poll::Pending
    }
}

/// State of a real-time run.
pub struct Core {
    clock: RealClock,
    exec: Executor,
    decisions: Decisions,
    stopped: Cell<bool>,
    stop: tokio::sync::Notify,
    steps: Cell<u64>,
    max_steps: u64,
    budget_hit: Cell<bool>,
    horizon: u64,
}

impl Core {
    pub(super) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(super) fn sleep_until(self: &Rc<Self>, t: u64) -> Sleep {
        Sleep {
            core: self.clone(),
            t,
            timer: None,
            ends_run: false,
        }
    }

    /// Counts one step against the budget; false (and the run stopped) once it is spent.
    fn take_step(&self) -> bool {
        let n = self.steps.get();
        if n >= self.max_steps {
            if !self.budget_hit.replace(true) {
                self.stop();
            }
            return false;
        }
        self.steps.set(n + 1);
        true
    }

    pub(super) fn spawn(self: &Rc<Self>, fut: impl Future<Output = ()> + 'static) {
        // tokio's cooperative budget is per poll of the runtime's task, which is the driver
        // here for every model task at once: without this, timers and sockets polled late in
        // a long run of ready tasks would report Pending, wake at once, and spin.
        self.exec.spawn(Box::pin(tokio::task::unconstrained(fut)));
    }

    /// Blocks the thread: nothing else on this event loop runs meanwhile.
    pub(super) fn freeze(&self, d: u64) {
        let d = d.min(self.horizon.saturating_sub(self.now()));
        std::thread::sleep(self.clock.real(d));
    }

    pub(super) fn draw(&self) -> Option<u32> {
        self.decisions.next(self.now())
    }

    pub(super) fn stop(&self) {
        self.stopped.set(true);
        self.stop.notify_one();
    }
}

/// A real-time sleep. As on the virtual engines, a deadline that has passed completes at
/// once, without a trip through the scheduler: model code relies on `sleep_until(now)` being
/// free, and on a timer that fell due during a freeze being seen as due on its first poll
/// (tokio's own timers are only marked fired when its driver next runs).
///
/// Such a completion counts as a step, and none happens once the run is stopped or past its
/// horizon: at a tiny `--time-scale` every deadline has passed, and a loop of sleeps would
/// otherwise run inside one poll forever, out of reach of the budget and the horizon.
pub struct Sleep {
    core: Rc<Core>,
    t: u64,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The run's own wait for its horizon, which must complete when due.
    ends_run: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let core = self.core.clone();
        let now = core.clock.now_ms();
        if now >= self.t {
            if self.ends_run {
                return Poll::Ready(());
            }
            if core.stopped.get() || now >= core.horizon || !core.take_step() {
                return Poll::Pending;
            }
            return Poll::Ready(());
        }
        let at = tokio::time::Instant::from_std(core.clock.instant(self.t));
        // A real timer is the point of this engine.
        #[allow(clippy::disallowed_methods)]
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        timer.as_mut().poll(cx)
    }
}

/// Runs `root` on a fresh current_thread runtime (time and IO enabled, real clock) until the
/// model stops, the horizon passes or the step budget runs out.
pub(super) fn run<F: FnOnce(Rt)>(config: &RunConfig, clock: RealClock, root: F) -> EngineReport {
    // External events (timers, sockets) are looked at only when no task is ready, as an
    // asyncio loop does between its iterations: the tasks a burst of connections wakes all run
    // (and freeze the loop back to back) before a pong that arrived meanwhile is read.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .event_interval(1 << 20)
        .build()
        .expect("a current_thread runtime");
    let local = tokio::task::LocalSet::new();
    let horizon = config.horizon_ms;
    let core = Rc::new(Core {
        clock,
        exec: Executor::default(),
        decisions: config.decisions(),
        stopped: Cell::new(false),
        stop: tokio::sync::Notify::new(),
        steps: Cell::new(0),
        max_steps: config.max_steps,
        budget_hit: Cell::new(false),
        horizon,
    });
    let c = core.clone();
    let end = local.block_on(&rt, async move {
        root(Rt(super::Engine::Real(c.clone())));
        let horizon_sleep = Sleep {
            ends_run: true,
            ..c.sleep_until(horizon)
        };
        let ended = first_of(c.stop.notified(), horizon_sleep);
        match first_of(ended, Drive { core: c.clone() }).await {
            Either::Left(Either::Left(())) if c.budget_hit.get() => EndReason::StepBudget,
            Either::Left(Either::Left(())) => EndReason::Stopped,
            Either::Left(Either::Right(())) => EndReason::Horizon,
            Either::Right(()) => unreachable!("the driver never completes"),
        }
    });
    let end_ms = core.now().min(horizon);
    // Dropping the tasks closes their sockets before the runtime goes.
    drop(local);
    EngineReport {
        end,
        end_ms,
        steps: core.steps.get(),
        choices: Vec::new(),
        decisions_used: core.decisions.used(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Builder;

    /// Runs one task that sleeps until "now" for ever, on a real clock of `scale`, and returns
    /// the report; the channel's timeout is only a watchdog (a loop inside one poll would
    /// never end).
    // The real engine reads the wall clock.
    #[allow(clippy::disallowed_methods)]
    fn due_sleeps_for_ever(scale: f64, horizon_ms: u64, max_steps: u64) -> EngineReport {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let clock = RealClock {
                epoch: Instant::now(),
                scale,
            };
            let report = Builder::new()
                .horizon_ms(horizon_ms)
                .max_steps(max_steps)
                .run_real(clock, |rt| {
                    let r = rt.clone();
                    rt.spawn(async move {
                        loop {
                            r.sleep_until(r.now()).await;
                        }
                    });
                });
            let _ = tx.send(report);
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the run ends")
    }

    /// A loop of sleeps whose deadlines have all passed (a tiny `--time-scale`) never gives the
    /// runtime a turn: each must count as a step, so the budget ends the run.
    #[test]
    fn a_loop_of_due_sleeps_ends_at_the_step_budget() {
        let report = due_sleeps_for_ever(1e-9, u64::MAX / 2, 10_000);
        assert_eq!(report.end, EndReason::StepBudget);
        assert_eq!(report.steps, 10_000);
    }

    /// Past the horizon no due sleep completes: the run ends there even if the budget is huge.
    #[test]
    fn a_loop_of_due_sleeps_ends_at_the_horizon() {
        let report = due_sleeps_for_ever(1e-3, 50, u64::MAX);
        assert_eq!(report.end, EndReason::Horizon);
    }
}

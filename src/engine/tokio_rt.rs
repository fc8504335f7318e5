//! The cross-check engine: the same model on tokio's current_thread runtime with paused time.
//!
//! tokio runs same-instant ready tasks in FIFO order and offers no way to choose among them, so
//! this engine makes no scheduling choices; drawn values still come from the decisions list.
//!
//! A freeze (a blocking call) must move the clock with no other task running and leave the
//! timers that fell due to fire late. tokio's only way to move a paused clock,
//! `time::advance`, is async and lets woken tasks run in between, so this engine keeps a frozen
//! offset instead: virtual time is tokio's paused time plus the offset, and a freeze adds to
//! the offset synchronously. Sleeps wait in one table ordered by (virtual deadline,
//! registration); a reactor task sleeps on one tokio timer until the earliest of them and
//! wakes every sleep that is due, in that order. The reactor fires timers only when no model
//! task is ready (every task counts itself in and out of a ready count through its waker),
//! as the fast engine fires them only once its ready queue drains: tokio's queue is FIFO, but
//! a reactor that ran as soon as its turn came would fire the timers due after a freeze in
//! the middle of the tasks that a yield or a wake queued behind it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use tokio::time::{Duration, Instant};

use super::decide::Decisions;
use super::{first_of, Either, EndReason, EngineReport, Rt, RunConfig};

/// State of a tokio-engine run.
pub struct Core {
    start: Instant,
    decisions: Decisions,
    stopped: Cell<bool>,
    stop: tokio::sync::Notify,
    /// Task polls made, and the budget: tokio offers no hook, so every spawned task counts
    /// its own polls (see `Counted`).
    steps: Cell<u64>,
    max_steps: u64,
    budget_hit: Cell<bool>,
    /// Virtual ms the clock is ahead of tokio's paused clock (the sum of all freezes).
    offset: Cell<u64>,
    /// The run's horizon: a freeze never moves the clock past it.
    horizon: u64,
    /// Pending sleeps by (virtual deadline, registration).
    sleepers: RefCell<BTreeMap<(u64, u64), Waker>>,
    next_sleep: Cell<u64>,
    /// The reactor's waker, and the virtual deadline its tokio timer is armed for.
    reactor: RefCell<Option<Waker>>,
    armed: Cell<Option<u64>>,
    /// Model tasks woken and not polled since (see [`ReadyWaker`]).
    ready: Arc<AtomicU64>,
}

impl Core {
    pub(super) fn now(&self) -> u64 {
        self.tokio_now().saturating_add(self.offset.get())
    }

    fn tokio_now(&self) -> u64 {
        Instant::now().duration_since(self.start).as_millis() as u64
    }

    pub(super) fn sleep_until(self: &Rc<Self>, t: u64) -> Sleep {
        let seq = self.next_sleep.get();
        self.next_sleep.set(seq + 1);
        Sleep {
            core: self.clone(),
            key: (t, seq),
            registered: false,
        }
    }

    /// The tokio instant at which virtual time reaches `t` with the current offset.
    fn at(&self, t: u64) -> Instant {
        // Far-future deadlines saturate instead of overflowing `Instant`.
        let t = t.saturating_sub(self.offset.get()).min(u64::MAX / 4);
        self.start + Duration::from_millis(t)
    }

    fn wake_reactor(&self) {
        if let Some(w) = self.reactor.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    // The tokio engine *is* the wrapper that maps Rt onto tokio's paused runtime: its
    // timers and spawn are virtual-time and FIFO here, so the determinism lint does not apply.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn spawn(self: &Rc<Self>, fut: impl Future<Output = ()> + 'static) {
        // `unconstrained`: tokio's cooperative budget (128 operations a poll) would make a
        // task that does much zero-time work yield where the fast engine does not, and the
        // engines' traces differ. The step budget bounds a task's work instead.
        self.ready.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_local(tokio::task::unconstrained(Counted {
            core: self.clone(),
            fut: Box::pin(fut),
            waker: Arc::new(ReadyWaker {
                queued: AtomicBool::new(true),
                done: AtomicBool::new(false),
                ready: self.ready.clone(),
                inner: Mutex::new(None),
            }),
        }));
    }

    /// The clock jumps with no other task polled (this one carries on to its next await);
    /// the timers that fell due fire late, after the tasks already queued.
    pub(super) fn freeze(&self, d: u64) {
        // A freeze that would outlast the horizon ends there, as on the fast engine.
        let now = self.now();
        let d = d.min(self.horizon.saturating_sub(now));
        self.offset.set(self.offset.get().saturating_add(d));
        self.wake_reactor();
    }

    pub(super) fn draw(&self) -> Option<u32> {
        self.decisions.next(self.now())
    }

    pub(super) fn stop(&self) {
        self.stopped.set(true);
        self.stop.notify_one();
    }
}

/// The tokio engine's sleep: an entry in the core's table, woken by the reactor.
pub struct Sleep {
    core: Rc<Core>,
    key: (u64, u64),
    registered: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.core.now() >= this.key.0 {
            this.unregister();
            return Poll::Ready(());
        }
        this.core
            .sleepers
            .borrow_mut()
            .insert(this.key, cx.waker().clone());
        this.registered = true;
        // An earlier deadline than the reactor's timer: it must re-arm.
        if this.core.armed.get().is_none_or(|a| this.key.0 < a) {
            this.core.wake_reactor();
        }
        Poll::Pending
    }
}

impl Sleep {
    fn unregister(&mut self) {
        if self.registered {
            self.core.sleepers.borrow_mut().remove(&self.key);
            self.registered = false;
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// Wakes the due sleeps in (deadline, registration) order and sleeps on one tokio timer until
/// the next deadline.
struct Reactor {
    core: Rc<Core>,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Future for Reactor {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.core.reactor.borrow_mut() = Some(cx.waker().clone());
        if self.core.ready.load(Ordering::Relaxed) > 0 {
            // Behind every task that is ready now: timers fire once they have all run.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            let now = self.core.now();
            let due: Vec<Waker> = {
                let mut s = self.core.sleepers.borrow_mut();
                let later = s.split_off(&(now.saturating_add(1), 0));
                std::mem::replace(&mut *s, later).into_values().collect()
            };
            for w in due {
                w.wake();
            }
            let next = self.core.sleepers.borrow().keys().next().map(|k| k.0);
            self.core.armed.set(next);
            let Some(next) = next else {
                return Poll::Pending;
            };
            let at = self.core.at(next);
            self.timer.as_mut().reset(at);
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

/// A task that counts its polls against the step budget; over budget it stops the run and
/// is never polled again; after a stop it is not polled either.
struct Counted {
    core: Rc<Core>,
    fut: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<ReadyWaker>,
}

/// A model task's waker: counts the task into the core's ready count when it is woken (once
/// until it is polled), then wakes tokio's task.
struct ReadyWaker {
    queued: AtomicBool,
    done: AtomicBool,
    ready: Arc<AtomicU64>,
    inner: Mutex<Option<Waker>>,
}

impl Wake for ReadyWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.done.load(Ordering::Relaxed) && !self.queued.swap(true, Ordering::Relaxed) {
            self.ready.fetch_add(1, Ordering::Relaxed);
        }
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = inner.as_ref() {
            w.wake_by_ref();
        }
    }
}

impl Future for Counted {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Once the model stopped the run, nothing else runs (as on the fast engine, which
        // checks after every step).
        if self.waker.queued.swap(false, Ordering::Relaxed) {
            self.core.ready.fetch_sub(1, Ordering::Relaxed);
        }
        if self.core.stopped.get() {
            return Poll::Pending;
        }
        let n = self.core.steps.get();
        if n >= self.core.max_steps {
            if !self.core.budget_hit.replace(true) {
                self.core.stop();
            }
            return Poll::Pending;
        }
        self.core.steps.set(n + 1);
        {
            let mut inner = self.waker.inner.lock().unwrap_or_else(|e| e.into_inner());
            if !inner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *inner = Some(cx.waker().clone());
            }
        }
        let waker = Waker::from(self.waker.clone());
        let mut ours = Context::from_waker(&waker);
        let done = self.fut.as_mut().poll(&mut ours);
        if done.is_ready() {
            // A task that woke itself and then finished is not polled again: count it out.
            self.waker.done.store(true, Ordering::Relaxed);
            if self.waker.queued.swap(false, Ordering::Relaxed) {
                self.core.ready.fetch_sub(1, Ordering::Relaxed);
            }
        }
        done
    }
}

// The reactor's timer and task run on tokio's paused clock (virtual time, not the wall clock).
#[allow(clippy::disallowed_methods)]
pub(super) fn run<F: FnOnce(Rt)>(config: &RunConfig, root: F) -> EngineReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current_thread runtime with paused time");
    let local = tokio::task::LocalSet::new();
    let horizon = config.horizon_ms;
    let decisions = config.decisions();
    let (end, end_ms, used, steps) = local.block_on(&rt, async move {
        let start = Instant::now();
        let core = Rc::new(Core {
            start,
            decisions,
            stopped: Cell::new(false),
            stop: tokio::sync::Notify::new(),
            steps: Cell::new(0),
            max_steps: config.max_steps,
            budget_hit: Cell::new(false),
            offset: Cell::new(0),
            horizon,
            sleepers: RefCell::new(BTreeMap::new()),
            next_sleep: Cell::new(0),
            reactor: RefCell::new(None),
            armed: Cell::new(None),
            ready: Arc::new(AtomicU64::new(0)),
        });
        tokio::task::spawn_local(Reactor {
            core: core.clone(),
            timer: Box::pin(tokio::time::sleep_until(start)),
        });
        root(Rt(super::Engine::Tokio(core.clone())));
        let mut stopped = first_of(core.stop.notified(), core.sleep_until(horizon)).await;
        if let Either::Right(()) = stopped {
            // The fast engine runs everything that is ready at the horizon instant (timers due
            // at it, tasks they wake, the rest of a freeze that ended there) before it stops.
            // Here the horizon's own sleep wakes this future first, so let the tasks queued at
            // this instant run too, until a turn runs none of them (or the model stops).
            loop {
                let before = core.steps.get();
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                if core.stopped.get() {
                    stopped = Either::Left(());
                    break;
                }
                let due = core
                    .sleepers
                    .borrow()
                    .keys()
                    .next()
                    .is_some_and(|k| k.0 <= horizon);
                if core.steps.get() == before && !due {
                    break;
                }
            }
        }
        let end = match stopped {
            Either::Left(()) if core.budget_hit.get() => EndReason::StepBudget,
            Either::Left(()) => EndReason::Stopped,
            Either::Right(()) => EndReason::Horizon,
        };
        let end_ms = core.now().min(horizon);
        (end, end_ms, core.decisions.used(), core.steps.get())
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

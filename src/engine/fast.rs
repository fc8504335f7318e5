//! readysim's own executor: a virtual clock in whole ms, timers ordered by (deadline,
//! registration), a FIFO ready queue, and decisions that choose among same-instant ready tasks.
//!
//! Hot-path notes (behaviour is that of the plain design; only the cost differs):
//! - A task's waker is built once at spawn and lent to every poll (no clone per poll).
//! - A timer slept on by the task being polled stores that task's id, not a waker clone; a
//!   firing timer pushes the id straight onto the ready queue. Foreign wakers still work.
//! - Timers live in a slab reused across sleeps; the heap holds plain `(deadline, seq, slot)`.
//! - Wakers reach the ready queue through a thread-local pointer to the running core, so the
//!   queue needs no lock; a waker fired from another thread (impossible in model code, but
//!   allowed by `Waker: Send`) goes through a mutex-guarded side queue instead.
//! - The run's buffers are kept in a thread-local pool and reused by the next run.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::{EndReason, EngineReport, Rt, RunConfig};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// One same-instant choice: `ready` tasks could run at `at_ms`; `chosen` (0-based, in FIFO
/// order) did, because of decision value `value` (or 0 when the list was exhausted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// Virtual time of the choice.
    pub at_ms: u64,
    /// How many tasks were ready.
    pub ready: u32,
    /// Which one ran.
    pub chosen: u32,
    /// The decision value consumed, if any.
    pub value: Option<u32>,
}

/// Distinguishes runs, so a waker outliving its run (or woken on another thread) never
/// pushes into a later run's queue.
static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The core whose run loop owns this thread right now.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
    /// Buffers of finished runs, reused by the next one.
    static POOL: RefCell<Option<Buffers>> = const { RefCell::new(None) };
}

/// Wakes that did not come from the run's own thread.
#[derive(Default)]
struct Foreign {
    pending: AtomicBool,
    ids: Mutex<Vec<usize>>,
}

/// A task's waker: queues the task id once until the task runs again.
struct TaskWaker {
    id: usize,
    run: u64,
    queued: AtomicBool,
    foreign: Arc<Foreign>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Only the run's own thread touches these flags in practice, so a load and a store
        // (no read-modify-write) are enough; a cross-thread race could at worst queue twice.
        if self.queued.load(Ordering::Relaxed) {
            return;
        }
        self.queued.store(true, Ordering::Relaxed);
        let local = CURRENT
            .try_with(|c| match &*c.borrow() {
                Some(core) if core.run == self.run => {
                    core.ready.borrow_mut().push_back(self.id);
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if !local {
            self.foreign
                .ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.id);
            self.foreign.pending.store(true, Ordering::Release);
        }
    }
}

/// One spawned task: its future (None once done) and its waker, built once.
struct Slot {
    task: RefCell<Option<Task>>,
    flag: Arc<TaskWaker>,
    waker: Waker,
}

/// Who a timer wakes.
enum Waiter {
    /// Cancelled (its sleep was dropped) or already fired.
    Nobody,
    /// The task with this id (the common case: the sleep was polled by its own task).
    Task(usize),
    /// Any other waker.
    Waker(Waker),
}

/// A timer in the slab; `seq` tells a live registration from a reused slot.
struct TimerSlot {
    seq: u64,
    waiter: Waiter,
}

/// The reusable buffers of a run.
#[derive(Default)]
struct Buffers {
    heap: BinaryHeap<Reverse<(u64, u64, u64)>>,
    slab: Vec<TimerSlot>,
    free: Vec<u32>,
    slots: Vec<Rc<Slot>>,
    ready: VecDeque<usize>,
}

/// The executor's state, shared by the run loop and the [`Rt`] handles.
pub struct Core {
    run: u64,
    now: Cell<u64>,
    /// The run's horizon: the clock never moves past it.
    horizon: u64,
    seq: Cell<u64>,
    heap: RefCell<BinaryHeap<Reverse<(u64, u64, u64)>>>,
    slab: RefCell<Vec<TimerSlot>>,
    free: RefCell<Vec<u32>>,
    slots: RefCell<Vec<Rc<Slot>>>,
    ready: RefCell<VecDeque<usize>>,
    foreign: Arc<Foreign>,
    /// The task being polled (`usize::MAX` between polls).
    current: Cell<usize>,
    decisions: Vec<u32>,
    cursor: Cell<usize>,
    choices: RefCell<Vec<Choice>>,
    stopped: Cell<bool>,
}

impl Core {
    fn new(decisions: Vec<u32>, horizon: u64) -> Core {
        let b = POOL.with(|p| p.borrow_mut().take()).unwrap_or_default();
        Core {
            run: NEXT_RUN.fetch_add(1, Ordering::Relaxed),
            now: Cell::new(0),
            horizon,
            seq: Cell::new(0),
            heap: RefCell::new(b.heap),
            slab: RefCell::new(b.slab),
            free: RefCell::new(b.free),
            slots: RefCell::new(b.slots),
            ready: RefCell::new(b.ready),
            foreign: Arc::new(Foreign::default()),
            current: Cell::new(usize::MAX),
            decisions,
            cursor: Cell::new(0),
            choices: RefCell::new(Vec::new()),
            stopped: Cell::new(false),
        }
    }

    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.now.get()
    }

    pub(super) fn sleep_until(core: &Rc<Core>, deadline: u64) -> Sleep {
        Sleep {
            core: core.clone(),
            deadline,
            timer: None,
        }
    }

    pub(super) fn spawn(&self, task: Task) {
        let mut slots = self.slots.borrow_mut();
        let id = slots.len();
        let flag = Arc::new(TaskWaker {
            id,
            run: self.run,
            queued: AtomicBool::new(false),
            foreign: self.foreign.clone(),
        });
        let waker = Waker::from(flag.clone());
        slots.push(Rc::new(Slot {
            task: RefCell::new(Some(task)),
            flag,
            waker,
        }));
        drop(slots);
        self.enqueue(id);
    }

    /// Queues task `id` unless it is queued already (what its waker does, without the waker).
    fn enqueue(&self, id: usize) {
        let slots = self.slots.borrow();
        let flag = &slots[id].flag.queued;
        if !flag.load(Ordering::Relaxed) {
            flag.store(true, Ordering::Relaxed);
            self.ready.borrow_mut().push_back(id);
        }
    }

    pub(super) fn freeze(&self, d: u64) {
        // Inside a poll no other task can run, so moving the clock is the whole freeze. The run
        // ends at the horizon, so a freeze that would outlast it ends there.
        let to = self
            .now
            .get()
            .saturating_add(d)
            .min(self.horizon.max(self.now.get()));
        self.now.set(to);
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
    }

    /// Who should be woken for a sleep polled with `cx`: the polled task by id when `cx`
    /// carries its waker, else a clone of the waker.
    fn waiter_for(&self, cx: &Context<'_>) -> Waiter {
        let id = self.current.get();
        if let Some(slot) = self.slots.borrow().get(id) {
            if slot.waker.will_wake(cx.waker()) {
                return Waiter::Task(id);
            }
        }
        Waiter::Waker(cx.waker().clone())
    }

    /// Registers a timer; returns its (slab index, seq).
    fn register(&self, deadline: u64, waiter: Waiter) -> (u32, u64) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        let mut slab = self.slab.borrow_mut();
        let idx = match self.free.borrow_mut().pop() {
            Some(i) => {
                slab[i as usize] = TimerSlot { seq, waiter };
                i
            }
            None => {
                slab.push(TimerSlot { seq, waiter });
                (slab.len() - 1) as u32
            }
        };
        // All-u64 entries: mixed widths defeat store-to-load forwarding in the sift.
        self.heap
            .borrow_mut()
            .push(Reverse((deadline, seq, u64::from(idx))));
        (idx, seq)
    }

    /// Points a live timer at a new waiter (a sleep re-polled, possibly by another waker).
    fn rewait(&self, (idx, seq): (u32, u64), cx: &Context<'_>) {
        let keep = {
            let slab = self.slab.borrow();
            let t = &slab[idx as usize];
            if t.seq != seq {
                return;
            }
            match &t.waiter {
                Waiter::Task(id) => {
                    *id == self.current.get() && {
                        let slots = self.slots.borrow();
                        slots[*id].waker.will_wake(cx.waker())
                    }
                }
                Waiter::Waker(w) => w.will_wake(cx.waker()),
                Waiter::Nobody => false,
            }
        };
        if !keep {
            let w = self.waiter_for(cx);
            self.slab.borrow_mut()[idx as usize].waiter = w;
        }
    }

    /// Forgets a timer's waiter (its sleep completed or was dropped); the heap entry is
    /// discarded when it reaches the top.
    fn cancel(&self, (idx, seq): (u32, u64)) {
        let old = {
            let mut slab = self.slab.borrow_mut();
            match slab.get_mut(idx as usize) {
                Some(t) if t.seq == seq => std::mem::replace(&mut t.waiter, Waiter::Nobody),
                _ => Waiter::Nobody,
            }
        };
        drop(old);
    }

    /// Pops the heap top's slab slot: returns its waiter if the registration is current.
    fn take_slot(&self, seq: u64, idx: u64) -> Waiter {
        let mut slab = self.slab.borrow_mut();
        let t = &mut slab[idx as usize];
        if t.seq != seq {
            return Waiter::Nobody;
        }
        t.seq = u64::MAX;
        self.free.borrow_mut().push(idx as u32);
        std::mem::replace(&mut t.waiter, Waiter::Nobody)
    }

    fn is_live(&self, seq: u64, idx: u64) -> bool {
        let slab = self.slab.borrow();
        let t = &slab[idx as usize];
        t.seq == seq && !matches!(t.waiter, Waiter::Nobody)
    }

    /// Picks which of `n` ready tasks runs; a decision when `n >= 2`.
    fn choose(&self, n: usize) -> usize {
        if n < 2 {
            return 0;
        }
        let value = self.draw();
        let chosen = value.map_or(0, |v| v as usize % n);
        self.choices.borrow_mut().push(Choice {
            at_ms: self.now.get(),
            ready: n as u32,
            chosen: chosen as u32,
            value,
        });
        chosen
    }

    /// The next task to poll, if any is ready (a decision among several).
    fn next_ready(&self) -> Option<usize> {
        if self.foreign.pending.load(Ordering::Acquire) {
            self.foreign.pending.store(false, Ordering::Relaxed);
            let ids =
                std::mem::take(&mut *self.foreign.ids.lock().unwrap_or_else(|e| e.into_inner()));
            self.ready.borrow_mut().extend(ids);
        }
        let mut ready = self.ready.borrow_mut();
        match ready.len() {
            0 => None,
            1 => ready.pop_front(),
            n => {
                let i = self.choose(n);
                ready.remove(i)
            }
        }
    }

    fn poll_task(&self, id: usize) {
        let slot = self.slots.borrow()[id].clone();
        slot.flag.queued.store(false, Ordering::Relaxed);
        let mut task = slot.task.borrow_mut();
        let Some(fut) = task.as_mut() else { return };
        self.current.set(id);
        let mut cx = Context::from_waker(&slot.waker);
        let done = fut.as_mut().poll(&mut cx).is_ready();
        self.current.set(usize::MAX);
        if done {
            let finished = task.take();
            drop(task);
            drop(finished);
        }
    }

    /// Moves the clock to the earliest live timer and wakes every timer due by then.
    /// Fails when no timer is pending, or the next one lies past the horizon.
    fn advance(&self, horizon: u64) -> Result<(), EndReason> {
        loop {
            let top = self.heap.borrow().peek().map(|Reverse(e)| *e);
            let Some((deadline, seq, idx)) = top else {
                return Err(EndReason::Quiescent);
            };
            if !self.is_live(seq, idx) {
                self.heap.borrow_mut().pop();
                drop(self.take_slot(seq, idx));
                continue;
            }
            if deadline > horizon {
                self.now.set(horizon.max(self.now.get()));
                return Err(EndReason::Horizon);
            }
            // After a freeze the clock may already be past the deadline: fire late, never
            // move the clock backwards.
            self.now.set(self.now.get().max(deadline));
            break;
        }
        let now = self.now.get();
        loop {
            let due = {
                let mut heap = self.heap.borrow_mut();
                match heap.peek() {
                    Some(Reverse((deadline, _, _))) if *deadline <= now => heap.pop(),
                    _ => None,
                }
            };
            let Some(Reverse((_, seq, idx))) = due else {
                break;
            };
            match self.take_slot(seq, idx) {
                Waiter::Nobody => {}
                Waiter::Task(id) => self.enqueue(id),
                Waiter::Waker(w) => w.wake(),
            }
        }
        Ok(())
    }

    /// Empties the run's state and gives its buffers back to the pool.
    fn recycle(&self) {
        let mut slots = self.slots.take();
        // Tasks hold Rt handles (and so the core): break the cycle before dropping.
        let tasks: Vec<Option<Task>> = slots.iter().map(|s| s.task.take()).collect();
        drop(tasks);
        slots.clear();
        let mut slab = self.slab.take();
        slab.clear();
        let mut heap = self.heap.take();
        heap.clear();
        let mut free = self.free.take();
        free.clear();
        let mut ready = self.ready.take();
        ready.clear();
        let b = Buffers {
            heap,
            slab,
            free,
            slots,
            ready,
        };
        let _ = POOL.try_with(|p| *p.borrow_mut() = Some(b));
    }
}

/// Makes `core` the thread's current core for the guard's lifetime (restoring any previous
/// one, so a run inside a run still works).
struct CurrentGuard(Option<Rc<Core>>);

impl CurrentGuard {
    fn enter(core: &Rc<Core>) -> CurrentGuard {
        CurrentGuard(CURRENT.with(|c| c.replace(Some(core.clone()))))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        let _ = CURRENT.try_with(|c| c.replace(prev));
    }
}

/// The fast engine's sleep future.
pub struct Sleep {
    core: Rc<Core>,
    deadline: u64,
    timer: Option<(u32, u64)>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.core.now.get() >= self.deadline {
            if let Some(t) = self.timer.take() {
                self.core.cancel(t);
            }
            return Poll::Ready(());
        }
        match self.timer {
            Some(t) => self.core.rewait(t, cx),
            None => {
                let w = self.core.waiter_for(cx);
                let t = self.core.register(self.deadline, w);
                self.timer = Some(t);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            self.core.cancel(t);
        }
    }
}

pub(super) fn run<F: FnOnce(Rt)>(config: &RunConfig, root: F) -> EngineReport {
    let core = Rc::new(Core::new(config.decisions.clone(), config.horizon_ms));
    let guard = CurrentGuard::enter(&core);
    root(Rt::Fast(core.clone()));
    let mut steps = 0u64;
    let end = loop {
        if core.stopped.get() {
            break EndReason::Stopped;
        }
        match core.next_ready() {
            Some(id) => {
                if steps >= config.max_steps {
                    break EndReason::StepBudget;
                }
                steps += 1;
                core.poll_task(id);
            }
            None => {
                if let Err(reason) = core.advance(config.horizon_ms) {
                    break reason;
                }
            }
        }
    };
    let report = EngineReport {
        end,
        end_ms: core.now.get(),
        steps,
        choices: core.choices.take(),
        decisions_used: core.cursor.get(),
    };
    core.recycle();
    drop(guard);
    report
}

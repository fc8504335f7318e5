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
//! - The run's buffers are kept in a thread-local pool and reused by the next run, and so are
//!   its task slots (with their wakers) and the boxes its futures lived in: a world spawns the
//!   same actors every run, so after the first run a spawn allocates nothing. A slot whose
//!   waker is still held outside the engine is never reused, so a stale waker cannot wake a
//!   later run's task.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::decide::Decisions;
use super::{EndReason, EngineReport, Rt, RunConfig};

type Task = Pin<Box<dyn TaskCell>>;

/// A spawned future in a box that outlives it: `Option<F>`, emptied in place when the future
/// is done, so the box can go back to the pool and take the next future of the same type.
trait TaskCell {
    /// Polls the future (ready at once once it has been emptied).
    fn poll_cell(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// Drops the future in place.
    fn clear(self: Pin<&mut Self>);
    /// The emptied box, for the pool.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<F: Future<Output = ()> + 'static> TaskCell for Option<F> {
    fn poll_cell(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.as_pin_mut() {
            Some(f) => f.poll(cx),
            None => Poll::Ready(()),
        }
    }
    fn clear(mut self: Pin<&mut Self>) {
        self.set(None);
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Emptied task boxes kept between runs, at most this many of each future type: enough for
/// the actors of any shipped world, bounded for a world of thousands of clients.
const POOLED_PER_TYPE: usize = 64;

/// Task slots kept between runs, at most.
const POOLED_SLOTS: usize = 256;

/// Emptied task boxes by the type of `Option<F>` they hold (a handful of types: a linear scan
/// beats hashing).
struct BoxPool {
    by_type: Vec<(TypeId, Vec<Box<dyn Any>>)>,
}

impl BoxPool {
    /// An emptied box of `Option<F>`'s type, if the pool has one.
    fn take<F: 'static>(&mut self) -> Option<Box<Option<F>>> {
        let id = TypeId::of::<Option<F>>();
        self.by_type
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, boxes)| boxes.pop())
            .and_then(|b| b.downcast::<Option<F>>().ok())
    }

    /// Takes back an emptied box (dropped instead when its type's pool is full).
    fn give(&mut self, mut task: Task) {
        task.as_mut().clear();
        // SAFETY: `clear` dropped the future in place, so the box holds `None` and nothing in
        // it is pinned any more: moving the (empty) box out of its `Pin` breaks no promise.
        let b = unsafe { Pin::into_inner_unchecked(task) }.into_any();
        let id = (*b).type_id();
        let i = match self.by_type.iter().position(|(t, _)| *t == id) {
            Some(i) => i,
            None => {
                self.by_type.push((id, Vec::new()));
                self.by_type.len() - 1
            }
        };
        let boxes = &mut self.by_type[i].1;
        if boxes.len() < POOLED_PER_TYPE {
            boxes.push(b);
        }
    }
}

/// Drops a finished or abandoned task's future and gives its box back to the pool. The
/// future is dropped before the pool is borrowed: its drop glue is model code.
fn retire(mut task: Task) {
    task.as_mut().clear();
    let _ = BOXES.try_with(|p| p.borrow_mut().give(task));
}

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
    /// Emptied task boxes of finished runs.
    static BOXES: RefCell<BoxPool> = const { RefCell::new(BoxPool { by_type: Vec::new() }) };
}

/// Wakes that did not come from the run's own thread, as (run, task id): the queue passes from
/// run to run with the other buffers, so each run takes only its own.
#[derive(Default)]
struct Foreign {
    pending: AtomicBool,
    ids: Mutex<Vec<(u64, usize)>>,
}

/// A task's waker: queues the task id once until the task runs again. `run` changes only
/// when the slot is reused, which happens only when no clone of this waker is left outside.
struct TaskWaker {
    id: usize,
    run: AtomicU64,
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
        let run = self.run.load(Ordering::Relaxed);
        let local = CURRENT
            .try_with(|c| match &*c.borrow() {
                Some(core) if core.run == run => {
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
                .push((run, self.id));
            self.foreign.pending.store(true, Ordering::Release);
        }
    }
}

/// One spawned task: its future (None once done) and its waker, built once and reused by
/// later runs' tasks of the same index.
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

/// A min-heap of timer entries `(deadline, seq, slab index)`. Entries are unique by `seq`, so
/// the order they leave in is fully fixed by `(deadline, seq)`. Hand-written instead of
/// `BinaryHeap<Reverse<..>>` because the heap is tiny (a handful of live timers) and std's
/// pop is tuned for large heaps: this one costs about half as much per sleep.
#[derive(Default)]
struct TimerHeap {
    v: Vec<(u64, u64, u64)>,
}

impl TimerHeap {
    #[inline]
    fn peek(&self) -> Option<&(u64, u64, u64)> {
        self.v.first()
    }

    fn push(&mut self, e: (u64, u64, u64)) {
        let mut i = self.v.len();
        self.v.push(e);
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.v[parent] <= e {
                break;
            }
            self.v[i] = self.v[parent];
            i = parent;
        }
        self.v[i] = e;
    }

    fn pop(&mut self) -> Option<(u64, u64, u64)> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = self.v[0];
        let n = self.v.len();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && self.v[r] < self.v[l] { r } else { l };
            if last <= self.v[c] {
                break;
            }
            self.v[i] = self.v[c];
            i = c;
        }
        self.v[i] = last;
        Some(top)
    }

    fn clear(&mut self) {
        self.v.clear();
    }
}

/// The run's timers: a heap of `(deadline, seq, slab index)` over a slab of waiters, behind one
/// borrow. `seq` counts registrations: the order among timers of one deadline, and what tells
/// a live registration from a reused slot.
#[derive(Default)]
struct Timers {
    heap: TimerHeap,
    slab: Vec<TimerSlot>,
    free: Vec<u32>,
    seq: u64,
}

impl Timers {
    /// Registers a timer; returns its (slab index, seq).
    fn register(&mut self, deadline: u64, waiter: Waiter) -> (u32, u64) {
        let seq = self.seq;
        self.seq += 1;
        let idx = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = TimerSlot { seq, waiter };
                i
            }
            None => {
                self.slab.push(TimerSlot { seq, waiter });
                (self.slab.len() - 1) as u32
            }
        };
        // All-u64 entries: mixed widths defeat store-to-load forwarding in the sift.
        self.heap.push((deadline, seq, u64::from(idx)));
        (idx, seq)
    }

    /// The live registration's slot, if `(idx, seq)` is still one.
    fn live(&mut self, (idx, seq): (u32, u64)) -> Option<&mut TimerSlot> {
        self.slab.get_mut(idx as usize).filter(|t| t.seq == seq)
    }

    /// Frees the slab slot of the heap entry just popped: returns its waiter if the
    /// registration was current.
    fn release(&mut self, seq: u64, idx: u64) -> Waiter {
        let t = &mut self.slab[idx as usize];
        if t.seq != seq {
            return Waiter::Nobody;
        }
        t.seq = u64::MAX;
        self.free.push(idx as u32);
        std::mem::replace(&mut t.waiter, Waiter::Nobody)
    }

    /// Empties the timers, keeping their memory.
    fn clear(&mut self) {
        self.heap.clear();
        self.slab.clear();
        self.free.clear();
        self.seq = 0;
    }
}

/// The reusable buffers of a run.
#[derive(Default)]
struct Buffers {
    timers: Timers,
    slots: Vec<Rc<Slot>>,
    ready: VecDeque<usize>,
    foreign: Arc<Foreign>,
}

/// The executor's state, shared by the run loop and the [`Rt`] handles.
pub struct Core {
    run: u64,
    now: Cell<u64>,
    /// The run's horizon: the clock never moves past it.
    horizon: u64,
    timers: RefCell<Timers>,
    /// Task slots by id: the first `spawned` belong to this run, the rest wait for reuse.
    slots: RefCell<Vec<Rc<Slot>>>,
    spawned: Cell<usize>,
    ready: RefCell<VecDeque<usize>>,
    foreign: Arc<Foreign>,
    /// The task being polled (`usize::MAX` between polls).
    current: Cell<usize>,
    decisions: Decisions,
    choices: RefCell<Vec<Choice>>,
    stopped: Cell<bool>,
}

impl Core {
    fn new(decisions: Decisions, horizon: u64) -> Core {
        let b = POOL.with(|p| p.borrow_mut().take()).unwrap_or_default();
        Core {
            run: NEXT_RUN.fetch_add(1, Ordering::Relaxed),
            now: Cell::new(0),
            horizon,
            timers: RefCell::new(b.timers),
            slots: RefCell::new(b.slots),
            spawned: Cell::new(0),
            ready: RefCell::new(b.ready),
            foreign: b.foreign,
            current: Cell::new(usize::MAX),
            decisions,
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

    #[inline(always)]
    pub(super) fn spawn<F: Future<Output = ()> + 'static>(&self, fut: F) {
        // The future is written straight into its box: futures are large (startup's is
        // nearly 2 KiB) and every move is a copy.
        let task: Task = match BOXES.with(|p| p.borrow_mut().take::<F>()) {
            Some(mut b) => {
                *b = Some(fut);
                Box::into_pin(b)
            }
            None => Box::pin(Some(fut)),
        };
        self.install(task);
    }

    /// Gives `task` a slot (a pooled one when it can be reused) and queues it.
    fn install(&self, task: Task) {
        let mut slots = self.slots.borrow_mut();
        let id = self.spawned.get();
        self.spawned.set(id + 1);
        // A pooled slot is reused only when nothing outside holds it or a clone of its waker
        // (the slot's own `flag` and `waker` are the two references left).
        let reusable = slots
            .get(id)
            .is_some_and(|s| Rc::strong_count(s) == 1 && Arc::strong_count(&s.flag) == 2);
        if reusable {
            let slot = &slots[id];
            slot.flag.run.store(self.run, Ordering::Relaxed);
            slot.flag.queued.store(false, Ordering::Relaxed);
            *slot.task.borrow_mut() = Some(task);
        } else {
            let flag = Arc::new(TaskWaker {
                id,
                run: AtomicU64::new(self.run),
                queued: AtomicBool::new(false),
                foreign: self.foreign.clone(),
            });
            let waker = Waker::from(flag.clone());
            let slot = Rc::new(Slot {
                task: RefCell::new(Some(task)),
                flag,
                waker,
            });
            match slots.get_mut(id) {
                Some(old) => *old = slot,
                None => slots.push(slot),
            }
        }
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
        self.decisions.next(self.now.get())
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

    /// Points a live timer at a new waiter (a sleep re-polled, possibly by another waker).
    fn rewait(&self, t: (u32, u64), cx: &Context<'_>) {
        let keep = {
            let mut timers = self.timers.borrow_mut();
            let Some(slot) = timers.live(t) else { return };
            match &slot.waiter {
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
            if let Some(slot) = self.timers.borrow_mut().live(t) {
                slot.waiter = w;
            }
        }
    }

    /// Forgets a timer's waiter (its sleep completed or was dropped); the heap entry is
    /// discarded when it reaches the top.
    fn cancel(&self, t: (u32, u64)) {
        let old = match self.timers.borrow_mut().live(t) {
            Some(slot) => std::mem::replace(&mut slot.waiter, Waiter::Nobody),
            None => Waiter::Nobody,
        };
        // A foreign waker is dropped outside the borrow: its drop is not ours to predict.
        drop(old);
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
    #[inline]
    fn next_ready(&self) -> Option<usize> {
        if self.foreign.pending.load(Ordering::Acquire) {
            self.foreign.pending.store(false, Ordering::Relaxed);
            let all =
                std::mem::take(&mut *self.foreign.ids.lock().unwrap_or_else(|e| e.into_inner()));
            // One run at a time uses a thread's side queue, so a wake of another run comes
            // from a waker that outlived its run: it wakes nobody.
            let mine = all.into_iter().filter(|(run, _)| *run == self.run);
            self.ready.borrow_mut().extend(mine.map(|(_, id)| id));
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
        let done = fut.as_mut().poll_cell(&mut cx).is_ready();
        self.current.set(usize::MAX);
        if done {
            let finished = task.take();
            drop(task);
            if let Some(t) = finished {
                retire(t);
            }
        }
    }

    /// Moves the clock to the earliest live timer and wakes every timer due by then.
    /// Fails when no timer is pending, or the next one lies past the horizon.
    fn advance(&self, horizon: u64) -> Result<(), EndReason> {
        let mut timers = self.timers.borrow_mut();
        loop {
            let Some(&(deadline, seq, idx)) = timers.heap.peek() else {
                return Err(EndReason::Quiescent);
            };
            let live = timers
                .live((idx as u32, seq))
                .is_some_and(|t| !matches!(t.waiter, Waiter::Nobody));
            if !live {
                timers.heap.pop();
                drop(timers.release(seq, idx));
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
            match timers.heap.peek() {
                Some((deadline, _, _)) if *deadline <= now => {}
                _ => break,
            }
            let Some((_, seq, idx)) = timers.heap.pop() else {
                break;
            };
            match timers.release(seq, idx) {
                Waiter::Nobody => {}
                Waiter::Task(id) => self.enqueue(id),
                Waiter::Waker(w) => {
                    // A foreign waker runs code we do not know: not inside our borrow.
                    drop(timers);
                    w.wake();
                    timers = self.timers.borrow_mut();
                }
            }
        }
        Ok(())
    }

    /// Empties the run's state and gives its buffers back to the pool.
    fn recycle(&self) {
        let mut slots = self.slots.take();
        // Tasks hold Rt handles (and so the core): break the cycle before dropping.
        for s in &slots[..self.spawned.get()] {
            let task = s.task.take();
            if let Some(t) = task {
                retire(t);
            }
        }
        slots.truncate(POOLED_SLOTS);
        let mut timers = self.timers.take();
        timers.clear();
        let mut ready = self.ready.take();
        ready.clear();
        let b = Buffers {
            timers,
            slots,
            ready,
            foreign: self.foreign.clone(),
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
                let t = self.core.timers.borrow_mut().register(self.deadline, w);
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
    let core = Rc::new(Core::new(config.decisions(), config.horizon_ms));
    let guard = CurrentGuard::enter(&core);
    root(Rt(super::Engine::Fast(core.clone())));
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
        decisions_used: core.decisions.used(),
    };
    core.recycle();
    drop(guard);
    report
}

#[cfg(test)]
mod tests {
    use super::TimerHeap;
    use proptest::prelude::*;

    proptest! {
        /// Any interleaving of pushes and pops leaves in `(deadline, seq)` order, as a sorted
        /// list of the same entries would.
        #[test]
        fn the_timer_heap_pops_in_deadline_then_registration_order(
            ops in proptest::collection::vec(proptest::option::of(0u64..20), 0..200),
        ) {
            let mut heap = TimerHeap::default();
            let mut model: Vec<(u64, u64, u64)> = Vec::new();
            for (seq, op) in ops.into_iter().enumerate() {
                match op {
                    Some(deadline) => {
                        let e = (deadline, seq as u64, seq as u64 % 7);
                        heap.push(e);
                        model.push(e);
                    }
                    None => {
                        model.sort_unstable();
                        let want = if model.is_empty() { None } else { Some(model.remove(0)) };
                        prop_assert_eq!(heap.peek().copied(), want);
                        prop_assert_eq!(heap.pop(), want);
                    }
                }
            }
            model.sort_unstable();
            let mut rest = Vec::new();
            while let Some(e) = heap.pop() {
                rest.push(e);
            }
            prop_assert_eq!(rest, model);
        }
    }
}

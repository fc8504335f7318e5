//! readysim's own executor: a virtual clock in whole ms, timers ordered by (deadline,
//! registration), a FIFO ready queue, and decisions that choose among same-instant ready tasks.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A task's waker: pushes the task id on the shared wake queue once until it runs again.
struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    queue: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::Relaxed) {
            self.queue.lock().expect("wake queue").push_back(self.id);
        }
    }
}

/// A pending timer; dropping its [`Sleep`] cancels it (lazily, when popped).
struct TimerEntry {
    waker: RefCell<Option<Waker>>,
}

struct Slot {
    task: Option<Task>,
    waker: Arc<TaskWaker>,
    waker_handle: Waker,
}

/// The executor's state, shared by the run loop and the [`Rt`] handles.
pub struct Core {
    now: Cell<u64>,
    seq: Cell<u64>,
    timers: RefCell<BinaryHeap<Reverse<(u64, u64, TimerKey)>>>,
    slots: RefCell<Vec<Slot>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
    decisions: Vec<u32>,
    cursor: Cell<usize>,
    choices: RefCell<Vec<Choice>>,
    stopped: Cell<bool>,
}

/// Orders heap entries by (deadline, seq) only; the entry itself rides along.
struct TimerKey(Rc<TimerEntry>);
impl PartialEq for TimerKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for TimerKey {}
impl PartialOrd for TimerKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerKey {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Core {
    fn new(decisions: Vec<u32>) -> Core {
        Core {
            now: Cell::new(0),
            seq: Cell::new(0),
            timers: RefCell::new(BinaryHeap::new()),
            slots: RefCell::new(Vec::new()),
            ready: Arc::new(Mutex::new(VecDeque::new())),
            decisions,
            cursor: Cell::new(0),
            choices: RefCell::new(Vec::new()),
            stopped: Cell::new(false),
        }
    }

    pub(super) fn now(&self) -> u64 {
        self.now.get()
    }

    pub(super) fn sleep_until(core: &Rc<Core>, deadline: u64) -> Sleep {
        Sleep {
            core: core.clone(),
            deadline,
            entry: None,
        }
    }

    pub(super) fn spawn(&self, task: Task) {
        let mut slots = self.slots.borrow_mut();
        let id = slots.len();
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            queue: self.ready.clone(),
        });
        let waker_handle = Waker::from(waker.clone());
        slots.push(Slot {
            task: Some(task),
            waker,
            waker_handle,
        });
        drop(slots);
        self.slots.borrow()[id].waker_handle.wake_by_ref();
    }

    pub(super) fn freeze(&self, d: u64) {
        // Inside a poll no other task can run, so moving the clock is the whole freeze.
        self.now.set(self.now.get().saturating_add(d));
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

    fn register(&self, deadline: u64, entry: Rc<TimerEntry>) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.timers
            .borrow_mut()
            .push(Reverse((deadline, seq, TimerKey(entry))));
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

    fn poll_task(&self, id: usize) {
        let (task, waker) = {
            let mut slots = self.slots.borrow_mut();
            let slot = &mut slots[id];
            slot.waker.queued.store(false, Ordering::Relaxed);
            (slot.task.take(), slot.waker_handle.clone())
        };
        let Some(mut task) = task else { return };
        let mut cx = Context::from_waker(&waker);
        if task.as_mut().poll(&mut cx).is_pending() {
            self.slots.borrow_mut()[id].task = Some(task);
        }
    }

    /// Moves the clock to the earliest live timer and wakes every timer due by then.
    /// Returns false when no timer is pending, or the next one lies past the horizon.
    fn advance(&self, horizon: u64) -> Result<(), EndReason> {
        let mut timers = self.timers.borrow_mut();
        loop {
            let Some(Reverse((deadline, _, key))) = timers.peek() else {
                return Err(EndReason::Quiescent);
            };
            if key.0.waker.borrow().is_none() {
                timers.pop();
                continue;
            }
            if *deadline > horizon {
                self.now.set(horizon.max(self.now.get()));
                return Err(EndReason::Horizon);
            }
            // After a freeze the clock may already be past the deadline: fire late, never
            // move the clock backwards.
            self.now.set(self.now.get().max(*deadline));
            break;
        }
        let now = self.now.get();
        while let Some(Reverse((deadline, _, _))) = timers.peek() {
            if *deadline > now {
                break;
            }
            let Reverse((_, _, key)) = timers.pop().expect("peeked");
            let waker = key.0.waker.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
        Ok(())
    }
}

/// The fast engine's sleep future.
pub struct Sleep {
    core: Rc<Core>,
    deadline: u64,
    entry: Option<Rc<TimerEntry>>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.core.now.get() >= self.deadline {
            if let Some(e) = self.entry.take() {
                e.waker.borrow_mut().take();
            }
            return Poll::Ready(());
        }
        match &self.entry {
            Some(e) => {
                let mut w = e.waker.borrow_mut();
                match w.as_ref() {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
            }
            None => {
                let e = Rc::new(TimerEntry {
                    waker: RefCell::new(Some(cx.waker().clone())),
                });
                self.core.register(self.deadline, e.clone());
                self.entry = Some(e);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            e.waker.borrow_mut().take();
        }
    }
}

pub(super) fn run<F: FnOnce(Rt)>(config: &RunConfig, root: F) -> EngineReport {
    let core = Rc::new(Core::new(config.decisions.clone()));
    root(Rt::Fast(core.clone()));
    let mut steps = 0u64;
    let end = loop {
        if core.stopped.get() {
            break EndReason::Stopped;
        }
        let next = {
            let mut ready = core.ready.lock().expect("ready queue");
            let n = ready.len();
            if n == 0 {
                None
            } else {
                let i = core.choose(n);
                ready.remove(i)
            }
        };
        match next {
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
    // Tasks hold Rt handles (and so the core): break the cycle before dropping.
    let tasks: Vec<Option<Task>> = core
        .slots
        .borrow_mut()
        .iter_mut()
        .map(|s| s.task.take())
        .collect();
    drop(tasks);
    core.timers.borrow_mut().clear();
    report
}

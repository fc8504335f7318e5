//! Readiness gate: the reference policy's single-writer, many-waiter readiness publication primitive.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::{fence, AtomicU64, Mutex, Ordering};

/// Bit 0 of the state word; the remaining bits hold the generation.
const READY: u64 = 1;

/// Readiness as published through the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Publication epoch; bumped by every transition out of "ready", so equal generations
    /// mean the same `since_ms`.
    pub generation: u64,
    /// Simulated time at which the service declared itself ready.
    pub since_ms: u64,
}

/// A readiness gate: one writer publishes ready / not ready; any number of waiters are woken.
///
/// # Memory ordering
///
/// The state word (`generation << 1 | ready`) is the only synchronising variable: it is
/// stored with Release and loaded with Acquire. `since_ms` is an atomic accessed with Relaxed
/// ordering, so a reader that overlaps a republish reads *some* published value rather than
/// racing (a racing non-atomic read would be undefined behaviour even if discarded); the
/// Release store of the ready bit is what makes the right value visible to a reader whose
/// Acquire load saw that bit. Readers pair values seqlock-style: the writer issues a Release
/// fence between clearing the ready bit and storing `since_ms`, and the reader issues an
/// Acquire fence before re-loading the state word, so a reader that picked up a newer
/// `since_ms` is guaranteed to see the word change and retries. Publishers are serialised by
/// the writer lock.
pub struct ReadinessGate {
    /// `generation << 1 | ready`; one word so a reader sees both in a single load.
    state: AtomicU64,
    /// `since_ms` of the current generation (Relaxed; ordered by `state`); only meaningful
    /// while the ready bit is set.
    since_ms: AtomicU64,
    /// Writer-side state and parked wakers; the lock orders registration against publication
    /// and serialises publishers.
    writer: Mutex<Writer>,
    /// Ordering for state stores; only loom's planted-bug constructor weakens it.
    publish: Ordering,
    /// Ordering for state loads; only loom's planted-bug constructor weakens it.
    observe: Ordering,
}

/// Everything only publishers and waiter registration touch, guarded by one lock.
struct Writer {
    /// Last value stored to `state`. Publishers read this copy instead of loading the atomic,
    /// which is cheaper and keeps loom's DPOR from missing the reader-load / writer-store race
    /// (it tracks only the last access per atomic, and a writer's own load would hide it).
    state: u64,
    /// Wakers parked by [`WaitReady`].
    waiters: Vec<Waker>,
}

impl ReadinessGate {
    /// Creates a gate that is not ready, at generation 0.
    pub fn new() -> Self {
        Self::build(Ordering::Release, Ordering::Acquire)
    }

    /// Builds the same gate with chosen orderings, so loom can show that `Relaxed` is a bug.
    #[cfg(readysim_loom)]
    pub fn with_orderings(publish: Ordering, observe: Ordering) -> Self {
        Self::build(publish, observe)
    }

    fn build(publish: Ordering, observe: Ordering) -> Self {
        Self {
            state: AtomicU64::new(0),
            since_ms: AtomicU64::new(0),
            writer: Mutex::new(Writer {
                state: 0,
                waiters: Vec::new(),
            }),
            publish,
            observe,
        }
    }

    /// Publishes "ready since `since_ms`" and wakes every pending [`wait_ready`](Self::wait_ready).
    ///
    /// Republishing while already ready starts a new generation, because readers treat an
    /// unchanged generation as proof that `since_ms` did not change under them.
    pub fn publish_ready(&self, since_ms: u64) {
        let woken = {
            let mut writer = self.writer.lock().unwrap();
            if writer.state & READY != 0 {
                writer.state = next_generation(writer.state);
                self.state.store(writer.state, self.publish);
            }
            // The ready bit is clear (stored above or by `publish_not_ready`, both before this
            // fence under the lock): a reader whose Acquire fence follows a read of the new
            // value must then see the cleared word, so it never pairs the value with an old
            // generation.
            fence(Ordering::Release);
            self.since_ms.store(since_ms, Ordering::Relaxed);
            writer.state |= READY;
            // Release: a reader whose Acquire load sees this bit also sees the write above.
            self.state.store(writer.state, self.publish);
            std::mem::take(&mut writer.waiters)
        };
        // Wake outside the lock so a waker that polls inline cannot deadlock on it.
        for waker in woken {
            waker.wake();
        }
    }

    /// Publishes "not ready", starting a new generation so stale readers can tell.
    pub fn publish_not_ready(&self) {
        let mut writer = self.writer.lock().unwrap();
        writer.state = next_generation(writer.state);
        self.state.store(writer.state, self.publish);
    }

    /// Returns the published readiness, or `None` while not ready.
    pub fn current(&self) -> Option<Readiness> {
        loop {
            let before = self.state.load(self.observe);
            if before & READY == 0 {
                return None;
            }
            // The Acquire load above saw the ready bit, so the publisher's store of this value
            // happens-before this load (unless the orderings were weakened on purpose).
            let since_ms = self.since_ms.load(Ordering::Relaxed);
            // Orders the load above before the re-check: if it read a newer generation's
            // value, the re-check sees that generation's word.
            fence(Ordering::Acquire);
            // A changed word means a republish overlapped the read; the value may belong to
            // another generation, so retry rather than return a mismatched pair.
            if self.state.load(Ordering::Relaxed) == before {
                return Some(Readiness {
                    generation: before >> 1,
                    since_ms,
                });
            }
        }
    }

    /// Returns a future that resolves once the gate is ready.
    pub fn wait_ready(&self) -> WaitReady<'_> {
        WaitReady { gate: self }
    }

    /// Returns the current generation (bumped by every transition out of "ready").
    pub fn generation(&self) -> u64 {
        self.state.load(self.observe) >> 1
    }
}

impl Default for ReadinessGate {
    fn default() -> Self {
        Self::new()
    }
}

/// Clears the ready bit and advances the generation.
fn next_generation(state: u64) -> u64 {
    ((state >> 1).wrapping_add(1)) << 1
}

/// Future returned by [`ReadinessGate::wait_ready`]; resolves to the readiness it observed.
///
/// Dropping it leaves its waker registered until the next `publish_ready`, which then wakes
/// it spuriously; that is cheaper than tracking slots for a gate with few waiters.
#[must_use = "futures do nothing unless polled"]
pub struct WaitReady<'a> {
    gate: &'a ReadinessGate,
}

impl Future for WaitReady<'_> {
    type Output = Readiness;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Readiness> {
        if let Some(readiness) = self.gate.current() {
            return Poll::Ready(readiness);
        }
        let mut writer = self.gate.writer.lock().unwrap();
        // Re-check under the lock: publish_ready drains waiters under the same lock after
        // setting the bit, so either we see the bit here or it sees our waker — never neither.
        if let Some(readiness) = self.gate.current() {
            return Poll::Ready(readiness);
        }
        if !writer.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            writer.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(all(test, not(readysim_loom)))]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    /// Counts wake-ups so tests can assert "woken exactly once".
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl CountingWaker {
        fn count(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[test]
    fn publish_then_current_round_trips() {
        let gate = ReadinessGate::new();
        assert_eq!(gate.current(), None);
        gate.publish_ready(42);
        assert_eq!(
            gate.current(),
            Some(Readiness {
                generation: 0,
                since_ms: 42
            })
        );
    }

    #[test]
    fn republishing_ready_starts_a_new_generation() {
        let gate = ReadinessGate::default();
        gate.publish_ready(1);
        gate.publish_ready(2);
        assert_eq!(
            gate.current(),
            Some(Readiness {
                generation: 1,
                since_ms: 2
            })
        );
    }

    #[test]
    fn wait_ready_completes_immediately_when_already_ready() {
        let gate = ReadinessGate::new();
        gate.publish_ready(7);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let poll = pin!(gate.wait_ready()).poll(&mut cx);
        assert_eq!(
            poll,
            Poll::Ready(Readiness {
                generation: 0,
                since_ms: 7
            })
        );
        assert_eq!(counter.count(), 0);
    }

    #[test]
    fn pending_wait_ready_is_woken_by_publish_ready() {
        let gate = ReadinessGate::new();
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(gate.wait_ready());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        gate.publish_ready(9);
        assert_eq!(counter.count(), 1);
        assert_eq!(
            fut.as_mut().poll(&mut cx),
            Poll::Ready(Readiness {
                generation: 0,
                since_ms: 9
            })
        );
    }

    #[test]
    fn publish_not_ready_clears_and_bumps_generation() {
        let gate = ReadinessGate::new();
        gate.publish_ready(5);
        assert_eq!(gate.generation(), 0);
        gate.publish_not_ready();
        assert_eq!(gate.current(), None);
        assert_eq!(gate.generation(), 1);
        gate.publish_ready(6);
        assert_eq!(
            gate.current(),
            Some(Readiness {
                generation: 1,
                since_ms: 6
            })
        );
    }

    #[test]
    fn registered_waker_is_woken_exactly_once() {
        let gate = ReadinessGate::new();
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(gate.wait_ready());
        // Polling twice with the same waker must not register it twice.
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
        gate.publish_ready(3);
        assert_eq!(counter.count(), 1);
        // Waiters were drained, so later publications do not wake it again.
        gate.publish_not_ready();
        gate.publish_ready(4);
        assert_eq!(counter.count(), 1);
    }
}

//! A deterministic single-threaded watch channel: `tokio::sync::watch` wakes its waiters in a
//! per-process random order, which made same-instant wake-ups (and traces) vary between runs.
//!
//! tokio's `watch` parks each receiver on one of 8 `Notify`s picked with the runtime's thread
//! RNG (`BigNotify::notified`), then notifies them slot by slot, so two clients waiting in the
//! backlog were woken in a random order. Here waiters are woken in the order they started
//! waiting, on both engines. Only the API the model uses is provided.

use std::cell::{Ref, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

struct Shared<T> {
    value: RefCell<T>,
    /// Wakers of pending [`Receiver::wait_for`] calls, in registration order.
    waiters: RefCell<Vec<Waker>>,
}

/// The sending half; owns the value.
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

/// A receiving half.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
}

/// Never returned (the sender outlives every receiver in the model); kept so call sites read
/// like tokio's.
#[derive(Debug)]
pub struct RecvError;

/// Creates a channel holding `init`.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(init),
        waiters: RefCell::new(Vec::new()),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// The current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// Stores `value`, wakes every waiter in the order it began waiting, returns the old value.
    pub fn send_replace(&self, value: T) -> T {
        let old = self.shared.value.replace(value);
        let woken = std::mem::take(&mut *self.shared.waiters.borrow_mut());
        for w in woken {
            w.wake();
        }
        old
    }

    /// A new receiver.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Receiver<T> {
    /// Waits until `pred` holds for the current value (checked at once, then after each send).
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        let shared = &self.shared;
        poll_fn(|cx| {
            if pred(&shared.value.borrow()) {
                return Poll::Ready(());
            }
            let mut waiters = shared.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        Ok(shared.value.borrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Wake};

    /// Records its id when woken.
    struct Recorder(usize, Arc<Mutex<Vec<usize>>>);
    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    #[test]
    fn waiters_wake_in_the_order_they_started_waiting() {
        let (tx, _rx) = channel(0u32);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut rxs: Vec<Receiver<u32>> = (0..8).map(|_| tx.subscribe()).collect();
        let mut futs: Vec<_> = rxs
            .iter_mut()
            .map(|rx| Box::pin(rx.wait_for(|v| *v != 0)))
            .collect();
        // Register in a scrambled order: 5, 2, 7, 0, ...
        let order = [5, 2, 7, 0, 3, 6, 1, 4];
        for &i in &order {
            let waker = Waker::from(Arc::new(Recorder(i, log.clone())));
            let mut cx = Context::from_waker(&waker);
            assert!(futs[i].as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(tx.send_replace(1), 0);
        assert_eq!(*log.lock().unwrap(), order);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match futs[0].as_mut().poll(&mut cx) {
            Poll::Ready(Ok(v)) => assert_eq!(*v, 1),
            _ => panic!("not ready after the send"),
        };
    }
}

//! The validator's view of Redis: probes, the readiness gate and the live re-check, behind a
//! small trait so the poll loops can be checked against a mock.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::manager;
use super::world::World;

/// A future the validator awaits (boxed so the trait stays object safe and mockable).
pub type Pending<T> = Pin<Box<dyn Future<Output = T>>>;

/// Everything the validator reads about Redis.
///
/// The real implementation is [`Rc<World>`]: each method is one call into the manager or the
/// readiness gate, so routing the validator through it changes no behaviour and no trace.
#[cfg_attr(test, mockall::automock)]
pub trait RedisProbe {
    /// The faithful probe: `is_connected()` (connected with a client).
    fn is_connected(&self) -> bool;
    /// The operational probe: the manager half of Operational(t).
    fn operational(&self) -> bool;
    /// Whether the readiness gate says ready now.
    fn gate_ready(&self) -> bool;
    /// Resolves once the readiness gate publishes ready.
    fn wait_ready(&self) -> Pending<()>;
    /// The live re-check at the instant of publishing (operational, then a ping that may take
    /// up to `timeout_ms`).
    fn recheck(&self, timeout_ms: u64) -> Pending<bool>;
}

impl RedisProbe for Rc<World> {
    fn is_connected(&self) -> bool {
        manager::is_connected(self)
    }

    fn operational(&self) -> bool {
        manager::operational_state(self)
    }

    fn gate_ready(&self) -> bool {
        self.gate.current().is_some()
    }

    fn wait_ready(&self) -> Pending<()> {
        let w = self.clone();
        Box::pin(async move {
            w.gate.wait_ready().await;
        })
    }

    fn recheck(&self, timeout_ms: u64) -> Pending<bool> {
        let w = self.clone();
        Box::pin(async move { manager::recheck_operational(&w, timeout_ms).await })
    }
}

//! The Redis manager: its state and circuit breaker, initialize, the reconnect task with
//! backoff, the health task, `get_client`, data operations, and (for the reference policy)
//! publishing to the readiness gate.

use std::cell::RefCell;
use std::rc::Rc;

use super::server::Reply;
use super::world::World;
use crate::scenario::RedisManager;
use crate::spec;
use crate::trace::{ConnectWhy, Ev};
use crate::vocab::Actor;

/// The circuit breaker: opens after [`spec::BREAKER_FAILURES_TO_OPEN`] consecutive failures;
/// while open a call is allowed only when more than [`spec::BREAKER_RECOVERY_MS`] have passed
/// since the last failure.
#[derive(Clone, Debug, Default)]
pub struct Breaker {
    /// Consecutive failures (reset by a success).
    pub consecutive: u32,
    /// Open (sticky breakers never close).
    pub open: bool,
    /// The last recorded failure.
    pub last_failure: Option<u64>,
}

impl Breaker {
    /// Whether a call is allowed at `now`.
    pub fn allows(&self, now: u64) -> bool {
        !self.open
            || self
                .last_failure
                .is_none_or(|f| now.saturating_sub(f) > spec::BREAKER_RECOVERY_MS)
    }
}

/// The Redis manager's state.
#[derive(Clone, Debug)]
pub struct MgrState {
    /// The `connected` flag.
    pub connected: bool,
    /// Whether a client handle exists.
    pub client: bool,
    /// Consecutive failures (the reconnect task's counter).
    pub failures: u32,
    /// The reconnect task's next backoff.
    pub retry_delay_ms: u64,
    /// The last successful connect.
    pub connected_at: Option<u64>,
    /// Bumped whenever a connection starts, ends or is marked failed: identifies one connection.
    pub epoch: u64,
    /// The circuit breaker.
    pub breaker: Breaker,
}

/// The manager: its knobs, its state, and the lock that serialises connect attempts.
pub struct Manager {
    /// `[redis.manager]`.
    pub cfg: RedisManager,
    state: RefCell<MgrState>,
    /// Serialises connect attempts (reconnect task and inline `get_client`).
    connect_lock: tokio::sync::Mutex<()>,
}

impl Manager {
    /// A manager that has not connected yet.
    pub fn new(cfg: &RedisManager) -> Manager {
        Manager {
            cfg: cfg.clone(),
            state: RefCell::new(MgrState {
                connected: false,
                client: false,
                failures: 0,
                retry_delay_ms: spec::RECONNECT_INITIAL_DELAY_MS,
                connected_at: None,
                epoch: 0,
                breaker: Breaker::default(),
            }),
            connect_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn borrow(&self) -> std::cell::Ref<'_, MgrState> {
        self.state.borrow()
    }

    fn borrow_mut(&self) -> std::cell::RefMut<'_, MgrState> {
        self.state.borrow_mut()
    }
}

/// `is_connected`: connected and a client present. It ignores the breaker, as the real one did.
pub fn is_connected(w: &World) -> bool {
    let m = w.mgr.borrow();
    m.connected && m.client
}

/// The manager half of Operational(t): connected with a client, the breaker allows calls, and
/// stabilised. (The server half is the environment's; only a live request can see it.)
pub fn operational_state(w: &World) -> bool {
    let now = w.now();
    let m = w.mgr.borrow();
    m.connected
        && m.client
        && m.breaker.allows(now)
        && m.connected_at
            .is_some_and(|c| now >= c.saturating_add(w.mgr.cfg.stabilize_ms))
}

/// `initialize()`, inside phase CACHE: one attempt that never raises, then the two background
/// tasks.
pub async fn initialize(w: &Rc<World>) {
    connect(w, ConnectWhy::Init, Actor::Manager).await;
    w.rt.spawn(reconnect_task(w.clone()));
    w.rt.spawn(health_task(w.clone()));
}

/// One connect attempt, serialised by the connect lock. A caller that finds the lock held
/// waits for it, then re-checks: when the holder left a connected client, that connection is
/// used and no attempt is made. Otherwise the old client is discarded first (so
/// `is_connected` is false for the whole attempt), and the handshake (a ping: a spike covering
/// its start adds to `connect_ms`) is bounded by the manager's ping timeout.
pub async fn connect(w: &Rc<World>, why: ConnectWhy, actor: Actor) -> bool {
    let _guard = match w.mgr.connect_lock.try_lock() {
        Ok(g) => g,
        Err(_) => {
            w.emit(actor, Ev::LockWait);
            let g = w.mgr.connect_lock.lock().await;
            if is_connected(w) {
                w.emit(actor, Ev::ConnectReused);
                return true;
            }
            g
        }
    };
    w.emit(actor, Ev::ConnectStart { why });
    let was_up = {
        let mut m = w.mgr.borrow_mut();
        let was = m.connected && m.client;
        m.connected = false;
        m.client = false;
        m.epoch += 1;
        was
    };
    if was_up {
        w.emit(actor, Ev::ClientDropped);
        publish_not_ready(w);
    }
    let reply = w.redis.connect(&w.rt, w.mgr.cfg.ping_timeout_ms).await;
    if reply.ok() {
        let epoch = {
            let mut m = w.mgr.borrow_mut();
            m.connected = true;
            m.client = true;
            m.failures = 0;
            m.retry_delay_ms = spec::RECONNECT_INITIAL_DELAY_MS;
            m.connected_at = Some(w.now());
            m.epoch += 1;
            m.epoch
        };
        w.emit(actor, Ev::Connected);
        breaker_success(w, actor, true);
        publish_ready_when_stable(w, epoch);
        true
    } else {
        let failures = {
            let mut m = w.mgr.borrow_mut();
            m.failures += 1;
            m.failures
        };
        if let Reply::TimedOut(_) = reply {
            w.emit(actor, Ev::ConnectTimedOut { failures });
        } else {
            w.emit(actor, Ev::ConnectRefused { failures });
        }
        breaker_failure(w, actor);
        false
    }
}

fn breaker_failure(w: &World, actor: Actor) {
    let (consecutive, open) = {
        let mut m = w.mgr.borrow_mut();
        let b = &mut m.breaker;
        b.consecutive += 1;
        b.last_failure = Some(w.now());
        if b.consecutive >= spec::BREAKER_FAILURES_TO_OPEN {
            b.open = true;
        }
        (b.consecutive, b.open)
    };
    w.emit(actor, Ev::BreakerFailure { consecutive, open });
}

/// A success recorded by the breaker: consecutive failures reset, and an open non-sticky
/// breaker closes. `always_trace`: a connect says so in the trace even when nothing changed;
/// a data operation only when it reset a count or closed the breaker.
fn breaker_success(w: &World, actor: Actor, always_trace: bool) {
    let (closed, changed) = {
        let mut m = w.mgr.borrow_mut();
        let b = &mut m.breaker;
        let had = b.consecutive > 0;
        b.consecutive = 0;
        // The real breaker's synchronous API never leaves OPEN; the reference one closes.
        let closed = b.open && !w.policy.sticky_breaker;
        if closed {
            b.open = false;
        }
        (closed, had || closed)
    };
    if always_trace || changed {
        w.emit(actor, Ev::BreakerSuccess { closed });
    }
}

/// Only the event-driven (reference) validator waits on the gate; other policies skip the work.
fn uses_gate(w: &World) -> bool {
    w.policy.loop_shape == crate::vocab::LoopShape::Event
}

fn publish_ready_when_stable(w: &Rc<World>, epoch: u64) {
    if !uses_gate(w) {
        return;
    }
    let stabilize = w.mgr.cfg.stabilize_ms;
    if stabilize == 0 {
        publish_ready(w);
        return;
    }
    let w = w.clone();
    let rt = w.rt.clone();
    rt.spawn(async move {
        w.rt.sleep(stabilize).await;
        if w.mgr.borrow().epoch == epoch && !w.exited() {
            publish_ready(&w);
        }
    });
}

fn publish_ready(w: &World) {
    w.gate.publish_ready(w.now());
    w.emit(Actor::Manager, Ev::GatePublish { ready: true });
}

fn publish_not_ready(w: &World) {
    if uses_gate(w) && w.gate.current().is_some() {
        w.gate.publish_not_ready();
        w.emit(Actor::Manager, Ev::GatePublish { ready: false });
    }
}

fn drop_client(w: &World, actor: Actor) {
    {
        let mut m = w.mgr.borrow_mut();
        m.connected = false;
        m.client = false;
        m.epoch += 1;
    }
    w.redis.drop_connection();
    w.emit(actor, Ev::ClientDropped);
    publish_not_ready(w);
}

/// The reconnect task: backoff 1 s doubling to 60 s, a 300 s pause after 10 failures, an idle
/// 30 s sleep while connected. The reference policy retries every `startup_reconnect_ms`
/// while startup waits.
async fn reconnect_task(w: Rc<World>) {
    let a = Actor::Reconnect;
    let jitter = w.mgr.cfg.reconnect_spawn_jitter_ms;
    if jitter > 0 {
        sleep_noting_lateness(&w, a, jitter).await;
    }
    loop {
        if w.exited() {
            return;
        }
        let (connected, failures) = {
            let m = w.mgr.borrow();
            (m.connected, m.failures)
        };
        // The reference manager keeps its fixed period while startup waits on it: a 300 s
        // pause there would outlast any deadline.
        let startup_period = w.policy.startup_reconnect_ms.is_some() && !w.startup_complete.get();
        if !connected && failures > 0 {
            if failures <= spec::RECONNECT_MAX_FAILURES || startup_period {
                if !connect(&w, ConnectWhy::Reconnect, a).await {
                    let delay = {
                        let mut m = w.mgr.borrow_mut();
                        m.retry_delay_ms = (m.retry_delay_ms * 2).min(spec::RECONNECT_MAX_DELAY_MS);
                        m.retry_delay_ms
                    };
                    let sleep = match w.policy.startup_reconnect_ms {
                        Some(p) if !w.startup_complete.get() => p,
                        _ => delay,
                    };
                    w.emit(a, Ev::Backoff { ms: sleep });
                    sleep_noting_lateness(&w, a, sleep).await;
                }
            } else {
                w.emit(a, Ev::LongPause);
                sleep_noting_lateness(&w, a, spec::RECONNECT_LONG_PAUSE_MS).await;
                let mut m = w.mgr.borrow_mut();
                m.failures = 1;
                m.retry_delay_ms = spec::RECONNECT_INITIAL_DELAY_MS;
            }
        } else {
            sleep_noting_lateness(&w, a, spec::RECONNECT_IDLE_MS).await;
        }
    }
}

/// The health task: every interval, ping a connected client; a failure marks the manager
/// disconnected but keeps the client, and recovery waits for the reconnect task.
async fn health_task(w: Rc<World>) {
    let a = Actor::Health;
    let jitter = w.mgr.cfg.health_spawn_jitter_ms;
    if jitter > 0 {
        sleep_noting_lateness(&w, a, jitter).await;
    }
    loop {
        sleep_noting_lateness(&w, a, w.mgr.cfg.health_interval_ms.max(1)).await;
        if w.exited() {
            return;
        }
        if !is_connected(&w) {
            continue;
        }
        let reply = w.redis.ping(&w.rt, w.mgr.cfg.ping_timeout_ms).await;
        w.emit(a, Ev::HealthPing { ok: reply.ok() });
        if !reply.ok() {
            {
                let mut m = w.mgr.borrow_mut();
                m.connected = false;
                m.failures += 1;
                m.epoch += 1;
            }
            w.emit(a, Ev::HealthFailed);
            publish_not_ready(&w);
            breaker_failure(&w, a);
        }
    }
}

/// Sleeps `d`; when a frozen loop made the wake-up late, says so in the trace.
async fn sleep_noting_lateness(w: &World, actor: Actor, d: u64) {
    let due = w.now().saturating_add(d);
    w.rt.sleep_until(due).await;
    let late = w.now().saturating_sub(due);
    if late > 0 {
        w.emit(actor, Ev::WokeLate { late_ms: late });
    }
}

/// `get_client()`: none when the breaker blocks; a present client is pinged with the short
/// timeout, and a slow or failed ping drops it. Then, whenever there is no connected client
/// (none at all, the health task marked the connection failed, or the ping just failed), an
/// inline connect attempt is made through the lock, and its result is returned.
pub async fn get_client(w: &Rc<World>, actor: Actor) -> bool {
    let now = w.now();
    if !w.mgr.borrow().breaker.allows(now) {
        w.emit(actor, Ev::BreakerBlocked);
        return false;
    }
    if w.mgr.borrow().client {
        let reply = w
            .redis
            .ping(&w.rt, w.mgr.cfg.get_client_ping_timeout_ms)
            .await;
        if !reply.ok() {
            w.emit(
                actor,
                Ev::PingFailed {
                    after_ms: reply.at() - now,
                },
            );
            if w.mgr.borrow().client {
                drop_client(w, actor);
            }
        }
    }
    if is_connected(w) {
        return true;
    }
    w.emit(actor, Ev::NoClient);
    connect(w, ConnectWhy::Inline, actor).await
}

/// One data operation (a message's Redis write). Never raises: false is a silent default.
/// A success is recorded by the breaker (the real data operations call `record_success`).
pub async fn data_op(w: &Rc<World>, actor: Actor) -> bool {
    if !get_client(w, actor).await {
        return false;
    }
    let reply = w.redis.write(&w.rt, w.mgr.cfg.ping_timeout_ms).await;
    if let Reply::Ok(_) = reply {
        breaker_success(w, actor, false);
        return true;
    }
    {
        let mut m = w.mgr.borrow_mut();
        m.connected = false;
        m.failures += 1;
        m.epoch += 1;
    }
    w.emit(actor, Ev::OpFailed);
    publish_not_ready(w);
    breaker_failure(w, actor);
    false
}

/// The reference re-check: the manager's operational state, then a live ping that may take
/// up to `timeout_ms`; readiness is read again at the instant the ping answers, which is when
/// it is published.
pub async fn recheck_operational(w: &Rc<World>, timeout_ms: u64) -> bool {
    if !operational_state(w) {
        return false;
    }
    let reply = w.redis.ping(&w.rt, timeout_ms).await;
    reply.ok() && operational_state(w)
}

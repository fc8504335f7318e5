//! Named constants of the real system (and of readysim's reference design), in one place:
//! the model's actors, the presets and the judge all read them from here.

/// The Redis circuit breaker opens after this many consecutive failures.
pub const BREAKER_FAILURES_TO_OPEN: u32 = 5;
/// While open, the Redis breaker allows a call only when more than this has passed since the
/// last recorded failure.
pub const BREAKER_RECOVERY_MS: u64 = 60_000;

/// The reconnect task's first backoff (and its value after a success or a long pause).
pub const RECONNECT_INITIAL_DELAY_MS: u64 = 1_000;
/// The reconnect task's backoff never exceeds this.
pub const RECONNECT_MAX_DELAY_MS: u64 = 60_000;
/// After more than this many consecutive failures the reconnect task takes a long pause.
pub const RECONNECT_MAX_FAILURES: u32 = 10;
/// The long pause.
pub const RECONNECT_LONG_PAUSE_MS: u64 = 300_000;
/// The reconnect task's sleep while connected (or before any failure).
pub const RECONNECT_IDLE_MS: u64 = 30_000;

/// The reference manager's reconnect period while startup waits, and the reference
/// validator's re-check period.
pub const REFERENCE_RECHECK_MS: u64 = 500;
/// The reference validator's deadline by default (read from config, 60 s in GCP).
pub const REFERENCE_DEADLINE_MS: u64 = 60_000;

/// The per-connection guard's own limit in staging and development.
pub const GUARD_TIMEOUT_STAGING_MS: u64 = 3_000;
/// The guard's limit in production.
pub const GUARD_TIMEOUT_PRODUCTION_MS: u64 = 5_000;
/// The guard's limit under `ENVIRONMENT=test`.
pub const GUARD_TIMEOUT_TEST_MS: u64 = 1_000;

/// `Retry-After` of a 503 (10 s).
pub const RETRY_AFTER_MS: u64 = 10_000;
/// The startup queue holds at most this many connections.
pub const QUEUE_CAPACITY: u32 = 50;
/// A queued connection is held at most this long.
pub const QUEUE_HOLD_MS: u64 = 30_000;

/// The exponential poll loop never sleeps longer than this.
pub const EXPONENTIAL_CAP_MS: u64 = 5_000;
/// The exponential poll loop never makes more attempts than this.
pub const EXPONENTIAL_MAX_ATTEMPTS: u32 = 10;

/// A step that freezes the event loop longer than this is a `blocked-loop`.
pub const BLOCKED_LOOP_MS: u64 = 50;

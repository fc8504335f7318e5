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

/// Managers one user may hold in the f1 factory before it refuses.
pub const MANAGER_LIMIT: u32 = 20;
/// The background sweep reclaims managers idle this long.
pub const MANAGER_IDLE_MS: u64 = 1_800_000;
/// The WebSocket server's keepalive interval and pong timeout (uvicorn's 20 s / 20 s).
pub const KEEPALIVE_MS: u64 = 20_000;
/// After an error frame the route waits this long before closing (`asyncio.sleep(0.1)`).
pub const CLOSE_DELAY_MS: u64 = 100;
/// The async-backoff service check's delay before the welcome frame: the faulty Redis check
/// retried with sleeps of 1 + 2 + 4 + 8 + 16 s, twice, as one 62 s delay.
pub const ASYNC_BACKOFF_MS: u64 = 62_000;
/// Each freeze of the blocking service check.
pub const BLOCKING_CHECK_FREEZE_MS: u64 = 500;
/// The auth service's health pre-check is bounded by this in staging,
pub const AUTH_PRECHECK_STAGING_MS: u64 = 500;
/// and by this elsewhere.
pub const AUTH_PRECHECK_MS: u64 = 1_000;
/// The HTTP read timeout of each auth request in staging,
pub const AUTH_READ_TIMEOUT_STAGING_MS: u64 = 2_000;
/// and elsewhere.
pub const AUTH_READ_TIMEOUT_MS: u64 = 5_000;
/// A whole auth call (two requests) is bounded by this (`wait_for(..., 3.0)`).
pub const AUTH_CALL_MS: u64 = 3_000;
/// The auth-service breaker opens after this many consecutive failed calls.
pub const AUTH_BREAKER_FAILURES: u32 = 3;
/// The auth-service breaker stays open this long before it lets trial calls through.
pub const AUTH_BREAKER_OPEN_MS: u64 = 10_000;
/// Trial calls allowed at once while half-open.
pub const AUTH_BREAKER_TRIALS: u32 = 3;

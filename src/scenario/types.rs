//! The scenario file format 1, as plain serde data (see `shared/spec/scenario-format.md`).

use serde::{Deserialize, Serialize};

/// One scenario file: the unit users write, review, replay by name and run in CI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// File format version; only `1` exists.
    pub format: u32,
    /// The scenario's name; equals the file stem.
    pub name: String,
    /// One line saying what the scenario shows.
    pub summary: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Where the process runs.
    #[serde(default)]
    pub environment: Environment,
    /// The validator policy: a preset plus knob overrides.
    pub policy: PolicySpec,
    /// Startup phase durations.
    #[serde(default)]
    pub startup: Startup,
    /// When each non-Redis dependency becomes ready.
    #[serde(default)]
    pub services: Services,
    /// The Redis server and manager.
    #[serde(default)]
    pub redis: Redis,
    /// The HTTP/WebSocket server.
    #[serde(default)]
    pub server: Server,
    /// Clients, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<Client>,
    /// Run limits and the decisions list.
    #[serde(default)]
    pub run: Run,
    /// What a replay must produce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// How search classified a recorded failure (optional; written by `readysim classify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
}

/// Deployment environment (`[environment]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The `ENVIRONMENT` variable.
    #[serde(default = "default_env_name")]
    pub name: EnvName,
    /// Whether `K_SERVICE` is set (Cloud Run).
    #[serde(default = "default_true")]
    pub cloud_run: bool,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            name: EnvName::Production,
            cloud_run: true,
        }
    }
}

fn default_env_name() -> EnvName {
    EnvName::Production
}
fn default_true() -> bool {
    true
}

/// Values of `ENVIRONMENT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvName {
    /// GCP production.
    Production,
    /// GCP staging.
    Staging,
    /// A developer machine.
    Development,
    /// The test suite.
    Test,
}

/// `[policy]`: a preset and optional knob overrides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The preset the knobs start from.
    pub preset: Preset,
    /// How the validator probes Redis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeMode>,
    /// Grace after a probe that said connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<GraceMode>,
    /// Length of the grace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
    /// Probe again after the grace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprobe_after_grace: Option<bool>,
    /// The poll loop's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "loop")]
    pub loop_shape: Option<LoopShape>,
    /// Which per-check constants table to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constants: Option<ConstantsTable>,
    /// Retries R of the redis check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_retries: Option<u32>,
    /// Delay d of the redis check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_delay_ms: Option<u64>,
    /// Declared timeout T of the redis check (dead config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_redis_timeout_ms: Option<u64>,
    /// Group timeouts G of phases 1, 2 and 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_timeouts_ms: Option<Vec<u64>>,
    /// Deadline of the event-driven wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Whether `websocket_integration` requires `startup_complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circular_check: Option<bool>,
    /// In staging, a false or raising redis probe counts as ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_in_staging: Option<bool>,
    /// In staging, redis and websocket_integration are non-critical (readysim extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncritical_in_staging: Option<bool>,
    /// In staging, a failed validation is logged and startup carries on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_in_staging: Option<bool>,
    /// `cloud_run = true` counts as GCP (readysim extension; p9 and reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_cloud_run: Option<bool>,
    /// Outside GCP the validator skips everything and reports ready (readysim extension;
    /// false only for reference, which validates everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_outside_gcp: Option<bool>,
    /// The per-connection guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardMode>,
    /// The guard's own time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_timeout_ms: Option<u64>,
    /// What a Redis error does to a WebSocket message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_redis_error: Option<OnRedisError>,
    /// `Retry-After` of a 503 (readysim extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The breaker never closes by itself (readysim extension; false only for reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_breaker: Option<bool>,
    /// Reconnect period while startup waits, instead of the backoff (readysim extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_reconnect_ms: Option<u64>,
}

/// Policy presets (`model.md` section 3).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The incident, 2025-09-08.
    #[default]
    P0,
    /// First fix: blocking grace.
    P1,
    /// Async grace.
    P2,
    /// Staging masking.
    P4,
    /// Non-critical in staging.
    P5,
    /// Budget cut, bypass.
    P6,
    /// Final constants, guard.
    P7,
    /// Probe fixed.
    P8,
    /// Exponential loop and queue.
    P9,
    /// readysim's design.
    Reference,
}

impl Preset {
    /// Every preset, in table order.
    pub const ALL: [Preset; 10] = [
        Preset::P0,
        Preset::P1,
        Preset::P2,
        Preset::P4,
        Preset::P5,
        Preset::P6,
        Preset::P7,
        Preset::P8,
        Preset::P9,
        Preset::Reference,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::P0 => "p0",
            Preset::P1 => "p1",
            Preset::P2 => "p2",
            Preset::P4 => "p4",
            Preset::P5 => "p5",
            Preset::P6 => "p6",
            Preset::P7 => "p7",
            Preset::P8 => "p8",
            Preset::P9 => "p9",
            Preset::Reference => "reference",
        }
    }

    /// Parse a preset name.
    pub fn from_name(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// How the validator's redis probe behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeMode {
    /// Reads `is_connected`.
    Faithful,
    /// Calls the property: always raises (the incident's fault).
    PropertyCall,
    /// A coroutine never awaited: truthy without running.
    Unawaited,
    /// Operational readiness with a live ping (reference).
    Operational,
}

/// The grace after a probe said connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraceMode {
    /// No grace.
    None,
    /// `time.sleep`: the whole event loop freezes.
    Blocking,
    /// `asyncio.sleep`.
    Async,
}

/// The poll loop's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopShape {
    /// Fixed delay.
    Linear,
    /// Doubling delay with jitter.
    Exponential,
    /// Event-driven wait on the readiness gate.
    Event,
}

/// Per-check constants tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstantsTable {
    /// Incident-time GCP constants.
    #[serde(rename = "v0-gcp")]
    V0Gcp,
    /// Incident-time non-GCP constants.
    #[serde(rename = "v0-local")]
    V0Local,
    /// The final constants.
    #[serde(rename = "final")]
    Final,
}

/// The per-connection guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// No guard.
    None,
    /// On not-ready, accept anyway in degraded mode.
    Degrade,
    /// On not-ready, HTTP 503 with Retry-After.
    Reject,
    /// On not-ready, hold in a startup queue.
    Queue,
}

/// What a Redis error does to a WebSocket message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRedisError {
    /// A silent default: the message is reported handled and is lost.
    Silent,
    /// An internal error closes the socket with 1011.
    #[serde(rename = "close_1011")]
    Close1011,
    /// The client gets an error frame.
    ErrorFrame,
}

/// `[startup]`: phase durations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Startup {
    /// Phase INIT.
    pub init_ms: u64,
    /// Phase DEPENDENCIES.
    pub dependencies_ms: u64,
    /// Phase DATABASE.
    pub database_ms: u64,
    /// Phase CACHE besides the Redis connect attempt.
    pub cache_ms: u64,
    /// Phase SERVICES.
    pub services_ms: u64,
    /// Steps of phase WEBSOCKET before the validator.
    pub websocket_ms: u64,
    /// Phase FINALIZE.
    pub finalize_ms: u64,
    /// Cost of every probe call.
    pub probe_cost_ms: u64,
}

impl Default for Startup {
    fn default() -> Self {
        Startup {
            init_ms: 0,
            dependencies_ms: 0,
            database_ms: 519,
            cache_ms: 10,
            services_ms: 1619,
            websocket_ms: 9,
            finalize_ms: 0,
            probe_cost_ms: 1,
        }
    }
}

/// `[services]`: when the other dependencies become ready.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Services {
    /// The database.
    pub database_ready_at_ms: u64,
    /// Auth.
    pub auth_ready_at_ms: u64,
    /// The agent supervisor.
    pub agent_supervisor_ready_at_ms: u64,
    /// The WebSocket bridge.
    pub websocket_bridge_ready_at_ms: u64,
}

/// `[redis]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    /// The server (environment).
    pub server: RedisServer,
    /// The manager (code under test).
    pub manager: RedisManager,
}

/// A ping spike: pings that start in `[at_ms, at_ms + extra_ms)` take `extra_ms` longer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingSpike {
    /// Start of the spike.
    pub at_ms: u64,
    /// Extra latency, and the spike's length.
    pub extra_ms: u64,
}

/// `[redis.server]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisServer {
    /// Before this, every connection is refused.
    pub up_from_ms: u64,
    /// `[start, end)` windows of unreachability.
    pub outages: Vec<[u64; 2]>,
    /// Duration of a successful connect.
    pub connect_ms: u64,
    /// Duration of a refused attempt or failed ping.
    pub refuse_ms: u64,
    /// Duration of a ping.
    pub ping_ms: u64,
    /// Latency spikes.
    pub ping_spikes: Vec<PingSpike>,
}

impl Default for RedisServer {
    fn default() -> Self {
        RedisServer {
            up_from_ms: 0,
            outages: Vec::new(),
            connect_ms: 5,
            refuse_ms: 0,
            ping_ms: 1,
            ping_spikes: Vec::new(),
        }
    }
}

/// `[redis.manager]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisManager {
    /// Operational only this long after the last successful connect.
    pub stabilize_ms: u64,
    /// The reconnect task starts this late.
    pub reconnect_spawn_jitter_ms: u64,
    /// The health task starts this late.
    pub health_spawn_jitter_ms: u64,
    /// Ping timeout of the health check.
    pub ping_timeout_ms: u64,
    /// Ping timeout inside `get_client`.
    pub get_client_ping_timeout_ms: u64,
    /// Health-check interval.
    pub health_interval_ms: u64,
}

impl Default for RedisManager {
    fn default() -> Self {
        RedisManager {
            stabilize_ms: 0,
            reconnect_spawn_jitter_ms: 0,
            health_spawn_jitter_ms: 0,
            ping_timeout_ms: 5000,
            get_client_ping_timeout_ms: 100,
            health_interval_ms: 30000,
        }
    }
}

/// `[server]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// When the port is bound.
    pub bind_ms: u64,
}

/// One `[[clients]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// When the client connects.
    pub at_ms: u64,
    /// How many messages it sends once served.
    #[serde(default)]
    pub messages: u32,
    /// Gap between messages.
    #[serde(default = "default_gap")]
    pub message_gap_ms: u64,
    /// Retries after a 503 with Retry-After.
    #[serde(default)]
    pub retries: u32,
}

fn default_gap() -> u64 {
    100
}

/// `[run]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Run {
    /// The simulation stops here at the latest.
    pub horizon_ms: u64,
    /// Same-instant choices and drawn factors, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<u32>,
    /// Task polls allowed before the run ends as `hang` (readysim extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            horizon_ms: 120_000,
            decisions: Vec::new(),
            max_steps: None,
        }
    }
}

/// `[expect]`: every field given must match on replay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// ready | failed | bypassed | skipped | hang.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<String>,
    /// When the validator's verdict was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict_at_ms: Option<u64>,
    /// From the validator's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// Failed critical services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_services: Option<Vec<String>>,
    /// The startup error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One outcome per client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<String>>,
    /// Messages lost in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_messages: Option<u64>,
    /// The exact set of oracles violated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<String>>,
    /// Hash of the rendered trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
}

/// `[classification]`: race or fault, as found by `readysim classify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// `race` or `deterministic`.
    pub class: String,
    /// The parameters whose perturbation made the failure go away.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

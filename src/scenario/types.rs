//! The scenario file format 1, as plain serde data (`docs/format.md` lists every field).

use serde::{Deserialize, Serialize};

pub use super::expect::{Class, Classification, Expect};
pub use crate::policy::{PolicySpec, Preset};
pub use crate::vocab::{
    ConnectionCheck, ConstantsTable, EnvName, GraceMode, GuardMode, LogLevel, LoopShape,
    OnRedisError, ProbeMode, Route, Token, UserIdCheck,
};

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
    /// The `[policy]` knobs that are what-ifs rather than the code under test (readysim
    /// extension, written by `explore --vary-code`): the code under test is `[policy]` without
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub what_if: Vec<String>,
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
    /// The auth service (the environment of authentication).
    #[serde(default, skip_serializing_if = "Auth::is_default")]
    pub auth: Auth,
    /// The database the validator's first check probes (readysim extension).
    #[serde(default, skip_serializing_if = "Service::is_default")]
    pub database: Service,
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

impl Scenario {
    /// The smallest valid scenario (preset p0, every optional field at its default) named
    /// `name`: what an absent field means, and the start of a scenario built in code.
    pub fn new(name: &str, summary: &str) -> Scenario {
        Scenario {
            format: 1,
            name: name.to_string(),
            summary: summary.to_string(),
            notes: None,
            what_if: Vec::new(),
            environment: Environment::default(),
            policy: PolicySpec::default(),
            startup: Startup::default(),
            services: Services::default(),
            redis: Redis::default(),
            server: Server::default(),
            auth: Auth::default(),
            database: Service::default(),
            clients: Vec::new(),
            run: Run::default(),
            expect: None,
            classification: None,
        }
    }
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

/// `[start, end]` windows, exactly two whole numbers each: serde's fixed-size arrays read the
/// first two elements of a longer array and drop the rest without a word.
mod windows {
    use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, SeqAccess, Visitor};
    use std::fmt;

    struct Pair([u64; 2]);

    struct PairVisitor;

    impl<'de> Visitor<'de> for PairVisitor {
        type Value = Pair;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a [start_ms, end_ms] pair")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
            let start: u64 = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(0, &self))?;
            let end: u64 = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(1, &self))?;
            let mut extra = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                extra += 1;
            }
            if extra > 0 {
                return Err(A::Error::invalid_length(2 + extra, &self));
            }
            Ok(Pair([start, end]))
        }
    }

    impl<'de> Deserialize<'de> for Pair {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pair, D::Error> {
            d.deserialize_seq(PairVisitor)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u64; 2]>, D::Error> {
        Ok(Vec::<Pair>::deserialize(d)?
            .into_iter()
            .map(|p| p.0)
            .collect())
    }
}

fn default_env_name() -> EnvName {
    Environment::default().name
}
fn default_true() -> bool {
    Environment::default().cloud_run
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
    #[serde(deserialize_with = "windows::deserialize")]
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

/// The gap between a client's messages when the file does not say.
pub const DEFAULT_MESSAGE_GAP_MS: u64 = 100;

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
    /// The user it authenticates as (default `user_<k>`, k the entry's 1-based position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Whether the auth service accepts its token.
    #[serde(default = "default_token", skip_serializing_if = "is_valid_token")]
    pub token: Token,
    /// This entry stands for that many identical clients ...
    #[serde(default = "default_count", skip_serializing_if = "is_one")]
    pub count: u32,
    /// ... arriving this far apart.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub every_ms: u64,
    /// How long it keeps its socket open after its last message, then closes normally.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hold_ms: u64,
    /// After a server close or a reset, it reconnects up to this many times.
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub reconnects: u32,
    /// How long after a close or reset it reconnects.
    #[serde(
        default = "default_reconnect_gap",
        skip_serializing_if = "is_default_reconnect_gap"
    )]
    pub reconnect_gap_ms: u64,
    /// Round trip of a keepalive ping and its pong.
    #[serde(default = "default_rtt", skip_serializing_if = "is_default_rtt")]
    pub rtt_ms: u64,
}

/// A client's reconnect gap when the file does not say.
pub const DEFAULT_RECONNECT_GAP_MS: u64 = 1000;
/// A client's keepalive round trip when the file does not say.
pub const DEFAULT_RTT_MS: u64 = 1;

fn default_token() -> Token {
    Token::Valid
}
fn is_valid_token(t: &Token) -> bool {
    *t == Token::Valid
}
fn default_count() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn is_zero32(n: &u32) -> bool {
    *n == 0
}
fn default_reconnect_gap() -> u64 {
    DEFAULT_RECONNECT_GAP_MS
}
fn is_default_reconnect_gap(n: &u64) -> bool {
    *n == DEFAULT_RECONNECT_GAP_MS
}
fn default_rtt() -> u64 {
    DEFAULT_RTT_MS
}
fn is_default_rtt(n: &u64) -> bool {
    *n == DEFAULT_RTT_MS
}

/// A service the system calls, as its environment: `[auth]` (and any dependency shaped like it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    /// Before this, every request fails as in an outage (readysim extension).
    #[serde(skip_serializing_if = "is_zero")]
    pub up_from_ms: u64,
    /// Latency of each request.
    pub latency_ms: u64,
    /// `[start, end)` windows in which requests fail.
    #[serde(deserialize_with = "windows::deserialize")]
    pub outages: Vec<[u64; 2]>,
    /// How long a request that starts while it is down takes to fail.
    pub refuse_ms: u64,
    /// Requests starting in `[at_ms, at_ms + extra_ms)` take `extra_ms` longer.
    pub spikes: Vec<PingSpike>,
}

impl Service {
    /// Whether nothing is set (the table is then left out of written files).
    pub fn is_default(&self) -> bool {
        *self == Service::default()
    }
}

/// `[auth]`: the auth service that every connection's authentication calls.
pub type Auth = Service;

fn default_gap() -> u64 {
    DEFAULT_MESSAGE_GAP_MS
}

impl Default for Client {
    /// A client arriving at 0 with every optional field at its default.
    fn default() -> Self {
        Client {
            at_ms: 0,
            messages: 0,
            message_gap_ms: DEFAULT_MESSAGE_GAP_MS,
            retries: 0,
            user_id: None,
            token: Token::Valid,
            count: 1,
            every_ms: 0,
            hold_ms: 0,
            reconnects: 0,
            reconnect_gap_ms: DEFAULT_RECONNECT_GAP_MS,
            rtt_ms: DEFAULT_RTT_MS,
        }
    }
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
    /// The decisions apply from this instant on; before it every choice is FIFO and nothing
    /// is consumed (readysim extension: lets a short list order a storm at any instant).
    #[serde(skip_serializing_if = "is_zero")]
    pub decisions_from_ms: u64,
    /// Task polls allowed before the run ends as `hang` (readysim extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            horizon_ms: 120_000,
            decisions: Vec::new(),
            decisions_from_ms: 0,
            max_steps: None,
        }
    }
}

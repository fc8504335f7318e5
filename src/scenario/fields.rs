//! THE table of scenario fields: dotted path, kind, type, allowed range, one-line doc and an
//! accessor. Validation, "allowed" messages, shrinking, classification, the non-default list
//! and the docs' field reference all read these rows, so adding a timing knob is its struct
//! field plus one row here.
//!
//! Defaults are not written here: a row reads them through its accessor from
//! [`Scenario::new`] (or [`Client::default`]), so the struct's `Default` stays the only source.
// Without the CLI, parts only the CLI reads are unused; the default build still checks them.
// (the table's docs and names are read by `explain` and the CLI.)
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use super::deps::Dep;
use super::limits::{
    MAX_CLIENTS, MAX_CLIENT_RETRIES, MAX_DECISIONS, MAX_HORIZON_MS, MAX_MESSAGES, MAX_RETRIES,
    MAX_STEPS, MAX_TIME_MS, MAX_WINDOWS,
};
use super::types::{Client, PingSpike, Scenario};
use crate::policy::Policy;
use crate::vocab::{Check, EnvName};

/// What a field is to search, shrinking and classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A time of the system or its environment, in ms: shrunk toward its default and shifted
    /// by classification.
    Timing,
    /// A count (messages, retries).
    Count,
    /// A policy knob or an environment choice (absent: the preset's or the format's value).
    Knob,
    /// A limit of the run itself (horizon, step budget): not part of the system.
    Limit,
    /// Identity, lists, decisions and results.
    Structure,
}

/// What a field describes: the code under test, the world around it, or the run itself.
/// `explore` holds the code still and varies the environment (model.md, section 6); a file
/// that changes the code is a what-if.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The team's code: every `[policy]` knob and the manager's constants.
    Code,
    /// What the world does: servers, latencies, clients, phase durations, decisions.
    Environment,
    /// Identity, limits and results of the run.
    Run,
}

/// The part of the system or of its world a field belongs to. Search draws, shrinking resets
/// and the docs group fields by it; its [`Role`] follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// The validator's knobs (code).
    Validator,
    /// The per-connection guard and the message path (code).
    Guard,
    /// The accept path: route, managers, user-ID check, service check, keepalive (code).
    Route,
    /// The Redis manager's constants and breaker (code).
    Manager,
    /// Where the process runs: `ENVIRONMENT`, Cloud Run.
    Deployment,
    /// Startup phases, other services' ready times, the bind.
    Startup,
    /// The Redis server's timeline and latencies, the manager's spawn jitter and settling.
    Redis,
    /// The auth service's latency, outages and spikes.
    Auth,
    /// The clients: arrivals, counts, identities, tokens, holds, reconnects, round trips.
    Clients,
    /// Same-instant orders and drawn factors.
    Schedule,
    /// Identity, limits and results.
    Run,
}

impl Group {
    /// Whether the group is code under test, environment, or the run's own.
    pub const fn role(self) -> Role {
        match self {
            Group::Validator | Group::Guard | Group::Route | Group::Manager => Role::Code,
            Group::Deployment
            | Group::Startup
            | Group::Redis
            | Group::Auth
            | Group::Clients
            | Group::Schedule => Role::Environment,
            Group::Run => Role::Run,
        }
    }

    /// The group's name in docs and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Group::Validator => "validator",
            Group::Guard => "guard",
            Group::Route => "route",
            Group::Manager => "manager",
            Group::Deployment => "deployment",
            Group::Startup => "startup",
            Group::Redis => "redis",
            Group::Auth => "auth",
            Group::Clients => "clients",
            Group::Schedule => "schedule",
            Group::Run => "run",
        }
    }
}

impl Role {
    /// The role's name in docs and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Code => "code",
            Role::Environment => "environment",
            Role::Run => "run",
        }
    }
}

/// The value a field takes, for messages and docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Whole milliseconds.
    Ms,
    /// A whole number.
    Count,
    /// `true` or `false`.
    Bool,
    /// One of these names.
    Name(&'static [&'static str]),
    /// Free text.
    Text,
    /// `[[start_ms, end_ms], ...]`.
    Windows,
    /// `[{ at_ms, extra_ms }, ...]`.
    Spikes,
    /// Three milliseconds, one per validation phase.
    Triple,
    /// The decisions list.
    Decisions,
    /// An array of tables or of names.
    List,
    /// The `format` number.
    Format,
}

/// How a numeric field is read and written.
#[derive(Clone, Copy)]
pub enum Access {
    /// A number every scenario has.
    Num(fn(&Scenario) -> u64, fn(&mut Scenario, u64)),
    /// An optional number (a knob override), and what its absence means in a scenario (the
    /// preset's value, with the file's other overrides).
    Opt(
        fn(&Scenario) -> Option<u64>,
        fn(&mut Scenario, Option<u64>),
        fn(&Scenario) -> u64,
    ),
    /// An optional name (a knob override), as an index into the row's names.
    Name(
        fn(&Scenario) -> Option<usize>,
        fn(&mut Scenario, Option<usize>),
    ),
    /// An optional flag (a knob override).
    Flag(
        fn(&Scenario) -> Option<bool>,
        fn(&mut Scenario, Option<bool>),
    ),
    /// A number of each `[[clients]]` entry.
    Client(fn(&Client) -> u64, fn(&mut Client, u64)),
    /// An optional triple of numbers (the group timeouts; absent means the preset's).
    Triple(
        fn(&Scenario) -> Option<[u64; 3]>,
        fn(&mut Scenario, Option<[u64; 3]>),
    ),
    /// A dependency's list of outage windows.
    Windows(Dep),
    /// Bound 0 (start) or 1 (end) of each window of a dependency's outages.
    Outage(Dep, usize),
    /// A dependency's list of latency spikes.
    Spikes(Dep),
    /// A number of each spike of a dependency's list.
    Spike(Dep, fn(&PingSpike) -> u64, fn(&mut PingSpike, u64)),
    /// Not a number, or not one that search touches.
    None,
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Field {
    /// Dotted path as written in files; `[]` stands for an element's index.
    pub path: &'static str,
    /// What it is to search and shrinking.
    pub kind: Kind,
    /// The part of the system or its world it belongs to (and so its [`Role`]).
    pub group: Group,
    /// Its type.
    pub ty: Ty,
    /// Smallest allowed value (numbers).
    pub min: u64,
    /// Largest allowed value (numbers).
    pub max: u64,
    /// One line for the docs.
    pub doc: &'static str,
    /// The accessor.
    pub access: Access,
    /// How search draws a value for it.
    pub draw: Draw,
}

/// How search draws a field's value (the range search explores, not what files allow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// Search leaves it alone (or draws it with the structure it belongs to).
    None,
    /// Anywhere in `lo..=hi`.
    Uniform(u64, u64),
    /// A duration: near a length that matters (the grace, poll delays, timeouts) or in
    /// `lo..=hi`.
    Length(u64, u64),
    /// An instant: near a moment that matters with the default phases, or in `0..=hi`.
    Instant(u64),
    /// A background task's spawn jitter: anywhere in 0..3000, or due inside the first grace.
    Jitter,
    /// One of the row's names.
    Names,
    /// True or false.
    Flag,
}

impl Field {
    /// Code under test, environment, or the run's own.
    pub const fn role(&self) -> Role {
        self.group.role()
    }

    /// The row with a search draw.
    const fn d(mut self, draw: Draw) -> Field {
        self.draw = draw;
        self
    }
}

/// `num!(path, expr.path)` etc.: a row's accessor from the field's place in the struct.
macro_rules! num {
    ($($f:ident).+) => {
        Access::Num(|s| s.$($f).+, |s, v| s.$($f).+ = v)
    };
}
macro_rules! opt {
    ($($f:ident).+ => $resolved:expr) => {
        Access::Opt(
            |s| s.$($f).+.map(u64::from),
            |s, v| s.$($f).+ = v.and_then(|v| v.try_into().ok()),
            $resolved,
        )
    };
}

/// What a policy knob means when the file leaves it out: the resolved policy's value.
fn resolved(s: &Scenario, f: fn(&Policy, EnvName) -> u64) -> u64 {
    f(&Policy::resolve(&s.policy), s.environment.name)
}
macro_rules! name {
    ($t:ty, $($f:ident).+) => {
        Access::Name(
            |s| s.$($f).+.and_then(|x| <$t>::ALL.iter().position(|y| *y == x)),
            |s, i| s.$($f).+ = i.map(|i| <$t>::ALL[i % <$t>::ALL.len()]),
        )
    };
}
macro_rules! flag {
    ($($f:ident).+) => {
        Access::Flag(|s| s.$($f).+, |s, v| s.$($f).+ = v)
    };
}
macro_rules! client {
    ($f:ident) => {
        Access::Client(
            |c| u64::from(c.$f),
            |c, v| c.$f = v.try_into().unwrap_or(c.$f),
        )
    };
}

#[allow(clippy::too_many_arguments)]
const fn row(
    path: &'static str,
    kind: Kind,
    group: Group,
    ty: Ty,
    min: u64,
    max: u64,
    access: Access,
    doc: &'static str,
) -> Field {
    Field {
        path,
        kind,
        group,
        ty,
        min,
        max,
        doc,
        access,
        draw: Draw::None,
    }
}

use Group::{
    Auth, Clients, Deployment, Guard, Manager, Redis, Route, Schedule, Startup, Validator,
};
use Kind::{Count, Knob, Limit, Structure, Timing};

/// What `expect.client_reasons` accepts: a reason's name, or `none`.
pub const REASON_NAMES: [&str; 6] = [
    "none",
    crate::vocab::Reason::ALL[0].name(),
    crate::vocab::Reason::ALL[1].name(),
    crate::vocab::Reason::ALL[2].name(),
    crate::vocab::Reason::ALL[3].name(),
    crate::vocab::Reason::ALL[4].name(),
];
const T: u64 = MAX_TIME_MS;

/// Every field of format 1, in file order.
#[rustfmt::skip]
pub static FIELDS: &[Field] = &[
    row("format", Structure, Group::Run, Ty::Format, 1, 1, Access::None, "the file format; only 1 exists"),
    row("name", Structure, Group::Run, Ty::Text, 0, 0, Access::None, "the scenario's name; equals the file stem"),
    row("summary", Structure, Group::Run, Ty::Text, 0, 0, Access::None, "one line saying what it shows"),
    row("notes", Structure, Group::Run, Ty::Text, 0, 0, Access::None, "free text: the reasoning behind [expect]"),
    row("what_if", Structure, Group::Run, Ty::List, 0, 0, Access::None, "the [policy] knobs that are what-ifs, not the code under test"),
    row("environment.name", Knob, Deployment, Ty::Name(&crate::vocab::EnvName::NAMES), 0, 0, Access::None, "ENVIRONMENT: production and staging are GCP"),
    row("environment.cloud_run", Knob, Deployment, Ty::Bool, 0, 0, Access::None, "K_SERVICE is set (Cloud Run)"),
    row("policy.preset", Knob, Validator, Ty::Name(&crate::policy::Preset::NAMES), 0, 0, Access::None, "the validator design the knobs start from"),
    row("policy.probe", Knob, Validator, Ty::Name(&crate::vocab::ProbeMode::NAMES), 0, 0, name!(crate::vocab::ProbeMode, policy.probe), "how the redis probe reads the manager").d(Draw::Names),
    row("policy.probe_error_log", Knob, Validator, Ty::Name(&crate::vocab::LogLevel::NAMES), 0, 0, name!(crate::vocab::LogLevel, policy.probe_error_log), "the level a raising probe's error is logged at").d(Draw::Names),
    row("policy.grace", Knob, Validator, Ty::Name(&crate::vocab::GraceMode::NAMES), 0, 0, name!(crate::vocab::GraceMode, policy.grace), "the grace after a probe said connected").d(Draw::Names),
    row("policy.grace_ms", Knob, Validator, Ty::Ms, 0, T, opt!(policy.grace_ms => |s| resolved(s, |p, _| p.grace_ms)), "length of the grace").d(Draw::Length(0, 3000)),
    row("policy.reprobe_after_grace", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.reprobe_after_grace), "probe again after the grace").d(Draw::Flag),
    row("policy.loop", Knob, Validator, Ty::Name(&crate::vocab::LoopShape::NAMES), 0, 0, name!(crate::vocab::LoopShape, policy.loop_shape), "the poll loop's shape").d(Draw::Names),
    row("policy.constants", Knob, Validator, Ty::Name(&crate::vocab::ConstantsTable::NAMES), 0, 0, name!(crate::vocab::ConstantsTable, policy.constants), "the per-check constants table").d(Draw::Names),
    row("policy.redis_retries", Knob, Validator, Ty::Count, 0, MAX_RETRIES as u64, opt!(policy.redis_retries => |s| resolved(s, |p, _| u64::from(p.check(Check::Redis).retries))), "retries R of the redis check").d(Draw::Uniform(0, 8)),
    row("policy.redis_delay_ms", Knob, Validator, Ty::Ms, 0, T, opt!(policy.redis_delay_ms => |s| resolved(s, |p, _| p.check(Check::Redis).delay_ms)), "delay d between redis probes").d(Draw::Length(0, 3000)),
    row("policy.declared_redis_timeout_ms", Knob, Validator, Ty::Ms, 0, T, opt!(policy.declared_redis_timeout_ms => |s| resolved(s, |p, _| p.check(Check::Redis).declared_ms)), "the timeout T the code declares and no loop reads").d(Draw::Length(0, 60000)),
    row("policy.group_timeouts_ms", Knob, Validator, Ty::Triple, 0, T, Access::Triple(|s| s.policy.group_timeouts_ms, |s, v| s.policy.group_timeouts_ms = v), "group timeouts G of phases 1, 2 and 3").d(Draw::Length(0, 60000)),
    row("policy.deadline_ms", Knob, Validator, Ty::Ms, 0, T, opt!(policy.deadline_ms => |s| resolved(s, |p, _| p.deadline_ms)), "the event loop's deadline from the validator's start").d(Draw::Length(0, 60000)),
    row("policy.circular_check", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.circular_check), "websocket_integration requires startup_complete").d(Draw::Flag),
    row("policy.mask_in_staging", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.mask_in_staging), "in staging a false or raising redis probe counts as ready").d(Draw::Flag),
    row("policy.noncritical_in_staging", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.noncritical_in_staging), "in staging redis and websocket_integration are non-critical").d(Draw::Flag),
    row("policy.bypass_in_staging", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.bypass_in_staging), "in staging a failed validation is logged and startup carries on").d(Draw::Flag),
    row("policy.detect_cloud_run", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.detect_cloud_run), "cloud_run = true counts as GCP").d(Draw::Flag),
    row("policy.skip_outside_gcp", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.skip_outside_gcp), "outside GCP the validator skips everything").d(Draw::Flag),
    row("policy.guard", Knob, Guard, Ty::Name(&crate::vocab::GuardMode::NAMES), 0, 0, name!(crate::vocab::GuardMode, policy.guard), "the per-connection guard").d(Draw::Names),
    row("policy.guard_timeout_ms", Knob, Guard, Ty::Ms, 0, T, opt!(policy.guard_timeout_ms => |s| resolved(s, |p, e| p.guard_timeout(e))), "the guard's own limit (default by environment)").d(Draw::Length(0, 6000)),
    row("policy.on_redis_error", Knob, Guard, Ty::Name(&crate::vocab::OnRedisError::NAMES), 0, 0, name!(crate::vocab::OnRedisError, policy.on_redis_error), "what a Redis error does to a message").d(Draw::Names),
    row("policy.retry_after_ms", Knob, Guard, Ty::Ms, 0, T, opt!(policy.retry_after_ms => |s| resolved(s, |p, _| p.retry_after_ms)), "Retry-After of a 503").d(Draw::Length(0, 20000)),
    row("policy.sticky_breaker", Knob, Manager, Ty::Bool, 0, 0, flag!(policy.sticky_breaker), "the Redis breaker never closes by itself").d(Draw::Flag),
    row("policy.startup_reconnect_ms", Knob, Manager, Ty::Ms, 1, T, opt!(policy.startup_reconnect_ms => |s| resolved(s, |p, _| p.startup_reconnect_ms.unwrap_or(0))), "reconnect period while startup waits").d(Draw::Length(1, 2000)),
    row("policy.route", Knob, Route, Ty::Name(&crate::vocab::Route::NAMES), 0, 0, name!(crate::vocab::Route, policy.route), "the WebSocket route's generation").d(Draw::Names),
    row("policy.accept_sleep_ms", Knob, Route, Ty::Ms, 0, T, opt!(policy.accept_sleep_ms => |s| resolved(s, |p, _| p.accept_sleep_ms)), "the route's sleeps after accept, before authentication").d(Draw::Length(0, 200)),
    row("policy.manager_limit", Knob, Route, Ty::Count, 1, MAX_CLIENTS as u64, opt!(policy.manager_limit => |s| resolved(s, |p, _| u64::from(p.manager_limit))), "managers per user before the f1 factory refuses").d(Draw::Uniform(1, 25)),
    row("policy.manager_cleanup_ms", Knob, Route, Ty::Ms, 0, T, opt!(policy.manager_cleanup_ms => |s| resolved(s, |p, _| p.manager_cleanup_ms)), "C of the emergency cleanup").d(Draw::Length(0, 300000)),
    row("policy.manager_proactive_at", Knob, Route, Ty::Count, 0, MAX_CLIENTS as u64, opt!(policy.manager_proactive_at => |s| resolved(s, |p, _| u64::from(p.manager_proactive_at))), "the cleanup also runs from this many managers (0: only at the limit)").d(Draw::Uniform(0, 20)),
    row("policy.manager_sweep_ms", Knob, Route, Ty::Ms, 1, T, opt!(policy.manager_sweep_ms => |s| resolved(s, |p, _| p.manager_sweep_ms)), "the background sweep's period").d(Draw::Length(1, 300000)),
    row("policy.manager_idle_ms", Knob, Route, Ty::Ms, 0, T, opt!(policy.manager_idle_ms => |s| resolved(s, |p, _| p.manager_idle_ms)), "the sweep reclaims managers idle this long").d(Draw::Length(0, 1800000)),
    row("policy.user_id_check", Knob, Route, Ty::Name(&crate::vocab::UserIdCheck::NAMES), 0, 0, name!(crate::vocab::UserIdCheck, policy.user_id_check), "which user ids the f1 route accepts").d(Draw::Names),
    row("policy.connection_check", Knob, Route, Ty::Name(&crate::vocab::ConnectionCheck::NAMES), 0, 0, name!(crate::vocab::ConnectionCheck, policy.connection_check), "the per-connection service check (routes f1, f3)").d(Draw::Names),
    row("policy.keepalive_ms", Knob, Route, Ty::Ms, 1, T, opt!(policy.keepalive_ms => |s| resolved(s, |p, _| p.keepalive_ms)), "the server keepalive's interval and pong timeout").d(Draw::Length(1000, 30000)),
    row("policy.ws_auth_breaker_failures", Knob, Route, Ty::Count, 1, MAX_CLIENTS as u64, opt!(policy.ws_auth_breaker_failures => |s| resolved(s, |p, _| u64::from(p.ws_auth_breaker_failures))), "failed connections that open the WebSocket authenticator's breaker").d(Draw::Uniform(1, 6)),
    row("policy.ws_auth_breaker_ms", Knob, Route, Ty::Ms, 0, T, opt!(policy.ws_auth_breaker_ms => |s| resolved(s, |p, _| p.ws_auth_breaker_ms)), "how long that breaker fails connections after its last failure").d(Draw::Length(0, 30000)),
    row("policy.strict_contract", Knob, Validator, Ty::Bool, 0, 0, flag!(policy.strict_contract), "the judge holds the design to the stricter contract: any 1011 counts"),
    row("startup.init_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.init_ms), "phase INIT").d(Draw::Uniform(0, 1000)),
    row("startup.dependencies_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.dependencies_ms), "phase DEPENDENCIES").d(Draw::Uniform(0, 1000)),
    row("startup.database_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.database_ms), "phase DATABASE").d(Draw::Uniform(0, 3000)),
    row("startup.cache_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.cache_ms), "phase CACHE besides the Redis connect attempt").d(Draw::Uniform(0, 100)),
    row("startup.services_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.services_ms), "phase SERVICES").d(Draw::Uniform(0, 5000)),
    row("startup.websocket_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.websocket_ms), "steps of phase WEBSOCKET before the validator").d(Draw::Uniform(0, 100)),
    row("startup.finalize_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.finalize_ms), "phase FINALIZE").d(Draw::Uniform(0, 1000)),
    row("startup.probe_cost_ms", Timing, Startup, Ty::Ms, 0, T, num!(startup.probe_cost_ms), "what every probe call costs").d(Draw::Uniform(0, 5)),
    row("services.database_ready_at_ms", Timing, Startup, Ty::Ms, 0, T, num!(services.database_ready_at_ms), "when the database is ready").d(Draw::Instant(20000)),
    row("services.auth_ready_at_ms", Timing, Startup, Ty::Ms, 0, T, num!(services.auth_ready_at_ms), "when auth is ready").d(Draw::Instant(20000)),
    row("services.agent_supervisor_ready_at_ms", Timing, Startup, Ty::Ms, 0, T, num!(services.agent_supervisor_ready_at_ms), "when the agent supervisor is ready").d(Draw::Instant(20000)),
    row("services.websocket_bridge_ready_at_ms", Timing, Startup, Ty::Ms, 0, T, num!(services.websocket_bridge_ready_at_ms), "when the WebSocket bridge is ready").d(Draw::Instant(20000)),
    row("redis.server.up_from_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.server.up_from_ms), "before this every connection is refused"),
    row("redis.server.outages", Structure, Redis, Ty::Windows, 0, MAX_WINDOWS as u64, Access::Windows(Dep::REDIS), "[start, end) windows in which the server is unreachable"),
    row("redis.server.outages[].start", Timing, Redis, Ty::Ms, 0, T, Access::Outage(Dep::REDIS, 0), "an outage's start"),
    row("redis.server.outages[].end", Timing, Redis, Ty::Ms, 0, T, Access::Outage(Dep::REDIS, 1), "an outage's end"),
    row("redis.server.connect_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.server.connect_ms), "a successful connect's duration").d(Draw::Uniform(1, 200)),
    row("redis.server.refuse_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.server.refuse_ms), "a refused attempt's or failed ping's duration").d(Draw::Uniform(1, 200)),
    row("redis.server.ping_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.server.ping_ms), "a ping's duration").d(Draw::Uniform(1, 50)),
    row("redis.server.ping_spikes", Structure, Redis, Ty::Spikes, 0, MAX_WINDOWS as u64, Access::Spikes(Dep::REDIS), "pings starting in [at_ms, at_ms + extra_ms) take extra_ms longer"),
    row("redis.server.ping_spikes[].at_ms", Timing, Redis, Ty::Ms, 0, T, Access::Spike(Dep::REDIS, |s| s.at_ms, |s, v| s.at_ms = v), "a spike's start"),
    row("redis.server.ping_spikes[].extra_ms", Timing, Redis, Ty::Ms, 0, T, Access::Spike(Dep::REDIS, |s| s.extra_ms, |s, v| s.extra_ms = v), "a spike's extra latency and length"),
    row("redis.manager.stabilize_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.manager.stabilize_ms), "Operational only this long after the last connect").d(Draw::Length(1, 5000)),
    row("redis.manager.reconnect_spawn_jitter_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.manager.reconnect_spawn_jitter_ms), "the reconnect task starts this late").d(Draw::Jitter),
    row("redis.manager.health_spawn_jitter_ms", Timing, Redis, Ty::Ms, 0, T, num!(redis.manager.health_spawn_jitter_ms), "the health task starts this late").d(Draw::Jitter),
    row("redis.manager.ping_timeout_ms", Timing, Manager, Ty::Ms, 0, T, num!(redis.manager.ping_timeout_ms), "the health check's ping timeout").d(Draw::Length(10, 6000)),
    row("redis.manager.get_client_ping_timeout_ms", Timing, Manager, Ty::Ms, 0, T, num!(redis.manager.get_client_ping_timeout_ms), "get_client's ping timeout").d(Draw::Length(10, 500)),
    row("redis.manager.health_interval_ms", Timing, Manager, Ty::Ms, 1, T, num!(redis.manager.health_interval_ms), "the health check's interval").d(Draw::Uniform(1000, 30000)),
    row("server.bind_ms", Timing, Startup, Ty::Ms, 0, T, num!(server.bind_ms), "when the port is bound").d(Draw::Uniform(0, 5000)),
    row("auth.up_from_ms", Timing, Auth, Ty::Ms, 0, T, num!(auth.up_from_ms), "before this every auth request fails as in an outage"),
    row("auth.latency_ms", Timing, Auth, Ty::Ms, 0, T, num!(auth.latency_ms), "the auth service's latency per request").d(Draw::Length(0, 3000)),
    row("auth.outages", Structure, Auth, Ty::Windows, 0, MAX_WINDOWS as u64, Access::Windows(Dep::AUTH), "[start, end) windows in which auth requests fail"),
    row("auth.outages[].start", Timing, Auth, Ty::Ms, 0, T, Access::Outage(Dep::AUTH, 0), "an auth outage's start"),
    row("auth.outages[].end", Timing, Auth, Ty::Ms, 0, T, Access::Outage(Dep::AUTH, 1), "an auth outage's end"),
    row("auth.refuse_ms", Timing, Auth, Ty::Ms, 0, T, num!(auth.refuse_ms), "how long a request in an outage takes to fail").d(Draw::Uniform(0, 200)),
    row("auth.spikes", Structure, Auth, Ty::Spikes, 0, MAX_WINDOWS as u64, Access::Spikes(Dep::AUTH), "auth requests starting in [at_ms, at_ms + extra_ms) take extra_ms longer"),
    row("auth.spikes[].at_ms", Timing, Auth, Ty::Ms, 0, T, Access::Spike(Dep::AUTH, |s| s.at_ms, |s, v| s.at_ms = v), "an auth spike's start"),
    row("auth.spikes[].extra_ms", Timing, Auth, Ty::Ms, 0, T, Access::Spike(Dep::AUTH, |s| s.extra_ms, |s, v| s.extra_ms = v), "an auth spike's extra latency and length"),
    row("database.up_from_ms", Timing, Startup, Ty::Ms, 0, T, num!(database.up_from_ms), "before this every database probe fails"),
    row("database.latency_ms", Timing, Startup, Ty::Ms, 0, T, num!(database.latency_ms), "what a database probe takes besides its probe cost").d(Draw::Length(0, 3000)),
    row("database.outages", Structure, Startup, Ty::Windows, 0, MAX_WINDOWS as u64, Access::Windows(Dep::DATABASE), "[start, end) windows in which database probes fail"),
    row("database.outages[].start", Timing, Startup, Ty::Ms, 0, T, Access::Outage(Dep::DATABASE, 0), "a database outage's start"),
    row("database.outages[].end", Timing, Startup, Ty::Ms, 0, T, Access::Outage(Dep::DATABASE, 1), "a database outage's end"),
    row("database.refuse_ms", Timing, Startup, Ty::Ms, 0, T, num!(database.refuse_ms), "what a probe while the database is down takes besides its probe cost"),
    row("database.spikes", Structure, Startup, Ty::Spikes, 0, MAX_WINDOWS as u64, Access::Spikes(Dep::DATABASE), "database probes starting in [at_ms, at_ms + extra_ms) take extra_ms longer"),
    row("database.spikes[].at_ms", Timing, Startup, Ty::Ms, 0, T, Access::Spike(Dep::DATABASE, |s| s.at_ms, |s, v| s.at_ms = v), "a database spike's start"),
    row("database.spikes[].extra_ms", Timing, Startup, Ty::Ms, 0, T, Access::Spike(Dep::DATABASE, |s| s.extra_ms, |s, v| s.extra_ms = v), "a database spike's extra latency and length"),
    row("clients", Structure, Clients, Ty::List, 0, MAX_CLIENTS as u64, Access::None, "the clients, in file order"),
    row("clients[].at_ms", Timing, Clients, Ty::Ms, 0, T, client!(at_ms), "when the client connects"),
    row("clients[].message_gap_ms", Timing, Clients, Ty::Ms, 0, T, client!(message_gap_ms), "the gap between its messages"),
    row("clients[].messages", Count, Clients, Ty::Count, 0, MAX_MESSAGES as u64, client!(messages), "messages it sends once served"),
    row("clients[].retries", Count, Clients, Ty::Count, 0, MAX_CLIENT_RETRIES as u64, client!(retries), "retries after a 503 with Retry-After"),
    row("clients[].user_id", Knob, Clients, Ty::Text, 0, 0, Access::None, "the user it authenticates as (default user_<k>, k the entry's position)"),
    row("clients[].token", Knob, Clients, Ty::Name(&crate::vocab::Token::NAMES), 0, 0, Access::None, "whether the auth service accepts its token"),
    row("clients[].count", Count, Clients, Ty::Count, 1, MAX_CLIENTS as u64, client!(count), "this entry stands for that many identical clients"),
    row("clients[].every_ms", Timing, Clients, Ty::Ms, 0, T, client!(every_ms), "the copies arrive this far apart"),
    row("clients[].hold_ms", Timing, Clients, Ty::Ms, 0, T, client!(hold_ms), "the socket stays open this long after the last message"),
    row("clients[].reconnects", Count, Clients, Ty::Count, 0, MAX_CLIENT_RETRIES as u64, client!(reconnects), "reconnects after a server close or a reset"),
    row("clients[].reconnect_gap_ms", Timing, Clients, Ty::Ms, 0, T, client!(reconnect_gap_ms), "how long after a close or reset it reconnects"),
    row("clients[].rtt_ms", Timing, Clients, Ty::Ms, 0, T, client!(rtt_ms), "a keepalive ping's round trip"),
    row("run.horizon_ms", Limit, Group::Run, Ty::Ms, 1, MAX_HORIZON_MS, num!(run.horizon_ms), "the simulation stops here at the latest"),
    row("run.decisions", Structure, Schedule, Ty::Decisions, 0, MAX_DECISIONS as u64, Access::None, "same-instant choices and drawn factors, in order"),
    row("run.decisions_from_ms", Timing, Schedule, Ty::Ms, 0, T, num!(run.decisions_from_ms), "the decisions apply from this instant on (FIFO before it)").d(Draw::Instant(60000)),
    row("run.max_steps", Limit, Group::Run, Ty::Count, 1, MAX_STEPS, opt!(run.max_steps => |_| MAX_STEPS), "task polls allowed before the run ends as hang"),
    row("expect.startup", Structure, Group::Run, Ty::Name(&crate::vocab::StartupOutcome::NAMES), 0, 0, Access::None, "how startup ends"),
    row("expect.verdict_at_ms", Structure, Group::Run, Ty::Count, 0, u64::MAX, Access::None, "when the verdict is published"),
    row("expect.elapsed_ms", Structure, Group::Run, Ty::Count, 0, u64::MAX, Access::None, "from the validator's start"),
    row("expect.failed_services", Structure, Group::Run, Ty::Name(&crate::vocab::Check::NAMES), 0, 0, Access::None, "failed critical services, in check order"),
    row("expect.message", Structure, Group::Run, Ty::Text, 0, 0, Access::None, "the startup error's exact text"),
    row("expect.clients", Structure, Group::Run, Ty::Name(&crate::vocab::Outcome::NAMES), 0, 0, Access::None, "one outcome per client attempt"),
    row("expect.client_reasons", Structure, Group::Run, Ty::Name(&REASON_NAMES), 0, 0, Access::None, "each attempt's 1011/1008 reason, none where there is none"),
    row("expect.lost_messages", Structure, Group::Run, Ty::Count, 0, u64::MAX, Access::None, "messages lost in all"),
    row("expect.violations", Structure, Group::Run, Ty::Name(&crate::vocab::Violation::NAMES), 0, 0, Access::None, "the exact set of violations"),
    row("expect.trace_hash", Structure, Group::Run, Ty::Text, 0, 0, Access::None, "the trace's hash: a mismatch means the model drifted"),
    row("classification.class", Structure, Group::Run, Ty::Name(&super::expect::Class::NAMES), 0, 0, Access::None, "race or deterministic"),
    row("classification.depends_on", Structure, Group::Run, Ty::List, 0, 0, Access::None, "the fields whose perturbation removed the failure"),
];

/// The row of a dotted path as written in a file (`clients[3].at_ms` finds `clients[].at_ms`).
pub fn field(path: &str) -> Option<&'static Field> {
    let generic = generic_path(path);
    FIELDS.iter().find(|f| f.path == generic)
}

/// `clients[3].at_ms` -> `clients[].at_ms`; a trailing index is dropped (`outages[2]` ->
/// `outages`), as is a tuple index inside an outage.
fn generic_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' {
            while chars.next().is_some_and(|c| c != ']') {}
            if chars.peek().is_some() {
                out.push_str("[]");
            }
        } else {
            out.push(c);
        }
    }
    // `redis.server.outages[0][1]` names a bound: its list is what the file writes.
    while out.ends_with("[]") {
        out.truncate(out.len() - 2);
    }
    out
}

impl Field {
    /// What the field accepts, in words (for error messages).
    pub fn allowed(&self) -> String {
        match self.ty {
            Ty::Ms => format!(
                "a whole number of milliseconds from {} to {}",
                self.min, self.max
            ),
            Ty::Count if self.max == u64::MAX => "a whole number from 0 up".into(),
            Ty::Count => format!("a whole number from {} to {}", self.min, self.max),
            Ty::Bool => "true or false".into(),
            Ty::Name(names) => format!("one of {}", names.join(", ")),
            Ty::Text => "a string in double quotes".into(),
            Ty::Format => "1 (the only format)".into(),
            Ty::Windows => format!(
                "an array of at most {} [start_ms, end_ms] pairs, 0 <= start < end <= {MAX_TIME_MS}",
                self.max
            ),
            Ty::Spikes => format!(
                "an array of at most {} {{ at_ms = N, extra_ms = N }} tables, N from 0 to {MAX_TIME_MS}",
                self.max
            ),
            Ty::Triple => format!(
                "an array of 3 whole numbers of milliseconds from 0 to {}",
                self.max
            ),
            Ty::Decisions => format!(
                "an array of at most {} whole numbers from 0 to {}",
                self.max,
                u32::MAX
            ),
            Ty::List => "an array".into(),
        }
    }

    /// The value an absent field means, for numbers every scenario or client has.
    /// Whether a file must write this field: the file's identity, the preset, and the
    /// fields of a list entry that has no sensible default (a client's arrival, a spike's
    /// instant and size). An outage is a `[start, end]` pair, both written.
    pub fn required(&self) -> bool {
        const REQUIRED: &[&str] = &[
            "format",
            "name",
            "summary",
            "policy.preset",
            "clients[].at_ms",
            "classification.class",
        ];
        REQUIRED.contains(&self.path)
            || matches!(self.access, Access::Outage(..) | Access::Spike(..))
    }

    /// The value a file gets when it leaves the field out, when that is one number.
    pub fn default_value(&self) -> Option<u64> {
        match self.access {
            Access::Num(get, _) => Some(get(&Scenario::new("", ""))),
            Access::Client(get, _) => Some(get(&Client::default())),
            Access::Outage(..) | Access::Spike(..) => Some(0),
            Access::Windows(..)
            | Access::Spikes(..)
            | Access::Opt(..)
            | Access::Name(..)
            | Access::Flag(..)
            | Access::Triple(..)
            | Access::None => None,
        }
    }
}

/// What `allowed` says for a dotted path; unknown paths read as plain numbers.
pub fn allowed(path: &str) -> String {
    field(path).map_or_else(|| "a whole number from 0 up".into(), Field::allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that writes every field it can: one entry in every list.
    fn full_file() -> String {
        let mut sc = Scenario::new("full", "s");
        sc.notes = Some("n".into());
        sc.clients.push(Client {
            at_ms: 5,
            user_id: Some("u".into()),
            ..Client::default()
        });
        let spike = PingSpike {
            at_ms: 1,
            extra_ms: 2,
        };
        sc.redis.server.outages.push([10, 20]);
        sc.redis.server.ping_spikes.push(spike);
        for dep in [&mut sc.auth, &mut sc.database] {
            dep.outages.push([10, 20]);
            dep.spikes.push(spike);
        }
        sc.classification = Some(super::super::Classification {
            class: super::super::Class::Race,
            depends_on: vec!["x".into()],
        });
        super::super::to_toml(&sc, &[])
    }

    /// Removes the key at `path` (`[]` meaning the first entry); false when it is not there.
    fn remove(doc: &mut toml_edit::DocumentMut, path: &str) -> bool {
        let parts: Vec<&str> = path.split('.').collect();
        let (last, parents) = parts.split_last().expect("a path");
        let mut at: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        for part in parents {
            let (key, first) = match part.strip_suffix("[]") {
                Some(k) => (k, true),
                None => (*part, false),
            };
            let Some(item) = at.get_mut(key) else {
                return false;
            };
            let next: Option<&mut dyn toml_edit::TableLike> = match (item, first) {
                (toml_edit::Item::ArrayOfTables(a), true) => {
                    a.get_mut(0).map(|t| t as &mut dyn toml_edit::TableLike)
                }
                (toml_edit::Item::Value(toml_edit::Value::Array(a)), true) => a
                    .get_mut(0)
                    .and_then(|v| v.as_inline_table_mut())
                    .map(|t| t as &mut dyn toml_edit::TableLike),
                (item, false) => item.as_table_like_mut(),
                _ => None,
            };
            let Some(next) = next else { return false };
            at = next;
        }
        at.remove(last).is_some()
    }

    #[test]
    fn required_fields_are_the_ones_the_parser_demands() {
        let text = full_file();
        let file = std::path::Path::new("full.toml");
        super::super::parse(&text, file, Some("full")).expect("the full file loads");
        let mut tried = 0;
        for f in FIELDS {
            let mut doc: toml_edit::DocumentMut = text.parse().expect("toml");
            if matches!(f.access, Access::Outage(..)) || !remove(&mut doc, f.path) {
                continue; // a pair's element, or not written by the full file (a knob)
            }
            tried += 1;
            let got = super::super::parse(&doc.to_string(), file, Some("full"));
            match (f.required(), got) {
                (true, Err(e)) => assert!(e.to_string().contains("required"), "{}: {e}", f.path),
                (true, Ok(_)) => panic!("{} is marked required but may be left out", f.path),
                (false, Err(e)) => panic!("{} is optional but leaving it out fails: {e}", f.path),
                (false, Ok(_)) => {}
            }
        }
        assert!(tried >= 55, "only {tried} fields tried");
    }

    #[test]
    fn every_knob_has_its_row_and_every_policy_row_is_a_knob() {
        let rows: Vec<&str> = FIELDS
            .iter()
            .filter_map(|f| f.path.strip_prefix("policy."))
            .filter(|p| *p != "preset")
            .collect();
        assert_eq!(
            rows,
            Policy::KNOB_NAMES,
            "the field table's policy rows, in knob order"
        );
    }

    #[test]
    fn every_written_path_finds_its_row() {
        for p in [
            "clients[3].at_ms",
            "redis.server.outages[1]",
            "redis.server.outages[0][1]",
            "redis.server.ping_spikes[2].extra_ms",
            "run.decisions[4]",
            "policy.group_timeouts_ms[2]",
            "startup.database_ms",
        ] {
            assert!(field(p).is_some(), "{p}");
        }
        assert!(field("startup.nope").is_none());
    }

    #[test]
    fn defaults_come_from_the_structs() {
        assert_eq!(
            field("startup.database_ms").and_then(|f| f.default_value()),
            Some(519)
        );
        assert_eq!(
            field("clients[0].message_gap_ms").and_then(|f| f.default_value()),
            Some(super::super::types::DEFAULT_MESSAGE_GAP_MS)
        );
        assert_eq!(
            field("policy.grace_ms").and_then(|f| f.default_value()),
            None
        );
    }
}

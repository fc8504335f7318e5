//! Policies as data: one list of knobs generates the `[policy]` table of a file, the resolved
//! knobs of a design and what `explain` prints; the presets are values of it. Adding a knob
//! is one entry in `knobs!`, its value in [`Policy::preset`]'s p0 (a forgotten one does not
//! compile), its row in the field table (a test checks) and the code that reads it. Adding a
//! preset is a variant below and its arm in [`Policy::preset`] (a forgotten arm does not
//! compile).

use serde::{Deserialize, Serialize};

use crate::spec;
use crate::vocab::{
    names, Check, ConnectionCheck, ConstantsTable, EnvName, GraceMode, GuardMode, LogLevel,
    LoopShape, OnRedisError, ProbeMode, Route, UserIdCheck,
};

names! {
    /// Policy presets: the validator as it stood at each step of the incident's history, and
    /// readysim's reference design.
    #[derive(Default)]
    pub enum Preset {
        /// The incident, 2025-09-08.
        #[default]
        P0 => "p0",
        /// First fix: blocking grace.
        P1 => "p1",
        /// Async grace.
        P2 => "p2",
        /// Staging masking.
        P4 => "p4",
        /// Non-critical in staging.
        P5 => "p5",
        /// Budget cut, bypass.
        P6 => "p6",
        /// Final constants, guard.
        P7 => "p7",
        /// Probe fixed.
        P8 => "p8",
        /// Exponential loop and queue.
        P9 => "p9",
        /// readysim's design.
        Reference => "reference",
    }
}

/// A knob's resolved value as `explain` and the docs print it.
pub trait KnobValue {
    /// The value in the words a file uses (`-`: absent, the default applies).
    fn show(&self) -> String;
}

macro_rules! show_by_name {
    ($($T:ty),*) => {$(
        impl KnobValue for $T {
            fn show(&self) -> String {
                self.name().to_string()
            }
        }
    )*};
}
show_by_name!(
    ProbeMode,
    LogLevel,
    GraceMode,
    LoopShape,
    ConstantsTable,
    GuardMode,
    OnRedisError,
    Route,
    UserIdCheck,
    ConnectionCheck
);

macro_rules! show_by_display {
    ($($T:ty),*) => {$(
        impl KnobValue for $T {
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
show_by_display!(bool, u32, u64);

impl KnobValue for [u64; 3] {
    fn show(&self) -> String {
        self.map(|g| g.to_string()).join(", ")
    }
}

impl<T: KnobValue> KnobValue for Option<T> {
    fn show(&self) -> String {
        self.as_ref().map_or("-".to_string(), KnobValue::show)
    }
}

/// How a file's override lands on a resolved knob: a plain value is replaced, an optional one
/// (absent means "the environment's" or "the table's") is set.
trait Override<T> {
    fn set(&mut self, v: T);
}

impl<T> Override<T> for T {
    fn set(&mut self, v: T) {
        *self = v;
    }
}

impl<T> Override<T> for Option<T> {
    fn set(&mut self, v: T) {
        *self = Some(v);
    }
}

/// THE list of knobs: every behaviour that differs by preset, written once. It generates
/// [`PolicySpec`] (the file's `[policy]`: a preset and optional overrides), the knob fields of
/// [`Policy`] (resolved), [`Policy::resolve`]'s overrides and [`Policy::knobs`] (what
/// `explain` and docs/presets.md print). Each entry: doc, field, the type a file writes, the
/// resolved type (`Option<_>` where absence means "the default elsewhere"), and the name in
/// files. A preset is a value of [`Policy`] ([`Policy::preset`]); the field table
/// (`scenario/fields.rs`) has one `policy.<name>` row per entry, which a test checks.
macro_rules! knobs {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident : $spec:ty => $resolved:ty = $file:literal;
    )*) => {
        /// `[policy]`: a preset and optional knob overrides (`None`: the preset's value).
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PolicySpec {
            /// The preset the knobs start from.
            pub preset: Preset,
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none", rename = $file)]
                pub $field: Option<$spec>,
            )*
        }

        /// Every knob, resolved: a preset's values with the file's overrides applied.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Policy {
            /// The preset it started from.
            pub preset: Preset,
            $(
                $(#[doc = $doc])*
                pub $field: $resolved,
            )*
        }

        impl Policy {
            /// Every knob's file name, in the list's order.
            pub const KNOB_NAMES: &'static [&'static str] = &[$($file),*];

            /// `spec`'s overrides on top of `self`.
            fn apply(&mut self, spec: &PolicySpec) {
                $(
                    if let Some(v) = spec.$field.clone() {
                        Override::set(&mut self.$field, v);
                    }
                )*
            }

            /// Every knob: (its name in files, its value as a file would write it).
            pub fn knobs(&self) -> Vec<(&'static str, String)> {
                vec![$(($file, KnobValue::show(&self.$field))),*]
            }
        }
    };
}

knobs! {
    /// How the validator probes Redis.
    probe: ProbeMode => ProbeMode = "probe";
    /// The level a raising probe's error is logged at (DEBUG to p2, ERROR from p4).
    probe_error_log: LogLevel => LogLevel = "probe_error_log";
    /// Grace after a probe that said connected.
    grace: GraceMode => GraceMode = "grace";
    /// Length of the grace.
    grace_ms: u64 => u64 = "grace_ms";
    /// Probe again after the grace.
    reprobe_after_grace: bool => bool = "reprobe_after_grace";
    /// The poll loop's shape.
    loop_shape: LoopShape => LoopShape = "loop";
    /// Which per-check constants table to use.
    constants: ConstantsTable => ConstantsTable = "constants";
    /// Retries R of the redis check (absent: the table's).
    redis_retries: u32 => Option<u32> = "redis_retries";
    /// Delay d of the redis check (absent: the table's).
    redis_delay_ms: u64 => Option<u64> = "redis_delay_ms";
    /// Declared timeout T of the redis check, read by no loop (absent: the table's).
    declared_redis_timeout_ms: u64 => Option<u64> = "declared_redis_timeout_ms";
    /// Group timeouts G of phases 1, 2 and 3 (absent: the table's).
    group_timeouts_ms: [u64; 3] => Option<[u64; 3]> = "group_timeouts_ms";
    /// Deadline of the event-driven wait.
    deadline_ms: u64 => u64 = "deadline_ms";
    /// Whether `websocket_integration` requires `startup_complete`.
    circular_check: bool => bool = "circular_check";
    /// In staging, a false or raising redis probe counts as ready.
    mask_in_staging: bool => bool = "mask_in_staging";
    /// In staging, redis and websocket_integration are non-critical (readysim extension).
    noncritical_in_staging: bool => bool = "noncritical_in_staging";
    /// In staging, a failed validation is logged and startup carries on.
    bypass_in_staging: bool => bool = "bypass_in_staging";
    /// `cloud_run = true` counts as GCP (readysim extension; p9 and reference).
    detect_cloud_run: bool => bool = "detect_cloud_run";
    /// Outside GCP the validator skips everything and reports ready (readysim extension;
    /// false only for reference, which validates everywhere).
    skip_outside_gcp: bool => bool = "skip_outside_gcp";
    /// The per-connection guard.
    guard: GuardMode => GuardMode = "guard";
    /// The guard's own time limit (absent: by environment, 3000 staging and development /
    /// 5000 production / 1000 test).
    guard_timeout_ms: u64 => Option<u64> = "guard_timeout_ms";
    /// What a Redis error does to a WebSocket message.
    on_redis_error: OnRedisError => OnRedisError = "on_redis_error";
    /// `Retry-After` of a 503 (readysim extension).
    retry_after_ms: u64 => u64 = "retry_after_ms";
    /// The breaker never closes by itself (readysim extension; false only for reference).
    sticky_breaker: bool => bool = "sticky_breaker";
    /// Reconnect period while startup waits, instead of the backoff (readysim extension;
    /// reference: 500).
    startup_reconnect_ms: u64 => Option<u64> = "startup_reconnect_ms";
    /// The WebSocket route's generation.
    route: Route => Route = "route";
    /// Sleeps after accept, before authentication.
    accept_sleep_ms: u64 => u64 = "accept_sleep_ms";
    /// Managers per user before the factory refuses (route f1).
    manager_limit: u32 => u32 = "manager_limit";
    /// C of the emergency cleanup.
    manager_cleanup_ms: u64 => u64 = "manager_cleanup_ms";
    /// Run the emergency cleanup already at this many managers (0: only at the limit).
    manager_proactive_at: u32 => u32 = "manager_proactive_at";
    /// Period of the background sweep (the first that long after startup completes).
    manager_sweep_ms: u64 => u64 = "manager_sweep_ms";
    /// The sweep reclaims managers idle this long.
    manager_idle_ms: u64 => u64 = "manager_idle_ms";
    /// Which user ids the route's format check accepts (route f1).
    user_id_check: UserIdCheck => UserIdCheck = "user_id_check";
    /// The per-connection service check (routes f1 and f3).
    connection_check: ConnectionCheck => ConnectionCheck = "connection_check";
    /// The server keepalive's interval and pong timeout.
    keepalive_ms: u64 => u64 = "keepalive_ms";
    /// Failed connections that open the WebSocket authenticator's breaker (routes f3, f4).
    ws_auth_breaker_failures: u32 => u32 = "ws_auth_breaker_failures";
    /// How long the WebSocket authenticator's breaker stays open after its last failure.
    ws_auth_breaker_ms: u64 => u64 = "ws_auth_breaker_ms";
    /// The judge holds the design to the stricter contract (any 1011 is a violation):
    /// readysim's reference design, not the real code's.
    strict_contract: bool => bool = "strict_contract";
}

/// Retries R, delay d and declared timeout T of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConst {
    /// Retries.
    pub retries: u32,
    /// Delay between attempts.
    pub delay_ms: u64,
    /// What the code says the timeout is (no loop reads it).
    pub declared_ms: u64,
}

const fn c(retries: u32, delay_ms: u64, declared_ms: u64) -> CheckConst {
    CheckConst {
        retries,
        delay_ms,
        declared_ms,
    }
}

/// The per-check constants of a table, in [`Check::ALL`] order, and its group timeouts.
pub fn table(t: ConstantsTable) -> ([CheckConst; 6], [u64; 3]) {
    match t {
        ConstantsTable::V0Gcp => (
            [
                c(8, 2000, 45000),
                c(5, 1500, 30000),
                c(3, 1000, 20000),
                c(10, 2000, 60000),
                c(5, 1000, 30000),
                c(3, 1000, 20000),
            ],
            [60000, 60000, 30000],
        ),
        ConstantsTable::V0Local => (
            [
                c(3, 1000, 15000),
                c(5, 1000, 10000),
                c(3, 1000, 20000),
                c(5, 1000, 30000),
                c(5, 1000, 30000),
                c(3, 1000, 20000),
            ],
            [60000, 60000, 30000],
        ),
        ConstantsTable::Final => (
            [
                c(4, 1000, 3000),
                c(3, 500, 1500),
                c(2, 500, 2000),
                c(3, 500, 2000),
                c(2, 500, 1000),
                c(2, 500, 1000),
            ],
            [1500, 1000, 500],
        ),
    }
}

impl Policy {
    /// The preset's values, before overrides.
    pub fn preset(p: Preset) -> Policy {
        let p0 = Policy {
            preset: p,
            probe: ProbeMode::PropertyCall,
            probe_error_log: LogLevel::Debug,
            grace: GraceMode::None,
            grace_ms: 500,
            reprobe_after_grace: false,
            loop_shape: LoopShape::Linear,
            constants: ConstantsTable::V0Gcp,
            redis_retries: None,
            redis_delay_ms: None,
            declared_redis_timeout_ms: None,
            group_timeouts_ms: None,
            deadline_ms: spec::REFERENCE_DEADLINE_MS,
            circular_check: true,
            mask_in_staging: false,
            noncritical_in_staging: false,
            bypass_in_staging: false,
            detect_cloud_run: false,
            skip_outside_gcp: true,
            guard: GuardMode::None,
            guard_timeout_ms: None,
            on_redis_error: OnRedisError::Silent,
            retry_after_ms: spec::RETRY_AFTER_MS,
            sticky_breaker: true,
            startup_reconnect_ms: None,
            route: Route::F1,
            accept_sleep_ms: 0,
            manager_limit: spec::MANAGER_LIMIT,
            manager_cleanup_ms: 300_000,
            manager_proactive_at: 0,
            manager_sweep_ms: 300_000,
            manager_idle_ms: spec::MANAGER_IDLE_MS,
            user_id_check: UserIdCheck::V0,
            connection_check: ConnectionCheck::None,
            keepalive_ms: spec::KEEPALIVE_MS,
            ws_auth_breaker_failures: 5,
            ws_auth_breaker_ms: 30_000,
            strict_contract: false,
        };
        let p1 = Policy {
            declared_redis_timeout_ms: Some(60000),
            grace: GraceMode::Blocking,
            ..p0.clone()
        };
        // p4 on: staging masking, and the probe's error logged at ERROR.
        let p4 = Policy {
            mask_in_staging: true,
            probe_error_log: LogLevel::Error,
            user_id_check: UserIdCheck::E2e,
            connection_check: ConnectionCheck::AsyncBackoff,
            ..p1.clone()
        };
        // p7 on: the final table (p1's declared 60 s went with the old table), the guard,
        // route f4. f4 releases a manager when its socket closes; the incident-time constants
        // stay, so `route = "f1"` on these presets gets p0's, as the contract says.
        let p7 = Policy {
            constants: ConstantsTable::Final,
            declared_redis_timeout_ms: None,
            grace: GraceMode::Async,
            circular_check: false,
            mask_in_staging: true,
            noncritical_in_staging: true,
            bypass_in_staging: true,
            guard: GuardMode::Degrade,
            route: Route::F4,
            user_id_check: UserIdCheck::None,
            connection_check: ConnectionCheck::None,
            ..p4.clone()
        };
        let mut out = match p {
            Preset::P0 => p0,
            Preset::P1 => p1,
            Preset::P2 => Policy {
                grace: GraceMode::Async,
                ..p1
            },
            Preset::P4 => p4,
            Preset::P5 => Policy {
                noncritical_in_staging: true,
                user_id_check: UserIdCheck::E2eNarrow,
                ..p4
            },
            Preset::P6 => Policy {
                redis_retries: Some(4),
                redis_delay_ms: Some(1500),
                declared_redis_timeout_ms: Some(3000),
                group_timeouts_ms: Some([20000, 10000, 5000]),
                circular_check: false,
                mask_in_staging: true,
                noncritical_in_staging: true,
                bypass_in_staging: true,
                // 04:06-10:46 on 2025-09-09, before the "phase 2" cleanup.
                manager_cleanup_ms: 10_000,
                manager_proactive_at: 12,
                manager_sweep_ms: 120_000,
                user_id_check: UserIdCheck::Numeric,
                connection_check: ConnectionCheck::Blocking,
                ..p4
            },
            Preset::P7 => p7,
            Preset::P8 => Policy {
                probe: ProbeMode::Faithful,
                ..p7
            },
            Preset::P9 => Policy {
                probe: ProbeMode::Faithful,
                loop_shape: LoopShape::Exponential,
                guard: GuardMode::Queue,
                detect_cloud_run: true,
                // The constants of 2025-09-11 on.
                ws_auth_breaker_failures: 3,
                ws_auth_breaker_ms: 15_000,
                ..p7
            },
            Preset::Reference => Policy {
                probe: ProbeMode::Operational,
                probe_error_log: LogLevel::Error,
                loop_shape: LoopShape::Event,
                grace: GraceMode::None,
                circular_check: false,
                detect_cloud_run: true,
                skip_outside_gcp: false,
                guard: GuardMode::Reject,
                on_redis_error: OnRedisError::ErrorFrame,
                sticky_breaker: false,
                startup_reconnect_ms: Some(spec::REFERENCE_RECHECK_MS),
                route: Route::Reference,
                user_id_check: UserIdCheck::None,
                strict_contract: true,
                ..p0
            },
        };
        out.preset = p;
        out
    }

    /// The preset named in `spec`, with every override in `spec` applied. A file that picks
    /// its own constants table gets that table whole: the preset's changes relative to its
    /// own table (p1's declared 60 s, p6's redis 4 x 1.5 s and group timeouts) do not carry
    /// over; the file's own redis and group overrides then apply.
    pub fn resolve(spec: &PolicySpec) -> Policy {
        let mut p = Policy::preset(spec.preset);
        if spec.constants.is_some() {
            p.redis_retries = None;
            p.redis_delay_ms = None;
            p.declared_redis_timeout_ms = None;
            p.group_timeouts_ms = None;
        }
        p.apply(spec);
        p
    }

    /// The per-check constants, in [`Check::ALL`] order: the table's, with the redis
    /// overrides.
    pub fn checks(&self) -> [CheckConst; 6] {
        let mut checks = table(self.constants).0;
        let redis = &mut checks[Check::Redis as usize];
        redis.retries = self.redis_retries.unwrap_or(redis.retries);
        redis.delay_ms = self.redis_delay_ms.unwrap_or(redis.delay_ms);
        redis.declared_ms = self.declared_redis_timeout_ms.unwrap_or(redis.declared_ms);
        checks
    }

    /// Group timeouts G of phases 1-3: the override, or the table's.
    pub fn group_timeouts(&self) -> [u64; 3] {
        self.group_timeouts_ms
            .unwrap_or_else(|| table(self.constants).1)
    }

    /// Whether the validator believes it runs in GCP.
    pub fn detects_gcp(&self, env: EnvName, cloud_run: bool) -> bool {
        matches!(env, EnvName::Production | EnvName::Staging)
            || (self.detect_cloud_run && cloud_run)
    }

    /// Whether the validator (and the per-connection guard) check anything here: in GCP, or
    /// everywhere for a policy that does not skip outside it.
    pub fn validates(&self, env: EnvName, cloud_run: bool) -> bool {
        self.detects_gcp(env, cloud_run) || !self.skip_outside_gcp
    }

    /// The guard's limit in this environment.
    pub fn guard_timeout(&self, env: EnvName) -> u64 {
        self.guard_timeout_ms.unwrap_or(match env {
            EnvName::Staging | EnvName::Development => spec::GUARD_TIMEOUT_STAGING_MS,
            EnvName::Production => spec::GUARD_TIMEOUT_PRODUCTION_MS,
            EnvName::Test => spec::GUARD_TIMEOUT_TEST_MS,
        })
    }

    /// Constants of one check.
    pub fn check(&self, c: Check) -> CheckConst {
        self.checks()[c as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p0_redis_is_five_by_fifteen_hundred_with_dead_thirty_seconds() {
        let p = Policy::preset(Preset::P0);
        assert_eq!(p.check(Check::Redis), c(5, 1500, 30000));
        assert_eq!(p.probe, ProbeMode::PropertyCall);
        assert!(p.circular_check);
    }

    #[test]
    fn p1_only_changes_the_declared_timeout_and_the_grace() {
        let p0 = Policy::preset(Preset::P0);
        let p1 = Policy::preset(Preset::P1);
        assert_eq!(p1.check(Check::Redis).declared_ms, 60000);
        assert_eq!(
            p1.check(Check::Redis).retries,
            p0.check(Check::Redis).retries
        );
        assert_eq!(p1.grace, GraceMode::Blocking);
    }

    #[test]
    fn p6_cuts_the_budget() {
        let p = Policy::preset(Preset::P6);
        assert_eq!(p.check(Check::Redis), c(4, 1500, 3000));
        assert_eq!(p.group_timeouts(), [20000, 10000, 5000]);
        assert!(!p.circular_check && p.bypass_in_staging);
    }

    #[test]
    fn overrides_win_over_the_preset() {
        let spec = PolicySpec {
            preset: Preset::P0,
            probe: Some(ProbeMode::Faithful),
            redis_retries: Some(2),
            group_timeouts_ms: Some([1, 2, 3]),
            ..PolicySpec::default()
        };
        let p = Policy::resolve(&spec);
        assert_eq!(p.probe, ProbeMode::Faithful);
        assert_eq!(p.check(Check::Redis).retries, 2);
        assert_eq!(p.group_timeouts(), [1, 2, 3]);
    }

    #[test]
    fn only_p9_and_reference_read_cloud_run() {
        for p in Preset::ALL {
            let pol = Policy::preset(p);
            let expected = matches!(p, Preset::P9 | Preset::Reference);
            assert_eq!(
                pol.detects_gcp(EnvName::Development, true),
                expected,
                "{p:?}"
            );
            assert!(pol.detects_gcp(EnvName::Staging, false));
        }
    }
}

//! Policies as data: the `[policy]` table of a file, the resolved knobs of a design, and the
//! presets as values of it. Adding a preset is adding a variant below and its arm in
//! [`Policy::preset`] (a forgotten arm does not compile).

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

/// `[policy]`: a preset and optional knob overrides (`None`: the preset's value).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The preset the knobs start from.
    pub preset: Preset,
    /// How the validator probes Redis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeMode>,
    /// The level a raising probe's error is logged at (readysim extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_error_log: Option<LogLevel>,
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
    pub group_timeouts_ms: Option<[u64; 3]>,
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
    /// The WebSocket route's generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// Sleeps after accept, before authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_sleep_ms: Option<u64>,
    /// Managers per user before the factory refuses (route f1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_limit: Option<u32>,
    /// C of the emergency cleanup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_cleanup_ms: Option<u64>,
    /// Run the emergency cleanup already at this many managers (0: never early).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_proactive_at: Option<u32>,
    /// Period of the background sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_sweep_ms: Option<u64>,
    /// The sweep reclaims managers idle this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_idle_ms: Option<u64>,
    /// Which user ids the route's format check accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id_check: Option<UserIdCheck>,
    /// The per-connection service check (routes f1 and f3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_check: Option<ConnectionCheck>,
    /// The server keepalive's interval and pong timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_ms: Option<u64>,
    /// Failed connections that open the WebSocket authenticator's breaker (routes f3, f4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_auth_breaker_failures: Option<u32>,
    /// How long the WebSocket authenticator's breaker stays open after its last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_auth_breaker_ms: Option<u64>,
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

/// Every knob, resolved: a preset's values with the file's overrides applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The preset it started from.
    pub preset: Preset,
    /// Redis probe mode.
    pub probe: ProbeMode,
    /// The level a raising probe's error is logged at (DEBUG to p2, ERROR from p4).
    pub probe_error_log: LogLevel,
    /// Grace mode.
    pub grace: GraceMode,
    /// Grace length.
    pub grace_ms: u64,
    /// Probe again after the grace.
    pub reprobe_after_grace: bool,
    /// Loop shape.
    pub loop_shape: LoopShape,
    /// Constants table.
    pub constants: ConstantsTable,
    /// Per-check constants, in [`Check::ALL`] order (redis overrides applied).
    pub checks: [CheckConst; 6],
    /// Group timeouts of phases 1-3.
    pub group_timeouts_ms: [u64; 3],
    /// Deadline of the event-driven wait.
    pub deadline_ms: u64,
    /// The circular websocket_integration check.
    pub circular_check: bool,
    /// Staging masking of the redis probe.
    pub mask_in_staging: bool,
    /// Staging: redis and websocket_integration non-critical.
    pub noncritical_in_staging: bool,
    /// Staging bypass of a failed validation.
    pub bypass_in_staging: bool,
    /// `cloud_run` counts as GCP.
    pub detect_cloud_run: bool,
    /// Outside GCP, skip validation and report ready (the real validator; not reference).
    pub skip_outside_gcp: bool,
    /// Per-connection guard.
    pub guard: GuardMode,
    /// The guard's limit (`None`: from the environment, 3000 staging / 5000 production / 1000).
    pub guard_timeout_ms: Option<u64>,
    /// Redis errors while serving.
    pub on_redis_error: OnRedisError,
    /// Retry-After of a 503.
    pub retry_after_ms: u64,
    /// The breaker never closes by itself.
    pub sticky_breaker: bool,
    /// Reconnect period while startup waits (reference: 500).
    pub startup_reconnect_ms: Option<u64>,
    /// The WebSocket route's generation.
    pub route: Route,
    /// Sleeps after accept, before authentication.
    pub accept_sleep_ms: u64,
    /// Managers per user before the factory refuses (route f1).
    pub manager_limit: u32,
    /// C of the emergency cleanup.
    pub manager_cleanup_ms: u64,
    /// The emergency cleanup already runs at this many managers (0: only at the limit).
    pub manager_proactive_at: u32,
    /// Period of the background sweep (the first that long after startup completes).
    pub manager_sweep_ms: u64,
    /// The sweep reclaims managers idle this long.
    pub manager_idle_ms: u64,
    /// Which user ids the route's format check accepts (route f1).
    pub user_id_check: UserIdCheck,
    /// The per-connection service check (routes f1 and f3).
    pub connection_check: ConnectionCheck,
    /// The server keepalive's interval and pong timeout.
    pub keepalive_ms: u64,
    /// Failed connections that open the WebSocket authenticator's breaker (routes f3, f4).
    pub ws_auth_breaker_failures: u32,
    /// How long that breaker fails connections after its last counted failure.
    pub ws_auth_breaker_ms: u64,
}

impl Policy {
    /// The preset's values, before overrides.
    pub fn preset(p: Preset) -> Policy {
        let (checks, groups) = table(ConstantsTable::V0Gcp);
        let p0 = Policy {
            preset: p,
            probe: ProbeMode::PropertyCall,
            probe_error_log: LogLevel::Debug,
            grace: GraceMode::None,
            grace_ms: 500,
            reprobe_after_grace: false,
            loop_shape: LoopShape::Linear,
            constants: ConstantsTable::V0Gcp,
            checks,
            group_timeouts_ms: groups,
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
        };
        let redis = Check::Redis as usize;
        let p1 = {
            let mut x = p0.clone();
            x.checks[redis].declared_ms = 60000;
            x.grace = GraceMode::Blocking;
            x
        };
        // p4 on: staging masking, and the probe's error logged at ERROR.
        let p4 = Policy {
            mask_in_staging: true,
            probe_error_log: LogLevel::Error,
            user_id_check: UserIdCheck::E2e,
            connection_check: ConnectionCheck::AsyncBackoff,
            ..p1.clone()
        };
        let (p0_cleanup, p0_sweep) = (p0.manager_cleanup_ms, p0.manager_sweep_ms);
        let final_tables = table(ConstantsTable::Final);
        let staging_p7 = |mut x: Policy| {
            x.constants = ConstantsTable::Final;
            x.checks = final_tables.0;
            x.group_timeouts_ms = final_tables.1;
            x.grace = GraceMode::Async;
            x.circular_check = false;
            x.mask_in_staging = true;
            x.noncritical_in_staging = true;
            x.bypass_in_staging = true;
            x.guard = GuardMode::Degrade;
            x.route = Route::F4;
            x.user_id_check = UserIdCheck::None;
            x.connection_check = ConnectionCheck::None;
            // f4 releases a manager when its socket closes; the incident-time constants stay,
            // so `route = "f1"` on these presets gets p0's, as the contract says.
            x.manager_cleanup_ms = p0_cleanup;
            x.manager_proactive_at = 0;
            x.manager_sweep_ms = p0_sweep;
            x
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
            Preset::P6 => {
                let mut x = p4;
                x.checks[redis] = c(4, 1500, 3000);
                x.group_timeouts_ms = [20000, 10000, 5000];
                x.circular_check = false;
                x.mask_in_staging = true;
                x.noncritical_in_staging = true;
                x.bypass_in_staging = true;
                // 04:06-10:46 on 2025-09-09, before the "phase 2" cleanup.
                x.manager_cleanup_ms = 10_000;
                x.manager_proactive_at = 12;
                x.manager_sweep_ms = 120_000;
                x.user_id_check = UserIdCheck::Numeric;
                x.connection_check = ConnectionCheck::Blocking;
                x
            }
            Preset::P7 => staging_p7(p4),
            Preset::P8 => Policy {
                probe: ProbeMode::Faithful,
                ..staging_p7(p4)
            },
            Preset::P9 => Policy {
                probe: ProbeMode::Faithful,
                loop_shape: LoopShape::Exponential,
                guard: GuardMode::Queue,
                detect_cloud_run: true,
                // The constants of 2025-09-11 on.
                ws_auth_breaker_failures: 3,
                ws_auth_breaker_ms: 15_000,
                ..staging_p7(p4)
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
                ..p0
            },
        };
        out.preset = p;
        out
    }

    /// The preset named in `spec`, with every override in `spec` applied.
    pub fn resolve(spec: &PolicySpec) -> Policy {
        let mut p = Policy::preset(spec.preset);
        if let Some(t) = spec.constants {
            let (checks, groups) = table(t);
            p.constants = t;
            p.checks = checks;
            p.group_timeouts_ms = groups;
        }
        let redis = Check::Redis as usize;
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = spec.$field.clone() {
                    p.$field = v;
                }
            };
        }
        set!(probe);
        set!(probe_error_log);
        set!(grace);
        set!(grace_ms);
        set!(reprobe_after_grace);
        set!(deadline_ms);
        set!(circular_check);
        set!(mask_in_staging);
        set!(noncritical_in_staging);
        set!(bypass_in_staging);
        set!(detect_cloud_run);
        set!(skip_outside_gcp);
        set!(guard);
        set!(on_redis_error);
        set!(retry_after_ms);
        set!(sticky_breaker);
        set!(route);
        set!(accept_sleep_ms);
        set!(manager_limit);
        set!(manager_cleanup_ms);
        set!(manager_proactive_at);
        set!(manager_sweep_ms);
        set!(manager_idle_ms);
        set!(user_id_check);
        set!(connection_check);
        set!(keepalive_ms);
        set!(ws_auth_breaker_failures);
        set!(ws_auth_breaker_ms);
        if let Some(v) = spec.loop_shape {
            p.loop_shape = v;
        }
        if let Some(v) = spec.redis_retries {
            p.checks[redis].retries = v;
        }
        if let Some(v) = spec.redis_delay_ms {
            p.checks[redis].delay_ms = v;
        }
        if let Some(v) = spec.declared_redis_timeout_ms {
            p.checks[redis].declared_ms = v;
        }
        if let Some(g) = spec.group_timeouts_ms {
            p.group_timeouts_ms = g;
        }
        if spec.guard_timeout_ms.is_some() {
            p.guard_timeout_ms = spec.guard_timeout_ms;
        }
        if spec.startup_reconnect_ms.is_some() {
            p.startup_reconnect_ms = spec.startup_reconnect_ms;
        }
        p
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
        self.checks[c as usize]
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
        assert_eq!(p.group_timeouts_ms, [20000, 10000, 5000]);
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
        assert_eq!(p.group_timeouts_ms, [1, 2, 3]);
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

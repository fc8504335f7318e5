//! The words scenario files, traces, reports and the judge share: checks, client outcomes,
//! startup outcomes, violations, actors, environments and the policy knobs' values.
//!
//! Every enum here is declared once through [`names!`], which gives it `ALL`, `NAMES`, `name`,
//! `from_name`, `Display` and serde by name from the same list, so a new variant cannot drop
//! out of parsing, search, `compare` or the docs.

use std::fmt;

/// Declares a C-like enum whose variants have stable names, with `ALL`, `NAMES`, `name`,
/// `from_name`, `Display`, `Serialize` and `Deserialize` (by name) generated from one list.
macro_rules! names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $T:ident {
            $( $(#[$vmeta:meta])* $V:ident => $name:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $T {
            $( $(#[$vmeta])* $V, )+
        }

        impl $T {
            /// Every value, in declaration order.
            pub const ALL: [$T; [$($name),+].len()] = [$($T::$V),+];
            /// Every name, in the order of `ALL`.
            pub const NAMES: [&'static str; [$($name),+].len()] = [$($name),+];

            /// The stable name used in files, JSON and on the command line.
            pub const fn name(self) -> &'static str {
                match self {
                    $($T::$V => $name,)+
                }
            }

            /// The value with this name.
            pub fn from_name(s: &str) -> Option<$T> {
                match s {
                    $($name => Some($T::$V),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $T {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.name())
            }
        }

        impl serde::Serialize for $T {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $T {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Named;
                impl serde::de::Visitor<'_> for Named {
                    type Value = $T;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "one of {}", $T::NAMES.join(", "))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$T, E> {
                        $T::from_name(v).ok_or_else(|| E::unknown_variant(v, &$T::NAMES))
                    }
                }
                d.deserialize_str(Named)
            }
        }
    };
}
pub(crate) use names;

names! {
    /// The validator's checks, in phase order.
    pub enum Check {
        /// Phase 1.
        Database => "database",
        /// Phase 1.
        Redis => "redis",
        /// Phase 1.
        Auth => "auth",
        /// Phase 2.
        AgentSupervisor => "agent_supervisor",
        /// Phase 2.
        WebsocketBridge => "websocket_bridge",
        /// Phase 3: the circular check when the policy has it.
        WebsocketIntegration => "websocket_integration",
    }
}

names! {
    /// What a client attempt finally saw.
    pub enum Outcome {
        /// Accepted and every message sent.
        Served => "served",
        /// Closed with 1011 after accept.
        Closed1011 => "closed-1011",
        /// Closed with 1008 (policy violation: a failed authentication) after accept.
        Closed1008 => "closed-1008",
        /// Closed with 1001.
        Closed1001 => "closed-1001",
        /// HTTP 503 with Retry-After, no retries left.
        Rejected503 => "rejected-503",
        /// The handshake never completed.
        HandshakeFailed => "handshake-failed",
        /// The worker exited while the connection waited in the backlog.
        Reset => "reset",
        /// Nothing listened on the port.
        Refused => "refused",
    }
}

names! {
    /// Why the server closed a connection with 1011 or 1008.
    pub enum Reason {
        /// 1011 "Factory SSOT validation failed": the user's per-user manager limit.
        FactoryLimit => "factory-limit",
        /// 1011 "Internal error": the route's catch-all (the user-ID format check).
        InternalError => "internal-error",
        /// 1011 "SSOT Auth failed" (route f3) or 1008 (every other route).
        AuthFailed => "auth-failed",
        /// 1011 "keepalive ping timeout": the pong was not processed in time.
        Keepalive => "keepalive",
        /// 1011 from a Redis error while serving (the counterfactual `close_1011` knob).
        RedisError => "redis-error",
    }
}

impl Reason {
    /// The close frame's text, as the real code sends it.
    pub fn close_text(self) -> &'static str {
        match self {
            Reason::FactoryLimit => "Factory SSOT validation failed",
            Reason::InternalError => "Internal error",
            Reason::AuthFailed => "SSOT Auth failed",
            Reason::Keepalive => "keepalive ping timeout",
            Reason::RedisError => "Internal error (Redis)",
        }
    }
}

names! {
    /// The WebSocket route's generation (what an accepted connection goes through).
    pub enum Route {
        /// The incident-time route (p0-p6): per-user managers, the user-ID check.
        F1 => "f1",
        /// p6's evening route: auth failures close 1011.
        F3 => "f3",
        /// The SSOT route of p7-p9: managers released on close.
        F4 => "f4",
        /// readysim's reference route.
        Reference => "reference",
    }
}

names! {
    /// Which user ids the route's format check accepts.
    pub enum UserIdCheck {
        /// p0-p2: UUIDs, the listed test patterns and the structured form.
        V0 => "v0",
        /// p4: v0 plus `e2e-...`.
        E2e => "e2e",
        /// p5: v0 plus the narrowed `e2e-word_word` forms.
        E2eNarrow => "e2e-narrow",
        /// p6: e2e plus 15 to 21 digit ids.
        Numeric => "numeric",
        /// Any non-empty id.
        None => "none",
    }
}

names! {
    /// The per-connection service check of routes f1 and f3.
    pub enum ConnectionCheck {
        /// No check.
        None => "none",
        /// p4-p5: the faulty Redis check retried with 1+2+4+8+16 s sleeps (62 s, no freeze).
        AsyncBackoff => "async-backoff",
        /// p6: 500 ms blocking sleep, a Redis ping, 500 ms blocking sleep.
        Blocking => "blocking",
    }
}

names! {
    /// What a client's token is worth to the auth service.
    pub enum Token {
        /// Validates.
        Valid => "valid",
        /// Rejected by the validation request (an expired or forged token).
        Invalid => "invalid",
    }
}

names! {
    /// How startup ended.
    pub enum StartupOutcome {
        /// The validator said ready.
        Ready => "ready",
        /// DeterministicStartupError; the worker exited.
        Failed => "failed",
        /// Failed, but the staging bypass carried on.
        Bypassed => "bypassed",
        /// Outside GCP the validator skipped everything.
        Skipped => "skipped",
        /// Startup had not ended when the run did.
        Hang => "hang",
    }
}

names! {
    /// A named violation: one oracle of the judge (plus `hang`, a run that never ended).
    /// Declared in name order, so sets of violations iterate in the order files list them.
    pub enum Violation {
        /// The event loop froze for more than 50 ms.
        BlockedLoop => "blocked-loop",
        /// A check failed far from its declared timeout.
        DeadConfig => "dead-config",
        /// Redis declared ready while not Operational.
        FalseReady => "false-ready",
        /// The run ended (horizon, step budget, deadlock) before startup and every client did.
        Hang => "hang",
        /// A client attempt ended without an outcome it could see.
        LostConnection => "lost-connection",
        /// A message was neither handled nor answered.
        LostMessage => "lost-message",
        /// A readiness flag claimed something false.
        LyingFlag => "lying-flag",
        /// A probe error was logged below WARN or turned into ready.
        MaskedProbeError => "masked-probe-error",
        /// The same scenario gave a different trace.
        Nondeterminism => "nondeterminism",
        /// A check waited on state only the end of startup produces.
        SelfDependency => "self-dependency",
        /// The redis check failed although Redis was Operational long enough.
        SpuriousFailure => "spurious-failure",
        /// A published ready differed from a probe at the instant of publishing.
        StaleVerdict => "stale-verdict",
        /// A probe result was used without the probe running.
        UnawaitedProbe => "unawaited-probe",
        /// A 1011 close of the system's own doing.
        Ws1011 => "ws-1011",
    }
}

names! {
    /// Values of `ENVIRONMENT`.
    pub enum EnvName {
        /// GCP production.
        Production => "production",
        /// GCP staging.
        Staging => "staging",
        /// A developer machine.
        Development => "development",
        /// The test suite.
        Test => "test",
    }
}

names! {
    /// How the validator's redis probe behaves.
    pub enum ProbeMode {
        /// Reads `is_connected`.
        Faithful => "faithful",
        /// Calls the property: always raises (the incident's fault).
        PropertyCall => "property-call",
        /// A coroutine never awaited: truthy without running.
        Unawaited => "unawaited",
        /// Operational readiness with a live ping (reference).
        Operational => "operational",
    }
}

names! {
    /// The level a probe's own error is logged at (only DEBUG hides it from operators).
    pub enum LogLevel {
        /// Below WARN: nobody sees it (p0 to p2).
        Debug => "debug",
        /// ERROR (p4 on).
        Error => "error",
    }
}

names! {
    /// The grace after a probe said connected.
    pub enum GraceMode {
        /// No grace.
        None => "none",
        /// `time.sleep`: the whole event loop freezes.
        Blocking => "blocking",
        /// `asyncio.sleep`.
        Async => "async",
    }
}

names! {
    /// The poll loop's shape.
    pub enum LoopShape {
        /// Fixed delay.
        Linear => "linear",
        /// Doubling delay with jitter.
        Exponential => "exponential",
        /// Event-driven wait on the readiness gate.
        Event => "event",
    }
}

names! {
    /// Per-check constants tables.
    pub enum ConstantsTable {
        /// Incident-time GCP constants.
        V0Gcp => "v0-gcp",
        /// Incident-time non-GCP constants.
        V0Local => "v0-local",
        /// The final constants.
        Final => "final",
    }
}

names! {
    /// The per-connection guard.
    pub enum GuardMode {
        /// No guard.
        None => "none",
        /// On not-ready, accept anyway in degraded mode.
        Degrade => "degrade",
        /// On not-ready, HTTP 503 with Retry-After.
        Reject => "reject",
        /// On not-ready, hold in a startup queue.
        Queue => "queue",
    }
}

names! {
    /// What a Redis error does to a WebSocket message.
    pub enum OnRedisError {
        /// A silent default: the message is reported handled and is lost.
        Silent => "silent",
        /// An internal error closes the socket with 1011.
        Close1011 => "close_1011",
        /// The client gets an error frame.
        ErrorFrame => "error_frame",
    }
}

/// Who did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    /// The startup orchestrator.
    Startup,
    /// The readiness validator.
    Validator,
    /// The Redis manager (initialize, get_client, connect attempts).
    Manager,
    /// The manager's reconnect task.
    Reconnect,
    /// The manager's health task.
    Health,
    /// The per-connection guard and the server's accept path.
    Gateway,
    /// A client, by 1-based index in file order.
    Client(u32),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Startup => f.pad("startup"),
            Actor::Validator => f.pad("validator"),
            Actor::Manager => f.pad("manager"),
            Actor::Reconnect => f.pad("reconnect"),
            Actor::Health => f.pad("health"),
            Actor::Gateway => f.pad("gateway"),
            Actor::Client(n) => f.pad(&format!("client#{n}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            names: &[&str],
            name: fn(T) -> &'static str,
            from: fn(&str) -> Option<T>,
        ) {
            assert_eq!(all.len(), names.len());
            for (v, n) in all.iter().zip(names) {
                assert_eq!(name(*v), *n);
                assert_eq!(from(n), Some(*v));
            }
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "duplicate names");
            assert_eq!(from("no-such-name"), None);
        }
        check(&Check::ALL, &Check::NAMES, Check::name, Check::from_name);
        check(
            &Outcome::ALL,
            &Outcome::NAMES,
            Outcome::name,
            Outcome::from_name,
        );
        check(
            &Violation::ALL,
            &Violation::NAMES,
            Violation::name,
            Violation::from_name,
        );
        check(
            &StartupOutcome::ALL,
            &StartupOutcome::NAMES,
            StartupOutcome::name,
            StartupOutcome::from_name,
        );
    }

    #[test]
    fn violations_are_declared_in_name_order() {
        let mut sorted = Violation::NAMES;
        sorted.sort_unstable();
        assert_eq!(sorted, Violation::NAMES);
    }

    #[test]
    fn serde_uses_names_and_unknown_names_list_the_allowed_ones() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct W {
            v: Violation,
        }
        let w: W = toml::from_str("v = \"ws-1011\"").expect("parses");
        assert_eq!(w.v, Violation::Ws1011);
        assert_eq!(toml::to_string(&w).expect("ser").trim(), "v = \"ws-1011\"");
        let e = toml::from_str::<W>("v = \"ws-1012\"")
            .err()
            .expect("unknown");
        assert!(e.message().contains("unknown variant `ws-1012`"), "{e}");
        assert!(e.message().contains("`false-ready`"), "{e}");
    }
}

//! Scenario-parameter and decision strategies: independent draws, swarm regimes, boundary bias.
//!
//! Every draw is independent of the others (no `prop_flat_map`), so proptest's shrinker can
//! simplify each one on its own; constraints are derived in [`build`]. Optional parameters are
//! `Option`s that shrink to `None`, which means "the file format's default": a shrunk case
//! names only the parameters its failure needs.

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use crate::scenario::{
    Client, EnvName, Environment, PingSpike, PolicySpec, Preset, ProbeMode, RedisManager,
    RedisServer, Run, Scenario, Server, Services, Startup,
};

/// The horizon of every generated scenario. Runs end as soon as startup and every client are
/// done, so a generous horizon costs nothing unless the run really hangs.
pub const HORIZON_MS: u64 = 600_000;
/// "Never up" for the `down` regime (inside `scenario::limits::MAX_TIME_MS`).
pub const NEVER_MS: u64 = 1_000_000_000;
/// Most clients per generated scenario.
pub const MAX_CLIENTS: usize = 3;
/// Most messages per generated client.
pub const MAX_MESSAGES: u32 = 5;
/// Most decision values per generated scenario.
pub const MAX_DECISIONS: usize = 16;

/// Instants that matter with the default phases (validator start 2157-2162, the final and
/// v0 poll delays, the reconnect backoff at 519 + 0, 2000, 6000, 14000, 30000, the
/// incident's verdict at 9670). Draws land on them, +-2 ms.
pub const TIME_ANCHORS: [u64; 16] = [
    519, 524, 1000, 2157, 2162, 2500, 2519, 2659, 3160, 3661, 5000, 6519, 9670, 14519, 30519, 31000,
];
/// Lengths that matter: grace 500, poll delays, get_client's 100 ms ping timeout, deadlines.
pub const LENGTH_ANCHORS: [u64; 10] = [100, 101, 500, 501, 1000, 1500, 2000, 3000, 5000, 5001];
/// Delays after a client's arrival that matter while serving: the guard's probe costs 1 ms and
/// its grace 500, so a guarded client's first message (and its `get_client` ping) starts 501
/// ms after arrival; get_client's ping times out 100 ms later. A client following another by
/// 106-600 ms probes while the first is still connected and is in its grace when the first
/// one's inline reconnect completes.
pub const SERVE_OFFSETS: [u64; 8] = [0, 1, 101, 300, 499, 500, 501, 600];
/// Ping spike lengths around get_client's 100 ms timeout (a spike of at least 100 ms makes
/// its ping time out; one short enough lets the inline reconnect finish inside a 500 ms grace).
pub const SPIKE_LENGTHS: [u64; 6] = [99, 100, 101, 150, 250, 390];
/// Spawn jitters that make a background task fall due inside the validator's first 500 ms
/// grace with the default phases (tasks spawned at 519-524, the redis probe at 2163): a
/// blocking grace then wakes it late.
pub const JITTER_IN_GRACE: std::ops::Range<u64> = 1640..2140;
/// Arrivals of a late client: after the reconnect task's long pause (the 11th failure plus a
/// 60 s backoff: 362.5 s, plus spawn jitter and refusal latency, while Redis stays down),
/// so the run is still going when it happens.
pub const LATE_ARRIVAL: std::ops::Range<u64> = 370_000..400_000;

/// The Redis regime of one case (swarm testing: one behaviour per case, not a blend).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// Up from 0, no outage.
    Fast,
    /// Refused until `up_from`.
    Slow,
    /// Up (maybe late), then an outage and a ping spike.
    Flapping,
    /// Never up.
    Down,
    /// Up from 0; one latency spike placed relative to the first client's arrival (absolute
    /// when there is no client), so it can hit that client's first `get_client` ping.
    Spiky,
}

impl Regime {
    /// Every regime; shrinking moves toward the first.
    pub const ALL: [Regime; 5] = [
        Regime::Fast,
        Regime::Slow,
        Regime::Flapping,
        Regime::Down,
        Regime::Spiky,
    ];
}

/// One generated client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientParams {
    /// Arrival.
    pub at_ms: u64,
    /// Arrive this long after the previous client instead (ignored for the first client).
    pub follow_ms: Option<u64>,
    /// Messages once served.
    pub messages: u32,
    /// Gap between messages (`None`: the format's default).
    pub gap_ms: Option<u64>,
    /// Retries after a 503.
    pub retries: u32,
}

/// The raw draws of one case. [`build`] turns them into a scenario for a preset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// 0..10 production, 10..16 staging, 16..19 development on Cloud Run, 19 test off
    /// Cloud Run (shrinks toward production).
    pub env: u8,
    /// Index into [`Regime::ALL`].
    pub regime: u8,
    /// Redis up time (slow and flapping regimes).
    pub up_from_ms: u64,
    /// Outage start and length (flapping).
    pub outage: (u64, u64),
    /// Ping spike start and extra latency (flapping).
    pub spike: (u64, u64),
    /// Spiky regime: the spike's start after the first client's arrival, and its length.
    pub client_spike: (u64, u64),
    /// "Probe fixed": for presets whose grace never runs because their property-call probe
    /// never says connected, read `is_connected` instead (`probe = "faithful"`, as the
    /// spec's own scenarios do for p1), so the grace runs.
    pub probe_fixed: bool,
    /// `redis.server.connect_ms`.
    pub connect_ms: Option<u64>,
    /// `redis.server.refuse_ms`.
    pub refuse_ms: Option<u64>,
    /// `redis.server.ping_ms`.
    pub ping_ms: Option<u64>,
    /// `redis.manager.stabilize_ms`.
    pub stabilize_ms: Option<u64>,
    /// `redis.manager.reconnect_spawn_jitter_ms`.
    pub reconnect_jitter_ms: Option<u64>,
    /// `redis.manager.health_spawn_jitter_ms`.
    pub health_jitter_ms: Option<u64>,
    /// `redis.manager.health_interval_ms`.
    pub health_interval_ms: Option<u64>,
    /// `redis.manager.get_client_ping_timeout_ms`.
    pub get_client_timeout_ms: Option<u64>,
    /// `startup.database_ms`.
    pub database_ms: Option<u64>,
    /// `startup.cache_ms`.
    pub cache_ms: Option<u64>,
    /// `startup.services_ms`.
    pub services_ms: Option<u64>,
    /// `startup.websocket_ms`.
    pub websocket_ms: Option<u64>,
    /// `startup.finalize_ms`.
    pub finalize_ms: Option<u64>,
    /// `startup.probe_cost_ms`.
    pub probe_cost_ms: Option<u64>,
    /// One late non-Redis dependency: which (0..4) and when it is ready.
    pub late_service: Option<(u8, u64)>,
    /// `server.bind_ms`.
    pub bind_ms: Option<u64>,
    /// Clients.
    pub clients: Vec<ClientParams>,
    /// Same-instant choices and drawn factors.
    pub decisions: Vec<u32>,
}

/// A time near an anchor (+-2 ms) or anywhere in `0..hi`.
pub fn instant(hi: u64) -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        2 => (select(&TIME_ANCHORS[..]), 0u64..5).prop_map(|(a, d)| (a + d).saturating_sub(2)),
        1 => 0..hi,
    ]
}

/// A length near an anchor (+-1 ms) or anywhere in `lo..hi`.
pub fn length(lo: u64, hi: u64) -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        1 => (select(&LENGTH_ANCHORS[..]), 0u64..3).prop_map(|(a, d)| (a + d).saturating_sub(1)),
        1 => lo..hi,
    ]
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>>
where
    S::Value: Clone,
{
    weighted(0.25, s)
}

/// A delay near one of [`SERVE_OFFSETS`] (+-1 ms, 2:1) or anywhere in `0..hi`.
pub fn serve_offset(hi: u64) -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        2 => (select(&SERVE_OFFSETS[..]), 0u64..3).prop_map(|(a, d)| (a + d).saturating_sub(1)),
        1 => 0..hi,
    ]
}

/// A spawn jitter: anywhere in 0..3000, or one due inside the validator's first grace.
pub fn jitter() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![1 => 0u64..3000, 1 => JITTER_IN_GRACE]
}

/// A client's arrival: near an anchor, anywhere in the first 40 s, or (rarely) late enough to
/// see the reconnect task's long pause.
pub fn arrival() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        63 => instant(40_000),
        1 => LATE_ARRIVAL,
    ]
}

fn client() -> impl Strategy<Value = ClientParams> {
    (
        arrival(),
        weighted(0.5, serve_offset(2000)),
        0u32..=MAX_MESSAGES,
        opt(1u64..2000),
        0u32..3,
    )
        .prop_map(
            |(at_ms, follow_ms, messages, gap_ms, retries)| ClientParams {
                at_ms,
                follow_ms,
                messages,
                gap_ms,
                retries,
            },
        )
}

/// The strategy of one case's draws.
pub fn params() -> impl Strategy<Value = Params> {
    let redis = (
        0u8..20,
        0u8..5,
        instant(20_000),
        (instant(40_000), length(1, 20_000)),
        (instant(40_000), length(1, 6_000)),
        opt(1u64..200),
        opt(1u64..200),
        opt(1u64..50),
    );
    let manager = (
        opt(length(1, 5000)),
        opt(jitter()),
        opt(jitter()),
        opt(1000u64..30_000),
        opt(length(10, 500)),
    );
    let startup = (
        opt(0u64..3000),
        opt(0u64..100),
        opt(0u64..5000),
        opt(0u64..100),
        opt(0u64..1000),
        opt(0u64..5),
        opt((0u8..4, instant(20_000))),
        opt(0u64..5000),
    );
    let rest = (
        vec(client().boxed(), 0..=MAX_CLIENTS),
        vec(0u32..4, 0..=MAX_DECISIONS),
        (
            serve_offset(2000),
            prop_oneof![3 => select(&SPIKE_LENGTHS[..]), 1 => 1u64..6000],
        ),
        proptest::bool::weighted(0.25),
    );
    // Boxed groups: proptest's value trees of nested tuples are large and moved by value
    // several times per case; behind a box each move is a pointer (same draws, same shrinks).
    (
        redis.boxed(),
        manager.boxed(),
        startup.boxed(),
        rest.boxed(),
    )
        .prop_map(|(r, m, s, rest)| Params {
            env: r.0,
            regime: r.1,
            up_from_ms: r.2,
            outage: r.3,
            spike: r.4,
            client_spike: rest.2,
            probe_fixed: rest.3,
            connect_ms: r.5,
            refuse_ms: r.6,
            ping_ms: r.7,
            stabilize_ms: m.0,
            reconnect_jitter_ms: m.1,
            health_jitter_ms: m.2,
            health_interval_ms: m.3,
            get_client_timeout_ms: m.4,
            database_ms: s.0,
            cache_ms: s.1,
            services_ms: s.2,
            websocket_ms: s.3,
            finalize_ms: s.4,
            probe_cost_ms: s.5,
            late_service: s.6,
            bind_ms: s.7,
            clients: rest.0,
            decisions: rest.1,
        })
}

/// Whether `preset` has a grace that never runs because its property-call probe never says
/// connected (p1, p2, p4, p5, p6, p7): the presets [`Params::probe_fixed`] applies to.
pub fn grace_hidden_by_probe(preset: Preset) -> bool {
    use Preset::*;
    matches!(preset, P1 | P2 | P4 | P5 | P6 | P7)
}

/// The scenario of `p` under `preset`. Always valid (within `scenario::limits`): lengths are
/// at least 1 where the format requires it and the one outage is well formed.
pub fn build(preset: Preset, p: &Params) -> Scenario {
    let (env_name, cloud_run) = match p.env % 20 {
        0..10 => (EnvName::Production, true),
        10..16 => (EnvName::Staging, true),
        16..19 => (EnvName::Development, true),
        _ => (EnvName::Test, false),
    };
    let regime = Regime::ALL[usize::from(p.regime) % Regime::ALL.len()];
    let mut clients: Vec<Client> = Vec::with_capacity(p.clients.len().min(MAX_CLIENTS));
    for c in p.clients.iter().take(MAX_CLIENTS) {
        let at_ms = match (c.follow_ms, clients.last()) {
            (Some(d), Some(prev)) => prev.at_ms + d,
            _ => c.at_ms,
        };
        clients.push(Client {
            at_ms,
            messages: c.messages.min(MAX_MESSAGES),
            message_gap_ms: c.gap_ms.unwrap_or(crate::scenario::DEFAULT_MESSAGE_GAP_MS),
            retries: c.retries,
            ..Client::default()
        });
    }
    let d = RedisServer::default();
    let mut server = RedisServer {
        connect_ms: p.connect_ms.unwrap_or(d.connect_ms),
        refuse_ms: p.refuse_ms.unwrap_or(d.refuse_ms),
        ping_ms: p.ping_ms.unwrap_or(d.ping_ms),
        ..d
    };
    match regime {
        Regime::Fast => {}
        Regime::Slow => server.up_from_ms = p.up_from_ms,
        Regime::Flapping => {
            server.up_from_ms = p.up_from_ms.min(p.outage.0);
            let start = p.outage.0;
            server.outages = vec![[start, start + p.outage.1.max(1)]];
            if p.spike.1 > 0 {
                server.ping_spikes = vec![PingSpike {
                    at_ms: p.spike.0,
                    extra_ms: p.spike.1,
                }];
            }
        }
        Regime::Down => server.up_from_ms = NEVER_MS,
        Regime::Spiky => {
            let (offset, extra) = p.client_spike;
            server.ping_spikes = vec![PingSpike {
                at_ms: clients.first().map_or(0, |c| c.at_ms) + offset,
                extra_ms: extra.max(1),
            }];
        }
    }
    let dm = RedisManager::default();
    let manager = RedisManager {
        stabilize_ms: p.stabilize_ms.unwrap_or(dm.stabilize_ms),
        reconnect_spawn_jitter_ms: p.reconnect_jitter_ms.unwrap_or(0),
        health_spawn_jitter_ms: p.health_jitter_ms.unwrap_or(0),
        health_interval_ms: p.health_interval_ms.unwrap_or(dm.health_interval_ms).max(1),
        get_client_ping_timeout_ms: p
            .get_client_timeout_ms
            .unwrap_or(dm.get_client_ping_timeout_ms),
        ..dm
    };
    let ds = Startup::default();
    let startup = Startup {
        database_ms: p.database_ms.unwrap_or(ds.database_ms),
        cache_ms: p.cache_ms.unwrap_or(ds.cache_ms),
        services_ms: p.services_ms.unwrap_or(ds.services_ms),
        websocket_ms: p.websocket_ms.unwrap_or(ds.websocket_ms),
        finalize_ms: p.finalize_ms.unwrap_or(ds.finalize_ms),
        probe_cost_ms: p.probe_cost_ms.unwrap_or(ds.probe_cost_ms),
        ..ds
    };
    let mut services = Services::default();
    if let Some((which, at)) = p.late_service {
        match which % 4 {
            0 => services.database_ready_at_ms = at,
            1 => services.auth_ready_at_ms = at,
            2 => services.agent_supervisor_ready_at_ms = at,
            _ => services.websocket_bridge_ready_at_ms = at,
        }
    }
    Scenario {
        format: 1,
        name: "search-case".into(),
        summary: "a case generated by readysim explore".into(),
        notes: None,
        environment: Environment {
            name: env_name,
            cloud_run,
        },
        policy: PolicySpec {
            preset,
            probe: (p.probe_fixed && grace_hidden_by_probe(preset)).then_some(ProbeMode::Faithful),
            ..PolicySpec::default()
        },
        startup,
        services,
        redis: crate::scenario::Redis { server, manager },
        server: Server {
            bind_ms: p.bind_ms.unwrap_or(0),
        },
        auth: Default::default(),
        clients,
        run: Run {
            horizon_ms: HORIZON_MS,
            decisions: p.decisions.iter().take(MAX_DECISIONS).copied().collect(),
            max_steps: None,
        },
        expect: None,
        classification: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::scenario::GraceMode;
    use crate::search::runner::case_seed;
    use crate::search::shrink::{generate_one, valid};

    #[test]
    fn probe_fixed_applies_exactly_to_presets_whose_probe_hides_their_grace() {
        for preset in Preset::ALL {
            let p = Policy::preset(preset);
            let hidden = p.probe == ProbeMode::PropertyCall && p.grace != GraceMode::None;
            assert_eq!(grace_hidden_by_probe(preset), hidden, "{preset:?}");
        }
    }

    /// Every generated case loads, and the draws aimed at rare orderings do occur: spiky
    /// regimes with the spike after the first client, followers, late arrivals, and the probe
    /// override only where it applies.
    #[test]
    fn generated_cases_load_and_use_every_draw() {
        let (mut spiky, mut follow, mut late, mut fixed) = (0, 0, 0, 0);
        for preset in Preset::ALL {
            for i in 0..300 {
                let p = generate_one(case_seed(7, preset, i));
                let sc = build(preset, &p);
                assert!(valid(&sc), "{preset:?} case {i}: {sc:?}");
                if Regime::ALL[usize::from(p.regime) % Regime::ALL.len()] == Regime::Spiky {
                    let spike = sc.redis.server.ping_spikes[0].at_ms;
                    assert!(spike >= sc.clients.first().map_or(0, |c| c.at_ms));
                    spiky += 1;
                }
                if p.clients.iter().skip(1).any(|c| c.follow_ms.is_some()) {
                    follow += 1;
                }
                if sc.clients.iter().any(|c| LATE_ARRIVAL.contains(&c.at_ms)) {
                    late += 1;
                }
                if sc.policy.probe.is_some() {
                    assert!(grace_hidden_by_probe(preset), "{preset:?}");
                    assert_eq!(sc.policy.probe, Some(ProbeMode::Faithful));
                    fixed += 1;
                }
            }
        }
        assert!(spiky > 0 && follow > 0 && late > 0 && fixed > 0);
    }
}

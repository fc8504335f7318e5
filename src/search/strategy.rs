//! What search draws: every field of the table that has a search draw, the Redis and auth
//! environments as regimes, the clients (storms, identities, tokens, holds, reconnects) and
//! the decisions; two strategies over the same draws, `swarm` and `uniform`.
//!
//! Every draw is independent of the others (no `prop_flat_map`), so proptest's shrinker can
//! simplify each on its own; constraints are derived in [`build`]. Optional values shrink to
//! `None`, the file's default: a shrunk case names only what its failure needs.
//!
//! `swarm` (Groce et al.'s swarm testing as feature omission): each case sets only a share of
//! the drawn knobs (10 % to 90 %, drawn per case), and its numbers land on the boundaries that
//! matter with the default timeline half of the time. `uniform` sets every drawn knob (each
//! drawn with probability 1/2), each number anywhere in its range: the naive baseline.

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use crate::policy::Preset;
use crate::scenario::fields::{Access, Draw, Ty, FIELDS};
use crate::scenario::{
    Client, EnvName, Environment, PingSpike, Run, Scenario, Token, DEFAULT_MESSAGE_GAP_MS,
};

/// The horizon of every generated scenario (shrinking cuts it to what the failure needs).
pub const HORIZON_MS: u64 = 600_000;
/// "Never up" for the `down` regime (inside `scenario::limits::MAX_TIME_MS`).
pub const NEVER_MS: u64 = 1_000_000_000;
/// Most `[[clients]]` draws per case (a storm expands to more entries).
pub const MAX_CLIENTS: usize = 4;
/// Most messages per generated client.
pub const MAX_MESSAGES: u32 = 5;
/// Most decision values per generated scenario.
pub const MAX_DECISIONS: usize = 16;
/// Storm sizes: enough to hold the per-user limit (20) and to stall a keepalive (41 x 500 ms).
pub const STORM: std::ops::RangeInclusive<u32> = 20..=60;

/// Instants that matter with the default phases (validator start 2157-2162, the final and
/// v0 poll delays, the reconnect backoff at 519 + 0, 2000, 6000, 14000, 30000, the
/// incident's verdict at 9670, a keepalive ping of a client accepted at 3000). Draws land on
/// them, +-2 ms.
pub const TIME_ANCHORS: [u64; 18] = [
    519, 524, 1000, 2157, 2162, 2500, 2519, 2659, 3160, 3661, 5000, 6519, 9670, 14519, 23000,
    23010, 30519, 31000,
];
/// Lengths that matter: grace 500, poll delays, get_client's 100 ms timeout, the auth bounds
/// (500, 1000, 1500 per request of a 3000 ms call), cleanup windows, deadlines.
pub const LENGTH_ANCHORS: [u64; 14] = [
    100, 101, 500, 501, 1000, 1500, 2000, 3000, 5000, 5001, 10_000, 15_000, 20_000, 300_000,
];
/// Delays after the previous client's arrival that matter: a guarded client's first message
/// 501 ms after arrival, get_client's 100 ms timeout, a follower inside the first one's grace,
/// a storm just after an idle client's keepalive ping (20000 after accept, pong 1-50 later).
pub const SERVE_OFFSETS: [u64; 11] = [0, 1, 101, 300, 499, 500, 501, 600, 20_001, 20_010, 20_040];
/// Ping spike lengths around get_client's 100 ms timeout and the 5000 ms handshake bound.
pub const SPIKE_LENGTHS: [u64; 8] = [99, 100, 101, 150, 250, 390, 4995, 6000];
/// Spawn jitters that make a background task fall due inside the validator's first 500 ms
/// grace with the default phases (tasks spawned at 519-524, the redis probe at 2163).
pub const JITTER_IN_GRACE: std::ops::Range<u64> = 1640..2140;
/// Arrivals of a late client: after the reconnect task's long pause (about 362.5 s).
pub const LATE_ARRIVAL: std::ops::Range<u64> = 370_000..400_000;
/// Storm spacings: together, close, and around the cleanup window C / 20 (15000).
pub const STORM_EVERY: [u64; 6] = [0, 1, 500, 14_990, 15_000, 15_001];
/// User ids worth trying: the entry's own default, one shared by every entry, and the
/// predicates' boundaries (e2e ids, a staging E2E id, a Google numeric id, a UUID).
pub const USER_IDS: [&str; 7] = [
    "",
    "user_1",
    "e2e-staging_pipeline",
    "e2e-deployment-test",
    "staging-e2e-user-001",
    "123456789012345678901",
    "123e4567-e89b-12d3-a456-426614174000",
];

/// Swarm: the chance that a knob has a drawn value at all (shrinking removes it).
pub const SWARM_KNOB_P: f64 = 0.9;
/// Swarm's knob densities (percent of drawn knobs a case sets), one per case: feature
/// omission knob by knob. Omitting whole knob groups half the time was measured worse than
/// uniform (geometric mean 0.68x with `readysim bench search`, 0.95x at 3/4), because most
/// failures need knobs of two groups; see docs/search.md.
pub const SWARM_DENSITIES: [u8; 5] = [10, 30, 50, 70, 90];

/// Which search strategy draws the cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Feature omission over knob groups, boundary anchors.
    #[default]
    Swarm,
    /// Every group, every number uniform in its range (the naive baseline).
    Uniform,
}

impl Kind {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Swarm => "swarm",
            Kind::Uniform => "uniform",
        }
    }

    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Kind> {
        [Kind::Swarm, Kind::Uniform]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// The knob groups of the table's rows (the reference preset's policy groups are never varied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The validator's knobs.
    Validator = 0,
    /// The guard and the message path.
    Guard = 1,
    /// The accept path: route, managers, user-ID check, service check, keepalive.
    Route = 2,
    /// The manager's knobs and timings.
    Manager = 3,
    /// Startup phases, other services, the bind.
    Startup = 4,
    /// The Redis server's latencies.
    Redis = 5,
    /// The auth service.
    Auth = 6,
    /// Client storms, identities, tokens, holds and reconnects.
    Clients = 7,
}

/// The group a table row belongs to (None: not drawn from the table).
pub fn group_of(path: &str) -> Option<Group> {
    let knob = path.strip_prefix("policy.")?;
    Some(match knob {
        "guard" | "guard_timeout_ms" | "retry_after_ms" | "on_redis_error" => Group::Guard,
        "sticky_breaker" | "startup_reconnect_ms" => Group::Manager,
        k if k == "route"
            || k == "accept_sleep_ms"
            || k.starts_with("manager_")
            || k == "user_id_check"
            || k == "connection_check"
            || k == "keepalive_ms"
            || k.starts_with("ws_auth_") =>
        {
            Group::Route
        }
        _ => Group::Validator,
    })
}

fn group_of_row(path: &str) -> Option<Group> {
    group_of(path).or_else(|| {
        let top = path.split('.').next()?;
        Some(match top {
            "startup" | "services" | "server" => Group::Startup,
            "auth" => Group::Auth,
            "redis" if path.starts_with("redis.manager.") => Group::Manager,
            "redis" => Group::Redis,
            _ => return None,
        })
    })
}

/// The table rows search draws, in table order (one value of [`Params::knobs`] each).
pub fn drawn_rows() -> impl Iterator<Item = &'static crate::scenario::fields::Field> {
    FIELDS
        .iter()
        .filter(|f| f.draw != Draw::None && !f.path.contains("[]"))
}

/// The Redis regime of one case (one behaviour per case, not a blend).
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
    /// Up from 0; one latency spike placed relative to the first client's arrival.
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

/// One generated `[[clients]]` draw.
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
    /// A storm: this many connections (`None`: one), `every_ms` apart, of one user or (when
    /// `distinct`) of as many users.
    pub storm: Option<(u32, u64, bool)>,
    /// Index into [`USER_IDS`] (0: the entry's default).
    pub user: u8,
    /// A token the service rejects.
    pub invalid_token: bool,
    /// `hold_ms`, `reconnects`, `reconnect_gap_ms`, `rtt_ms`.
    pub hold_ms: Option<u64>,
    /// See `hold_ms`.
    pub reconnects: u32,
    /// See `hold_ms`.
    pub reconnect_gap_ms: Option<u64>,
    /// See `hold_ms`.
    pub rtt_ms: Option<u64>,
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
    /// The auth service: 0 steady, 1 an outage, 2 a spike; start and length.
    pub auth: (u8, u64, u64),
    /// One optional value per [`drawn_rows`] row.
    pub knobs: Vec<Option<u64>>,
    /// Swarm's per-case knob density in percent: a drawn knob is set iff its rank is below it
    /// (so one case sets few knobs and another many; uniform sets every drawn knob).
    pub density: u8,
    /// One rank in 0..100 per [`drawn_rows`] row.
    pub ranks: Vec<u8>,
    /// Clients.
    pub clients: Vec<ClientParams>,
    /// Same-instant choices and drawn factors.
    pub decisions: Vec<u32>,
}

/// A time near an anchor (+-2 ms) or anywhere in `0..hi`.
pub fn instant(hi: u64) -> BoxedStrategy<u64> {
    prop_oneof![
        2 => (select(&TIME_ANCHORS[..]), 0u64..5).prop_map(|(a, d)| (a + d).saturating_sub(2)),
        1 => 0..hi.max(1),
    ]
    .boxed()
}

/// A length near an anchor within `lo..=hi` (+-1 ms) or anywhere in it.
pub fn length(lo: u64, hi: u64) -> BoxedStrategy<u64> {
    let anchors: Vec<u64> = LENGTH_ANCHORS
        .iter()
        .copied()
        .filter(|a| *a >= lo && *a <= hi)
        .collect();
    if anchors.is_empty() {
        return (lo..=hi).boxed();
    }
    prop_oneof![
        1 => (select(anchors), 0u64..3).prop_map(move |(a, d)| (a + d).saturating_sub(1).clamp(lo, hi)),
        1 => lo..=hi,
    ]
    .boxed()
}

/// A delay near one of [`SERVE_OFFSETS`] (+-1 ms, 2:1) or anywhere in `0..hi`.
pub fn serve_offset(hi: u64) -> BoxedStrategy<u64> {
    prop_oneof![
        2 => (select(&SERVE_OFFSETS[..]), 0u64..3).prop_map(|(a, d)| (a + d).saturating_sub(1)),
        1 => 0..hi,
    ]
    .boxed()
}

/// The draw of one table row.
fn row_draw(draw: Draw, ty: Ty, kind: Kind) -> BoxedStrategy<u64> {
    let names = match ty {
        Ty::Name(n) => n.len() as u64,
        _ => 2,
    };
    match (draw, kind) {
        (Draw::Names, _) => (0..names).boxed(),
        (Draw::Flag, _) => (0u64..2).boxed(),
        (Draw::Uniform(lo, hi), _) => (lo..=hi).boxed(),
        (Draw::Length(lo, hi), Kind::Swarm) => length(lo, hi),
        (Draw::Length(lo, hi), Kind::Uniform) => (lo..=hi).boxed(),
        (Draw::Instant(hi), Kind::Swarm) => instant(hi),
        (Draw::Instant(hi), Kind::Uniform) => (0..=hi).boxed(),
        (Draw::Jitter, Kind::Swarm) => prop_oneof![1 => 0u64..3000, 1 => JITTER_IN_GRACE].boxed(),
        (Draw::Jitter, Kind::Uniform) => (0u64..3000).boxed(),
        (Draw::None, _) => Just(0).boxed(),
    }
}

fn client(kind: Kind) -> BoxedStrategy<ClientParams> {
    let swarm = kind == Kind::Swarm;
    let at = if swarm {
        prop_oneof![63 => instant(40_000), 1 => LATE_ARRIVAL].boxed()
    } else {
        (0u64..400_000).boxed()
    };
    let follow = if swarm {
        serve_offset(2000)
    } else {
        (0u64..25_000).boxed()
    };
    let storm = if swarm {
        weighted(
            0.3,
            (
                STORM,
                prop_oneof![2 => select(&STORM_EVERY[..]), 1 => 0u64..20_000],
                any::<bool>(),
            ),
        )
        .boxed()
    } else {
        weighted(0.5, (1u32..=60, 0u64..20_000, any::<bool>())).boxed()
    };
    let base = (
        at,
        weighted(0.5, follow),
        0u32..=MAX_MESSAGES,
        weighted(0.25, 1u64..2000),
        0u32..3,
    );
    let extra = (
        storm,
        0u8..USER_IDS.len() as u8,
        proptest::bool::weighted(if swarm { 0.3 } else { 0.5 }),
        weighted(
            0.3,
            if swarm {
                length(1, 60_000)
            } else {
                (1u64..=60_000).boxed()
            },
        ),
        0u32..4,
        weighted(0.3, 0u64..3000),
        weighted(0.3, if swarm { 1u64..100 } else { 1u64..2000 }),
    );
    (base, extra)
        .prop_map(|(b, e)| ClientParams {
            at_ms: b.0,
            follow_ms: b.1,
            messages: b.2,
            gap_ms: b.3,
            retries: b.4,
            storm: e.0,
            user: e.1,
            invalid_token: e.2,
            hold_ms: e.3,
            reconnects: e.4,
            reconnect_gap_ms: e.5,
            rtt_ms: e.6,
        })
        .boxed()
}

/// The strategy of one case's draws.
pub fn params(kind: Kind) -> impl Strategy<Value = Params> {
    let swarm = kind == Kind::Swarm;
    let p_knob = if swarm { SWARM_KNOB_P } else { 0.5 };
    let knobs: Vec<BoxedStrategy<Option<u64>>> = drawn_rows()
        .map(|f| weighted(p_knob, row_draw(f.draw, f.ty, kind)).boxed())
        .collect();
    let n = drawn_rows().count();
    let density = if swarm {
        select(&SWARM_DENSITIES[..]).boxed()
    } else {
        Just(100u8).boxed()
    };
    let ranks = vec(0u8..100, n);
    let redis = (
        0u8..20,
        0u8..5,
        if swarm {
            instant(20_000)
        } else {
            (0u64..20_000).boxed()
        },
        (
            if swarm {
                instant(40_000)
            } else {
                (0u64..40_000).boxed()
            },
            if swarm {
                length(1, 20_000)
            } else {
                (1u64..20_000).boxed()
            },
        ),
        (
            if swarm {
                instant(40_000)
            } else {
                (0u64..40_000).boxed()
            },
            if swarm {
                length(1, 6_000)
            } else {
                (1u64..6_000).boxed()
            },
        ),
        (
            if swarm {
                serve_offset(2000)
            } else {
                (0u64..2000).boxed()
            },
            if swarm {
                prop_oneof![3 => select(&SPIKE_LENGTHS[..]), 1 => 1u64..6000].boxed()
            } else {
                (1u64..6000).boxed()
            },
        ),
    );
    let auth = (
        0u8..3,
        if swarm {
            instant(40_000)
        } else {
            (0u64..40_000).boxed()
        },
        if swarm {
            length(1, 20_000)
        } else {
            (1u64..20_000).boxed()
        },
    );
    let rest = (
        vec(client(kind), 0..=MAX_CLIENTS),
        vec(0u32..4, 0..=MAX_DECISIONS),
    );
    // Boxed groups: proptest's value trees of nested tuples are large and moved by value
    // several times per case; behind a box each move is a pointer (same draws, same shrinks).
    (
        redis.boxed(),
        auth.boxed(),
        (knobs, density, ranks),
        rest.boxed(),
    )
        .prop_map(|(r, auth, (knobs, density, ranks), rest)| Params {
            env: r.0,
            regime: r.1,
            up_from_ms: r.2,
            outage: r.3,
            spike: r.4,
            client_spike: r.5,
            auth,
            knobs,
            density,
            ranks,
            clients: rest.0,
            decisions: rest.1,
        })
}

/// Whether a case of `preset` varies group `g`. The reference design's own knobs are its
/// promise: search varies its environment and clients, never its policy.
fn varies(preset: Preset, g: Group) -> bool {
    let policy = matches!(
        g,
        Group::Validator | Group::Guard | Group::Route | Group::Manager
    );
    !(preset == Preset::Reference && policy)
}

/// Sets row `f` of `sc` from a drawn value.
fn apply(sc: &mut Scenario, f: &crate::scenario::fields::Field, v: u64) {
    let num = v.clamp(f.min, f.max.max(f.min));
    match f.access {
        Access::Num(_, set) => set(sc, num),
        Access::Opt(_, set, _) => set(sc, Some(num)),
        Access::Name(_, set) => set(sc, Some(v as usize)),
        Access::Flag(_, set) => set(sc, Some(v % 2 == 1)),
        Access::Client(..) | Access::Outage(..) | Access::Spike(..) | Access::None => {}
    }
}

/// The scenario of `p` under `preset`. Always valid (within `scenario::limits`).
pub fn build(preset: Preset, p: &Params) -> Scenario {
    let mut sc = Scenario::new("search-case", "a case generated by readysim explore");
    sc.policy.preset = preset;
    sc.environment = match p.env % 20 {
        0..10 => Environment {
            name: EnvName::Production,
            cloud_run: true,
        },
        10..16 => Environment {
            name: EnvName::Staging,
            cloud_run: true,
        },
        16..19 => Environment {
            name: EnvName::Development,
            cloud_run: true,
        },
        _ => Environment {
            name: EnvName::Test,
            cloud_run: false,
        },
    };
    for ((f, v), rank) in drawn_rows().zip(&p.knobs).zip(&p.ranks) {
        let (Some(v), Some(g)) = (v, group_of_row(f.path)) else {
            continue;
        };
        if *rank < p.density && varies(preset, g) {
            apply(&mut sc, f, *v);
        }
    }
    let extras = varies(preset, Group::Clients);
    for c in p.clients.iter().take(MAX_CLIENTS) {
        let at_ms = match (c.follow_ms, sc.clients.last()) {
            (Some(d), Some(prev)) => prev.at_ms.saturating_add(d),
            _ => c.at_ms,
        };
        let mut client = Client {
            at_ms,
            messages: c.messages.min(MAX_MESSAGES),
            message_gap_ms: c.gap_ms.unwrap_or(DEFAULT_MESSAGE_GAP_MS),
            retries: c.retries,
            ..Client::default()
        };
        let mut copies = 1;
        let mut spacing = 0;
        if extras {
            let id = USER_IDS[usize::from(c.user) % USER_IDS.len()];
            client.user_id = (!id.is_empty()).then(|| id.to_string());
            if c.invalid_token {
                client.token = Token::Invalid;
            }
            if let Some(h) = c.hold_ms {
                client.hold_ms = h;
            }
            client.reconnects = c.reconnects;
            if let Some(g) = c.reconnect_gap_ms {
                client.reconnect_gap_ms = g;
            }
            if let Some(r) = c.rtt_ms {
                client.rtt_ms = r;
            }
            if let Some((n, every, distinct)) = c.storm {
                if distinct && client.user_id.is_none() {
                    // As many users as connections: one entry each (default ids differ).
                    copies = n;
                    spacing = every;
                } else {
                    client.count = n;
                    client.every_ms = every;
                }
                // Storms send little, so their work stays well inside the limits.
                client.messages = client.messages.min(1);
                client.retries = 0;
            }
        }
        for i in 0..copies {
            let mut c = client.clone();
            c.at_ms = at_ms.saturating_add(u64::from(i).saturating_mul(spacing));
            sc.clients.push(c);
        }
    }
    let first = sc.clients.first().map_or(0, |c| c.at_ms);
    let s = &mut sc.redis.server;
    match Regime::ALL[usize::from(p.regime) % Regime::ALL.len()] {
        Regime::Fast => {}
        Regime::Slow => s.up_from_ms = p.up_from_ms,
        Regime::Flapping => {
            s.up_from_ms = p.up_from_ms.min(p.outage.0);
            let start = p.outage.0;
            s.outages = vec![[start, start + p.outage.1.max(1)]];
            s.ping_spikes = vec![PingSpike {
                at_ms: p.spike.0,
                extra_ms: p.spike.1.max(1),
            }];
        }
        Regime::Down => s.up_from_ms = NEVER_MS,
        Regime::Spiky => {
            let (offset, extra) = p.client_spike;
            s.ping_spikes = vec![PingSpike {
                at_ms: first + offset,
                extra_ms: extra.max(1),
            }];
        }
    }
    if varies(preset, Group::Auth) {
        let (kind, start, len) = p.auth;
        match kind % 3 {
            1 => sc.auth.outages = vec![[start, start + len.max(1)]],
            2 => {
                sc.auth.spikes = vec![PingSpike {
                    at_ms: first + start % 2000,
                    extra_ms: len.max(1),
                }]
            }
            _ => {}
        }
    }
    // Room after the last arrival (a storm's last copy included): a run cut off before a
    // client even arrived would be a "hang" of the generator's making.
    let last = sc
        .clients
        .iter()
        .map(|c| {
            c.at_ms
                .saturating_add(u64::from(c.count.saturating_sub(1)).saturating_mul(c.every_ms))
        })
        .max()
        .unwrap_or(0);
    sc.run = Run {
        horizon_ms: HORIZON_MS.max(last.saturating_add(HORIZON_MS / 2)),
        decisions: p.decisions.iter().take(MAX_DECISIONS).copied().collect(),
        max_steps: None,
    };
    sc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::runner::case_seed;
    use crate::search::shrink::{generate_one, valid};

    /// Every generated case loads, under both strategies, and the draws aimed at rare shapes
    /// do occur: spiky regimes, followers, late arrivals, storms, odd ids, knob overrides.
    #[test]
    fn generated_cases_load_and_use_every_draw() {
        for kind in [Kind::Swarm, Kind::Uniform] {
            let (mut spiky, mut follow, mut storm, mut ids, mut knobs) = (0, 0, 0, 0, 0);
            for preset in Preset::ALL {
                for i in 0..200 {
                    let p = generate_one(case_seed(7, preset, i), kind);
                    let sc = build(preset, &p);
                    assert!(valid(&sc), "{preset:?} case {i}: {sc:?}");
                    if Regime::ALL[usize::from(p.regime) % Regime::ALL.len()] == Regime::Spiky {
                        spiky += 1;
                    }
                    if p.clients.iter().skip(1).any(|c| c.follow_ms.is_some()) {
                        follow += 1;
                    }
                    if sc.clients.len() >= 20 || sc.clients.iter().any(|c| c.count >= 20) {
                        storm += 1;
                    }
                    if sc.clients.iter().any(|c| c.user_id.is_some()) {
                        ids += 1;
                    }
                    if sc.policy
                        != (crate::policy::PolicySpec {
                            preset,
                            ..Default::default()
                        })
                    {
                        knobs += 1;
                        assert_ne!(preset, Preset::Reference, "the reference keeps its knobs");
                    }
                }
            }
            assert!(
                spiky > 0 && follow > 0 && storm > 0 && ids > 0 && knobs > 0,
                "{kind:?}"
            );
        }
    }
}

//! What search draws: every environment field of the table that has a search draw (and, for
//! what-ifs, every code field), the Redis and auth environments as regimes with up to three
//! outages and spikes each, the clients (storms of up to 100 connections, identities, tokens,
//! holds, reconnects, round trips) and the decisions with the instant they start to apply;
//! two strategies over the same draws, `swarm` and `uniform`.
//!
//! The code under test is held still: a case starts from the code's template (a preset plus
//! the knobs the user named) and only the environment varies, unless the search was asked to
//! vary the code too (`--vary-code`), whose cases are then labelled what-ifs.
//!
//! A case is a fixed row of numbers (genes) drawn from the case's RNG by one layout function
//! (`sample`); the same function reads them back (`decode`), so drawing costs a few
//! hundred RNG calls, not a proptest value tree per draw (which cost more than the replay).
//! [`ParamsStrategy`] is the proptest strategy over it: its tree bisects one gene at a time
//! toward its simplest value, skipping genes the current case does not use. Optional values
//! shrink to `None`, the file's default: a shrunk case names only what its failure needs;
//! constraints are derived in [`build`].
//!
//! `swarm` (Groce et al.'s swarm testing as feature omission): each case sets only a share of
//! the drawn knobs (10 % to 90 %, drawn per case), its numbers land on the boundaries that
//! matter with the default timeline half of the time, and one case in five lays its clients
//! out as a plan aimed at a known hazard (a storm just after an idle connection's keepalive
//! ping). `uniform` sets every drawn knob (each drawn with probability 1/2), each number
//! anywhere in its range, no plans: the naive baseline.

use proptest::prelude::Rng;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::{TestRng, TestRunner};

use crate::scenario::code::changed_code;
use crate::scenario::deps::Dep;
use crate::scenario::fields::{Access, Draw, Role, Ty, FIELDS};
use crate::scenario::{
    Client, EnvName, Environment, PingSpike, Run, Scenario, Token, DEFAULT_MESSAGE_GAP_MS,
};

/// The horizon of every generated scenario (shrinking cuts it to what the failure needs).
pub(crate) const HORIZON_MS: u64 = 600_000;
/// "Never up" for the `down` regime (inside `scenario::limits::MAX_TIME_MS`).
pub(crate) const NEVER_MS: u64 = 1_000_000_000;
/// Most `[[clients]]` draws per case (a storm expands to more entries).
pub(crate) const MAX_CLIENTS: usize = 4;
/// Most messages per generated client.
pub(crate) const MAX_MESSAGES: u32 = 5;
/// Most decision values per generated scenario (they apply from a drawn instant on, so a
/// short list can order a storm at any instant).
pub(crate) const MAX_DECISIONS: usize = 16;
/// Largest decision value: enough to pick any of 100 same-instant tasks.
pub(crate) const MAX_DECISION: u64 = 99;
/// Storm sizes: from the per-user limit (20) to 100 connections at one instant.
pub(crate) const STORM: std::ops::RangeInclusive<u32> = 20..=100;
/// Storm sizes that matter: one past the limit, enough 500 ms freezes to outlast a 20 s pong
/// wait (41, 45), and the large storms.
pub(crate) const STORM_SIZES: [u64; 6] = [21, 41, 45, 60, 80, 100];
/// Most reconnects of a generated client.
pub(crate) const MAX_RECONNECTS: u32 = 25;
/// Longest keepalive round trip drawn (longer than the 20 s pong wait: an unresponsive client).
pub(crate) const MAX_RTT_MS: u64 = 30_000;
/// Round trips that matter: quick, slow, around the 20 s pong wait, beyond it.
pub(crate) const RTT_ANCHORS: [u64; 7] = [1, 50, 1000, 19_999, 20_000, 20_001, 30_000];
/// Most outages and latency spikes per list (Redis and auth each).
pub(crate) const MAX_WINDOWS: usize = 3;

/// Instants that matter with the default phases (validator start 2157-2162, the final and
/// v0 poll delays, the reconnect backoff at 519 + 0, 2000, 6000, 14000, 30000, the
/// incident's verdict at 9670, a keepalive ping of a client accepted at 3000). Draws land on
/// them, +-2 ms.
pub(crate) const TIME_ANCHORS: [u64; 18] = [
    519, 524, 1000, 2157, 2162, 2500, 2519, 2659, 3160, 3661, 5000, 6519, 9670, 14519, 23000,
    23010, 30519, 31000,
];
/// Lengths that matter: grace 500, poll delays, get_client's 100 ms timeout, the auth bounds
/// (500, 1000, 1500 per request of a 3000 ms call), cleanup windows, deadlines, a hold that
/// outlasts a keepalive ping and its pong wait.
pub(crate) const LENGTH_ANCHORS: [u64; 16] = [
    100, 101, 500, 501, 1000, 1500, 2000, 3000, 5000, 5001, 10_000, 15_000, 20_000, 45_000, 60_000,
    300_000,
];
/// Delays after the previous client's arrival that matter: a guarded client's first message
/// 501 ms after arrival, get_client's 100 ms timeout, a follower inside the first one's grace,
/// a storm just after an idle client's keepalive ping (20000 after accept, pong 1-50 later).
pub(crate) const SERVE_OFFSETS: [u64; 11] =
    [0, 1, 101, 300, 499, 500, 501, 600, 20_001, 20_010, 20_040];
/// Ping spike lengths around get_client's 100 ms timeout and the 5000 ms handshake bound.
pub(crate) const SPIKE_LENGTHS: [u64; 8] = [99, 100, 101, 150, 250, 390, 4995, 6000];
/// Spawn jitters that make a background task fall due inside the validator's first 500 ms
/// grace with the default phases (tasks spawned at 519-524, the redis probe at 2163).
pub(crate) const JITTER_IN_GRACE: std::ops::Range<u64> = 1640..2140;
/// Arrivals of a late client: after the reconnect task's long pause (about 362.5 s).
pub(crate) const LATE_ARRIVAL: std::ops::Range<u64> = 370_000..400_000;
/// Storm spacings: together, close, and around the cleanup window C / 20 (15000).
pub(crate) const STORM_EVERY: [u64; 6] = [0, 1, 500, 14_990, 15_000, 15_001];
/// User ids worth trying: the entry's own default, one shared by every entry, and the
/// predicates' boundaries (e2e ids, a staging E2E id, a Google numeric id, a UUID).
pub(crate) const USER_IDS: [&str; 7] = [
    "",
    "user_1",
    "e2e-staging_pipeline",
    "e2e-deployment-test",
    "staging-e2e-user-001",
    "123456789012345678901",
    "123e4567-e89b-12d3-a456-426614174000",
];

/// Swarm: the chance that a knob has a drawn value at all (shrinking removes it).
pub(crate) const SWARM_KNOB_P: f64 = 0.9;
/// Swarm's knob densities (percent of drawn knobs a case sets), one per case: feature
/// omission knob by knob. Omitting whole knob groups half the time was measured worse than
/// uniform (geometric mean 0.68x with `readysim bench search`, 0.95x at 3/4), because most
/// failures need knobs of two groups; see docs/search.md.
pub(crate) const SWARM_DENSITIES: [u8; 5] = [10, 30, 50, 70, 90];
/// Swarm: one case in this many lays its clients out as a [`Plan`] other than `Free`.
pub(crate) const PLAN_ONE_IN: u64 = 5;
/// The keepalive interval and pong wait every preset uses (20 s): where the storm plan aims.
pub(crate) const KEEPALIVE_MS: u64 = 20_000;

/// Which search strategy draws the cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Feature omission over knob groups, boundary anchors, plans.
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

/// The table rows search draws, in table order (one value of [`Params::knobs`] each). Which
/// of them a case applies depends on their role: environment always, code only for what-ifs.
pub(crate) fn drawn_rows() -> impl Iterator<Item = &'static crate::scenario::fields::Field> {
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
    /// Up (maybe late), then up to three outages and up to three ping spikes.
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

/// How a case lays its clients out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Every client drawn on its own.
    Free,
    /// The first client connects and stays idle through a keepalive ping and its pong wait;
    /// the second is a storm of distinct users arriving just after that ping (the hazard of
    /// blocking per-connection checks: back-to-back freezes outlast the pong wait).
    StormAfterPing,
}

impl Plan {
    /// Every plan; shrinking moves toward the first.
    pub const ALL: [Plan; 2] = [Plan::Free, Plan::StormAfterPing];
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
    /// Index into `USER_IDS` (0: the entry's default).
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

/// A knob's drawn value: one number, or three for the group timeouts.
pub type KnobValue = [u64; 3];

/// The raw draws of one case. [`build`] turns them into a scenario for a code under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// 0..10 production, 10..16 staging, 16..19 development on Cloud Run, 19 test off
    /// Cloud Run (shrinks toward production).
    pub env: u8,
    /// Index into [`Regime::ALL`].
    pub regime: u8,
    /// Redis up time (slow and flapping regimes).
    pub up_from_ms: u64,
    /// Outages as (start, length) (flapping: one to three).
    pub outages: Vec<(u64, u64)>,
    /// Ping spikes as (start, extra latency) (flapping: one to three).
    pub spikes: Vec<(u64, u64)>,
    /// Spiky regime: the spike's start after the first client's arrival, and its length.
    pub client_spike: (u64, u64),
    /// Each dependency with a generic regime (the auth service, ...), in table order: 0
    /// steady, 1 outages, 2 spikes, and its windows as (start, length), one to three.
    pub services: Vec<(u8, Vec<(u64, u64)>)>,
    /// One optional value per `drawn_rows` row.
    pub knobs: Vec<Option<KnobValue>>,
    /// Swarm's per-case knob density in percent: a drawn knob is set iff its rank is below it
    /// (so one case sets few knobs and another many; uniform sets every drawn knob).
    pub density: u8,
    /// One rank in 0..100 per `drawn_rows` row.
    pub ranks: Vec<u8>,
    /// Index into [`Plan::ALL`].
    pub plan: u8,
    /// Clients.
    pub clients: Vec<ClientParams>,
    /// Same-instant choices and drawn factors.
    pub decisions: Vec<u32>,
}

/// Where a case's numbers come from: the case's RNG the first time (each number recorded as a
/// gene), the recorded genes when a shrink step decodes them again. The layout draws every
/// gene on every case in the same order (an absent option's value, a client beyond the count
/// are drawn all the same and marked as not mattering), so gene `i` always means the same
/// thing and a shrink step can change one number without moving the others.
pub(crate) struct Genes<'r> {
    rng: Option<&'r mut TestRng>,
    /// The numbers, in layout order.
    values: Vec<u64>,
    /// Each number's simplest value (where shrinking takes it).
    lows: Vec<u64>,
    /// Whether each number matters to the case as drawn.
    matters: Vec<bool>,
    pos: usize,
    /// Nesting depth of [`Genes::unused`] sections.
    unused: u32,
}

impl<'r> Genes<'r> {
    fn fresh(rng: &'r mut TestRng) -> Genes<'r> {
        Genes {
            rng: Some(rng),
            values: Vec::with_capacity(GENES_HINT),
            lows: Vec::with_capacity(GENES_HINT),
            matters: Vec::with_capacity(GENES_HINT),
            pos: 0,
            unused: 0,
        }
    }

    fn replay(values: Vec<u64>) -> Genes<'static> {
        let n = values.len();
        Genes {
            rng: None,
            values,
            lows: Vec::new(),
            matters: Vec::with_capacity(n),
            pos: 0,
            unused: 0,
        }
    }

    /// The next number: `sample` of the case's RNG when drawing, else the recorded one.
    fn num(&mut self, lo: u64, sample: impl FnOnce(&mut TestRng) -> u64) -> u64 {
        let v = match self.rng.as_deref_mut() {
            Some(rng) => {
                let v = sample(rng).max(lo);
                self.values.push(v);
                self.lows.push(lo);
                v
            }
            // A decoded gene stays in its range: shrinking only moves it toward `lo`.
            None => self.values.get(self.pos).copied().unwrap_or(lo).max(lo),
        };
        self.pos += 1;
        self.matters.push(self.unused == 0);
        v
    }

    /// Draws what `f` draws, marked as not mattering (an absent option's value).
    fn unused<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.unused += 1;
        let t = f(self);
        self.unused -= 1;
        t
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.num(lo, |r| uniform(r, lo, hi))
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.num(0, |r| u64::from(bernoulli(r, p))) != 0
    }

    /// `Some(f)` with probability `p` (shrinks to `None`).
    fn maybe<T>(&mut self, p: f64, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.chance(p) {
            Some(f(self))
        } else {
            self.unused(f);
            None
        }
    }

    /// `weight_a : weight_b` between two draws of one number (`lo` its simplest value).
    fn either(
        &mut self,
        lo: u64,
        weights: (u64, u64),
        a: impl FnOnce(&mut TestRng) -> u64,
        b: impl FnOnce(&mut TestRng) -> u64,
    ) -> u64 {
        self.num(lo, |r| {
            if uniform(r, 0, weights.0 + weights.1 - 1) < weights.0 {
                a(r)
            } else {
                b(r)
            }
        })
    }
}

/// Genes a case has, about (the buffers' starting size).
const GENES_HINT: usize = 400;

/// Uniform in `lo..=hi` (Lemire's multiply-shift; its bias below 2^-40 for these ranges).
fn uniform(r: &mut TestRng, lo: u64, hi: u64) -> u64 {
    let span = hi.saturating_sub(lo).saturating_add(1);
    lo + ((u128::from(r.next_u64()) * u128::from(span)) >> 64) as u64
}

fn bernoulli(r: &mut TestRng, p: f64) -> bool {
    ((r.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
}

fn pick(r: &mut TestRng, xs: &[u64]) -> u64 {
    xs[uniform(r, 0, xs.len() as u64 - 1) as usize]
}

/// One of [`TIME_ANCHORS`], +-2 ms.
fn near_anchor(r: &mut TestRng) -> u64 {
    (pick(r, &TIME_ANCHORS) + uniform(r, 0, 4)).saturating_sub(2)
}

/// A time near an anchor (+-2 ms, 2:1) or anywhere in `0..hi`.
fn instant(g: &mut Genes, hi: u64) -> u64 {
    g.either(0, (2, 1), near_anchor, |r| uniform(r, 0, hi.max(1) - 1))
}

/// A length near an anchor within `lo..=hi` (+-1 ms, 1:1) or anywhere in it.
fn length(g: &mut Genes, lo: u64, hi: u64) -> u64 {
    let mut anchors = [0u64; LENGTH_ANCHORS.len()];
    let mut n = 0;
    for a in LENGTH_ANCHORS {
        if a >= lo && a <= hi {
            anchors[n] = a;
            n += 1;
        }
    }
    if n == 0 {
        return g.range(lo, hi);
    }
    let anchors = &anchors[..n];
    g.either(
        lo,
        (1, 1),
        |r| {
            (pick(r, anchors) + uniform(r, 0, 2))
                .saturating_sub(1)
                .clamp(lo, hi)
        },
        |r| uniform(r, lo, hi),
    )
}

/// A delay near one of [`SERVE_OFFSETS`] (+-1 ms, 2:1) or anywhere in `0..hi`.
fn serve_offset(g: &mut Genes, hi: u64) -> u64 {
    g.either(
        0,
        (2, 1),
        |r| (pick(r, &SERVE_OFFSETS) + uniform(r, 0, 2)).saturating_sub(1),
        |r| uniform(r, 0, hi - 1),
    )
}

/// A number near one of `anchors` (exactly, 1:1) or uniform in `lo..=hi`.
fn anchored(g: &mut Genes, lo: u64, hi: u64, anchors: &[u64]) -> u64 {
    g.either(
        lo,
        (1, 1),
        |r| pick(r, anchors).clamp(lo, hi),
        |r| uniform(r, lo, hi),
    )
}

/// The draw of one table row: one number, or three for a triple.
fn row_draw(g: &mut Genes, draw: Draw, ty: Ty, kind: Kind) -> KnobValue {
    let names = match ty {
        Ty::Name(n) => n.len() as u64,
        _ => 2,
    };
    let swarm = kind == Kind::Swarm;
    let one = |g: &mut Genes| match draw {
        Draw::Names => g.range(0, names - 1),
        Draw::Flag => g.range(0, 1),
        Draw::Uniform(lo, hi) => g.range(lo, hi),
        Draw::Length(lo, hi) if swarm => length(g, lo, hi),
        Draw::Length(lo, hi) => g.range(lo, hi),
        Draw::Instant(hi) if swarm => instant(g, hi),
        Draw::Instant(hi) => g.range(0, hi),
        Draw::Jitter if swarm => g.either(
            0,
            (1, 1),
            |r| uniform(r, 0, 2999),
            |r| uniform(r, JITTER_IN_GRACE.start, JITTER_IN_GRACE.end - 1),
        ),
        Draw::Jitter => g.range(0, 2999),
        Draw::None => 0,
    };
    if ty == Ty::Triple {
        [one(g), one(g), one(g)]
    } else {
        [one(g), 0, 0]
    }
}

fn client(g: &mut Genes, kind: Kind) -> ClientParams {
    let swarm = kind == Kind::Swarm;
    let at_ms = if swarm {
        g.num(0, |r| {
            if uniform(r, 0, 63) == 0 {
                uniform(r, LATE_ARRIVAL.start, LATE_ARRIVAL.end - 1)
            } else if uniform(r, 0, 2) < 2 {
                // What `instant(40_000)` draws, inside the same gene.
                near_anchor(r)
            } else {
                uniform(r, 0, 39_999)
            }
        })
    } else {
        g.range(0, 399_999)
    };
    let follow_ms = g.maybe(0.5, |g| {
        if swarm {
            serve_offset(g, 2000)
        } else {
            g.range(0, 24_999)
        }
    });
    let messages = g.range(0, u64::from(MAX_MESSAGES)) as u32;
    let gap_ms = g.maybe(0.25, |g| g.range(1, 1999));
    let retries = g.range(0, 2) as u32;
    let storm = g.maybe(if swarm { 0.3 } else { 0.5 }, |g| {
        let n = if swarm {
            anchored(
                g,
                u64::from(*STORM.start()),
                u64::from(*STORM.end()),
                &STORM_SIZES,
            )
        } else {
            g.range(1, u64::from(*STORM.end()))
        } as u32;
        let every = if swarm {
            g.either(
                0,
                (2, 1),
                |r| pick(r, &STORM_EVERY),
                |r| uniform(r, 0, 19_999),
            )
        } else {
            g.range(0, 19_999)
        };
        (n, every, g.chance(0.5))
    });
    let user = g.range(0, USER_IDS.len() as u64 - 1) as u8;
    let invalid_token = g.chance(if swarm { 0.3 } else { 0.5 });
    let hold_ms = g.maybe(0.3, |g| {
        if swarm {
            length(g, 1, 60_000)
        } else {
            g.range(1, 60_000)
        }
    });
    let reconnects = if swarm {
        g.either(
            0,
            (3, 1),
            |r| uniform(r, 0, 3),
            |r| uniform(r, 0, u64::from(MAX_RECONNECTS)),
        )
    } else {
        g.range(0, u64::from(MAX_RECONNECTS))
    } as u32;
    let reconnect_gap_ms = g.maybe(0.3, |g| g.range(0, 2999));
    let rtt_ms = g.maybe(0.3, |g| {
        if swarm {
            anchored(g, 1, MAX_RTT_MS, &RTT_ANCHORS)
        } else {
            g.range(1, MAX_RTT_MS)
        }
    });
    ClientParams {
        at_ms,
        follow_ms,
        messages,
        gap_ms,
        retries,
        storm,
        user,
        invalid_token,
        hold_ms,
        reconnects,
        reconnect_gap_ms,
        rtt_ms,
    }
}

/// Up to [`MAX_WINDOWS`] (start, length) windows, `on` or not: a count, then every window's
/// genes (those beyond the count unused), so the layout stays fixed.
fn windows(g: &mut Genes, on: bool, draw: &dyn Fn(&mut Genes) -> (u64, u64)) -> Vec<(u64, u64)> {
    let n = if on {
        g.range(1, MAX_WINDOWS as u64) as usize
    } else {
        g.unused(|g| g.range(1, MAX_WINDOWS as u64));
        0
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..MAX_WINDOWS {
        if i < n {
            out.push(draw(g));
        } else {
            g.unused(draw);
        }
    }
    out
}

/// The storm plan's clients: an idle connection that holds through its keepalive ping and
/// pong wait, then a storm of distinct users just after that ping.
fn storm_after_ping(g: &mut Genes, kind: Kind) -> [ClientParams; 2] {
    let mut idle = client(g, kind);
    idle.follow_ms = None;
    idle.storm = None;
    idle.messages = 0;
    idle.invalid_token = false;
    idle.reconnects = 0;
    idle.user = 0;
    idle.rtt_ms = None;
    idle.hold_ms = Some(2 * KEEPALIVE_MS + g.range(0, 30_000));
    let mut storm = client(g, kind);
    storm.follow_ms = Some(KEEPALIVE_MS + g.range(0, 100));
    storm.storm = Some((
        g.range(41, u64::from(*STORM.end())) as u32,
        g.range(0, 2),
        true,
    ));
    storm.user = 0;
    storm.invalid_token = false;
    storm.messages = 0;
    [idle, storm]
}

/// Per drawn field of the table: its rank (a rank at or above the density leaves the knob
/// unset: simpler is higher) and its value, drawn whether set or not (the layout is fixed).
fn knob_genes(g: &mut Genes, kind: Kind, density: u8) -> (Vec<Option<KnobValue>>, Vec<u8>) {
    let p_knob = if kind == Kind::Swarm {
        SWARM_KNOB_P
    } else {
        0.5
    };
    let mut knobs = Vec::with_capacity(64);
    let mut ranks = Vec::with_capacity(64);
    for f in drawn_rows() {
        let rank = 99 - g.range(0, 99).min(99) as u8;
        ranks.push(rank);
        let set = rank < density;
        let knob = |g: &mut Genes| g.maybe(p_knob, |g| row_draw(g, f.draw, f.ty, kind));
        knobs.push(if set {
            knob(g)
        } else {
            g.unused(knob);
            None
        });
    }
    (knobs, ranks)
}

/// The clients: a plan's first, then free clients up to the drawn count; every slot up to
/// the maximum is drawn (used or not).
fn client_genes(
    g: &mut Genes,
    kind: Kind,
    planned: Option<[ClientParams; 2]>,
) -> Vec<ClientParams> {
    let n_clients = g.range(0, MAX_CLIENTS as u64) as usize;
    let mut clients = Vec::with_capacity(MAX_CLIENTS);
    if let Some(two) = planned {
        clients.extend(two);
    }
    let want = n_clients.max(clients.len());
    for _ in 0..MAX_CLIENTS {
        if clients.len() < want {
            clients.push(client(g, kind));
        } else {
            g.unused(|g| client(g, kind));
        }
    }
    clients
}

/// The decisions list: its length, then every slot up to the maximum (small values more
/// often: orders among a few ready tasks).
fn decision_genes(g: &mut Genes) -> Vec<u32> {
    let n_decisions = g.range(0, MAX_DECISIONS as u64) as usize;
    let mut decisions = Vec::with_capacity(n_decisions);
    for i in 0..MAX_DECISIONS {
        let value = |g: &mut Genes| {
            g.either(
                0,
                (1, 1),
                |r| uniform(r, 0, 3),
                |r| uniform(r, 0, MAX_DECISION),
            )
        };
        if i < n_decisions {
            decisions.push(value(g) as u32);
        } else {
            g.unused(value);
        }
    }
    decisions
}

/// The whole layout: every gene of a case, in order, turned into its [`Params`].
fn layout(g: &mut Genes, kind: Kind) -> Params {
    let swarm = kind == Kind::Swarm;
    let env = g.range(0, 19) as u8;
    let regime = g.range(0, Regime::ALL.len() as u64 - 1) as u8;
    let r = Regime::ALL[usize::from(regime)];
    let slow = matches!(r, Regime::Slow | Regime::Flapping);
    let flapping = r == Regime::Flapping;
    let when = |g: &mut Genes, hi: u64| {
        if swarm {
            instant(g, hi)
        } else {
            g.range(0, hi - 1)
        }
    };
    let long = |g: &mut Genes, hi: u64| {
        if swarm {
            length(g, 1, hi)
        } else {
            g.range(1, hi - 1)
        }
    };
    // Numbers a case does not use are drawn all the same (the layout stays fixed) and kept as
    // zeros, so equal parameters mean equal scenarios.
    let only = |g: &mut Genes, on: bool, f: &dyn Fn(&mut Genes) -> (u64, u64)| {
        if on {
            f(g)
        } else {
            g.unused(f);
            (0, 0)
        }
    };
    let up_from_ms = only(g, slow, &|g| (when(g, 20_000), 0)).0;
    let outages = windows(g, flapping, &|g| (when(g, 40_000), long(g, 20_000)));
    let spikes = windows(g, flapping, &|g| (when(g, 40_000), long(g, 6_000)));
    let client_spike = only(g, r == Regime::Spiky, &|g| {
        let offset = if swarm {
            serve_offset(g, 2000)
        } else {
            g.range(0, 1999)
        };
        let extra = if swarm {
            g.either(
                1,
                (3, 1),
                |r| pick(r, &SPIKE_LENGTHS),
                |r| uniform(r, 1, 5999),
            )
        } else {
            g.range(1, 5999)
        };
        (offset, extra)
    });
    let services = Dep::all()
        .filter(|d| d.row().generic_regime)
        .map(|_| {
            let kind = g.range(0, 2) as u8;
            (
                kind,
                windows(g, kind != 0, &|g| (when(g, 40_000), long(g, 20_000))),
            )
        })
        .collect();
    let density = if swarm {
        g.num(0, |r| pick(r, &SWARM_DENSITIES.map(u64::from))) as u8
    } else {
        100
    };
    let (knobs, ranks) = knob_genes(g, kind, density);
    let plan = if swarm {
        g.num(0, |r| u64::from(uniform(r, 0, PLAN_ONE_IN - 1) == 0)) as u8
    } else {
        0
    };
    let planned = match Plan::ALL[usize::from(plan) % Plan::ALL.len()] {
        Plan::Free => {
            g.unused(|g| storm_after_ping(g, kind));
            None
        }
        Plan::StormAfterPing => Some(storm_after_ping(g, kind)),
    };
    let clients = client_genes(g, kind, planned);
    let decisions = decision_genes(g);
    Params {
        env,
        regime,
        up_from_ms,
        outages,
        spikes,
        client_spike,
        services,
        knobs,
        density,
        ranks,
        plan,
        clients,
        decisions,
    }
}

/// Case draws from `rng`: the parameters and their genes (values and simplest values).
pub(crate) fn sample(rng: &mut TestRng, kind: Kind) -> (Params, Vec<u64>, Vec<u64>) {
    let mut g = Genes::fresh(rng);
    let p = layout(&mut g, kind);
    (p, g.values, g.lows)
}

/// The parameters of `genes`, and which genes matter to them.
pub(crate) fn decode(genes: Vec<u64>, kind: Kind) -> (Params, Vec<bool>) {
    let mut g = Genes::replay(genes);
    let p = layout(&mut g, kind);
    (p, g.matters)
}

/// The strategy of one case's draws: `sample` on the runner's RNG, shrunk gene by gene.
#[derive(Clone, Copy, Debug)]
pub struct ParamsStrategy(pub Kind);

impl Strategy for ParamsStrategy {
    type Tree = ParamsTree;
    type Value = Params;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let (_, values, lows) = sample(runner.rng(), self.0);
        Ok(ParamsTree {
            kind: self.0,
            genes: values
                .iter()
                .zip(&lows)
                .map(|(&v, &lo)| Bisect::new(lo, v))
                .collect(),
            shrinker: 0,
            prev: None,
        })
    }
}

/// The strategy of one case's draws.
pub fn params(kind: Kind) -> ParamsStrategy {
    ParamsStrategy(kind)
}

/// proptest's integer shrinking of one gene: bisection between its simplest value and the
/// last value known to fail (`hi`), `lo` the smallest value not yet known to pass.
#[derive(Clone, Copy, Debug)]
struct Bisect {
    lo: u64,
    curr: u64,
    hi: u64,
}

impl Bisect {
    fn new(lo: u64, start: u64) -> Bisect {
        Bisect {
            lo,
            curr: start,
            hi: start,
        }
    }

    fn reposition(&mut self) -> bool {
        let mid = self.lo + (self.hi - self.lo) / 2;
        if mid == self.curr {
            false
        } else {
            self.curr = mid;
            true
        }
    }

    fn simplify(&mut self) -> bool {
        if self.hi <= self.lo {
            return false;
        }
        self.hi = self.curr;
        self.reposition()
    }

    fn complicate(&mut self) -> bool {
        if self.hi <= self.lo {
            return false;
        }
        self.lo = self.curr + 1;
        self.reposition()
    }
}

/// The value tree of one case: its genes, shrunk one at a time in layout order (like a
/// proptest tuple), skipping genes that do not matter to the current case.
#[derive(Clone, Debug)]
pub struct ParamsTree {
    kind: Kind,
    genes: Vec<Bisect>,
    shrinker: usize,
    prev: Option<usize>,
}

impl ParamsTree {
    fn values(&self) -> Vec<u64> {
        self.genes.iter().map(|b| b.curr).collect()
    }
}

impl ValueTree for ParamsTree {
    type Value = Params;

    fn current(&self) -> Params {
        decode(self.values(), self.kind).0
    }

    fn simplify(&mut self) -> bool {
        let (_, matters) = decode(self.values(), self.kind);
        while self.shrinker < self.genes.len() {
            let i = self.shrinker;
            if matters.get(i).copied().unwrap_or(false) && self.genes[i].simplify() {
                self.prev = Some(i);
                return true;
            }
            self.shrinker += 1;
        }
        false
    }

    fn complicate(&mut self) -> bool {
        if let Some(i) = self.prev {
            if self.genes[i].complicate() {
                return true;
            }
            self.prev = None;
        }
        false
    }
}

/// Sets row `f` of `sc` from a drawn value.
fn apply(sc: &mut Scenario, f: &crate::scenario::fields::Field, v: KnobValue) {
    let num = |x: u64| x.clamp(f.min, f.max.max(f.min));
    match f.access {
        Access::Num(_, set) => set(sc, num(v[0])),
        Access::Opt(_, set, _) => set(sc, Some(num(v[0]))),
        Access::Name(_, set) => set(sc, Some(v[0] as usize)),
        Access::Flag(_, set) => set(sc, Some(v[0] % 2 == 1)),
        Access::Triple(_, set) => set(sc, Some(v.map(num))),
        Access::Client(..)
        | Access::Outage(..)
        | Access::Spike(..)
        | Access::Windows(..)
        | Access::Spikes(..)
        | Access::None => {}
    }
}

/// The deployment a case's `env` gene stands for.
fn environment(env: u8) -> Environment {
    let (name, cloud_run) = match env % 20 {
        0..10 => (EnvName::Production, true),
        10..16 => (EnvName::Staging, true),
        16..19 => (EnvName::Development, true),
        _ => (EnvName::Test, false),
    };
    Environment { name, cloud_run }
}

/// The scenario of `p` for the code under test `code` (a scenario whose code fields say what
/// the code is; every other field of it is ignored). Environment draws are applied; code
/// draws only when `vary_code`, and then the knobs they changed are listed as `what_if`.
/// Always valid (within `scenario::limits`).
pub fn build(code: &Scenario, p: &Params, vary_code: bool) -> Scenario {
    let mut sc = Scenario::new("search-case", "a case generated by readysim explore");
    sc.policy = code.policy.clone();
    sc.redis.manager = code.redis.manager.clone();
    sc.environment = environment(p.env);
    for ((f, v), rank) in drawn_rows().zip(&p.knobs).zip(&p.ranks) {
        let Some(v) = v else { continue };
        let drawn = match f.role() {
            Role::Environment => true,
            Role::Code => vary_code,
            Role::Run => false,
        };
        if *rank < p.density && drawn {
            apply(&mut sc, f, *v);
        }
    }
    clients(&mut sc, p);
    let first = sc.clients.first().map_or(0, |c| c.at_ms);
    let s = &mut sc.redis.server;
    let windows = |list: &[(u64, u64)]| -> Vec<[u64; 2]> {
        // Windows in start order, each at least 1 ms long, none overlapping the one before.
        let mut w: Vec<[u64; 2]> = list.iter().map(|&(a, l)| [a, a + l.max(1)]).collect();
        w.sort_unstable();
        let mut out: Vec<[u64; 2]> = Vec::with_capacity(w.len());
        for [a, b] in w {
            match out.last_mut() {
                Some(last) if a <= last[1] => last[1] = last[1].max(b),
                _ => out.push([a, b]),
            }
        }
        out
    };
    let spikes = |list: &[(u64, u64)], base: u64| -> Vec<PingSpike> {
        list.iter()
            .map(|&(at, extra)| PingSpike {
                at_ms: base + at,
                extra_ms: extra.max(1),
            })
            .collect()
    };
    match Regime::ALL[usize::from(p.regime) % Regime::ALL.len()] {
        Regime::Fast => {}
        Regime::Slow => s.up_from_ms = p.up_from_ms,
        Regime::Flapping => {
            let first_outage = p.outages.iter().map(|o| o.0).min().unwrap_or(0);
            s.up_from_ms = p.up_from_ms.min(first_outage);
            s.outages = windows(&p.outages);
            s.ping_spikes = spikes(&p.spikes, 0);
        }
        Regime::Down => s.up_from_ms = NEVER_MS,
        Regime::Spiky => {
            let (offset, extra) = p.client_spike;
            s.ping_spikes = spikes(&[(offset, extra)], first);
        }
    }
    let generic = Dep::all().filter(|d| d.row().generic_regime);
    for (dep, (kind, list)) in generic.zip(&p.services) {
        match kind % 3 {
            1 => *(dep.row().outages_mut)(&mut sc) = windows(list),
            2 => {
                // Spikes land near the first client's arrival, where a request meets them.
                let near: Vec<(u64, u64)> = list.iter().map(|&(a, l)| (a % 2000, l)).collect();
                *(dep.row().spikes_mut)(&mut sc) = spikes(&near, first);
            }
            _ => {}
        }
    }
    let last = clients_end(&sc);
    sc.run = Run {
        horizon_ms: HORIZON_MS
            .max(last.saturating_add(HORIZON_MS / 2))
            .min(crate::scenario::limits::MAX_HORIZON_MS),
        decisions: p.decisions.iter().take(MAX_DECISIONS).copied().collect(),
        decisions_from_ms: sc.run.decisions_from_ms,
        max_steps: None,
    };
    if vary_code {
        sc.what_if = changed_code(code, &sc);
    }
    sc
}

/// When the last client could still be busy: each entry's last copy arrives, then every attempt
/// may hold its socket, send its messages, sit through two keepalive rounds (a pong wait of up
/// to 60 s when what-ifs lengthen the keepalive), be retried after 503s and come back after
/// its gap. A run cut before that would be a "hang" of the generator's making.
fn clients_end(sc: &Scenario) -> u64 {
    sc.clients
        .iter()
        .map(|c| {
            let arrive = c
                .at_ms
                .saturating_add(u64::from(c.count.saturating_sub(1)).saturating_mul(c.every_ms));
            let attempt = c
                .hold_ms
                .saturating_add(c.reconnect_gap_ms)
                .saturating_add(u64::from(c.messages).saturating_mul(c.message_gap_ms + 5_000))
                .saturating_add(u64::from(c.retries).saturating_mul(30_000))
                .saturating_add(2 * 60_000);
            arrive.saturating_add(attempt.saturating_mul(1 + u64::from(c.reconnects)))
        })
        .max()
        .unwrap_or(0)
}

/// The `[[clients]]` entries of `p`: followers placed after the client before them, storms
/// expanded to one entry per user when their users are distinct.
fn clients(sc: &mut Scenario, p: &Params) {
    for c in p.clients.iter().take(MAX_CLIENTS + 2) {
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
        let id = USER_IDS[usize::from(c.user) % USER_IDS.len()];
        client.user_id = (!id.is_empty()).then(|| id.to_string());
        if c.invalid_token {
            client.token = Token::Invalid;
        }
        if let Some(h) = c.hold_ms {
            client.hold_ms = h;
        }
        client.reconnects = c.reconnects.min(MAX_RECONNECTS);
        if let Some(g) = c.reconnect_gap_ms {
            client.reconnect_gap_ms = g;
        }
        if let Some(r) = c.rtt_ms {
            client.rtt_ms = r;
        }
        let (mut copies, mut spacing) = (1, 0);
        if let Some((n, every, distinct)) = c.storm {
            if distinct && client.user_id.is_none() {
                // As many users as connections: one entry each (default ids differ).
                copies = n;
                spacing = every;
            } else {
                client.count = n;
                client.every_ms = every;
            }
            // Storms send little and do not come back, so their work stays well inside the
            // limits.
            client.messages = client.messages.min(1);
            client.retries = 0;
            client.reconnects = 0;
        }
        for i in 0..copies {
            let mut c = client.clone();
            c.at_ms = at_ms.saturating_add(u64::from(i).saturating_mul(spacing));
            sc.clients.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::shrink::{generate_one, valid};

    /// The layout is fixed: every case of a strategy has as many genes, decoding a case's
    /// genes gives back its draws, and a gene marked as not mattering changes nothing.
    #[test]
    fn genes_decode_to_their_draws_and_unused_genes_do_not_matter() {
        use proptest::test_runner::{RngAlgorithm, TestRng};
        for kind in [Kind::Swarm, Kind::Uniform] {
            let mut len = None;
            for i in 0..300u64 {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&i.to_le_bytes());
                let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
                let (p, values, lows) = sample(&mut rng, kind);
                assert_eq!(*len.get_or_insert(values.len()), values.len(), "{kind:?}");
                assert_eq!(values.len(), lows.len());
                assert!(values.iter().zip(&lows).all(|(v, lo)| v >= lo));
                let (q, matters) = decode(values.clone(), kind);
                assert_eq!(p, q, "{kind:?} case {i}");
                for (j, m) in matters.iter().enumerate() {
                    if !m {
                        let mut changed = values.clone();
                        changed[j] = lows[j];
                        assert_eq!(decode(changed, kind).0, p, "{kind:?} case {i} gene {j}");
                    }
                }
            }
        }
    }

    /// The tree shrinks toward each gene's simplest value: simplifying while every step
    /// "fails" ends at the simplest case, which has no clients, knobs or decisions.
    #[test]
    fn the_tree_simplifies_to_the_simplest_case() {
        let mut runner = TestRunner::new(crate::search::runner::case_config(5, 0));
        let mut tree = params(Kind::Swarm).new_tree(&mut runner).expect("tree");
        let mut steps = 0;
        while tree.simplify() {
            steps += 1;
            assert!(steps < 100_000, "shrinking must end");
        }
        let p = tree.current();
        assert!(p.clients.is_empty() && p.decisions.is_empty());
        assert!(p.knobs.iter().all(Option::is_none));
        assert_eq!((p.env, p.regime, p.density, p.plan), (0, 0, 0, 0));
    }

    /// Every generated case loads, under both strategies, and the draws aimed at rare shapes
    /// do occur: spiky regimes, followers, late arrivals, storms of 60 and more, odd ids,
    /// several outages, long round trips, many reconnects, decisions that start late; the
    /// code is held still unless asked, and a varied code is listed as a what-if.
    #[test]
    fn generated_cases_load_and_use_every_draw() {
        use crate::policy::Preset;
        use crate::search::runner::case_seed;
        for kind in [Kind::Swarm, Kind::Uniform] {
            let (mut spiky, mut follow, mut storm, mut ids) = (0, 0, 0, 0);
            let (mut windows, mut rtt, mut reconnects, mut late, mut what_ifs) = (0, 0, 0, 0, 0);
            for preset in Preset::ALL {
                let code = crate::search::Code::preset(preset);
                for i in 0..200 {
                    let p = generate_one(case_seed(7, preset.name(), i), kind);
                    let sc = build(code.template(), &p, false);
                    assert!(valid(&sc), "{preset:?} case {i}: {sc:?}");
                    assert_eq!(sc.policy, code.template().policy, "the code is held still");
                    assert!(sc.what_if.is_empty());
                    if Regime::ALL[usize::from(p.regime) % Regime::ALL.len()] == Regime::Spiky {
                        spiky += 1;
                    }
                    if p.clients.iter().skip(1).any(|c| c.follow_ms.is_some()) {
                        follow += 1;
                    }
                    let at_once = sc
                        .clients
                        .iter()
                        .filter(|c| c.at_ms == sc.clients[0].at_ms)
                        .count();
                    if at_once >= 60 || sc.clients.iter().any(|c| c.count >= 60) {
                        storm += 1;
                    }
                    ids += usize::from(sc.clients.iter().any(|c| c.user_id.is_some()));
                    windows += usize::from(
                        sc.redis.server.outages.len() >= 2 || sc.auth.outages.len() >= 2,
                    );
                    rtt += usize::from(sc.clients.iter().any(|c| c.rtt_ms >= 20_000));
                    reconnects += usize::from(sc.clients.iter().any(|c| c.reconnects > 3));
                    late +=
                        usize::from(sc.run.decisions_from_ms > 0 && !sc.run.decisions.is_empty());
                    let varied = build(code.template(), &p, true);
                    assert!(valid(&varied), "{preset:?} case {i}: {varied:?}");
                    if varied.policy != code.template().policy {
                        what_ifs += 1;
                        assert!(!varied.what_if.is_empty(), "a varied code is a what-if");
                    }
                }
            }
            for (what, n) in [
                ("spiky", spiky),
                ("follow", follow),
                ("storm of 60+", storm),
                ("ids", ids),
                ("several windows", windows),
                ("rtt >= 20 s", rtt),
                ("reconnects > 3", reconnects),
                ("late decisions", late),
                ("what-ifs", what_ifs),
            ] {
                assert!(n > 0, "{kind:?}: no case with {what}");
            }
        }
    }
}

//! THE table of dependencies whose environment a scenario describes: one row each (the Redis
//! server, the auth service), with where its timeline lives in a file, how to reach its
//! outage and spike lists, whether search draws them as a generic regime, and what "usable"
//! means for classification. Validation, shrinking, search, classification and pictures loop
//! over these rows, so a dependency is a row (docs/architecture.md has the checklist).

use super::timeline::Timeline;
use super::types::{PingSpike, Scenario};
use crate::spec;
use crate::vocab::EnvName;

/// One dependency.
pub struct Dependency {
    /// Its lane in pictures and its name in messages (`redis server`).
    pub name: &'static str,
    /// The dotted path of its table (`redis.server`).
    pub table: &'static str,
    /// The key of its spike list in that table (`ping_spikes`, `spikes`).
    pub spikes_key: &'static str,
    /// Its timeline in a scenario.
    pub timeline: for<'a> fn(&'a Scenario) -> Timeline<'a>,
    /// Its outage windows, to change.
    pub outages_mut: fn(&mut Scenario) -> &mut Vec<[u64; 2]>,
    /// Its spikes, to change.
    pub spikes_mut: fn(&mut Scenario) -> &mut Vec<PingSpike>,
    /// Search draws its outages and spikes as a generic regime (steady, one to three
    /// outages, or one to three spikes); Redis has regimes of its own.
    pub generic_regime: bool,
    /// Whether the code could use it at some instant up to `until`: classification does not
    /// count a perturbation that changes this as a failure going away.
    pub usable: fn(&Scenario, u64) -> bool,
    /// Drawn in pictures even when the file leaves it at its defaults.
    pub always_drawn: bool,
}

/// A dependency, by its place in [`DEPENDENCIES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dep(pub u8);

impl Dep {
    /// The Redis server.
    pub const REDIS: Dep = Dep(0);
    /// The auth service.
    pub const AUTH: Dep = Dep(1);
    /// The database.
    pub const DATABASE: Dep = Dep(2);

    /// Every dependency, in table order.
    pub fn all() -> impl Iterator<Item = Dep> {
        (0..DEPENDENCIES.len() as u8).map(Dep)
    }

    /// Its row.
    pub fn row(self) -> &'static Dependency {
        &DEPENDENCIES[usize::from(self.0)]
    }

    /// Its outage windows in `sc`.
    pub fn outages(self, sc: &Scenario) -> &[[u64; 2]] {
        (self.row().timeline)(sc).outages
    }

    /// Its spikes in `sc`.
    pub fn spikes(self, sc: &Scenario) -> &[PingSpike] {
        (self.row().timeline)(sc).spikes
    }

    /// The dotted path of its outage list (`redis.server.outages`).
    pub fn outages_path(self) -> String {
        format!("{}.outages", self.row().table)
    }

    /// The dotted path of its spike list (`redis.server.ping_spikes`).
    pub fn spikes_path(self) -> String {
        format!("{}.{}", self.row().table, self.row().spikes_key)
    }
}

/// Redis is usable at an instant when it is up and both a ping and a handshake answer before
/// the manager's own timeout.
fn redis_usable(sc: &Scenario, until: u64) -> bool {
    let srv = &sc.redis.server;
    let timeout = sc.redis.manager.ping_timeout_ms;
    let t = srv.timeline();
    let usable = t.recoveries().any(|at| {
        at <= until
            && t.up(at)
            && srv.ping_ms.saturating_add(t.spike_extra(at)) < timeout
            && srv.connect_ms.saturating_add(t.spike_extra(at)) < timeout
    });
    usable
}

/// The auth service can answer at all when its latency is under the health pre-check's bound
/// and two requests fit in a call's.
fn auth_usable(sc: &Scenario, _until: u64) -> bool {
    let precheck = if sc.environment.name == EnvName::Staging {
        spec::AUTH_PRECHECK_STAGING_MS
    } else {
        spec::AUTH_PRECHECK_MS
    };
    let a = &sc.auth;
    a.latency_ms < precheck && a.latency_ms.saturating_mul(2) < spec::AUTH_CALL_MS
}

/// The database is usable when it is up at some instant up to `until`.
fn database_usable(sc: &Scenario, until: u64) -> bool {
    let t = sc.database.timeline();
    let usable = t.recoveries().any(|at| at <= until && t.up(at));
    usable
}

/// Every dependency, in the order files, pictures and search take them.
pub static DEPENDENCIES: [Dependency; 3] = [
    Dependency {
        name: "redis server",
        table: "redis.server",
        spikes_key: "ping_spikes",
        timeline: |sc| sc.redis.server.timeline(),
        outages_mut: |sc| &mut sc.redis.server.outages,
        spikes_mut: |sc| &mut sc.redis.server.ping_spikes,
        generic_regime: false,
        usable: redis_usable,
        always_drawn: true,
    },
    Dependency {
        name: "auth service",
        table: "auth",
        spikes_key: "spikes",
        timeline: |sc| sc.auth.timeline(),
        outages_mut: |sc| &mut sc.auth.outages,
        spikes_mut: |sc| &mut sc.auth.spikes,
        generic_regime: true,
        usable: auth_usable,
        always_drawn: false,
    },
    Dependency {
        name: "database",
        table: "database",
        spikes_key: "spikes",
        timeline: |sc| sc.database.timeline(),
        outages_mut: |sc| &mut sc.database.outages,
        spikes_mut: |sc| &mut sc.database.spikes,
        generic_regime: true,
        usable: database_usable,
        always_drawn: false,
    },
];

//! The timing parameters of a scenario, by their dotted file path: what shrinking simplifies,
//! what classification perturbs, and what "non-default parameters left" counts.

use crate::scenario::{Client, RedisManager, RedisServer, Scenario, Startup};

/// One timing parameter of a scenario, borrowed for reading or writing.
pub struct Slot<'a> {
    /// Dotted path as in the file (`redis.server.up_from_ms`, `clients[0].at_ms`).
    pub name: String,
    /// The value.
    pub value: &'a mut u64,
    /// The file format's default (what an absent field means).
    pub default: u64,
    /// The smallest valid value.
    pub min: u64,
}

fn slot<'a>(name: &str, value: &'a mut u64, default: u64) -> Slot<'a> {
    Slot {
        name: name.to_string(),
        value,
        default,
        min: 0,
    }
}

/// Every timing parameter of `sc`, in file order.
pub fn slots(sc: &mut Scenario) -> Vec<Slot<'_>> {
    let ds = Startup::default();
    let dr = RedisServer::default();
    let dm = RedisManager::default();
    let mut v = Vec::new();
    let s = &mut sc.startup;
    v.push(slot("startup.init_ms", &mut s.init_ms, ds.init_ms));
    v.push(slot(
        "startup.dependencies_ms",
        &mut s.dependencies_ms,
        ds.dependencies_ms,
    ));
    v.push(slot(
        "startup.database_ms",
        &mut s.database_ms,
        ds.database_ms,
    ));
    v.push(slot("startup.cache_ms", &mut s.cache_ms, ds.cache_ms));
    v.push(slot(
        "startup.services_ms",
        &mut s.services_ms,
        ds.services_ms,
    ));
    v.push(slot(
        "startup.websocket_ms",
        &mut s.websocket_ms,
        ds.websocket_ms,
    ));
    v.push(slot(
        "startup.finalize_ms",
        &mut s.finalize_ms,
        ds.finalize_ms,
    ));
    v.push(slot(
        "startup.probe_cost_ms",
        &mut s.probe_cost_ms,
        ds.probe_cost_ms,
    ));
    let x = &mut sc.services;
    v.push(slot(
        "services.database_ready_at_ms",
        &mut x.database_ready_at_ms,
        0,
    ));
    v.push(slot(
        "services.auth_ready_at_ms",
        &mut x.auth_ready_at_ms,
        0,
    ));
    v.push(slot(
        "services.agent_supervisor_ready_at_ms",
        &mut x.agent_supervisor_ready_at_ms,
        0,
    ));
    v.push(slot(
        "services.websocket_bridge_ready_at_ms",
        &mut x.websocket_bridge_ready_at_ms,
        0,
    ));
    let r = &mut sc.redis.server;
    v.push(slot(
        "redis.server.up_from_ms",
        &mut r.up_from_ms,
        dr.up_from_ms,
    ));
    for (i, [a, b]) in r.outages.iter_mut().enumerate() {
        v.push(slot(&format!("redis.server.outages[{i}].start"), a, 0));
        v.push(slot(&format!("redis.server.outages[{i}].end"), b, 0));
    }
    v.push(slot(
        "redis.server.connect_ms",
        &mut r.connect_ms,
        dr.connect_ms,
    ));
    v.push(slot(
        "redis.server.refuse_ms",
        &mut r.refuse_ms,
        dr.refuse_ms,
    ));
    v.push(slot("redis.server.ping_ms", &mut r.ping_ms, dr.ping_ms));
    for (i, sp) in r.ping_spikes.iter_mut().enumerate() {
        v.push(slot(
            &format!("redis.server.ping_spikes[{i}].at_ms"),
            &mut sp.at_ms,
            0,
        ));
        v.push(slot(
            &format!("redis.server.ping_spikes[{i}].extra_ms"),
            &mut sp.extra_ms,
            0,
        ));
    }
    let m = &mut sc.redis.manager;
    v.push(slot(
        "redis.manager.stabilize_ms",
        &mut m.stabilize_ms,
        dm.stabilize_ms,
    ));
    v.push(slot(
        "redis.manager.reconnect_spawn_jitter_ms",
        &mut m.reconnect_spawn_jitter_ms,
        0,
    ));
    v.push(slot(
        "redis.manager.health_spawn_jitter_ms",
        &mut m.health_spawn_jitter_ms,
        0,
    ));
    v.push(slot(
        "redis.manager.ping_timeout_ms",
        &mut m.ping_timeout_ms,
        dm.ping_timeout_ms,
    ));
    v.push(slot(
        "redis.manager.get_client_ping_timeout_ms",
        &mut m.get_client_ping_timeout_ms,
        dm.get_client_ping_timeout_ms,
    ));
    let mut hi = slot(
        "redis.manager.health_interval_ms",
        &mut m.health_interval_ms,
        dm.health_interval_ms,
    );
    hi.min = 1;
    v.push(hi);
    v.push(slot("server.bind_ms", &mut sc.server.bind_ms, 0));
    for (i, c) in sc.clients.iter_mut().enumerate() {
        let Client {
            at_ms,
            message_gap_ms,
            ..
        } = c;
        v.push(slot(&format!("clients[{i}].at_ms"), at_ms, 0));
        v.push(slot(
            &format!("clients[{i}].message_gap_ms"),
            message_gap_ms,
            100,
        ));
    }
    v
}

/// Names and values of the timing parameters of `sc`.
pub fn values(sc: &Scenario) -> Vec<(String, u64)> {
    let mut c = sc.clone();
    slots(&mut c)
        .into_iter()
        .map(|s| (s.name, *s.value))
        .collect()
}

/// A copy of `sc` with the `index`-th timing parameter set to `v`.
pub fn with(sc: &Scenario, index: usize, v: u64) -> Scenario {
    let mut c = sc.clone();
    if let Some(s) = slots(&mut c).into_iter().nth(index) {
        *s.value = v.max(s.min);
    }
    c
}

/// Parameters a shrunk scenario still sets away from the file format's defaults: timing values,
/// plus each outage, spike, client, non-zero message count, retry, decision and environment
/// field that is not the default, and a probe override (search's "probe fixed" draw).
pub fn non_default(sc: &Scenario) -> Vec<String> {
    let mut c = sc.clone();
    let mut out: Vec<String> = slots(&mut c)
        .into_iter()
        .filter(|s| *s.value != s.default && !s.name.contains('['))
        .map(|s| s.name)
        .collect();
    for i in 0..sc.redis.server.outages.len() {
        out.push(format!("redis.server.outages[{i}]"));
    }
    for i in 0..sc.redis.server.ping_spikes.len() {
        out.push(format!("redis.server.ping_spikes[{i}]"));
    }
    for (i, cl) in sc.clients.iter().enumerate() {
        out.push(format!("clients[{i}]"));
        if cl.message_gap_ms != 100 {
            out.push(format!("clients[{i}].message_gap_ms"));
        }
        if cl.retries != 0 {
            out.push(format!("clients[{i}].retries"));
        }
    }
    if !sc.run.decisions.is_empty() {
        out.push("run.decisions".into());
    }
    let env = crate::scenario::Environment::default();
    if sc.environment.name != env.name {
        out.push("environment.name".into());
    }
    if sc.environment.cloud_run != env.cloud_run {
        out.push("environment.cloud_run".into());
    }
    if sc.policy.probe.is_some() {
        out.push("policy.probe".into());
    }
    out
}

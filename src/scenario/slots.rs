//! The timing values of one scenario, as the field table lays them out: what shrinking
//! simplifies, classification shifts and the non-default list counts.

use super::fields::{Access, Field, Kind, Role, FIELDS};
use super::types::{Client, Scenario};

/// One timing value of one scenario: a row, and the element it belongs to.
#[derive(Clone, Copy)]
pub struct Slot {
    /// The row.
    pub field: &'static Field,
    /// The element (client, outage or spike) for per-element rows.
    pub index: usize,
}

impl Slot {
    /// Its dotted path in this scenario (`clients[1].at_ms`, `redis.server.outages[0].start`).
    pub fn name(&self) -> String {
        match self.field.path.split_once("[]") {
            Some((list, rest)) => format!("{list}[{}]{rest}", self.index),
            None => self.field.path.to_string(),
        }
    }

    /// Its value in `sc`.
    pub fn get(&self, sc: &Scenario) -> u64 {
        match self.field.access {
            Access::Num(get, _) => get(sc),
            Access::Client(get, _) => get(&sc.clients[self.index]),
            Access::Outage(dep, b) => dep.outages(sc)[self.index][b],
            Access::Spike(dep, get, _) => get(&dep.spikes(sc)[self.index]),
            Access::Opt(get, ..) => get(sc).unwrap_or(0),
            Access::Name(..)
            | Access::Flag(..)
            | Access::Triple(..)
            | Access::Windows(..)
            | Access::Spikes(..)
            | Access::None => 0,
        }
    }

    /// Sets it in `sc` (clamped to the row's minimum).
    pub fn set(&self, sc: &mut Scenario, v: u64) {
        let v = v.max(self.field.min);
        match self.field.access {
            Access::Num(_, set) => set(sc, v),
            Access::Client(_, set) => set(&mut sc.clients[self.index], v),
            Access::Outage(dep, b) => (dep.row().outages_mut)(sc)[self.index][b] = v,
            Access::Spike(dep, _, set) => set(&mut (dep.row().spikes_mut)(sc)[self.index], v),
            Access::Opt(_, set, _) => set(sc, Some(v)),
            Access::Windows(..) | Access::Spikes(..) => {}
            Access::Name(..) | Access::Flag(..) | Access::Triple(..) | Access::None => {}
        }
    }

    /// The value an absent field means (0 for an outage's or spike's bounds).
    pub fn default(&self) -> u64 {
        self.field.default_value().unwrap_or(0)
    }

    /// The smallest valid value.
    pub fn min(&self) -> u64 {
        self.field.min
    }
}

/// How many elements a per-element row has in `sc`.
fn elements(sc: &Scenario, f: &Field) -> usize {
    match f.access {
        Access::Client(..) => sc.clients.len(),
        Access::Outage(dep, _) => dep.outages(sc).len(),
        Access::Spike(dep, ..) => dep.spikes(sc).len(),
        _ => 1,
    }
}

/// Every timing value of `sc`, in file order: scalar rows once, per-element rows once per
/// element, element by element (`clients[0].at_ms`, `clients[0].message_gap_ms`,
/// `clients[1].at_ms`, ...).
pub fn timing_slots(sc: &Scenario) -> Vec<Slot> {
    timing_slots_of(sc, &[Role::Code, Role::Environment])
}

/// The timing values of `sc` whose row has one of `roles` (search moves only the
/// environment's unless it varies the code), in the order of [`timing_slots`].
pub fn timing_slots_of(sc: &Scenario, roles: &[Role]) -> Vec<Slot> {
    let rows: Vec<&'static Field> = FIELDS
        .iter()
        .filter(|f| f.kind == Kind::Timing && roles.contains(&f.role()))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let f = rows[i];
        match f.path.split_once("[]") {
            None => {
                out.push(Slot { field: f, index: 0 });
                i += 1;
            }
            Some((list, _)) => {
                // The group of consecutive rows of one list, expanded element by element.
                let group: Vec<&'static Field> = rows[i..]
                    .iter()
                    .take_while(|g| g.path.split_once("[]").is_some_and(|(l, _)| l == list))
                    .copied()
                    .collect();
                for index in 0..elements(sc, f) {
                    for g in &group {
                        out.push(Slot { field: g, index });
                    }
                }
                i += group.len();
            }
        }
    }
    out
}

/// The numeric knob overrides in milliseconds that `sc` sets (`policy.keepalive_ms = 1000`):
/// what classification shifts besides the timings when the code is varied (what-ifs).
pub fn knob_slots(sc: &Scenario) -> Vec<Slot> {
    FIELDS
        .iter()
        .filter(|f| f.role() == Role::Code && f.ty == super::fields::Ty::Ms)
        .filter(|f| matches!(f.access, Access::Opt(get, ..) if get(sc).is_some()))
        .map(|field| Slot { field, index: 0 })
        .collect()
}

/// Every count of every client (`messages`, `retries`, `count`, `reconnects`): what shrinking
/// brings to its threshold besides the timings.
pub fn count_slots(sc: &Scenario) -> Vec<Slot> {
    let rows: Vec<&'static Field> = FIELDS
        .iter()
        .filter(|f| f.kind == Kind::Count && matches!(f.access, Access::Client(..)))
        .collect();
    (0..sc.clients.len())
        .flat_map(|index| rows.iter().map(move |field| Slot { field, index }))
        .collect()
}

/// The fields a scenario sets away from what absent fields mean: scalar timings, counts and
/// limits off their defaults, every knob override and environment choice, each outage, spike
/// and client, each client field off its default (`at_ms` aside: a client is its arrival),
/// and a decisions list.
pub fn non_default(sc: &Scenario) -> Vec<String> {
    let base = Scenario::new("", "");
    let mut out = Vec::new();
    for s in timing_slots(sc) {
        if !s.field.path.contains("[]") && s.get(sc) != s.default() {
            out.push(s.name());
        }
    }
    for dep in super::deps::Dep::all() {
        for i in 0..dep.outages(sc).len() {
            out.push(format!("{}[{i}]", dep.outages_path()));
        }
        for i in 0..dep.spikes(sc).len() {
            out.push(format!("{}[{i}]", dep.spikes_path()));
        }
    }
    for (i, c) in sc.clients.iter().enumerate() {
        out.push(format!("clients[{i}]"));
        for f in FIELDS.iter().filter(|f| f.path.starts_with("clients[].")) {
            if let Access::Client(get, _) = f.access {
                if f.path != "clients[].at_ms" && get(c) != get(&Client::default()) {
                    out.push(f.path.replace("[]", &format!("[{i}]")));
                }
            }
        }
        if c.user_id.is_some() {
            out.push(format!("clients[{i}].user_id"));
        }
        if c.token != Client::default().token {
            out.push(format!("clients[{i}].token"));
        }
    }
    if !sc.run.decisions.is_empty() {
        out.push("run.decisions".into());
    }
    if sc.environment.name != base.environment.name {
        out.push("environment.name".into());
    }
    if sc.environment.cloud_run != base.environment.cloud_run {
        out.push("environment.cloud_run".into());
    }
    // Every knob override: the `[policy]` table serialised, minus the preset itself.
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(&sc.policy) {
        for k in t.keys().filter(|k| *k != "preset") {
            out.push(format!("policy.{k}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_slots_round_trip() {
        let mut paths: Vec<&str> = FIELDS.iter().map(|f| f.path).collect();
        paths.sort_unstable();
        let n = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), n);
        let mut sc = Scenario::new("t", "t");
        sc.clients = vec![Client::default(), Client::default()];
        sc.redis.server.outages = vec![[10, 20]];
        let slots = timing_slots(&sc);
        let names: Vec<String> = slots.iter().map(Slot::name).collect();
        let at = |n: &str| names.iter().position(|x| x == n).expect(n);
        assert!(at("redis.server.outages[0].start") < at("redis.server.outages[0].end"));
        assert_eq!(at("clients[0].rtt_ms") + 1, at("clients[1].at_ms"));
        for s in &slots {
            let mut c = sc.clone();
            s.set(&mut c, 7.max(s.min()));
            assert_eq!(s.get(&c), 7.max(s.min()), "{}", s.name());
        }
    }
}

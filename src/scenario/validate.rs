//! Validation of a parsed scenario against the field table's ranges and the format's rules.
//! It needs no source text: a file's errors are located afterwards (`locate`), and search
//! checks a generated candidate directly.

use std::fmt;

use super::deps::Dep;
use super::fields::{Access, Field, Ty, FIELDS};
use super::limits;
use super::types::Scenario;
use crate::policy::Policy;

/// A field at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field (`redis.server.outages[1]`), or empty for the whole file.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

fn fail(field: impl Into<String>, message: String) -> Result<(), FieldError> {
    Err(FieldError {
        field: field.into(),
        message,
    })
}

/// The unit a number is counted in, for messages: ` ms`, ` messages`, ` retries`.
fn unit(f: &Field) -> String {
    match f.ty {
        Ty::Ms => " ms".into(),
        _ => {
            let last = f.path.rsplit('.').next().unwrap_or(f.path);
            format!(" {}", last.trim_start_matches("redis_").replace('_', " "))
        }
    }
}

/// `v` against the row's range.
fn in_range(f: &Field, path: &str, v: u64) -> Result<(), FieldError> {
    if v > f.max {
        return fail(
            path,
            format!(
                "{v}{} is too large (at most {}); expected {}",
                unit(f),
                f.max,
                f.allowed()
            ),
        );
    }
    if v < f.min {
        return fail(
            path,
            format!(
                "{v}{} is too small (at least {}); expected {}",
                unit(f),
                f.min,
                f.allowed()
            ),
        );
    }
    Ok(())
}

/// A list's length against the row's limit: "1001 outages; at most 1000 are allowed".
fn list_len(f: &Field, n: usize) -> Result<(), FieldError> {
    if n as u64 > f.max {
        let noun = f
            .path
            .rsplit('.')
            .next()
            .unwrap_or(f.path)
            .replace('_', " ");
        return fail(f.path, format!("{n} {noun}; at most {} are allowed", f.max));
    }
    Ok(())
}

/// Everything wrong with a scenario, in field-table order: every field out of its range, and
/// the first fault each rule that relates fields to each other found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The errors (at least one).
    pub errors: Vec<FieldError>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Invalid {}

/// Checks `sc` (from a file or built in code) against the field table's ranges and the
/// format's rules, and reports every error.
pub fn validate(sc: &Scenario) -> Result<(), Invalid> {
    // The order of the old first-error checks, so a file's first error stays the same.
    let mut errors: Vec<FieldError> = identity(sc).err().into_iter().collect();
    ranges(sc, &mut errors);
    errors.extend(Dep::all().filter_map(|dep| outages(sc, dep).err()));
    for rule in [clients, client_work, what_ifs, expectations] {
        errors.extend(rule(sc).err());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Invalid { errors })
    }
}

/// The format number and the name.
fn identity(sc: &Scenario) -> Result<(), FieldError> {
    if sc.format != 1 {
        return fail(
            "format",
            format!("format {} is unknown; only 1 exists", sc.format),
        );
    }
    if sc.name.is_empty()
        || !sc
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return fail(
            "name",
            format!(
                "`{}` is not a valid name: use letters, digits, `-`, `_` and `.`",
                sc.name
            ),
        );
    }
    Ok(())
}

/// Every field against its row's range, one error per field (a list: its first bad element).
fn ranges(sc: &Scenario, errors: &mut Vec<FieldError>) {
    for f in FIELDS {
        if let Err(e) = field_in_range(sc, f) {
            errors.push(e);
        }
    }
}

/// One row's range check.
fn field_in_range(sc: &Scenario, f: &Field) -> Result<(), FieldError> {
    {
        match f.access {
            Access::Num(get, _) => in_range(f, f.path, get(sc))?,
            Access::Opt(get, ..) => {
                if let Some(v) = get(sc) {
                    in_range(f, f.path, v)?;
                }
            }
            Access::Client(get, _) => {
                for (i, c) in sc.clients.iter().enumerate() {
                    in_range(f, &f.path.replace("[]", &format!("[{i}]")), get(c))?;
                }
            }
            Access::Spike(dep, get, _) => {
                for (i, s) in dep.spikes(sc).iter().enumerate() {
                    in_range(f, &f.path.replace("[]", &format!("[{i}]")), get(s))?;
                }
            }
            Access::Windows(dep) => list_len(f, dep.outages(sc).len())?,
            Access::Spikes(dep) => list_len(f, dep.spikes(sc).len())?,
            Access::Outage(..)
            | Access::Name(..)
            | Access::Flag(..)
            | Access::Triple(..)
            | Access::None => {}
        }
        match f.ty {
            Ty::Decisions => list_len(f, sc.run.decisions.len())?,
            Ty::List if f.path == "clients" => list_len(f, sc.clients.len())?,
            Ty::Triple => {
                for (i, v) in sc.policy.group_timeouts_ms.iter().flatten().enumerate() {
                    in_range(f, &format!("{}[{i}]", f.path), *v)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Each `what_if` entry names a code field the file sets, once.
fn what_ifs(sc: &Scenario) -> Result<(), FieldError> {
    let set: Vec<&str> = super::code::code_fields(sc)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for (i, w) in sc.what_if.iter().enumerate() {
        if !set.contains(&w.as_str()) {
            return fail(
                format!("what_if[{i}]"),
                format!(
                    "`{w}` is not a code field this file sets; the code fields it sets: {}",
                    if set.is_empty() {
                        "none".to_string()
                    } else {
                        set.join(", ")
                    }
                ),
            );
        }
        if sc.what_if[..i].contains(w) {
            return fail(format!("what_if[{i}]"), format!("`{w}` is listed twice"));
        }
    }
    Ok(())
}

/// The client attempts a run can have at least and at most: every expanded client once, and
/// each as often as its reconnects allow.
pub fn attempts(sc: &Scenario) -> (u64, u64) {
    sc.clients.iter().fold((0, 0), |(lo, hi), c| {
        let n = u64::from(c.count);
        (lo + n, hi + n.saturating_mul(1 + u64::from(c.reconnects)))
    })
}

/// Identities and the total of client attempts.
fn clients(sc: &Scenario) -> Result<(), FieldError> {
    for (i, c) in sc.clients.iter().enumerate() {
        if let Some(id) = &c.user_id {
            if id.len() > limits::MAX_USER_ID_BYTES {
                return fail(
                    format!("clients[{i}].user_id"),
                    format!(
                        "{} bytes; at most {} are allowed",
                        id.len(),
                        limits::MAX_USER_ID_BYTES
                    ),
                );
            }
        }
    }
    let (_, most) = attempts(sc);
    if most > limits::MAX_CLIENTS as u64 {
        return fail(
            "clients",
            format!(
                "the clients add up to {most} connection attempts (count x (1 + reconnects)); \
                 at most {} are allowed",
                limits::MAX_CLIENTS
            ),
        );
    }
    Ok(())
}

/// Each outage is `[start, end)` with start < end, and no two overlap.
fn outages(sc: &Scenario, which: Dep) -> Result<(), FieldError> {
    let list = which.outages(sc);
    let path = which.outages_path();
    for (i, [a, b]) in list.iter().enumerate() {
        let f = format!("{path}[{i}]");
        if a >= b {
            return fail(
                f,
                format!(
                    "outage {} ends ({b}) before or when it starts ({a}); \
                     write [start_ms, end_ms] with start < end",
                    i + 1
                ),
            );
        }
        if *b > limits::MAX_TIME_MS {
            return fail(
                f,
                format!(
                    "{b} ms is too large; expected {}",
                    super::fields::allowed(&path)
                ),
            );
        }
    }
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by_key(|&i| list[i]);
    for pair in order.windows(2) {
        let (x, y) = (list[pair[0]], list[pair[1]]);
        if y[0] < x[1] {
            let later = pair[0].max(pair[1]);
            return fail(
                format!("{path}[{later}]"),
                format!(
                    "outages [{}, {}] and [{}, {}] overlap; windows must be disjoint \
                     (merge them into one)",
                    x[0], x[1], y[0], y[1]
                ),
            );
        }
    }
    Ok(())
}

/// Probes one connection attempt's guard may make under `policy`: none without a guard, one
/// live re-check for `reject`, else the whole validation (up to R + 1 probes per check, at
/// most 10 per check in the exponential loop).
pub fn guard_probes(policy: &Policy) -> u64 {
    use crate::vocab::{GuardMode, LoopShape};
    match policy.guard {
        GuardMode::None => 0,
        GuardMode::Reject => 1,
        GuardMode::Degrade | GuardMode::Queue => crate::vocab::Check::ALL
            .iter()
            .map(|c| {
                let n = 1 + u64::from(policy.check(*c).retries);
                match policy.loop_shape {
                    LoopShape::Exponential => {
                        n.min(u64::from(crate::spec::EXPONENTIAL_MAX_ATTEMPTS))
                    }
                    _ => n,
                }
            })
            .sum(),
    }
}

/// The work clients may cause without the clock moving (zero-length gaps and probe costs
/// let it happen inside one step, where the step budget cannot bound it).
fn client_work(sc: &Scenario) -> Result<(), FieldError> {
    let probes = guard_probes(&Policy::resolve(&sc.policy));
    let work: u64 = sc
        .clients
        .iter()
        .map(|c| {
            let per_attempt = u64::from(c.messages) + (1 + u64::from(c.retries)) * probes;
            let attempts = u64::from(c.count) * (1 + u64::from(c.reconnects));
            per_attempt.saturating_mul(attempts)
        })
        .sum();
    if work > limits::MAX_CLIENT_WORK {
        return fail(
            "clients",
            format!(
                "the clients add up to {work} units of work; at most {} are allowed \
                 (per attempt: messages + (1 + retries) x {probes} guard probes, the most \
                 this policy's guard probes per connection; attempts: count x (1 + \
                 reconnects)); use fewer clients, messages or retries",
                limits::MAX_CLIENT_WORK
            ),
        );
    }
    Ok(())
}

/// `[expect]` lists one outcome (and one reason) per client attempt.
fn expectations(sc: &Scenario) -> Result<(), FieldError> {
    let (least, most) = attempts(sc);
    let Some(e) = sc.expect.as_ref() else {
        return Ok(());
    };
    for (field, n) in [
        ("expect.clients", e.clients.as_ref().map(Vec::len)),
        (
            "expect.client_reasons",
            e.client_reasons.as_ref().map(Vec::len),
        ),
    ] {
        let Some(n) = n else { continue };
        let n = n as u64;
        if n < least || n > most {
            let want = if least == most {
                format!("{least}")
            } else {
                format!("{least} to {most}")
            };
            return fail(
                field,
                format!(
                    "lists {n} outcomes but the file's [[clients]] make {want} connection \
                     attempts; give one per attempt (each client, then its reconnects)"
                ),
            );
        }
    }
    Ok(())
}

//! The code under test of a scenario: its preset and every field of the table whose role is
//! code that it sets, what-ifs aside. Search holds it still; a failure's signature names it.
//!
//! It is written the way the command line takes it: `p6`, `p6+route=f3`,
//! `p6+route=f3+redis.manager.ping_timeout_ms=100` (policy knobs without their `policy.`
//! prefix, other code fields by their dotted path), knobs in table order.

use std::fmt;

use serde::Serialize;

use super::fields::{Access, Field, Role, Ty, FIELDS};
use super::types::Scenario;
use crate::policy::Preset;
use crate::suggest::unknown_name;

/// A code under test, as text (`p6+route=f3`): ordered, so it can key maps and file names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CodeId(String);

impl CodeId {
    /// The text (`p6+route=f3`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same in the characters a scenario name allows (`p6.route.f3`).
    pub fn slug(&self) -> String {
        self.0
            .chars()
            .map(|c| match c {
                '+' | '=' => '.',
                c if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' => c,
                _ => '-',
            })
            .collect()
    }
}

impl fmt::Display for CodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The rows of the table that are code under test and that a scenario can set.
fn code_rows() -> impl Iterator<Item = &'static Field> {
    FIELDS
        .iter()
        .filter(|f| f.role() == Role::Code && !matches!(f.access, Access::None))
}

/// How a row is named in a code's text: policy knobs without their prefix.
fn short(path: &str) -> &str {
    path.strip_prefix("policy.").unwrap_or(path)
}

/// The value `sc` sets for code row `f`, as text, or None when the file leaves it alone.
fn value_of(f: &Field, sc: &Scenario) -> Option<String> {
    match f.access {
        Access::Opt(get, ..) => get(sc).map(|v| v.to_string()),
        Access::Name(get, _) => get(sc).and_then(|i| match f.ty {
            Ty::Name(names) => names.get(i).map(|s| s.to_string()),
            _ => None,
        }),
        Access::Flag(get, _) => get(sc).map(|b| b.to_string()),
        Access::Triple(get, ..) => get(sc).map(|[a, b, c]| format!("{a},{b},{c}")),
        Access::Num(get, _) => {
            let v = get(sc);
            (Some(v) != f.default_value()).then(|| v.to_string())
        }
        Access::Client(..)
        | Access::Outage(..)
        | Access::Spike(..)
        | Access::Windows(..)
        | Access::Spikes(..)
        | Access::None => None,
    }
}

/// Every code field `sc` sets, as (dotted path, value), in table order.
pub fn code_fields(sc: &Scenario) -> Vec<(&'static str, String)> {
    code_rows()
        .filter_map(|f| value_of(f, sc).map(|v| (f.path, v)))
        .collect()
}

/// The code under test of `sc`: its preset and the code fields it sets, those its `what_if`
/// list names aside.
pub fn code_of(sc: &Scenario) -> CodeId {
    let mut s = sc.policy.preset.name().to_string();
    for (path, v) in code_fields(sc) {
        if !sc.what_if.iter().any(|w| w == path) {
            s.push('+');
            s.push_str(short(path));
            s.push('=');
            s.push_str(&v);
        }
    }
    CodeId(s)
}

/// The code fields where `sc` differs from `base` (what a what-if changed), in table order.
pub fn changed_code(base: &Scenario, sc: &Scenario) -> Vec<String> {
    code_rows()
        .filter(|f| value_of(f, base) != value_of(f, sc))
        .map(|f| f.path.to_string())
        .collect()
}

/// Sets code row `f` of `sc` from its text; `Err` says what the row allows.
fn set_from_text(f: &Field, sc: &mut Scenario, text: &str) -> Result<(), String> {
    let bad = || format!("`{}`: expected {}", short(f.path), f.allowed());
    let number = |t: &str| -> Result<u64, String> {
        let v: u64 = t.trim().parse().map_err(|_| bad())?;
        if v < f.min || v > f.max {
            return Err(bad());
        }
        Ok(v)
    };
    match f.access {
        Access::Opt(_, set, _) => set(sc, Some(number(text)?)),
        Access::Num(_, set) => set(sc, number(text)?),
        Access::Flag(_, set) => set(sc, Some(text.parse().map_err(|_| bad())?)),
        Access::Name(_, set) => {
            let Ty::Name(names) = f.ty else {
                return Err(bad());
            };
            let i = names.iter().position(|n| *n == text).ok_or_else(|| {
                unknown_name(&format!("value of `{}`", short(f.path)), text, names)
            })?;
            set(sc, Some(i));
        }
        Access::Triple(_, set) => {
            let parts: Vec<u64> = text
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(number)
                .collect::<Result<_, _>>()?;
            let [a, b, c] = parts[..] else {
                return Err(bad());
            };
            set(sc, Some([a, b, c]));
        }
        Access::Client(..)
        | Access::Outage(..)
        | Access::Spike(..)
        | Access::Windows(..)
        | Access::Spikes(..)
        | Access::None => return Err(bad()),
    }
    Ok(())
}

/// A scenario whose code is `text` (`p6+route=f3`) and everything else at its default: what
/// `explore --preset` starts every case of that code from.
pub fn parse_code(text: &str) -> Result<Scenario, String> {
    let mut parts = text.split('+');
    let preset_name = parts.next().unwrap_or_default().trim();
    let preset = Preset::from_name(preset_name)
        .ok_or_else(|| unknown_name("preset", preset_name, &Preset::NAMES))?;
    let mut sc = Scenario::new("code", "the code under test");
    sc.policy.preset = preset;
    for part in parts {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected KNOB=VALUE after `+`, e.g. p6+route=f3"))?;
        let k = k.trim();
        let row = code_rows()
            .find(|f| f.path == k || short(f.path) == k)
            .ok_or_else(|| {
                let names: Vec<&str> = code_rows().map(|f| short(f.path)).collect();
                unknown_name("knob of the code under test", k, &names)
            })?;
        set_from_text(row, &mut sc, v.trim())?;
    }
    Ok(sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_as_it_was_written_in_table_order() {
        let sc = parse_code("p6+keepalive_ms=30000+route=f3").expect("parses");
        assert_eq!(code_of(&sc).as_str(), "p6+route=f3+keepalive_ms=30000");
        assert_eq!(code_of(&sc).slug(), "p6.route.f3.keepalive_ms.30000");
        let again = parse_code(code_of(&sc).as_str()).expect("round trip");
        assert_eq!(code_of(&again), code_of(&sc));
        let m = parse_code("p0+redis.manager.ping_timeout_ms=100+group_timeouts_ms=1,2,3")
            .expect("parses");
        assert_eq!(
            code_of(&m).as_str(),
            "p0+group_timeouts_ms=1,2,3+redis.manager.ping_timeout_ms=100"
        );
    }

    #[test]
    fn what_ifs_are_not_part_of_the_code() {
        let base = parse_code("p6").expect("parses");
        let mut sc = base.clone();
        sc.policy.keepalive_ms = Some(1000);
        sc.what_if = changed_code(&base, &sc);
        assert_eq!(sc.what_if, vec!["policy.keepalive_ms".to_string()]);
        assert_eq!(code_of(&sc), code_of(&base));
        // Environment fields are never code.
        sc.redis.server.up_from_ms = 5000;
        assert_eq!(code_of(&sc), code_of(&base));
    }

    #[test]
    fn bad_codes_say_what_is_allowed() {
        for (text, want) in [
            ("p3", "unknown preset `p3`"),
            ("p6+route", "expected KNOB=VALUE"),
            ("p6+rout=f3", "did you mean `route`"),
            ("p6+route=f2", "unknown value of `route` `f2`"),
            (
                "p6+keepalive_ms=x",
                "`keepalive_ms`: expected a whole number",
            ),
            ("p6+up_from_ms=3", "unknown knob of the code under test"),
        ] {
            let e = parse_code(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}

//! The incident team's own 26 tests, judged by the model: each test's claim, read from its
//! scenarios' notes, checked against their replays.
//!
//! A seed-suite scenario's `notes` start with four lines that say which test it answers:
//!
//! ```text
//! test: 11 integration test_gcp_validator_with_realistic_redis_timing
//! file: netra_backend/tests/integration/websocket/test_gcp_validator_race_condition_integration.py
//! role: day            (day: the preset of the day; override: with the test's own mocks; only)
//! asserts: startup=ready, no-violation=false-ready
//! ```
//!
//! and a `Claim: ...` line. `asserts` is what the test asserts, in terms of the replay:
//! `startup=OUTCOME`, `elapsed>=MS`, `elapsed<=MS`, `failed=CHECK`, `violation=NAME`,
//! `no-violation=NAME`, `event=NAME` (some trace event has that name), `no-1011`,
//! `served>=N` (client attempts served), `served%>=P` (share of attempts served), or `none`
//! (not a timing claim). A test's verdict: `not a timing claim` when it asserts none; `holds`
//! when its day (or only) scenario satisfies every assert; `holds only with override` when only
//! its override scenario does; `false` otherwise. The verdicts are computed, never written.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::engine::EngineKind;
use crate::replay::{self, Report};
use crate::scenario::{self, Scenario};
use crate::vocab::Outcome;

/// What readysim shows about a test's claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The code of the day does what the test claims.
    Holds,
    /// Only the test's own mocks (a faithful probe, no circular check) make it true.
    HoldsOnlyWithOverride,
    /// Not even with the test's mocks.
    False,
    /// The test checks Python mechanics, not timing.
    NotATimingClaim,
}

impl Verdict {
    /// The words of the table.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::HoldsOnlyWithOverride => "holds only with override",
            Verdict::False => "false",
            Verdict::NotATimingClaim => "not a timing claim",
        }
    }
}

/// One scenario of a test, replayed.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The scenario's name.
    pub scenario: String,
    /// `day`, `override` or `only`.
    pub role: String,
    /// Whether every assert held.
    pub holds: bool,
    /// What the replay showed, in one line.
    pub shows: String,
}

/// One test: its claim, its scenarios and the verdict they give.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// 1-26, in file order.
    pub number: u32,
    /// `unit`, `integration` or `e2e`.
    pub suite: String,
    /// The test function.
    pub test: String,
    /// The test file in the team's repository.
    pub file: String,
    /// The claim, in one line.
    pub claim: String,
    /// What it asserts, in replay terms.
    pub asserts: String,
    /// Its scenarios.
    pub runs: Vec<Run>,
    /// What readysim shows.
    pub verdict: Verdict,
}

/// A seed-suite file that does not follow the notes convention.
#[derive(Debug)]
pub struct SuiteError(pub String);

impl std::fmt::Display for SuiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

struct Meta {
    number: u32,
    suite: String,
    test: String,
    file: String,
    role: String,
    asserts: String,
    claim: String,
}

fn meta(sc: &Scenario) -> Result<Meta, SuiteError> {
    let bad = |what: &str| SuiteError(format!("{}: notes lack `{what}`", sc.name));
    let line = |key: &str| {
        sc.notes
            .as_deref()
            .unwrap_or("")
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    let test = line("test:").ok_or_else(|| bad("test: N SUITE NAME"))?;
    let mut parts = test.split_whitespace();
    let number = parts
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad("test: N"))?;
    let suite = parts
        .next()
        .ok_or_else(|| bad("test: N SUITE"))?
        .to_string();
    let name = parts
        .next()
        .ok_or_else(|| bad("test: N SUITE NAME"))?
        .to_string();
    Ok(Meta {
        number,
        suite,
        test: name,
        file: line("file:").unwrap_or_default(),
        role: line("role:").ok_or_else(|| bad("role:"))?,
        asserts: line("asserts:").ok_or_else(|| bad("asserts:"))?,
        claim: line("Claim:").ok_or_else(|| bad("Claim:"))?,
    })
}

/// Client attempts served.
fn served(rep: &Report) -> u64 {
    rep.clients
        .iter()
        .filter(|c| **c == Some(Outcome::Served))
        .count() as u64
}

/// Checks one assert against a replay; Err for an assert readysim does not know.
fn check(term: &str, rep: &Report) -> Result<bool, SuiteError> {
    let served = served(rep);
    let num = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| SuiteError(format!("`{term}`: not a number")))
    };
    let (key, op, value) = ["<=", ">=", "="]
        .iter()
        .find_map(|op| term.split_once(op).map(|(k, v)| (k.trim(), *op, v.trim())))
        .unwrap_or((term, "", ""));
    let cmp = |got: Option<u64>, want: u64| match (got, op) {
        (Some(g), "<=") => g <= want,
        (Some(g), ">=") => g >= want,
        (Some(g), _) => g == want,
        (None, _) => false,
    };
    Ok(match key {
        "startup" => rep.startup.map(|s| s.name()) == Some(value),
        "elapsed" => cmp(rep.elapsed_ms, num(value)?),
        "failed" => rep
            .failed_services
            .as_ref()
            .is_some_and(|f| f.iter().any(|c| c.name() == value)),
        "violation" => rep.violations.iter().any(|v| v.name() == value),
        "no-violation" => !rep.violations.iter().any(|v| v.name() == value),
        "event" => rep
            .evaluation
            .output
            .trace
            .iter()
            .any(|e| e.ev.name() == value),
        "no-1011" => !rep.clients.contains(&Some(Outcome::Closed1011)),
        "served" => cmp(Some(served), num(value)?),
        "served%" => {
            let all = rep.clients.len().max(1) as u64;
            cmp(Some(served * 100 / all), num(value)?)
        }
        _ => return Err(SuiteError(format!("unknown assert `{term}`"))),
    })
}

/// One line of what a replay showed.
fn shows(rep: &Report) -> String {
    let mut s = format!(
        "{} at {} ms (elapsed {} ms)",
        rep.startup.map_or("-", |s| s.name()),
        rep.verdict_at_ms.map_or("-".into(), |t| t.to_string()),
        rep.elapsed_ms.map_or("-".into(), |t| t.to_string()),
    );
    if !rep.clients.is_empty() {
        s.push_str(&format!(
            "; {} of {} served",
            served(rep),
            rep.clients.len()
        ));
    }
    if !rep.violations.is_empty() {
        let v: Vec<&str> = rep.violations.iter().map(|v| v.name()).collect();
        s.push_str(&format!("; {}", v.join(", ")));
    }
    s
}

/// Replays every scenario under `dir` and judges each test's claim.
pub fn judge(dir: &Path) -> Result<Vec<Row>, SuiteError> {
    let mut rows: BTreeMap<u32, Row> = BTreeMap::new();
    for path in scenario::files_under(dir) {
        let sc = scenario::load(&path).map_err(|e| SuiteError(e.to_string()))?;
        let m = meta(&sc)?;
        let rep = replay::replay(&sc, EngineKind::Fast);
        let holds = if m.asserts == "none" {
            false
        } else {
            let mut all = true;
            for term in m.asserts.split(',') {
                all &= check(term.trim(), &rep)?;
            }
            all
        };
        let row = rows.entry(m.number).or_insert_with(|| Row {
            number: m.number,
            suite: m.suite.clone(),
            test: m.test.clone(),
            file: m.file.clone(),
            claim: m.claim.clone(),
            asserts: m.asserts.clone(),
            runs: Vec::new(),
            verdict: Verdict::NotATimingClaim,
        });
        row.runs.push(Run {
            scenario: sc.name.clone(),
            role: m.role,
            holds,
            shows: shows(&rep),
        });
    }
    for row in rows.values_mut() {
        // The day's run first, then the override (file order is by name otherwise).
        row.runs
            .sort_by_key(|r| (r.role == "override", r.scenario.clone()));
        let base = row.runs.iter().any(|r| r.role != "override" && r.holds);
        let over = row.runs.iter().any(|r| r.role == "override" && r.holds);
        row.verdict = if row.asserts == "none" {
            Verdict::NotATimingClaim
        } else if base {
            Verdict::Holds
        } else if over {
            Verdict::HoldsOnlyWithOverride
        } else {
            Verdict::False
        };
    }
    Ok(rows.into_values().collect())
}

/// How many tests got each verdict, in verdict order.
pub fn totals(rows: &[Row]) -> Vec<(Verdict, usize)> {
    let mut t: BTreeMap<Verdict, usize> = BTreeMap::new();
    for r in rows {
        *t.entry(r.verdict).or_insert(0) += 1;
    }
    t.into_iter().collect()
}

/// The table as Markdown (what `docs/seed-suite.md` holds between its markers).
pub fn markdown(rows: &[Row]) -> String {
    let mut o = String::new();
    let totals: Vec<String> = totals(rows)
        .iter()
        .map(|(v, n)| format!("**{n}** {}", v.words()))
        .collect();
    o.push_str(&format!("{} tests: {}.\n\n", rows.len(), totals.join(", ")));
    o.push_str(
        "| # | Test | Claim | Scenarios | readysim shows | Verdict |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let scen: Vec<String> = r.runs.iter().map(|x| format!("`{}`", x.scenario)).collect();
        let what: Vec<String> = r
            .runs
            .iter()
            .map(|x| format!("{}: {}", x.role, x.shows))
            .collect();
        o.push_str(&format!(
            "| {} | {} `{}` | {} | {} | {} | {} |\n",
            r.number,
            r.suite,
            r.test,
            r.claim.replace('|', "/"),
            scen.join(", "),
            what.join("; ").replace('|', "/"),
            r.verdict.words()
        ));
    }
    o
}

//! The incident team's own tests, answered three times: what pytest reports as written, whether
//! the claim holds for the code of the day in GCP, and whether the test would notice the
//! incident's fault. 52 rows: the six suites of `netra-systems/zen` at 4e99b54cc.
//!
//! The facts live in `facts.toml` (beside this file): per test, its suite, line, claim and,
//! for each answer, either a scenario under `scenarios/seed-suite/` with what the test asserts
//! in replay terms (then the answer is computed by replaying it), or a verdict with the line
//! of the test's code that decides it (a missing import, a coroutine never awaited, a string
//! compared after `lower()`). Asserts are `startup=OUTCOME`, `elapsed>=MS`, `elapsed<=MS`,
//! `failed=CHECK`, `violation=NAME`, `no-violation=NAME`, `event=NAME` (a trace event),
//! `no-1011`, `served>=N`, `served%>=P`, `answered>=N` and `answered%>=P` (attempts that got
//! any frame: served, or closed after the accept, an error frame then 1011 included).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::EngineKind;
use crate::replay::{self, Report};
use crate::scenario;
use crate::vocab::Outcome;

/// The facts, as shipped.
pub const FACTS: &str = include_str!("facts.toml");

/// What pytest reports for a test run as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AsWritten {
    /// Collected and passed.
    Pass,
    /// Collected and failed.
    Fail,
    /// Not collected (an import or a fixture that does not exist, or not a test at all).
    #[serde(rename = "not collected")]
    NotCollected,
}

impl AsWritten {
    /// The words of the table.
    pub fn words(self) -> &'static str {
        match self {
            AsWritten::Pass => "pass",
            AsWritten::Fail => "fail",
            AsWritten::NotCollected => "not collected",
        }
    }
}

/// Whether the claim holds for the code of the day in GCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Claim {
    /// It does.
    #[serde(rename = "holds")]
    Holds,
    /// It does not.
    #[serde(rename = "false")]
    False,
    /// The test checks Python mechanics (a configuration value, a mock's branches), not timing.
    #[serde(rename = "not a timing claim")]
    NotTiming,
}

impl Claim {
    /// The words of the table.
    pub fn words(self) -> &'static str {
        match self {
            Claim::Holds => "holds",
            Claim::False => "false",
            Claim::NotTiming => "not a timing claim",
        }
    }
}

/// Whether the test would fail if the incident's fault were present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Discriminates {
    /// It passes on working code and fails with the fault.
    Yes,
    /// It passes with the fault present: vacuous.
    Vacuous,
    /// It cannot pass on the code of the day even without the fault, so its failure says
    /// nothing about the fault.
    NeverPasses,
    /// The fault is out of its reach (not a test, or a path no fault touches).
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Discriminates {
    /// `true`, `false` or `null` for JSON.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Discriminates::Yes => Some(true),
            Discriminates::Vacuous | Discriminates::NeverPasses => Some(false),
            Discriminates::NotApplicable => None,
        }
    }

    /// The words of the table.
    pub fn words(self) -> &'static str {
        match self {
            Discriminates::Yes => "yes",
            Discriminates::Vacuous => "no: vacuous (passes with the fault)",
            Discriminates::NeverPasses => "no: never passes",
            Discriminates::NotApplicable => "n/a",
        }
    }
}

/// A scenario and what the test asserts about its replay.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// The scenario's name, under `scenarios/seed-suite/`.
    pub scenario: String,
    /// The test's asserts in replay terms.
    pub asserts: String,
}

/// One answer's facts: a replay, or a verdict the test's code decides.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Facts<V> {
    scenario: Option<String>,
    asserts: Option<String>,
    verdict: Option<V>,
    kind: Option<V>,
    /// What pytest showed when the suites were run (checked against a replay).
    observed: Option<AsWritten>,
    line: Option<u32>,
    mechanism: Option<String>,
    detail: Option<String>,
    why: Option<String>,
}

/// One test of the facts file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFacts {
    n: u32,
    suite: String,
    test: String,
    line: u32,
    claim: String,
    infra: String,
    written: Facts<AsWritten>,
    production: Facts<Claim>,
    corrected: Option<Facts<Claim>>,
    discriminates: Facts<Discriminates>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    test: Vec<TestFacts>,
}

/// One replay, and what it showed.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The scenario and the asserts.
    #[serde(flatten)]
    pub replay: Replay,
    /// Whether every assert held.
    pub holds: bool,
    /// What the replay showed, in one line.
    pub shows: String,
}

/// One test and its three answers.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// 1-52, suite by suite in the order the issue lists them.
    pub n: u32,
    /// The test file's path in the team's repository.
    pub suite: String,
    /// The test function.
    pub test: String,
    /// The line of its `def`.
    pub def_line: u32,
    /// What it claims, in one line.
    pub claim_text: String,
    /// As written: pass, fail or not collected.
    pub as_written: AsWritten,
    /// The line that decides it (the first failing line, or the import that fails).
    pub as_written_line: Option<u32>,
    /// How, in a few words.
    pub mechanism: String,
    /// How, in full, with the lines of the repository it rests on.
    pub mechanism_detail: String,
    /// Where the as-written verdict comes from: `replay` or `the test's code`.
    pub as_written_from: &'static str,
    /// The replay behind it, if any.
    pub as_written_run: Option<Run>,
    /// The claim for the code of the day in GCP.
    pub claim: Claim,
    /// Why.
    pub claim_why: String,
    /// The replay behind it, if any.
    pub claim_run: Option<Run>,
    /// The labelled extra: the claim with a corrected mock (the test's own overrides).
    pub corrected: Option<Run>,
    /// A scenario that shows the model fact nearest a claim that is not about timing.
    pub see_also: Option<String>,
    /// Whether the test would notice the fault (null: not applicable).
    pub discriminates: Option<bool>,
    /// Which way.
    pub discriminates_kind: Discriminates,
    /// Why.
    pub discriminates_why: String,
    /// The replay behind it, if any (the fault present; the test's own criterion).
    pub discriminates_run: Option<Run>,
    /// What it needs to run for real.
    pub infra: String,
}

/// The facts file or a scenario it names is not usable.
#[derive(Debug)]
pub struct SuiteError(pub String);

impl std::fmt::Display for SuiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Client attempts with this property.
fn count(rep: &Report, f: impl Fn(Outcome) -> bool) -> u64 {
    rep.clients.iter().flatten().filter(|o| f(**o)).count() as u64
}

/// Checks one assert against a replay; Err for an assert readysim does not know.
fn check(term: &str, rep: &Report) -> Result<bool, SuiteError> {
    let served = count(rep, |o| o == Outcome::Served);
    // Got any frame: accepted, then served or closed by the server.
    let answered = count(rep, |o| {
        matches!(
            o,
            Outcome::Served | Outcome::Closed1011 | Outcome::Closed1008 | Outcome::Closed1001
        )
    });
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
    let share = |n: u64| n * 100 / rep.clients.len().max(1) as u64;
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
        "served%" => cmp(Some(share(served)), num(value)?),
        "answered" => cmp(Some(answered), num(value)?),
        "answered%" => cmp(Some(share(answered)), num(value)?),
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
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &rep.clients {
            *by.entry(c.map_or("none", |o| o.name())).or_insert(0) += 1;
        }
        let parts: Vec<String> = by.iter().map(|(o, n)| format!("{n} {o}")).collect();
        s.push_str(&format!("; clients {}", parts.join(", ")));
    }
    if !rep.violations.is_empty() {
        let v: Vec<&str> = rep.violations.iter().map(|v| v.name()).collect();
        s.push_str(&format!("; {}", v.join(", ")));
    }
    s
}

/// Replays `scenario` (found under `dir`) and checks `asserts` against it.
fn run(dir: &Path, scenario: &str, asserts: &str) -> Result<Run, SuiteError> {
    let path = scenario::find(dir, scenario)
        .map_err(|e| SuiteError(format!("scenario `{scenario}`: {e}")))?;
    let sc = scenario::load(&path).map_err(|e| SuiteError(e.to_string()))?;
    let rep = replay::replay_valid(&sc, EngineKind::Fast);
    let mut holds = true;
    for term in asserts.split(',') {
        holds &= check(term.trim(), &rep)?;
    }
    Ok(Run {
        replay: Replay {
            scenario: scenario.to_string(),
            asserts: asserts.to_string(),
        },
        holds,
        shows: shows(&rep),
    })
}

/// The replay an answer names, if it names one.
fn replay_of<V>(
    dir: &Path,
    f: &Facts<V>,
    what: &str,
    test: u32,
) -> Result<Option<Run>, SuiteError> {
    match (&f.scenario, &f.asserts) {
        (Some(s), Some(a)) => run(dir, s, a).map(Some),
        (None, Some(_)) => Err(SuiteError(format!(
            "test {test}: {what} has asserts but no scenario"
        ))),
        _ => Ok(None),
    }
}

/// Reads the facts and replays every scenario they name (found under `dir`).
pub fn judge(dir: &Path) -> Result<Vec<Row>, SuiteError> {
    judge_facts(FACTS, dir)
}

/// [`judge`] over a facts text.
pub fn judge_facts(facts: &str, dir: &Path) -> Result<Vec<Row>, SuiteError> {
    let file: File =
        toml::from_str(facts).map_err(|e| SuiteError(format!("seed-suite facts: {e}")))?;
    let mut rows = Vec::new();
    for t in file.test {
        let missing = |what: &str| SuiteError(format!("test {}: {what}", t.n));
        let w = &t.written;
        let written_run = replay_of(dir, w, "written", t.n)?;
        let as_written = match &written_run {
            Some(r) if r.holds => AsWritten::Pass,
            Some(_) => AsWritten::Fail,
            None => w
                .verdict
                .ok_or_else(|| missing("written needs a verdict or a scenario"))?,
        };
        if let (Some(obs), Some(_)) = (w.observed, &written_run) {
            if obs != as_written {
                return Err(SuiteError(format!(
                    "test {}: the replay says {} where pytest showed {}",
                    t.n,
                    as_written.words(),
                    obs.words()
                )));
            }
        }
        let claim_run = replay_of(dir, &t.production, "production", t.n)?;
        let claim = match &claim_run {
            Some(r) if r.holds => Claim::Holds,
            Some(_) => Claim::False,
            None => t
                .production
                .verdict
                .ok_or_else(|| missing("production needs a verdict or a scenario with asserts"))?,
        };
        let corrected = match &t.corrected {
            Some(c) => replay_of(dir, c, "corrected", t.n)?,
            None => None,
        };
        let disc_run = replay_of(dir, &t.discriminates, "discriminates", t.n)?;
        // The fault is present in the scenario: if the test's criterion still holds, the test
        // passes with the fault, so it is vacuous.
        let kind = match &disc_run {
            Some(r) if r.holds => Discriminates::Vacuous,
            Some(_) => Discriminates::Yes,
            None => t
                .discriminates
                .kind
                .ok_or_else(|| missing("discriminates needs a kind or a scenario"))?,
        };
        rows.push(Row {
            n: t.n,
            suite: t.suite,
            test: t.test,
            def_line: t.line,
            claim_text: t.claim,
            as_written,
            as_written_line: w.line,
            mechanism: w.mechanism.clone().unwrap_or_default(),
            mechanism_detail: w.detail.clone().unwrap_or_default(),
            as_written_from: if written_run.is_some() {
                "replay"
            } else {
                "the test's code"
            },
            as_written_run: written_run,
            claim,
            claim_why: t.production.why.clone().unwrap_or_default(),
            claim_run,
            corrected,
            see_also: t
                .production
                .asserts
                .is_none()
                .then(|| t.production.scenario.clone())
                .flatten(),
            discriminates: kind.as_bool(),
            discriminates_kind: kind,
            discriminates_why: t.discriminates.why.clone().unwrap_or_default(),
            discriminates_run: disc_run,
            infra: t.infra,
        });
    }
    Ok(rows)
}

/// The totals line: as written, claims, and the vacuous count.
pub fn totals(rows: &[Row]) -> String {
    let n = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    format!(
        "{} tests. As written: **{}** pass, **{}** fail, **{}** not collected. Claims in production: **{}** hold, **{}** false, **{}** not a timing claim. **{}** vacuous (pass with the fault present); **{}** would notice the fault.",
        rows.len(),
        n(&|r| r.as_written == AsWritten::Pass),
        n(&|r| r.as_written == AsWritten::Fail),
        n(&|r| r.as_written == AsWritten::NotCollected),
        n(&|r| r.claim == Claim::Holds),
        n(&|r| r.claim == Claim::False),
        n(&|r| r.claim == Claim::NotTiming),
        n(&|r| r.discriminates_kind == Discriminates::Vacuous),
        n(&|r| r.discriminates_kind == Discriminates::Yes),
    )
}

/// The table as Markdown (what `docs/seed-suite.md` holds between its markers).
pub fn markdown(rows: &[Row]) -> String {
    let mut o = String::new();
    o.push_str(&totals(rows));
    o.push_str("\n\n");
    let cell = |s: &str| s.replace('|', "/");
    let mut suite = String::new();
    for r in rows {
        if r.suite != suite {
            suite = r.suite.clone();
            o.push_str(&format!(
                "\n`{suite}`\n\n| # | Test | As written | Claim in production | Discriminates | Scenarios |\n|---|---|---|---|---|---|\n"
            ));
        }
        let line = r
            .as_written_line
            .map_or(String::new(), |l| format!(" at line {l}"));
        let written = format!(
            "**{}**{line}: {} ({})",
            r.as_written.words(),
            cell(&r.mechanism),
            if r.as_written_run.is_some() {
                "replay"
            } else {
                "the test's code"
            }
        );
        let mut claim = format!("**{}**", r.claim.words());
        if let Some(run) = &r.claim_run {
            claim.push_str(&format!(": {}", cell(&run.shows)));
        }
        if let Some(c) = &r.corrected {
            claim.push_str(&format!(
                "; with a corrected mock: {}",
                if c.holds { "holds" } else { "false" }
            ));
        }
        let mut scen: Vec<String> = Vec::new();
        for run in [
            &r.as_written_run,
            &r.claim_run,
            &r.corrected,
            &r.discriminates_run,
        ]
        .into_iter()
        .flatten()
        {
            let s = format!("`{}`", run.replay.scenario);
            if !scen.contains(&s) {
                scen.push(s);
            }
        }
        if let Some(s) = &r.see_also {
            let s = format!("`{s}`");
            if !scen.contains(&s) {
                scen.push(s);
            }
        }
        o.push_str(&format!(
            "| {} | `{}` (line {}) | {} | {} | {} | {} |\n",
            r.n,
            r.test,
            r.def_line,
            written,
            claim,
            r.discriminates_kind.words(),
            scen.join(", ")
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed-suite")
    }

    /// A replay that disagrees with what pytest showed is an error, not a row.
    #[test]
    fn a_replay_must_agree_with_what_pytest_showed() {
        let facts = FACTS.replacen("observed = \"pass\"", "observed = \"fail\"", 1);
        assert_ne!(facts, FACTS);
        let e = judge_facts(&facts, &dir()).expect_err("a disagreement");
        assert!(e.0.contains("where pytest showed fail"), "{e}");
    }

    /// The verdicts that come from replays change with the scenario, not with a label: the
    /// as-written pass of the service-group test is the replay's elapsed time inside 2 s.
    #[test]
    fn verdicts_are_computed_from_the_replays() {
        let rows = judge(&dir()).expect("the facts load");
        let r = rows.iter().find(|r| r.n == 4).expect("test 4");
        assert_eq!(r.as_written, AsWritten::Pass);
        let run = r.as_written_run.as_ref().expect("a replay");
        assert!(run.shows.contains("elapsed 1507 ms"), "{}", run.shows);
        let tighter = FACTS.replacen(
            "startup=ready, elapsed>=500, elapsed<=2000\"\nobserved = \"pass\"",
            "startup=ready, elapsed>=500, elapsed<=1500\"\nobserved = \"fail\"",
            1,
        );
        assert_ne!(tighter, FACTS);
        let rows = judge_facts(&tighter, &dir()).expect("loads");
        assert_eq!(rows[3].as_written, AsWritten::Fail);
    }
}

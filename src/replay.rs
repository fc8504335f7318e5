//! Running a scenario and judging it: the verdict, the oracles, the determinism check, and the
//! comparison with `[expect]` that the replay contract defines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::engine::EngineKind;
use crate::judge::{self, Contract, Env, Finding};
use crate::model::{self, RunOutput};
use crate::policy::Policy;
use crate::scenario::{self, Expect, Invalid, Scenario};
use crate::trace;
use crate::vocab::{Check, Outcome, Reason, StartupOutcome, Violation};

/// One run with its violations: what search needs, without rendering any text.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Evaluation {
    /// The run.
    pub output: RunOutput,
    /// Violations found by the oracles (`nondeterminism` excluded).
    pub violations: BTreeSet<Violation>,
    /// The same, each with the site where it happened and the instant it first did.
    pub findings: BTreeMap<Finding, u64>,
}

/// The promises the judge holds `sc`'s design to: the reference design's stricter ones, or
/// the real system's.
pub fn contract(sc: &Scenario) -> Contract {
    Contract {
        strict: Policy::resolve(&sc.policy).strict_contract,
    }
}

/// Validates `sc` (it may have been built in code), runs it once on `kind` and applies the
/// oracles.
pub fn evaluate(sc: &Scenario, kind: EngineKind) -> Result<Evaluation, Invalid> {
    scenario::validate(sc)?;
    Ok(evaluate_valid(sc, kind))
}

/// [`evaluate`] for a scenario already validated (loaded from a file, or generated within
/// the table's ranges).
pub(crate) fn evaluate_valid(sc: &Scenario, kind: EngineKind) -> Evaluation {
    judged(sc, model::run(sc, kind))
}

/// Applies the oracles to a run of `sc` (from any engine, real time included).
pub fn judged(sc: &Scenario, output: model::RunOutput) -> Evaluation {
    let findings = judge::findings(&Env::of(sc), &output.trace, contract(sc), output.hung());
    let violations = findings.keys().map(|f| f.violation).collect();
    Evaluation {
        output,
        violations,
        findings,
    }
}

/// A value of one `[expect]` field, as the file says it or the run gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// `startup`.
    Startup(Option<StartupOutcome>),
    /// `verdict_at_ms`, `elapsed_ms`, `lost_messages`.
    Number(Option<u64>),
    /// `failed_services`.
    Services(Option<Vec<Check>>),
    /// `message`, `trace_hash`.
    Text(Option<String>),
    /// `clients` (a client without an outcome is null).
    Clients(Vec<Option<Outcome>>),
    /// `client_reasons` (null where an attempt has no reason).
    Reasons(Vec<Option<Reason>>),
    /// `violations`, in name order.
    Violations(Vec<Violation>),
}

impl fmt::Display for Value {
    /// As JSON: `"failed"`, `9670`, `["redis"]`, `null`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?)
    }
}

/// One field of `[expect]` that did not match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Mismatch {
    /// The `[expect]` field.
    pub field: &'static str,
    /// What the file says.
    pub expected: Value,
    /// What the run gave.
    pub got: Value,
}

/// The replay contract's result (the JSON object of `replay --json`).
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Scenario name.
    pub name: String,
    /// How startup ended.
    pub startup: Option<StartupOutcome>,
    /// When the verdict was published.
    pub verdict_at_ms: Option<u64>,
    /// From the validator's start.
    pub elapsed_ms: Option<u64>,
    /// Failed critical services (none before a verdict).
    pub failed_services: Option<Vec<Check>>,
    /// The startup error text.
    pub message: Option<String>,
    /// One outcome per client attempt (null for one without an outcome).
    pub clients: Vec<Option<Outcome>>,
    /// The close reason of each attempt's 1011 or 1008 (null otherwise).
    pub client_reasons: Vec<Option<Reason>>,
    /// Messages lost in all.
    pub lost_messages: u64,
    /// Violations, in name order.
    pub violations: Vec<Violation>,
    /// Hash of the rendered trace.
    pub trace_hash: String,
    /// Whether every `[expect]` field matched.
    pub matches: bool,
    /// The fields that did not.
    pub mismatches: Vec<Mismatch>,
    /// Set when `expect.trace_hash` no longer matches: the model drifted (see [`drift`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// The run itself (not part of the JSON).
    #[serde(skip)]
    pub evaluation: Evaluation,
}

impl Report {
    /// The rendered trace, one line per event (rendered on demand: a report does not keep it).
    pub fn trace_text(&self) -> String {
        trace::render(&self.evaluation.output.trace)
    }
}

/// Runs `sc` twice on `kind` (a differing trace is `nondeterminism`), then compares the first
/// run with the file's `[expect]`.
///
/// The second run keeps only its trace's hash, so a replay holds one trace, not two.
pub fn replay(sc: &Scenario, kind: EngineKind) -> Result<Report, Invalid> {
    scenario::validate(sc)?;
    Ok(replay_valid(sc, kind))
}

/// [`replay`] for a scenario already validated.
pub(crate) fn replay_valid(sc: &Scenario, kind: EngineKind) -> Report {
    let mut first = evaluate_valid(sc, kind);
    let hash = trace::hash(&first.output.trace);
    let second = model::run_hashed(sc, kind);
    if second.trace_hash.as_deref() != Some(hash.as_str()) {
        first.violations.insert(Violation::Nondeterminism);
    }
    report_hashed(sc, first, hash)
}

/// Builds the report of an evaluated run (hashes its trace).
pub fn report(sc: &Scenario, ev: Evaluation) -> Report {
    let hash = trace::hash(&ev.output.trace);
    report_hashed(sc, ev, hash)
}

fn report_hashed(sc: &Scenario, ev: Evaluation, trace_hash: String) -> Report {
    let r = &ev.output.results;
    let started = r.verdict_at_ms.is_some();
    let mut rep = Report {
        name: sc.name.clone(),
        startup: r.startup,
        verdict_at_ms: r.verdict_at_ms,
        elapsed_ms: r.elapsed_ms,
        failed_services: started.then(|| r.failed_services.clone()),
        message: r.message(),
        clients: r.clients.clone(),
        client_reasons: r.reasons.clone(),
        lost_messages: r.lost_messages,
        violations: ev.violations.iter().copied().collect(),
        trace_hash,
        matches: true,
        mismatches: Vec::new(),
        drift: None,
        evaluation: ev,
    };
    if let Some(e) = &sc.expect {
        rep.mismatches = compare(e, &rep);
        rep.matches = rep.mismatches.is_empty();
    }
    rep
}

/// Every `[expect]` field given, compared with the run (`violations` as a set).
pub fn compare(e: &Expect, got: &Report) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: &'static str, expected: Value, actual: Value| {
        if expected != actual {
            out.push(Mismatch {
                field,
                expected,
                got: actual,
            });
        }
    };
    if let Some(v) = e.startup {
        check(
            "startup",
            Value::Startup(Some(v)),
            Value::Startup(got.startup),
        );
    }
    if let Some(v) = e.verdict_at_ms {
        check(
            "verdict_at_ms",
            Value::Number(Some(v)),
            Value::Number(got.verdict_at_ms),
        );
    }
    if let Some(v) = e.elapsed_ms {
        check(
            "elapsed_ms",
            Value::Number(Some(v)),
            Value::Number(got.elapsed_ms),
        );
    }
    if let Some(v) = &e.failed_services {
        check(
            "failed_services",
            Value::Services(Some(v.clone())),
            Value::Services(got.failed_services.clone()),
        );
    }
    if let Some(v) = &e.message {
        check(
            "message",
            Value::Text(Some(v.clone())),
            Value::Text(got.message.clone()),
        );
    }
    if let Some(v) = &e.clients {
        check(
            "clients",
            Value::Clients(v.iter().copied().map(Some).collect()),
            Value::Clients(got.clients.clone()),
        );
    }
    if let Some(v) = &e.client_reasons {
        check(
            "client_reasons",
            Value::Reasons(v.clone()),
            Value::Reasons(got.client_reasons.clone()),
        );
    }
    if let Some(v) = e.lost_messages {
        check(
            "lost_messages",
            Value::Number(Some(v)),
            Value::Number(Some(got.lost_messages)),
        );
    }
    if let Some(v) = &e.violations {
        let want: BTreeSet<Violation> = v.iter().copied().collect();
        let have: BTreeSet<Violation> = got.violations.iter().copied().collect();
        if want != have {
            check(
                "violations",
                Value::Violations(want.into_iter().collect()),
                Value::Violations(have.into_iter().collect()),
            );
        }
    }
    if let Some(v) = &e.trace_hash {
        check(
            "trace_hash",
            Value::Text(Some(v.clone())),
            Value::Text(Some(got.trace_hash.clone())),
        );
    }
    out
}

/// The `[expect]` block that describes `rep` exactly (for `--bless` and recorded files).
pub fn expect_of(rep: &Report) -> Expect {
    Expect {
        startup: rep.startup,
        verdict_at_ms: rep.verdict_at_ms,
        elapsed_ms: rep.elapsed_ms,
        failed_services: rep.failed_services.clone(),
        message: rep.message.clone(),
        clients: rep.clients.iter().copied().collect(),
        client_reasons: rep
            .client_reasons
            .iter()
            .any(Option::is_some)
            .then(|| rep.client_reasons.clone()),
        lost_messages: Some(rep.lost_messages),
        violations: Some(rep.violations.clone()),
        trace_hash: Some(rep.trace_hash.clone()),
    }
}

/// How a drifted trace differs from the previous one: the first differing lines, and the
/// command that rewrites `[expect]` once the change has been reviewed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Drift {
    /// `expect.trace_hash` in the file.
    pub expected_hash: String,
    /// The hash of this run's trace.
    pub got_hash: String,
    /// 1-based line of the first difference (None without a previous trace to compare).
    pub first_line: Option<usize>,
    /// The previous trace's lines from that line on while they differ (at most
    /// [`DRIFT_LINES`]).
    pub previous: Vec<String>,
    /// This run's trace over the same lines.
    pub current: Vec<String>,
    /// Where the previous trace came from, if one was found.
    pub previous_source: Option<String>,
}

/// Lines of each trace shown from the first difference on.
pub const DRIFT_LINES: usize = 4;

/// The drift of `rep` against its file's `expect.trace_hash`, or None when the hash matches
/// (or the file records none). `previous` is the last accepted trace text and where it came
/// from (the insta snapshot `tests/snapshots/trace@NAME.snap`), when available.
pub fn drift(sc: &Scenario, rep: &Report, previous: Option<(&str, String)>) -> Option<Drift> {
    let expected = sc.expect.as_ref()?.trace_hash.as_ref()?;
    if *expected == rep.trace_hash {
        return None;
    }
    let mut d = Drift {
        expected_hash: expected.clone(),
        got_hash: rep.trace_hash.clone(),
        first_line: None,
        previous: Vec::new(),
        current: Vec::new(),
        previous_source: None,
    };
    if let Some((text, source)) = previous {
        d.previous_source = Some(source);
        // A line diff (similar's Myers), so an inserted line shows as one, not as every line
        // after it differing.
        let now = rep.trace_text();
        let diff = similar::TextDiff::from_lines(text, now.as_str());
        let mut first = None;
        for change in diff.iter_all_changes() {
            let line = change.value().trim_end_matches('\n').to_string();
            match change.tag() {
                similar::ChangeTag::Equal => {
                    if first.is_some() {
                        break;
                    }
                }
                similar::ChangeTag::Delete => {
                    first.get_or_insert(change.old_index().unwrap_or(0) + 1);
                    if d.previous.len() < DRIFT_LINES {
                        d.previous.push(line);
                    }
                }
                similar::ChangeTag::Insert => {
                    first.get_or_insert(change.new_index().unwrap_or(0) + 1);
                    if d.current.len() < DRIFT_LINES {
                        d.current.push(line);
                    }
                }
            }
        }
        d.first_line = first;
    }
    Some(d)
}

/// Where the last accepted trace of scenario `name` is stored: `tests/snapshots/trace@NAME.snap`
/// next to the scenarios folder (written by `replay --bless`, read to show how a drifted trace
/// differs).
pub fn stored_trace_path(scenarios: &std::path::Path, name: &str) -> std::path::PathBuf {
    scenarios
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("tests")
        .join("snapshots")
        .join(format!("trace@{name}.snap"))
}

/// The stored trace of `name`, if there is one, with where it came from.
pub fn stored_trace(scenarios: &std::path::Path, name: &str) -> Option<(String, String)> {
    let path = stored_trace_path(scenarios, name);
    let text = std::fs::read_to_string(&path).ok()?;
    Some((snapshot_body(&text).to_string(), path.display().to_string()))
}

/// A trace in the stored format (a `---` header, then the trace).
pub fn stored_trace_text(trace: &str) -> String {
    format!("---\nsource: readysim replay --bless\n---\n{trace}")
}

/// The trace text of a stored trace (or insta snapshot) file (its `---` header removed).
pub fn snapshot_body(snap: &str) -> &str {
    let Some(rest) = snap.strip_prefix("---\n") else {
        return snap;
    };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + 5..],
        None => snap,
    }
}

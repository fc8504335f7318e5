//! Running a scenario and judging it: the verdict, the oracles, the determinism check, and the
//! comparison with `[expect]` that the replay contract defines.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::engine::EngineKind;
use crate::model::{self, RunOutput};
use crate::oracle::{self, Violation};
use crate::scenario::{Expect, Scenario};
use crate::trace;

/// One run with its violations: what search needs, without rendering any text.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The run.
    pub output: RunOutput,
    /// Violations found by the oracles (`nondeterminism` excluded).
    pub violations: BTreeSet<Violation>,
}

/// Runs `sc` once on `kind` and applies the oracles.
pub fn evaluate(sc: &Scenario, kind: EngineKind) -> Evaluation {
    let output = model::run(sc, kind);
    let violations = oracle::check(sc, &output);
    Evaluation { output, violations }
}

/// One field of `[expect]` that did not match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The `[expect]` field.
    pub field: String,
    /// What the file says.
    pub expected: serde_json::Value,
    /// What the run gave.
    pub got: serde_json::Value,
}

/// The replay contract's result (the JSON object of `replay --json`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub name: String,
    /// ready | failed | bypassed | skipped | hang.
    pub startup: Option<String>,
    /// When the verdict was published.
    pub verdict_at_ms: Option<u64>,
    /// From the validator's start.
    pub elapsed_ms: Option<u64>,
    /// Failed critical services.
    pub failed_services: Option<Vec<String>>,
    /// The startup error text.
    pub message: Option<String>,
    /// One outcome per client (null for a client without one).
    pub clients: Vec<Option<String>>,
    /// Messages lost in all.
    pub lost_messages: u64,
    /// Violations, sorted by name.
    pub violations: Vec<String>,
    /// Hash of the rendered trace.
    pub trace_hash: String,
    /// Whether every `[expect]` field matched.
    pub matches: bool,
    /// The fields that did not.
    pub mismatches: Vec<Mismatch>,
    /// Set when `expect.trace_hash` no longer matches: the model drifted (see [`drift`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// The rendered trace (not part of the JSON).
    #[serde(skip)]
    pub trace_text: String,
    /// The run itself (not part of the JSON).
    #[serde(skip)]
    pub evaluation: Evaluation,
}

/// Runs `sc` twice on `kind` (a differing trace is `nondeterminism`), then compares the first
/// run with the file's `[expect]`.
pub fn replay(sc: &Scenario, kind: EngineKind) -> Report {
    let mut first = evaluate(sc, kind);
    let second = model::run(sc, kind);
    if first.output.trace != second.trace {
        first.violations.insert(Violation::Nondeterminism);
    }
    report(sc, first)
}

/// Builds the report of an evaluated run (renders the trace and its hash).
pub fn report(sc: &Scenario, ev: Evaluation) -> Report {
    let r = &ev.output.results;
    let trace_text = trace::render(&ev.output.trace);
    let trace_hash = format!("{:016x}", trace::fnv1a64(trace_text.as_bytes()));
    let started = r.verdict_at_ms.is_some();
    let mut rep = Report {
        name: sc.name.clone(),
        startup: r.startup.map(|s| s.name().to_string()),
        verdict_at_ms: r.verdict_at_ms,
        elapsed_ms: r.elapsed_ms,
        failed_services: started.then(|| {
            r.failed_services
                .iter()
                .map(|c| c.name().to_string())
                .collect()
        }),
        message: r.message(),
        clients: r
            .clients
            .iter()
            .map(|o| o.map(|o| o.name().to_string()))
            .collect(),
        lost_messages: r.lost_messages,
        violations: sorted_names(&ev.violations),
        trace_hash,
        matches: true,
        mismatches: Vec::new(),
        drift: None,
        trace_text,
        evaluation: ev,
    };
    if let Some(e) = &sc.expect {
        rep.mismatches = compare(e, &rep);
        rep.matches = rep.mismatches.is_empty();
    }
    rep
}

/// Violation names in name order (the order files and JSON use).
pub fn sorted_names(v: &BTreeSet<Violation>) -> Vec<String> {
    let mut names: Vec<String> = v.iter().map(|v| v.name().to_string()).collect();
    names.sort();
    names
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Every `[expect]` field given, compared with the run (`violations` as a set).
pub fn compare(e: &Expect, got: &Report) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: &str, expected: serde_json::Value, actual: serde_json::Value| {
        if expected != actual {
            out.push(Mismatch {
                field: field.to_string(),
                expected,
                got: actual,
            });
        }
    };
    if let Some(v) = &e.startup {
        check("startup", json(v), json(&got.startup));
    }
    if let Some(v) = e.verdict_at_ms {
        check("verdict_at_ms", json(&v), json(&got.verdict_at_ms));
    }
    if let Some(v) = e.elapsed_ms {
        check("elapsed_ms", json(&v), json(&got.elapsed_ms));
    }
    if let Some(v) = &e.failed_services {
        check("failed_services", json(v), json(&got.failed_services));
    }
    if let Some(v) = &e.message {
        check("message", json(v), json(&got.message));
    }
    if let Some(v) = &e.clients {
        check("clients", json(v), json(&got.clients));
    }
    if let Some(v) = e.lost_messages {
        check("lost_messages", json(&v), json(&got.lost_messages));
    }
    if let Some(v) = &e.violations {
        let want: BTreeSet<&String> = v.iter().collect();
        let have: BTreeSet<&String> = got.violations.iter().collect();
        if want != have {
            check("violations", json(&want), json(&have));
        }
    }
    if let Some(v) = &e.trace_hash {
        check("trace_hash", json(v), json(&got.trace_hash));
    }
    out
}

/// The `[expect]` block that describes `rep` exactly (for `--bless` and recorded files).
pub fn expect_of(rep: &Report) -> Expect {
    Expect {
        startup: rep.startup.clone(),
        verdict_at_ms: rep.verdict_at_ms,
        elapsed_ms: rep.elapsed_ms,
        failed_services: rep.failed_services.clone(),
        message: rep.message.clone(),
        clients: if rep.clients.iter().all(Option::is_some) {
            Some(rep.clients.iter().flatten().cloned().collect())
        } else {
            None
        },
        lost_messages: Some(rep.lost_messages),
        violations: Some(rep.violations.clone()),
        trace_hash: Some(rep.trace_hash.clone()),
    }
}

/// How a drifted trace differs from the previous one: the first differing lines, and the
/// command that rewrites `[expect]` once the change has been reviewed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// The command that rewrites the expectations after review.
    pub bless: String,
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
        bless: format!("readysim replay {} --bless", sc.name),
    };
    if let Some((text, source)) = previous {
        d.previous_source = Some(source);
        let old: Vec<&str> = text.lines().collect();
        let new: Vec<&str> = rep.trace_text.lines().collect();
        let first = (0..old.len().max(new.len())).find(|&i| old.get(i) != new.get(i));
        if let Some(i) = first {
            // From the first difference while lines keep differing, at most DRIFT_LINES.
            let n = (i..i + DRIFT_LINES)
                .take_while(|&j| j == i || old.get(j) != new.get(j))
                .count();
            let take = |v: &[&str]| -> Vec<String> {
                v.iter().skip(i).take(n).map(|l| l.to_string()).collect()
            };
            d.first_line = Some(i + 1);
            d.previous = take(&old);
            d.current = take(&new);
        }
    }
    Some(d)
}

/// The trace text of an insta snapshot file (its `---` header removed).
pub fn snapshot_body(snap: &str) -> &str {
    let Some(rest) = snap.strip_prefix("---\n") else {
        return snap;
    };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + 5..],
        None => snap,
    }
}

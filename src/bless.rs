//! Whether a scenario passes, and accepting a reviewed run into its file: one rule for the
//! CLI (`replay`, `all`, `replay --bless`) and the tests. A bless that would change what the
//! file claims (startup, failed services, client outcomes and reasons, violations) is refused
//! unless the caller accepts the change explicitly: a moved trace hash is a review, a changed
//! verdict is a decision.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::EngineKind;
use crate::replay::{self, Report};
use crate::scenario::{self, Expect, Scenario};

/// A scenario checked against its file: the run, and why it does not pass, if it does not.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checked {
    /// The run, with its drift against the stored trace.
    pub report: Report,
    /// The stored trace (`tests/snapshots/trace@NAME.snap`) differs from this run's although
    /// the hash matches: it has to be rewritten (by a bless).
    pub stale_trace: Option<PathBuf>,
}

impl Checked {
    /// THE rule: the file's `[expect]` matches (trace hash included) and the stored trace,
    /// where there is one, is this run's.
    pub fn passes(&self) -> bool {
        self.report.matches && self.stale_trace.is_none()
    }
}

/// Replays `sc` (a file under the `scenarios` folder) on `kind` and checks it against its
/// file and its stored trace.
pub fn check(scenarios: &Path, sc: &Scenario, kind: EngineKind) -> Checked {
    let mut report = replay::replay_valid(sc, kind);
    let stored = replay::stored_trace(scenarios, &sc.name);
    report.drift = replay::drift(
        sc,
        &report,
        stored.as_ref().map(|(t, p)| (t.as_str(), p.clone())),
    );
    let stale_trace = stored
        .filter(|(text, _)| report.matches && *text != report.trace_text())
        .map(|_| replay::stored_trace_path(scenarios, &sc.name));
    Checked {
        report,
        stale_trace,
    }
}

/// One claim of `[expect]` that a bless would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerdictChange {
    /// The `[expect]` field.
    pub field: &'static str,
    /// What the file says.
    pub was: String,
    /// What this run says.
    pub now: String,
}

/// The verdict fields of `old` that `new` changes: startup, failed services, client outcomes
/// and reasons, violations. Only what `old` claims counts (an absent field claims nothing);
/// times, the message's text, lost messages and the trace hash are not verdicts.
pub fn verdict_changes(old: &Expect, new: &Expect) -> Vec<VerdictChange> {
    fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }
    fn claimed<T: Serialize>(
        name: &'static str,
        was: &Option<T>,
        now: &Option<T>,
    ) -> Option<VerdictChange> {
        let was = json(was.as_ref()?);
        let now = now.as_ref().map_or("null".to_string(), json);
        (was != now).then_some(VerdictChange {
            field: name,
            was,
            now,
        })
    }
    // With the outcomes claimed, an absent reasons list claims "none" for every attempt.
    let reasons = |e: &Expect| {
        e.clients.as_ref().map(|c| {
            e.client_reasons
                .clone()
                .unwrap_or_else(|| vec![None; c.len()])
        })
    };
    [
        claimed("startup", &old.startup, &new.startup),
        claimed(
            "failed_services",
            &old.failed_services,
            &new.failed_services,
        ),
        claimed("clients", &old.clients, &new.clients),
        claimed("client_reasons", &reasons(old), &reasons(new)),
        claimed("violations", &old.violations, &new.violations),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Why a bless did not happen.
#[derive(Debug)]
#[non_exhaustive]
pub enum BlessError {
    /// The run changes what the file claims; nothing was written.
    VerdictChange(Vec<VerdictChange>),
    /// The file is readysim's built-in copy, not a file on disk.
    BuiltIn(PathBuf),
    /// The file could not be read or parsed, or was refused (changed meanwhile, read-only,
    /// hard-linked).
    File(String),
    /// Writing failed (a full disk, a file-size limit): the file is untouched.
    Write(String),
}

impl std::fmt::Display for BlessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlessError::VerdictChange(ch) => {
                write!(f, "this run changes the verdict the file claims:")?;
                for c in ch {
                    write!(f, "\n  {}: {} -> {}", c.field, c.was, c.now)?;
                }
                Ok(())
            }
            BlessError::BuiltIn(p) => write!(
                f,
                "{}: this is the copy built into readysim, which cannot be rewritten; run from a checkout, or give --scenarios DIR with your own copy",
                p.display()
            ),
            BlessError::File(e) => f.write_str(e),
            BlessError::Write(e) => write!(f, "{e}; not written, the file is as it was"),
        }
    }
}

impl std::error::Error for BlessError {}

/// What a bless wrote.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct Blessed {
    /// The scenario file.
    pub path: PathBuf,
    /// The stored trace rewritten with it, when the project keeps stored traces.
    pub stored_trace: Option<PathBuf>,
    /// The new `[expect]`.
    pub expect: Expect,
    /// The verdict changes that were accepted (empty unless `accept_verdict_change`).
    pub verdict_changes: Vec<VerdictChange>,
}

/// Rewrites the `[expect]` of the scenario file `path` (under the `scenarios` folder) from a
/// run on `kind`, and its stored trace when the project keeps them. Refused, with nothing
/// written, when the run changes a verdict the file claims, unless `accept_verdict_change`.
pub fn bless(
    scenarios: &Path,
    path: &Path,
    kind: EngineKind,
    accept_verdict_change: bool,
) -> Result<Blessed, BlessError> {
    if scenario::builtin::is_builtin(path) {
        return Err(BlessError::BuiltIn(path.to_path_buf()));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| BlessError::File(format!("{}: {e}", path.display())))?;
    let stem = path.file_stem().and_then(|s| s.to_str());
    let sc = scenario::parse(&text, path, stem).map_err(|e| BlessError::File(e.to_string()))?;
    let rep = replay::replay_valid(&sc, kind);
    let expect = replay::expect_of(&rep);
    let changes = sc
        .expect
        .as_ref()
        .map(|old| verdict_changes(old, &expect))
        .unwrap_or_default();
    if !changes.is_empty() && !accept_verdict_change {
        return Err(BlessError::VerdictChange(changes));
    }
    let blessed = scenario::edit::set_table(&text, "expect", &expect)
        .map_err(|e| BlessError::File(format!("{}: {e}", path.display())))?;
    scenario::edit::write_back(path, &text, &blessed).map_err(|e| match e {
        scenario::edit::EditError::Io(..) => BlessError::Write(e.to_string()),
        e => BlessError::File(e.to_string()),
    })?;
    // Only for a file of this project's scenarios folder: a file blessed elsewhere has no
    // stored trace here.
    let stored = replay::stored_trace_path(scenarios, &sc.name);
    let inside = match (path.canonicalize(), scenarios.canonicalize()) {
        (Ok(f), Ok(root)) => f.starts_with(root),
        _ => false,
    };
    let kept = inside && stored.parent().is_some_and(|d| d.is_dir());
    if kept {
        scenario::write_atomic(&stored, &replay::stored_trace_text(&rep.trace_text()), true)
            .map_err(|e| BlessError::Write(format!("{}: cannot write: {e}", stored.display())))?;
    }
    Ok(Blessed {
        path: path.to_path_buf(),
        stored_trace: kept.then_some(stored),
        expect,
        verdict_changes: changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Outcome, StartupOutcome, Violation};

    fn expect() -> Expect {
        Expect {
            startup: Some(StartupOutcome::Failed),
            clients: Some(vec![Outcome::Reset]),
            violations: Some([Violation::DeadConfig].into_iter().collect()),
            trace_hash: Some("a".into()),
            verdict_at_ms: Some(9670),
            ..Expect::default()
        }
    }

    #[test]
    fn a_moved_hash_or_time_is_not_a_verdict_change() {
        let mut new = expect();
        new.trace_hash = Some("b".into());
        new.verdict_at_ms = Some(9671);
        assert!(verdict_changes(&expect(), &new).is_empty());
    }

    #[test]
    fn outcomes_startup_and_violations_are() {
        let mut new = expect();
        new.startup = Some(StartupOutcome::Ready);
        new.clients = Some(vec![Outcome::Served]);
        new.violations = Some(Default::default());
        let fields: Vec<&str> = verdict_changes(&expect(), &new)
            .iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(fields, ["startup", "clients", "violations"]);
    }

    #[test]
    fn a_bless_that_changes_the_verdict_writes_nothing_unless_accepted() {
        let dir = tempfile::Builder::new()
            .prefix("readysim-test-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("t.toml");
        // The incident's file claiming its client was served: the run says reset.
        let text = "format = 1\nname = \"t\"\nsummary = \"s\"\n\n[policy]\npreset = \"p0\"\n\n[[clients]]\nat_ms = 5000\n\n[expect]\nstartup = \"failed\"\nclients = [\"served\"]\n";
        std::fs::write(&path, text).unwrap();
        let err = bless(dir.path(), &path, EngineKind::Fast, false).unwrap_err();
        match err {
            BlessError::VerdictChange(ch) => assert_eq!(ch[0].field, "clients"),
            e => panic!("{e}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let done = bless(dir.path(), &path, EngineKind::Fast, true).unwrap();
        assert_eq!(done.verdict_changes.len(), 1);
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now.contains("clients = [\"reset\"]"), "{now}");
        // Blessed again, nothing changes the verdict any more.
        assert!(bless(dir.path(), &path, EngineKind::Fast, false).is_ok());
    }
}

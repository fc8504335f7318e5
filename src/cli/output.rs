//! Text output of the CLI: the replay timeline, the compare table, the all-scenarios table,
//! and the `--bless` rewrite of an `[expect]` block.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::colour::{cell, paint, Tone};
use crate::engine::EngineKind;
use crate::replay::{Drift, Report};
use crate::scenario::{Preset, Scenario};
use crate::{Outcome, Reason, StartupOutcome, Violation};

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".to_string(), T::to_string)
}

/// `a, b, c`, or `-` for none.
pub fn list<T: std::fmt::Display>(v: &[T]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// One name per client attempt, `none` for one without an outcome, with the close reason of
/// a 1011 or 1008: `closed-1011 (factory-limit)`.
fn client_names(c: &[Option<Outcome>], reasons: &[Option<Reason>]) -> Vec<String> {
    c.iter()
        .enumerate()
        .map(|(i, o)| {
            let name = o.map_or("none".to_string(), |o| o.name().to_string());
            match reasons.get(i).copied().flatten() {
                Some(r) => format!("{name} ({r})"),
                None => name,
            }
        })
        .collect()
}

/// The command that accepts a reviewed change to `name`'s expectations.
pub fn bless_command(name: &str) -> String {
    format!("readysim replay {name} --bless")
}

/// Prints the replay's text: header, timeline, same-instant choices, verdict, expectations.
/// The timeline streams in chunks, so a million-event trace never sits in memory as text.
pub fn print_replay(sc: &Scenario, rep: &Report, kind: EngineKind) {
    print_or_exit(&replay_head(sc, kind));
    let mut chunk = String::with_capacity(1 << 16);
    for e in &rep.evaluation.output.trace {
        crate::trace::render_line(e, &mut chunk);
        chunk.push('\n');
        if chunk.len() >= 1 << 16 {
            print_or_exit(&chunk);
            chunk.clear();
        }
    }
    print_or_exit(&chunk);
    print_or_exit(&replay_tail(sc, rep));
}

fn replay_head(sc: &Scenario, kind: EngineKind) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "scenario  {}  ({})", sc.name, sc.summary);
    let _ = writeln!(
        o,
        "policy    {}   environment {}{}   engine {}",
        sc.policy.preset.name(),
        format!("{:?}", sc.environment.name).to_lowercase(),
        if sc.environment.cloud_run {
            " (Cloud Run)"
        } else {
            ""
        },
        kind.name()
    );
    let _ = writeln!(
        o,
        "\n{:>9}  {:<10} {:<16} details",
        "t(ms)", "actor", "event"
    );
    o
}

fn replay_tail(sc: &Scenario, rep: &Report) -> String {
    let mut o = String::new();
    let eng = &rep.evaluation.output.engine;
    if !eng.choices.is_empty() {
        let _ = writeln!(o, "\nsame-instant choices:");
        for c in &eng.choices {
            let _ = writeln!(
                o,
                "{:>9}  ran #{} of {} ready{}",
                c.at_ms,
                c.chosen,
                c.ready,
                c.value
                    .map_or(" (list exhausted: first)".to_string(), |v| format!(
                        " (decision {v})"
                    ))
            );
        }
    }
    let _ = writeln!(o, "\nverdict");
    let _ = writeln!(o, "  startup          {}", or_dash(&rep.startup));
    let _ = writeln!(o, "  verdict_at_ms    {}", or_dash(&rep.verdict_at_ms));
    let _ = writeln!(o, "  elapsed_ms       {}", or_dash(&rep.elapsed_ms));
    let _ = writeln!(
        o,
        "  failed_services  {}",
        rep.failed_services
            .as_deref()
            .map_or("-".into(), list::<crate::Check>)
    );
    let _ = writeln!(o, "  message          {}", or_dash(&rep.message));
    let _ = writeln!(
        o,
        "  clients          {}",
        list(&client_names(&rep.clients, &rep.client_reasons))
    );
    let _ = writeln!(o, "  lost_messages    {}", rep.lost_messages);
    let _ = writeln!(o, "  violations       {}", list(&rep.violations));
    let _ = writeln!(o, "  trace_hash       {}", rep.trace_hash);
    let _ = writeln!(
        o,
        "  engine           {:?} at {} ms after {} steps",
        eng.end, eng.end_ms, eng.steps
    );
    match &sc.expect {
        None => {
            let _ = writeln!(o, "\nno [expect] block: nothing to compare");
        }
        Some(_) if rep.matches => {
            let _ = writeln!(o, "\n{}", paint("expect: every field matches", Tone::Good));
        }
        Some(_) => {
            let head = format!("expect: {} field(s) differ", rep.mismatches.len());
            let _ = writeln!(o, "\n{}", paint(&head, Tone::Bad));
            for m in &rep.mismatches {
                let _ = writeln!(o, "  {}: expected {}, got {}", m.field, m.expected, m.got);
                if m.field == "trace_hash" && rep.drift.is_none() {
                    let _ = writeln!(
                        o,
                        "  the model drifted: review the trace, then `{}`",
                        bless_command(&sc.name)
                    );
                }
            }
        }
    }
    if let Some(d) = &rep.drift {
        o.push_str(&drift_text(d, &sc.name));
    }
    o
}

/// The drift section: the first differing trace lines and the command that blesses.
pub fn drift_text(d: &Drift, name: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nDRIFTED: the trace changed (trace_hash {} in the file, {} now)",
        d.expected_hash, d.got_hash
    );
    match (&d.previous_source, d.first_line) {
        (Some(src), Some(line)) => {
            let _ = writeln!(
                o,
                "  first difference at trace line {line} (previous: {src}):"
            );
            for l in &d.previous {
                let _ = writeln!(o, "  - {l}");
            }
            for l in &d.current {
                let _ = writeln!(o, "  + {l}");
            }
        }
        (Some(src), None) => {
            let _ = writeln!(
                o,
                "  the trace equals {src}: that snapshot is from the changed model too"
            );
        }
        (None, _) => {
            let _ = writeln!(
                o,
                "  no previous trace to diff against (no tests/snapshots/trace@NAME.snap)"
            );
        }
    }
    let _ = writeln!(o, "  review the change, then run: {}", bless_command(name));
    o
}

/// `compare`: one row per preset.
pub fn compare_table(sc: &Scenario, reports: &[(Preset, Report)]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} (file preset {}; only the preset changes below; readysim explain PRESET)\n",
        sc.name,
        sc.summary,
        sc.policy.preset.name()
    );
    let mut t = table(&[
        "preset",
        "startup",
        "verdict at (ms)",
        "elapsed (ms)",
        "failed services",
        "clients",
        "lost messages",
        "violations",
    ]);
    for (p, r) in reports {
        let clients = client_names(&r.clients, &r.client_reasons);
        let violations = if r.violations.is_empty() {
            comfy_table::Cell::new("-")
        } else {
            cell(list(&r.violations), Tone::Bad)
        };
        t.add_row(vec![
            comfy_table::Cell::new(p.name()),
            comfy_table::Cell::new(or_dash(&r.startup)),
            comfy_table::Cell::new(or_dash(&r.verdict_at_ms)),
            comfy_table::Cell::new(or_dash(&r.elapsed_ms)),
            comfy_table::Cell::new(
                r.failed_services
                    .as_deref()
                    .map_or("-".into(), list::<crate::Check>),
            ),
            comfy_table::Cell::new(summarize_clients(&clients)),
            comfy_table::Cell::new(r.lost_messages.to_string()),
            violations,
        ]);
    }
    o.push_str(&t.trim_fmt());
    o.push('\n');
    o
}

/// `served x3, reset` style summary.
fn summarize_clients(c: &[String]) -> String {
    if c.is_empty() {
        return "-".into();
    }
    let mut parts: Vec<(String, usize)> = Vec::new();
    for x in c {
        match parts.last_mut() {
            Some((n, k)) if n == x => *k += 1,
            _ => parts.push((x.clone(), 1)),
        }
    }
    parts
        .into_iter()
        .map(|(n, k)| if k == 1 { n } else { format!("{n} x{k}") })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of the all-scenarios table.
#[derive(Serialize)]
pub struct Row {
    /// The file.
    pub file: String,
    /// Whether it loaded and matched its [expect].
    pub pass: bool,
    /// Whether the file has an `[expect]` block (without one, a pass means only "it ran").
    pub has_expect: bool,
    /// When the verdict was published.
    pub verdict_at_ms: Option<u64>,
    /// startup outcome.
    pub startup: Option<StartupOutcome>,
    /// Violations.
    pub violations: Vec<Violation>,
    /// What went wrong.
    pub problem: Option<String>,
}

impl Row {
    /// A row from a replay.
    pub fn from_report(p: &Path, r: &Report, has_expect: bool) -> Row {
        let problem = (!r.matches).then(|| {
            r.mismatches
                .iter()
                .map(|m| format!("{}: expected {}, got {}", m.field, m.expected, m.got))
                .collect::<Vec<_>>()
                .join("; ")
        });
        Row {
            file: p.display().to_string(),
            pass: r.matches,
            has_expect,
            verdict_at_ms: r.verdict_at_ms,
            startup: r.startup,
            violations: r.violations.clone(),
            problem,
        }
    }

    /// A row for a checked file: it passes by the one rule ([`crate::bless::Checked::passes`]).
    pub fn from_checked(p: &Path, c: &crate::bless::Checked, has_expect: bool) -> Row {
        let mut row = Row::from_report(p, &c.report, has_expect);
        row.pass = c.passes();
        if let Some(t) = &c.stale_trace {
            row.problem = Some(format!("stale stored trace {}", t.display()));
        }
        row
    }

    /// A row for a file that could not be replayed.
    pub fn error(p: &Path, e: String) -> Row {
        Row {
            file: p.display().to_string(),
            pass: false,
            has_expect: false,
            verdict_at_ms: None,
            startup: None,
            violations: Vec::new(),
            problem: Some(e),
        }
    }
}

/// The default command's table.
pub fn all_table(rows: &[Row], kind: EngineKind) -> String {
    let mut o = String::new();
    o.push_str(
        "Each scenario file is replayed and its [expect] block checked: \"reproduced\" means the run\n\
         gave exactly what the file expects (the incident is incident-2025-09-09). A violation is a\n\
         property the modelled system broke in that run (readysim explain VIOLATION).\n\n",
    );
    let mut t = table(&[
        "scenario",
        "result",
        "startup",
        "verdict at (ms)",
        "violations",
    ]);
    for r in rows {
        let result = match (r.pass, r.has_expect) {
            (true, true) => cell("reproduced", Tone::Good),
            (true, false) => cell("no expectations", Tone::Warn),
            (false, _) => cell("FAILED", Tone::Bad),
        };
        t.add_row(vec![
            comfy_table::Cell::new(&r.file),
            result,
            comfy_table::Cell::new(or_dash(&r.startup)),
            comfy_table::Cell::new(or_dash(&r.verdict_at_ms)),
            comfy_table::Cell::new(list(&r.violations)),
        ]);
    }
    o.push_str(&t.trim_fmt());
    o.push('\n');
    for r in rows.iter().filter(|r| r.problem.is_some()) {
        let _ = writeln!(o, "{}: {}", r.file, r.problem.as_deref().unwrap_or(""));
    }
    let failed = rows.iter().filter(|r| !r.pass).count();
    let bare = rows.iter().filter(|r| r.pass && !r.has_expect).count();
    let _ = writeln!(
        o,
        "\n{}: {} reproduced, {} failed, {} without expectations (engine {})",
        plural(rows.len(), "scenario"),
        rows.len() - failed - bare,
        if failed > 0 {
            paint(&failed.to_string(), Tone::Bad)
        } else {
            failed.to_string()
        },
        bare,
        kind.name()
    );
    o
}

/// `1 scenario`, `2 scenarios`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A plain table with a header line, no wrapping (the same text on every terminal).
/// Set by `--wide`: tables keep their full width.
static WIDE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records `--wide` for [`table`].
pub fn set_wide(wide: bool) {
    WIDE.store(wide, std::sync::atomic::Ordering::Relaxed);
}

/// The width tables must fit: none with `--wide`; else `$COLUMNS` when set, else the
/// terminal's when standard output is one; else none (piped output stays whole, for grep).
pub fn table_width() -> Option<u16> {
    use std::io::IsTerminal as _;
    if WIDE.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<u16>().ok())
    {
        return Some(c.max(40));
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_columns().map(|c| c.max(40))
}

#[cfg(target_os = "linux")]
fn terminal_columns() -> Option<u16> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| w.ws_col)
        .filter(|c| *c > 0)
}

#[cfg(not(target_os = "linux"))]
fn terminal_columns() -> Option<u16> {
    None
}

pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    // Columns apart by spaces, one rule under the header, nothing else: easy to read and to grep.
    use comfy_table::{ContentLineStyle, LineStyle, TableStyle};
    const PLAIN: TableStyle = TableStyle::new()
        .header_separator(LineStyle::none().fill('-').junction(' '))
        .header_lines(ContentLineStyle::none().junction(' '))
        .content_lines(ContentLineStyle::none().junction(' '));
    t.load_style(PLAIN).set_header(header.to_vec());
    if super::colour::on() {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    match table_width() {
        Some(w) => {
            t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_width(w);
        }
        None => {
            t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        }
    }
    t
}

/// A GitHub Actions annotation for a row that failed.
pub fn github_error(r: &Row) -> String {
    // Data in annotations escapes %, CR and LF; properties also escape : and ,.
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    format!(
        "::error file={},line=1,title=readysim::{}",
        prop(&r.file),
        data(
            r.problem
                .as_deref()
                .unwrap_or("the replay did not match its [expect]")
        )
    )
}

/// The JUnit XML report of a replay of every scenario: one test case per file, failed with
/// what differed.
pub fn junit(rows: &[Row], kind: crate::engine::EngineKind) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("readysim scenarios ({} engine)", kind.name()));
    for r in rows {
        let status = if r.pass {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(r.problem.clone().unwrap_or_else(|| "did not match".into()));
            s
        };
        let mut case = TestCase::new(r.file.clone(), status);
        case.set_classname("readysim");
        suite.add_test_case(case);
    }
    let mut report = Report::new("readysim");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}

/// `eprintln!` with control characters escaped (messages quote scenario text and paths).
macro_rules! errln {
    ($($t:tt)*) => {
        eprintln!("{}", crate::printable::printable(&format!($($t)*)))
    };
}

/// `print!` that goes quiet, not away, when standard output is a closed pipe.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::output::print_or_exit(&format!($($t)*))
    };
}

/// `println!` that goes quiet, not away, when standard output is a closed pipe.
macro_rules! outln {
    () => {
        $crate::cli::output::print_or_exit("\n")
    };
    ($($t:tt)*) => {{
        let mut s = format!($($t)*);
        s.push('\n');
        $crate::cli::output::print_or_exit(&s)
    }};
}

/// Writes `value` as pretty JSON (and a newline) straight to standard output, without
/// building the text first; escaped and ended like [`print_or_exit`].
pub fn print_json_streamed(value: &impl serde::Serialize) {
    use std::io::Write as _;
    if stdout_gone() {
        return;
    }
    /// Passes serde_json's output through `printable` (it writes whole `str` runs).
    struct Printable<W>(W);
    impl<W: std::io::Write> std::io::Write for Printable<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match std::str::from_utf8(buf) {
                Ok(s) => self
                    .0
                    .write_all(crate::printable::printable(s).as_bytes())
                    .map(|_| buf.len()),
                Err(_) => self.0.write(buf),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }
    let mut out = Printable(std::io::BufWriter::with_capacity(
        1 << 16,
        std::io::stdout().lock(),
    ));
    let res = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if let Err(e) = res {
        write_failed(e);
    }
}

/// Set once standard output is a closed pipe (`| head -1`): later output is dropped, and the
/// command runs to its end (explore keeps recording) with its own exit code.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Set once a write to standard output failed for another reason (a full disk): the command
/// still runs to its end, and ends with `Exit::NotWritten` if it would have ended with 0.
static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records a failed write to standard output (see [`STDOUT_CLOSED`], [`STDOUT_FAILED`]).
fn write_failed(e: std::io::Error) {
    use std::sync::atomic::Ordering::Relaxed;
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, Relaxed);
        return;
    }
    if !STDOUT_FAILED.swap(true, Relaxed) {
        eprintln!("error: cannot write to standard output: {e}");
    }
}

/// Whether output should be dropped: standard output is closed or failed.
fn stdout_gone() -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    STDOUT_CLOSED.load(Relaxed) || STDOUT_FAILED.load(Relaxed)
}

/// The exit code of a command whose own result is `own`: a failed standard output (not a
/// closed pipe) turns a success into `NotWritten`, since the report was lost.
pub fn exit_after_output(own: super::Exit) -> super::Exit {
    if own == super::Exit::Ok && STDOUT_FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        return super::Exit::NotWritten;
    }
    own
}

/// Writes `text` to standard output; after a closed pipe (`| head`) or a failed write, output
/// is dropped and the command goes on. Control characters are escaped (see
/// `crate::printable`).
pub fn print_or_exit(text: &str) {
    use std::io::Write as _;
    if stdout_gone() {
        return;
    }
    let text = if super::colour::on() {
        crate::printable::printable_keeping_colour(text)
    } else {
        crate::printable::printable(text)
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        write_failed(e);
    }
}

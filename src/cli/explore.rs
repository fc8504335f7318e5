//! `readysim explore` and `readysim classify`: argument checks, the progress bar, the summary
//! table, found-failure lines and JSON. The search itself is `crate::search`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::EngineKind;
use crate::scenario;
use crate::search::{
    self, classify, record::RecordDir, strategy, Code, ExploreOptions, Found, Observer, Summary,
};
use crate::{unknown_name, Violation};

use super::colour::{paint, Tone};
use super::{BadInput, Cli, Exit};

/// `readysim explore` options.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The seed: the same seed gives the same cases, failures and recorded files.
    #[arg(long, env = "READYSIM_SEED")]
    pub seed: u64,
    /// Cases per code under test, in all: `--shard k/n` runs its share of them.
    #[arg(long, default_value_t = 1000)]
    pub cases: u64,
    /// Codes under test (repeatable; default: every preset): a preset, optionally with the
    /// code knobs you run it with, e.g. `p6+route=f3`. Search holds the code still and varies
    /// the environment.
    #[arg(long = "preset", value_name = "CODE", num_args = 1..)]
    pub presets: Vec<String>,
    /// Explore every preset as it ships.
    #[arg(long, conflicts_with = "presets")]
    pub all_presets: bool,
    /// Vary the code's own knobs too (what-ifs): every recorded file that needs a knob changed
    /// says so (`what_if`, its header, the reports) and has its own signatures.
    #[arg(long)]
    pub vary_code: bool,
    /// Properties that count as failures (default: ws-1011, false-ready, spurious-failure,
    /// lost-message, lost-connection, hang).
    #[arg(long = "property", value_name = "NAME", num_args = 1..)]
    pub properties: Vec<String>,
    /// Where shrunk failures are written (default: `target/readysim/found`, outside the
    /// scenarios folder, so `cargo test` runs only what you move into it; give
    /// `--record scenarios/found` to record straight into it).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// New signatures per code and property to shrink and record (the first K in case order;
    /// default: every new signature the budget finds).
    #[arg(long, value_name = "K")]
    pub max_failures: Option<usize>,
    /// Worker threads (default: every core); the result does not depend on it.
    #[arg(long, value_name = "J")]
    pub jobs: Option<usize>,
    /// Run the k-th of n disjoint parts of the case space (k in 1..=n).
    #[arg(long, value_name = "k/n", env = "READYSIM_SHARD")]
    pub shard: Option<String>,
    /// How cases are drawn: `swarm` (each case sets only a share of the drawn knobs, numbers
    /// near the instants and lengths that matter, one case in five a storm plan) or `uniform`
    /// (every number anywhere in its range: the naive baseline).
    #[arg(long, value_name = "S", default_value = "swarm")]
    pub strategy: String,
    /// Only count failures (no shrinking, classifying or recording) over the whole budget: the
    /// summary gives each property's and each place's count and first case. The exit code is
    /// still 1 when a signature met is new.
    #[arg(long)]
    pub count_only: bool,
    /// Write an HTML report to DIR: index.html (summary, coverage, failures) and one timeline
    /// page per recorded failure.
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
}

/// `readysim classify` options.
#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Scenario name or path.
    pub name: String,
    /// A violation that makes up the failure (repeatable, or comma-separated; default: the
    /// run's violations among search's properties (ws-1011, false-ready, spurious-failure,
    /// lost-message, lost-connection, hang), or every violation when it has none of those).
    #[arg(long = "property", value_name = "NAME", value_delimiter = ',', action = clap::ArgAction::Append)]
    pub properties: Vec<String>,
    /// Write the `[classification]` block into the file.
    #[arg(long)]
    pub write: bool,
    /// The most engine steps all of classify's runs may take together (a shipped scenario
    /// needs at most a few million; a heavy file's runs cost up to its step budget each).
    /// Past it, classify stops with exit 2 and says how far it got.
    #[arg(long, value_name = "N", default_value_t = CLASSIFY_MAX_STEPS)]
    pub max_steps: u64,
}

/// Where `explore` records without `--record`: beside the build, not among the scenarios.
pub const DEFAULT_RECORD_DIR: &str = "target/readysim/found";

/// Default of `classify --max-steps`: about 10 to 30 s of the fast engine.
pub const CLASSIFY_MAX_STEPS: u64 = 200_000_000;

fn parse_property(s: &str) -> Result<Violation, BadInput> {
    Violation::from_name(s)
        .ok_or_else(|| BadInput::msg(unknown_name("property", s, &Violation::NAMES)))
}

fn parse_code(s: &str) -> Result<Code, BadInput> {
    Code::parse(s).map_err(|e| BadInput::msg(format!("--preset {s}: {e}")))
}

fn parse_shard(s: &str) -> Result<(u64, u64), BadInput> {
    let bad = || {
        BadInput::msg(format!(
            "--shard {s}: expected k/n with 1 <= k <= n, e.g. 2/4"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// A recorded file's header: the library's, plus the commands that reproduce and classify
/// it, in the place of the plain class line.
fn header(command: &str, f: &Found) -> Vec<String> {
    let mut h = search::plain_header(command, f);
    let classified = h.iter().position(|l| l.starts_with("Classified: "));
    // The file may be read where search put it (outside the scenarios folder by default) or
    // after it was moved in; a name is looked up only under the scenarios folder.
    let reproduce = format!(
        "Reproduce: readysim replay {} (under the scenarios folder; elsewhere, this file's path)",
        f.name
    );
    match classified {
        Some(i) => {
            let line = h[i].replacen(
                "Classified: ",
                &format!("Classified (readysim classify {}): ", f.name),
                1,
            );
            h[i] = reproduce;
            h.push(line);
        }
        None => h.push(reproduce),
    }
    h
}

/// The cores this process may use (1 when unknown).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Turns arguments into options (every check that can fail happens before any work).
pub fn options(a: &ExploreArgs, kind: EngineKind) -> Result<ExploreOptions, BadInput> {
    let mut o = ExploreOptions::new(a.seed);
    o.header = header;
    o.cases = a.cases;
    o.kind = kind;
    if !a.presets.is_empty() {
        let mut seen = BTreeSet::new();
        o.codes = Vec::new();
        for p in &a.presets {
            let c = parse_code(p)?;
            if seen.insert(c.id().clone()) {
                o.codes.push(c);
            }
        }
    }
    o.vary_code = a.vary_code;
    if !a.properties.is_empty() {
        let set: BTreeSet<Violation> = a
            .properties
            .iter()
            .map(|s| parse_property(s))
            .collect::<Result<_, _>>()?;
        o.properties = set.into_iter().collect();
    }
    if a.max_failures == Some(0) {
        return Err(BadInput::msg("--max-failures must be at least 1".into()));
    }
    let jobs = a.jobs.unwrap_or_else(default_jobs);
    if jobs == 0 {
        return Err(BadInput::msg("--jobs must be at least 1".into()));
    }
    o.max_failures = a.max_failures;
    o.jobs = jobs;
    if let Some(s) = &a.shard {
        o.shard = parse_shard(s)?;
    }
    o.shrink = !a.count_only;
    o.strategy = strategy::Kind::from_name(&a.strategy).ok_or_else(|| {
        BadInput::msg(unknown_name("strategy", &a.strategy, &["swarm", "uniform"]))
    })?;
    // The command as written into recorded files: everything that changes what is found.
    let mut cmd = format!("readysim explore --seed {} --cases {}", a.seed, a.cases);
    if a.presets.is_empty() {
        cmd.push_str(" --all-presets");
    } else {
        for c in &o.codes {
            let _ = write!(cmd, " --preset {}", c.id());
        }
    }
    if !a.properties.is_empty() {
        for p in &o.properties {
            let _ = write!(cmd, " --property {}", p.name());
        }
    }
    if let Some(k) = o.max_failures {
        let _ = write!(cmd, " --max-failures {k}");
    }
    if o.vary_code {
        cmd.push_str(" --vary-code");
    }
    if kind != EngineKind::Fast {
        let _ = write!(cmd, " --engine {}", kind.name());
    }
    if o.strategy != strategy::Kind::Swarm {
        let _ = write!(cmd, " --strategy {}", o.strategy.name());
    }
    o.command = cmd;
    Ok(o)
}

struct Progress {
    bar: ProgressBar,
    json: bool,
    /// `<scenarios>/found`, where recorded files are replayed by name.
    default_dir: PathBuf,
}

impl Observer for Progress {
    fn cases(&self, n: u64) {
        self.bar.inc(n);
    }
    fn found(&self, f: &Found) {
        if self.json {
            return;
        }
        let text = found_text(f, &self.default_dir);
        self.bar.suspend(|| out!("{text}"));
    }
}

/// The JUnit report of a search: a suite per code under test, a test case per property,
/// failed when the search met a signature of it that no file showed before (the exit-1 case),
/// with the new places and the files recorded for them.
pub fn junit(s: &Summary) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new(format!("readysim explore --seed {}", s.seed));
    for code in &s.codes {
        let mut suite = TestSuite::new(format!("{} ({} cases)", code.code, code.cases));
        for p in &code.properties {
            let new: Vec<String> = p
                .places
                .iter()
                .filter(|pl| pl.failures > 0 && !pl.known)
                .map(|pl| {
                    format!(
                        "{} at {} ({} case(s) from case {})",
                        p.property,
                        pl.place,
                        pl.failures,
                        pl.first_failure.unwrap_or(0)
                    )
                })
                .collect();
            let files: Vec<String> = s
                .found
                .iter()
                .filter(|f| f.signature.code == code.code && f.property == p.property && !f.known)
                .map(|f| {
                    f.path
                        .as_ref()
                        .map_or(format!("{} (not recorded)", f.name), |p| {
                            p.display().to_string()
                        })
                })
                .collect();
            let status = if new.is_empty() {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!(
                    "{} new signature(s): {}",
                    new.len(),
                    new.join("; ")
                ));
                st.set_description(files.join("\n"));
                st
            };
            let mut case = TestCase::new(format!("{} {}", code.code, p.property), status);
            case.set_classname("readysim.explore");
            case.set_system_out(format!(
                "{} failing case(s) of {}, {} signature(s)",
                p.failures, code.cases, p.distinct
            ));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

/// GitHub Actions annotations for the new signatures: on the recorded file when there is one.
fn github_errors(s: &Summary) -> Vec<String> {
    let data = |t: &str| {
        t.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let prop = |t: &str| data(t).replace(':', "%3A").replace(',', "%2C");
    let mut out = Vec::new();
    for f in s.found.iter().filter(|f| !f.known) {
        let what = format!(
            "new signature: {} at {} under {} (case {})",
            f.property, f.signature.place, f.signature.code, f.case
        );
        out.push(match &f.path {
            Some(p) => format!(
                "::error file={},line=1,title=readysim explore::{}",
                prop(&p.display().to_string()),
                data(&what)
            ),
            None => format!("::error title=readysim explore::{}", data(&what)),
        });
    }
    out
}

/// The lines printed for one found failure.
pub fn found_text(f: &Found, default_dir: &std::path::Path) -> String {
    let mut o = String::new();
    let state = if let Some(e) = &f.error {
        format!("NOT written: {e}")
    } else if f.known {
        "already recorded".to_string()
    } else if let Some(p) = &f.path {
        format!("recorded {}", p.display())
    } else {
        "not recorded".to_string()
    };
    let tone = if f.error.is_some() || !f.known {
        Tone::Bad
    } else {
        Tone::Dim
    };
    let _ = writeln!(
        o,
        "{} {} at {} under {}{} at case {}: {}; {state}",
        paint("found", tone),
        f.property,
        f.signature.place,
        f.signature.code,
        if f.signature.what_if {
            format!(" (what-if: {})", f.what_if.join(", "))
        } else {
            String::new()
        },
        f.case,
        f.name
    );
    if f.known {
        let _ = writeln!(o, "  reproduce: {}", reproduce(f, default_dir));
        return o;
    }
    let _ = writeln!(
        o,
        "  shrunk to {} non-default parameter(s){}",
        f.non_default.len(),
        if f.non_default.is_empty() {
            String::new()
        } else {
            format!(": {}", f.non_default.join(", "))
        }
    );
    if let Some(c) = &f.class {
        let _ = writeln!(
            o,
            "  class: {c}{}",
            if f.windows.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} (readysim classify lists each field's window)",
                    classify::nearest_flips(&f.windows, 3)
                )
            }
        );
    }
    if !f.reasons.is_empty() {
        let _ = writeln!(o, "  close reasons: {}", super::output::list(&f.reasons));
    }
    let _ = writeln!(o, "  reproduce: {}", reproduce(f, default_dir));
    o
}

/// The command that replays a recorded failure, as it works from here: by name when it was
/// recorded under the scenarios folder's `found/`, else by the file's path.
fn reproduce(f: &Found, default_dir: &std::path::Path) -> String {
    match &f.path {
        Some(p) if p.parent() != Some(default_dir) => format!("readysim replay {}", p.display()),
        _ => format!("readysim replay {}", f.name),
    }
}

/// The summary table (per code and property, then each signature class met or known), the
/// searched space and the coverage counts.
pub fn summary_text(s: &Summary, command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{command}");
    let _ = writeln!(o, "{}", s.space.describe());
    let _ = writeln!(
        o,
        "{:<14} {:<18} {:>7} {:>9} {:>10} {:>14}  notes",
        "code", "property", "cases", "failures", "signatures", "first failure"
    );
    for p in &s.codes {
        for st in &p.properties {
            let mut notes = String::new();
            if let Some(r) = st.upper_rate {
                let _ = write!(notes, "rate < {r:.2e} per case (95 %)");
            }
            let _ = writeln!(
                o,
                "{:<14} {:<18} {:>7} {:>9} {:>10} {:>14}  {notes}",
                p.code.as_str(),
                st.property,
                p.cases,
                st.failures,
                st.distinct,
                st.first_failure
                    .map_or("-".to_string(), |c| format!("case {c}"))
            );
            for pl in &st.places {
                let what = format!(
                    "{}{}{}",
                    pl.place,
                    if pl.what_if { " (what-if)" } else { "" },
                    if pl.known { ", recorded before" } else { "" }
                );
                match (pl.first_failure, pl.upper_rate) {
                    (Some(c), _) => {
                        let _ = writeln!(o, "    at {what}: {} case(s) from case {c}", pl.failures);
                    }
                    (None, Some(u)) => {
                        let _ = writeln!(o, "    at {what}: none, rate < {u:.2e} per case (95 %)");
                    }
                    (None, None) => {}
                }
            }
            if !st.reason_upper_rate.is_empty() {
                let none: Vec<String> = st
                    .reason_upper_rate
                    .iter()
                    .map(|(r, u)| format!("{r} < {u:.2e}"))
                    .collect();
                let _ = writeln!(
                    o,
                    "    1011 reasons never met (rate per case, 95 %): {}",
                    none.join(", ")
                );
            }
        }
    }
    let cov = s.coverage();
    let _ = writeln!(o, "\ncoverage: cases that reached each named ordering");
    for ((name, what), (_, n)) in crate::ORDERINGS.iter().zip(cov.named()) {
        let _ = writeln!(o, "  {name:<30} {n:>8}  {what}");
    }
    let never = cov.never();
    if never.is_empty() {
        let _ = writeln!(o, "every named ordering was reached");
    } else {
        let _ = writeln!(o, "never reached: {}", never.join(", "));
    }
    let total: u64 = s.codes.iter().map(|p| p.cases).sum();
    let (met, new) = s.signatures_met();
    if new > 0 && s.found.iter().all(|f| f.known) {
        // --count-only: nothing was settled, the tallies still know what is new.
        let _ = writeln!(
            o,
            "\n{total} case(s), {met} signature(s) met ({new} new, not recorded: only counted; {} already recorded)",
            met - new
        );
    } else {
        let _ = writeln!(
            o,
            "\n{} case(s), {} signature(s) met ({} new, {} already recorded)",
            total,
            s.found.len(),
            s.found.iter().filter(|f| f.path.is_some()).count(),
            s.found.iter().filter(|f| f.known).count()
        );
    }
    let unwritten = s.found.iter().filter(|f| f.error.is_some()).count();
    if unwritten > 0 {
        let _ = writeln!(
            o,
            "{unwritten} failure(s) NOT written: the record folder could not take them (exit 3)"
        );
    }
    o
}

/// Runs `readysim explore`.
pub fn explore(cli: &Cli, a: &ExploreArgs, kind: EngineKind) -> Result<Exit, BadInput> {
    let mut opts = options(a, kind)?;
    // Ctrl-C, SIGTERM or SIGHUP (ctrlc's `termination` feature) stops the search after the
    // cases in flight; files are written whole (temporary file, then link) or not at all, and
    // the summary says what was found so far. A second signal exits at once (130): a temporary
    // file it cuts short is removed by the next run in that folder (see RecordDir::open).
    opts.interrupt = Some(interrupt_flag());
    let dir = a
        .record
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RECORD_DIR));
    // A report path that cannot be written is found now, not after the whole search.
    super::pictures::check_outputs(&[("junit", &cli.junit)])?;
    let also = std::slice::from_ref(&cli.scenarios);
    let mut rec = if a.count_only {
        RecordDir::read_only(&dir, also)
    } else {
        RecordDir::open(&dir, also).map_err(|e| BadInput::msg(format!("--record {e}")))?
    };
    if let Some(h) = &a.html {
        std::fs::create_dir_all(h)
            .map_err(|e| BadInput::msg(format!("--html {}: cannot create: {e}", h.display())))?;
    }
    let (k, n) = opts.shard;
    let per_code = crate::search::shard_cases(opts.cases, k, n);
    let bar = progress_bar(per_code * opts.codes.len() as u64);
    let progress = Progress {
        bar,
        json: cli.json,
        default_dir: cli.scenarios.join("found"),
    };
    // Wall time only for the cases/s report on stderr; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let summary = search::explore(&opts, Some(&mut rec), &progress);
    progress.bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let total: u64 = summary.codes.iter().map(|p| p.cases).sum();
    if cli.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "command": opts.command,
                "summary": summary,
                "never_reached": summary.coverage().never(),
            }))
            .expect("json")
        );
    } else {
        out!("{}", summary_text(&summary, &opts.command));
    }
    if let Some(h) = &a.html {
        html_report(cli, h, &dir, &opts.command, &summary, kind)?;
    }
    if let Some(j) = &cli.junit {
        super::pictures::write_out(j, "junit", &junit(&summary))?;
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        for line in github_errors(&summary) {
            errln!("{line}");
        }
    }
    errln!(
        "explored {total} case(s) in {secs:.2}s: {:.0} cases/s with {} job(s)",
        total as f64 / secs.max(1e-9),
        opts.jobs
    );
    Ok(exit_code(&summary, &dir, total))
}

/// The flag Ctrl-C, SIGTERM or SIGHUP (ctrlc's `termination` feature) sets: the search stops
/// after the cases in flight; a second signal exits at once (130).
fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let interrupt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupt.clone();
    // Only one handler per process; a second `explore` in one process keeps the first.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
            errln!("interrupted twice: exiting now");
            std::process::exit(Exit::Interrupted as i32);
        }
        errln!("interrupted: finishing the cases in flight (again to exit now)");
    });
    interrupt
}

/// The progress bar on stderr: cases done of `len`, and the rate.
fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cases, {rate} {msg}",
        )
        .expect("a valid template")
        // Whole cases per second: four decimals of a rate only add noise.
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", s.per_sec());
            },
        ),
    );
    bar
}

/// Reports what could not be written or was cut short, and the exit code: like a test run,
/// new failures make it non-zero so CI notices them; failures already recorded do not.
/// Failures that could not be written are worse than new ones (they are not on disk to
/// replay), so they get their own code.
fn exit_code(summary: &Summary, dir: &std::path::Path, total: u64) -> Exit {
    let unwritten: Vec<&str> = summary
        .found
        .iter()
        .filter_map(|f| f.error.as_deref())
        .collect();
    if !unwritten.is_empty() {
        errln!(
            "NOT written: {} of {} failure(s) could not be recorded under {} ({}); they are listed above, \
             free space or fix the folder and run the same command again",
            unwritten.len(),
            summary.found.len(),
            dir.display(),
            unwritten[0]
        );
    }
    if summary.interrupted {
        errln!(
            "interrupted: stopped after {total} case(s); the {} failure(s) above were found so far",
            summary.failures()
        );
        return Exit::Interrupted;
    }
    if !unwritten.is_empty() {
        Exit::NotWritten
    } else if summary.new_failures() > 0 || summary.signatures_met().1 > 0 {
        Exit::Mismatch
    } else {
        Exit::Ok
    }
}

/// `explore --html DIR`: a timeline page per failure whose file can be read (written now, or
/// recorded before under the record folder or the scenarios folder), and the index.
fn html_report(
    cli: &Cli,
    out: &std::path::Path,
    record: &std::path::Path,
    command: &str,
    summary: &Summary,
    kind: EngineKind,
) -> Result<(), BadInput> {
    use crate::picture::html;
    let mut entries = Vec::new();
    for f in &summary.found {
        let file = f
            .path
            .clone()
            .or_else(|| Some(record.join(format!("{}.toml", f.name))).filter(|p| p.is_file()))
            .or_else(|| scenario::find(&cli.scenarios, &f.name).ok());
        let page = match file.map(|p| scenario::load(&p)) {
            Some(Ok(sc)) => {
                let rep = crate::replay::replay_valid(&sc, kind);
                let name = format!("{}.html", f.name);
                super::pictures::write_out(&out.join(&name), "html", &html::page(&sc, &rep))?;
                Some(name)
            }
            _ => None,
        };
        entries.push(html::Entry { found: f, page });
    }
    let index = html::explore_index(command, summary, &entries);
    super::pictures::write_out(&out.join("index.html"), "html", &index)
}

/// Runs `readysim classify`: per violation and per client attempt, race or deterministic.
pub fn classify_cmd(cli: &Cli, a: &ClassifyArgs, kind: EngineKind) -> Result<Exit, BadInput> {
    let (path, text, sc) = super::resolve_text(&cli.scenarios, &a.name)?;
    let props: BTreeSet<Violation> = if a.properties.is_empty() {
        classify::target_of(&sc, kind)
    } else {
        a.properties
            .iter()
            .map(|s| parse_property(s))
            .collect::<Result<_, _>>()?
    };
    let ev = crate::replay::evaluate_valid(&sc, kind);
    let shown: BTreeSet<Violation> = props.intersection(&ev.violations).copied().collect();
    if shown.is_empty() {
        return Err(BadInput::msg(format!(
            "{}: the run violates {}, so there is no failure to classify",
            sc.name,
            if props.len() == ev.violations.len() || a.properties.is_empty() {
                "nothing".to_string()
            } else {
                format!(
                    "none of {}",
                    super::output::list(&props.iter().collect::<Vec<_>>())
                )
            }
        )));
    }
    // The file's own failure first (what `--write` records): its signature when search
    // recorded it, else its violations together; then each violation and each attempt.
    let mut targets = vec![classify::file_target(&sc, &shown)];
    targets.extend(classify::targets_of(&ev, &shown));
    // A spinner with the runs made, on a terminal only (a classification usually takes well
    // under a second; a heavy file's can take minutes).
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] classify: {pos} runs")
            .expect("a valid template"),
    );
    let tick = |runs: u64| bar.set_position(runs);
    let budget = classify::Budget {
        max_steps: a.max_steps,
        on_run: Some(&tick),
    };
    let all = classify::classify_within(&sc, &targets, kind, &budget);
    bar.finish_and_clear();
    let all = all.map_err(|e| {
        let hint = "Raise --max-steps to let it finish";
        BadInput::msg(e.message(&sc.name, "classify", &e.runs.to_string(), a.max_steps, hint))
    })?;
    if a.write {
        let block = all[0].block();
        let new = scenario::edit::set_table(&text, "classification", &block)
            .map_err(|e| BadInput::msg(format!("{}: {e}", path.display())))?;
        // The header search wrote says the same as the block.
        let line = format!(
            "Classified (readysim classify {}): {}{}",
            sc.name,
            block.class,
            if block.depends_on.is_empty() {
                " (fails for every timing tried)".to_string()
            } else {
                format!(", depends on {}", block.depends_on.join(", "))
            }
        );
        let new = scenario::edit::replace_header_line(&new, "Classified", &line);
        match scenario::edit::write_back(&path, &text, &new) {
            Ok(()) => {}
            // A full disk is not bad input: exit 3, the file as it was.
            Err(e @ scenario::edit::EditError::Io(..)) => {
                errln!("error: {e}; not written, the file is as it was");
                return Ok(Exit::NotWritten);
            }
            Err(e) => return Err(BadInput::msg(e.to_string())),
        }
    }
    if cli.json {
        let v = serde_json::json!({
            "name": sc.name,
            "failure": all[0],
            "violations": all.iter().filter(|c| matches!(c.target, classify::Target::Violation { .. })).collect::<Vec<_>>(),
            "attempts": all.iter().filter(|c| matches!(c.target, classify::Target::Attempt { .. })).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(Exit::Ok);
    }
    let mut o = String::new();
    let _ = writeln!(o, "scenario    {}", sc.name);
    let _ = writeln!(
        o,
        "roles       {} timings shifted",
        if sc.what_if.is_empty() {
            "the environment's"
        } else {
            "the environment's and the code's (a what-if)"
        }
    );
    let describe = |o: &mut String, c: &classify::Classified| {
        let _ = writeln!(
            o,
            "  {:<40} {}{}",
            c.target.to_string(),
            c.class,
            if c.depends_on.is_empty() {
                " (gone for no small shift of timing or order tried)".to_string()
            } else {
                format!(": {}", c.depends_on.join("; "))
            }
        );
    };
    let _ = writeln!(o, "failure (what --write records):");
    describe(&mut o, &all[0]);
    let _ = writeln!(
        o,
        "per violation (gone only when the run no longer shows it anywhere):"
    );
    for c in all
        .iter()
        .filter(|c| matches!(c.target, classify::Target::Violation { .. }))
    {
        describe(&mut o, c);
    }
    let attempts: Vec<_> = all
        .iter()
        .filter(|c| matches!(c.target, classify::Target::Attempt { .. }))
        .collect();
    if !attempts.is_empty() {
        let _ = writeln!(o, "per client attempt:");
        for c in attempts {
            describe(&mut o, c);
        }
    }
    let _ = writeln!(o, "tried       {} perturbed runs", all[0].trials.len());
    if a.write {
        let _ = writeln!(o, "wrote [classification] to {}", path.display());
    }
    out!("{o}");
    Ok(Exit::Ok)
}

/// Runs `readysim merge`.
pub fn merge_cmd(cli: &Cli, into: &std::path::Path, sources: &[PathBuf]) -> Result<Exit, BadInput> {
    let merged = search::merge::merge(sources, into).map_err(|e| BadInput::msg(e.to_string()))?;
    // New means: no file under the scenarios folder shows the signature yet (what CI should
    // report).
    let known = search::record::known_under(std::slice::from_ref(&cli.scenarios));
    let mut new = 0;
    let mut rows = Vec::new();
    for m in &merged {
        let is_new = !known.contains_key(&m.signature);
        new += usize::from(is_new);
        rows.push((m, is_new));
    }
    if cli.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(m, n)| serde_json::json!({"name": m.name, "path": m.path, "from": m.from, "new": n, "signature": m.signature}))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        for (m, n) in &rows {
            outln!(
                "{} {}  (from {}){}",
                if *n { "new  " } else { "known" },
                m.path.display(),
                m.from.display(),
                if m.already {
                    ", already in the target"
                } else {
                    ""
                }
            );
        }
        outln!(
            "{} file(s) merged into {}, {new} new",
            merged.len(),
            into.display()
        );
    }
    Ok(if new > 0 { Exit::Mismatch } else { Exit::Ok })
}

//! The command line (feature `cli`): clap commands and their output (tables, JSON). No model
//! logic lives here; every command is a thin shell over library calls the tests use too. Not
//! part of the library's API: the binary calls [`main`].

#[macro_use]
pub(crate) mod output;
pub(crate) mod bench;
pub(crate) mod colour;
pub(crate) mod explore;
pub(crate) mod pictures;
pub(crate) mod real;

/// The allocator `readysim bench` reads its memory rows from (the binary installs it).
pub use crate::bench::heap::Counting as HeapCounter;

/// The `readysim` command: parses the arguments, runs the command, gives the exit code.
pub fn main() -> ExitCode {
    crate::bench::heap::installed();
    match Cli::try_parse() {
        Ok(c) => run(c),
        Err(e) => usage_error(e),
    }
}

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::EngineKind;
use crate::replay::{self, Report};
use crate::scenario::{self, Preset, Scenario};

/// How a command ends, as the process's exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every expectation matched (or nothing new was found).
    Ok = 0,
    /// Some expectation did not match, or explore found new failures.
    Mismatch = 1,
    /// Bad input: a malformed scenario, an unknown name, a bad argument.
    BadInput = 2,
    /// explore found failures it could not write (a full disk, a folder made read-only or
    /// removed mid-run): they are in the summary, not on disk.
    NotWritten = 3,
    /// Stopped by Ctrl-C, SIGTERM or SIGHUP (128 + SIGINT, as shells report Ctrl-C).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Deterministic simulation of service-startup readiness races.
///
/// With no command, replays every scenario under the scenarios folder and prints a table.
#[derive(Parser, Debug)]
#[command(name = "readysim", version, about, long_about = None, after_help = TOP_HELP)]
pub struct Cli {
    /// The scenarios folder (names are looked up here).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        default_value = "scenarios",
        env = "READYSIM_SCENARIOS"
    )]
    pub scenarios: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// The engine that runs the model.
    #[arg(long, global = true, value_enum, default_value_t = Engine::Fast, help_heading = "Global options")]
    pub engine: Engine,
    /// Tables at full width. By default a table on a terminal (or with $COLUMNS set) fits its
    /// width, wrapping long cells; piped output without $COLUMNS is full width.
    #[arg(long, global = true, help_heading = "Global options")]
    pub wide: bool,
    /// With the replay of every scenario (`readysim`, `readysim all`): also write a JUnit XML
    /// report to FILE, one test case per scenario file. With `explore`: one test suite per
    /// code under test, one test case per property, failed when a signature is new. Other
    /// commands refuse it (exit 2).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "Global options"
    )]
    pub junit: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

const TOP_HELP: &str = "\
Examples:
  readysim                                   replay every scenario, print the table
  readysim replay incident-2025-09-09        the incident's trace and verdict
  readysim compare incident-2025-09-09       what each preset would have done
  readysim explore --seed 42 --cases 2000    search for new failures
  readysim explain p8                        what a preset, violation or field means

Exit codes: 0 everything matched (or nothing new found), 1 an expectation differed (or
explore found something new), 2 bad input, 3 an output could not be written (a failure explore
found, a blessed file, a picture, standard output: disk full), 130 interrupted (Ctrl-C,
SIGTERM, SIGHUP).
Colour: on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE=1 forces it in a pipe.
Docs: docs/format.md (the file and every output), docs/presets.md, docs/violations.md.";

const REPLAY_HELP: &str = "\
Examples:
  readysim replay incident-2025-09-09
  readysim replay scenarios/found/p8-false-ready-bf69978c.toml --json
  readysim replay claimed-race-grace --svg race.svg --html race.html
  readysim replay slow-redis --bless          accept a reviewed model change

Exit codes: 0 [expect] matched (or there is none), 1 a field differed, 2 bad input, 3 an
output (--bless, a picture, standard output) could not be written.";

const EXPLORE_HELP: &str = "\
Examples:
  readysim explore --seed 42 --cases 2000
  readysim explore --seed 42 --all-presets --shard 2/4 --record shard-2
  readysim explore --seed 7 --preset p8 --property false-ready --html report/

Exit codes: 0 nothing new, 1 a signature no file under the scenarios or record folder shows
yet (also with --count-only), 2 bad input, 3 a failure found but NOT written (disk full, folder gone: see the summary),
130 interrupted by Ctrl-C, SIGTERM or SIGHUP (what was found so far is written and
reported; a second signal exits at once).";

/// `--engine` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Engine {
    /// readysim's executor (decisions choose among same-instant tasks).
    Fast,
    /// tokio's paused current_thread runtime (the cross-check).
    Tokio,
}

impl From<Engine> for EngineKind {
    fn from(e: Engine) -> Self {
        match e {
            Engine::Fast => EngineKind::Fast,
            Engine::Tokio => EngineKind::Tokio,
        }
    }
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay one scenario (a name under the scenarios folder, or a path) and check `[expect]`.
    #[command(after_help = REPLAY_HELP)]
    Replay {
        /// Scenario name or path to a .toml file.
        name: String,
        /// Rewrite the file's `[expect]` from this run (after you reviewed the change). Refused,
        /// with nothing written, when the run changes the verdict the file claims (startup,
        /// failed services, client outcomes or reasons, violations).
        #[arg(long)]
        bless: bool,
        /// With --bless: accept a changed verdict too (it is printed).
        #[arg(long, requires = "bless")]
        accept_verdict_change: bool,
        /// Pictures of the run.
        #[command(flatten)]
        pictures: pictures::ReplayPictures,
    },
    /// List the scenarios with their one-line summaries (the folder's own first, then found/
    /// and other subfolders).
    List {
        /// List the scenarios built into readysim instead of the folder's.
        #[arg(long)]
        builtin: bool,
    },
    /// Run a scenario once per preset (only `preset` changes) and print one row each.
    #[command(
        after_help = "Example: readysim compare incident-2025-09-09 --html compare.html\nExit codes: 0, 2 on bad input, 3 if an output cannot be written."
    )]
    Compare {
        /// Scenario name or path.
        name: String,
        /// Write a page with every preset's timeline, stacked, to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Re-run a scenario over a grid of two timing fields and draw where each preset fails.
    #[command(
        after_help = "Example: readysim map claimed-race-grace --x redis.server.up_from_ms --y redis.manager.stabilize_ms --preset p8 reference --svg map.svg\nExit codes: 0, or 2 on bad input (or past --max-steps), 3 if the SVG cannot be written."
    )]
    Map(pictures::MapArgs),
    /// The incident team's six suites (52 tests), each answered three times: what pytest
    /// reports as written, whether the claim holds in production, whether the test would
    /// notice the fault (docs/seed-suite.md holds the same table).
    SeedSuite {
        /// Print the table as Markdown (what docs/seed-suite.md holds).
        #[arg(long)]
        markdown: bool,
    },
    /// What a preset, a violation, a client outcome, a close reason or a field means.
    #[command(
        after_help = "Examples: readysim explain p8; readysim explain false-ready; readysim explain redis.server.up_from_ms; readysim explain --list\nExit codes: 0, 2 for an unknown name, 3 if standard output cannot be written."
    )]
    Explain {
        /// The name (`p8`, `false-ready`, `reset`, `factory-limit`, `redis.server.up_from_ms`).
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// List every name readysim can explain.
        #[arg(long)]
        list: bool,
    },
    /// Run a scenario against a real Redis server (through a fault proxy) and compare the
    /// verdict with the simulation's, field by field.
    #[command(
        after_help = "Examples:\n  readysim real incident-2025-09-09\n  readysim real claimed-race-grace --runs 20 --time-scale 0.5\n  readysim real --all --max-seconds 120\nExit codes: 0 every run agreed, 1 a field differed, 2 bad input (no redis-server), 130 interrupted."
    )]
    Real(real::RealArgs),
    /// Replay every scenario and print a pass/fail table (the default command).
    All,
    /// Search timings and orderings from a seed; shrink, record and classify each failure.
    #[command(after_help = EXPLORE_HELP)]
    Explore(explore::ExploreArgs),
    /// Tell a race from a deterministic fault by perturbing a scenario's timings and order.
    #[command(
        after_help = "Example: readysim classify --property false-ready claimed-race-grace --write\nExit codes: 0, 2 on bad input (or a run that violates nothing, or past --max-steps), 3 if the file (--write) or standard output cannot be written."
    )]
    Classify(explore::ClassifyArgs),
    /// Combine the record folders of a sharded explore into the files an unsharded run writes;
    /// exit 1 when any of them is not yet under the scenarios folder.
    Merge {
        /// Where the merged files go (created if needed; nothing there is overwritten).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// The shard folders.
        #[arg(required = true, value_name = "SHARD_DIR")]
        sources: Vec<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard
    /// output, e.g. `readysim completions bash > /etc/bash_completion.d/readysim`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output, e.g. `readysim man > readysim.1`.
    Man,
    /// Time the incident and every scenario on both engines; print scenarios/s and the ratio.
    Bench {
        /// Wall-clock seconds per measured row.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// `search`: compare the search strategies instead.
        #[command(subcommand)]
        what: Option<BenchWhat>,
    },
}

/// What `readysim bench` measures besides the engines.
#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// What search promises, measured: cases and CPU seconds to each signature class for
    /// swarm and uniform (the code as it ships, the environment varied), every 1011 reason
    /// recorded with its reason, shrunk files keeping their signatures, the reference design's
    /// long run, and the CI workflow night after night.
    Search {
        /// Seeds, comma-separated.
        #[arg(long, default_value = "1,2,3,4,5,6,7")]
        seeds: String,
        /// Cases per seed and code.
        #[arg(long, default_value_t = 20_000)]
        cases: u64,
        /// Worker threads (default: every core; the result does not depend on it).
        #[arg(long)]
        jobs: Option<usize>,
        /// Cases of the reference design's long run (0 skips it).
        #[arg(long, default_value_t = 200_000)]
        reference_cases: u64,
        /// Seeds of the workflow's nights, comma-separated (empty skips them).
        #[arg(long, default_value = "101,102,103")]
        workflow_seeds: String,
        /// Only count (skip recording every new signature of every seed).
        #[arg(long)]
        no_record: bool,
    },
}

/// A failure that maps to exit 2: what is wrong, and where when a scenario file is at fault.
pub struct BadInput {
    /// The whole message.
    pub message: String,
    /// The located scenario error, when there is one (for `--json`).
    pub at: Option<scenario::ScenarioError>,
    /// Not bad input after all: an output could not be written (a full disk); exit 3.
    pub not_written: bool,
}

impl BadInput {
    /// A bad input with only a message.
    pub fn msg(message: String) -> BadInput {
        BadInput {
            message,
            at: None,
            not_written: false,
        }
    }

    /// An output that could not be written (exit 3, `Exit::NotWritten`).
    pub fn not_written(message: String) -> BadInput {
        BadInput {
            not_written: true,
            ..BadInput::msg(message)
        }
    }
}

impl From<scenario::ScenarioError> for BadInput {
    fn from(e: scenario::ScenarioError) -> Self {
        BadInput {
            message: e.to_string(),
            at: Some(e),
            not_written: false,
        }
    }
}

impl BadInput {
    /// The `--json` form: one object with `error`, `file`, `line`, `column`, `field`
    /// (null when unknown).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.at {
            Some(e) => serde_json::json!({
                "error": self.message,
                "file": e.file.display().to_string(),
                "line": (e.line > 0).then_some(e.line),
                "column": (e.line > 0).then_some(e.column),
                "field": (!e.field.is_empty()).then_some(e.field.as_str()),
            }),
            None => serde_json::json!({
                "error": self.message,
                "file": null,
                "line": null,
                "column": null,
                "field": null,
            }),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    output::set_wide(cli.wide);
    let kind: EngineKind = cli.engine.into();
    let junit_here = matches!(
        cli.command,
        None | Some(Command::All) | Some(Command::Explore(_))
    );
    let result = match &cli.command {
        // A report asked for and silently not written would read as "nothing failed".
        _ if cli.junit.is_some() && !junit_here => Err(BadInput::msg(
            "--junit: only the replay of every scenario (`readysim`, `readysim all`) and `explore` write a JUnit report".into(),
        )),
        None | Some(Command::All) => all(&cli, kind),
        Some(Command::Replay {
            name,
            bless,
            accept_verdict_change,
            pictures,
        }) => replay_one(&cli, name, kind, (*bless, *accept_verdict_change), pictures),
        Some(Command::List { builtin }) => list(&cli, *builtin),
        Some(Command::Compare { name, html }) => compare(&cli, name, kind, html.as_deref()),
        Some(Command::Map(a)) => pictures::map_cmd(&cli, a, kind),
        Some(Command::Real(a)) => real::real_cmd(&cli, a),
        Some(Command::Explain { name, list }) => explain(&cli, name.as_deref(), *list),
        Some(Command::Completions { shell }) => completions(*shell),
        Some(Command::Man) => man(),
        Some(Command::SeedSuite { markdown }) => seed_suite(&cli, *markdown),
        Some(Command::Explore(a)) => explore::explore(&cli, a, kind),
        Some(Command::Classify(a)) => explore::classify_cmd(&cli, a, kind),
        Some(Command::Merge { into, sources }) => explore::merge_cmd(&cli, into, sources),
        Some(Command::Bench { seconds, what }) => match what {
            None => bench::run(&cli, *seconds),
            Some(BenchWhat::Search {
                seeds,
                cases,
                jobs,
                reference_cases,
                workflow_seeds,
                no_record,
            }) => bench::search(
                &cli,
                bench::SearchArgs {
                    seeds,
                    cases: *cases,
                    jobs: jobs.unwrap_or_else(explore::default_jobs),
                    reference_cases: *reference_cases,
                    workflow_seeds,
                    record: !*no_record,
                },
            ),
        },
    };
    match result {
        Ok(code) => output::exit_after_output(code).into(),
        Err(bad) => {
            if cli.json {
                outln!("{}", bad.to_json());
            } else {
                errln!("error: {}", bad.message);
            }
            if bad.not_written {
                Exit::NotWritten.into()
            } else {
                Exit::BadInput.into()
            }
        }
    }
}

/// A command line clap rejected (exit 2), or `--help` / `--version` (exit 0). With `--json`,
/// a rejected command line is one JSON error object, as for every other bad input.
pub fn usage_error(e: clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return Exit::Ok.into();
    }
    // args_os: a non-UTF-8 argument must not turn a usage error into a panic.
    if std::env::args_os().any(|a| a == "--json") {
        let text = e.render().to_string();
        let head = text.split("\n\n").next().unwrap_or("");
        let first = head
            .trim_start_matches("error: ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let mut v = BadInput::msg(first).to_json();
        v["usage"] = serde_json::json!(text);
        outln!("{v}");
    } else {
        let _ = e.print();
    }
    Exit::BadInput.into()
}

/// Finds and loads a scenario by name or path.
pub fn resolve(root: &Path, name: &str) -> Result<(PathBuf, Scenario), BadInput> {
    resolve_text(root, name).map(|(p, _, sc)| (p, sc))
}

/// [`resolve`], with the text the scenario was parsed from.
pub fn resolve_text(root: &Path, name: &str) -> Result<(PathBuf, String, Scenario), BadInput> {
    let path = scenario::find(root, name).map_err(|e| BadInput::msg(e.to_string()))?;
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
        if let Some((_, files)) = scenario::duplicate_names(root)
            .into_iter()
            .find(|(n, _)| n == stem)
        {
            return Err(BadInput::msg(
                scenario::FindError::Duplicate {
                    name: stem.to_string(),
                    files,
                }
                .to_string(),
            ));
        }
    }
    let (text, sc) = scenario::load_text(&path)?;
    if scenario::builtin::is_builtin(&path) {
        errln!(
            "note: `{name}` is not under {}: using the copy built into readysim",
            root.display()
        );
    }
    Ok((path, text, sc))
}

/// `readysim seed-suite`.
fn seed_suite(cli: &Cli, markdown: bool) -> Result<Exit, BadInput> {
    use crate::seed_suite as ss;
    let dir = cli.scenarios.join("seed-suite");
    if !dir.is_dir() {
        return Err(BadInput::msg(format!(
            "{} does not exist: run from a readysim checkout or give --scenarios DIR",
            dir.display()
        )));
    }
    let rows = ss::judge(&dir).map_err(|e| BadInput::msg(e.to_string()))?;
    if cli.json {
        outln!("{}", serde_json::to_string_pretty(&rows).expect("json"));
    } else if markdown {
        out!("{}", ss::markdown(&rows));
    } else {
        outln!("{}\n", ss::totals(&rows).replace("**", ""));
        let mut t = output::table(&[
            "#",
            "test",
            "as written",
            "claim in production",
            "discriminates",
        ]);
        for r in &rows {
            let line = r
                .as_written_line
                .map_or(String::new(), |l| format!(" (line {l})"));
            t.add_row(vec![
                r.n.to_string(),
                r.test.clone(),
                format!("{}{line}: {}", r.as_written.words(), r.mechanism),
                r.claim.words().to_string(),
                r.discriminates_kind.words().to_string(),
            ]);
        }
        outln!("{t}");
    }
    Ok(Exit::Ok)
}

fn replay_one(
    cli: &Cli,
    name: &str,
    kind: EngineKind,
    (bless, accept_verdict_change): (bool, bool),
    pics: &pictures::ReplayPictures,
) -> Result<Exit, BadInput> {
    if pics.trace && !cli.json {
        return Err(BadInput::msg(
            "--trace adds the events to the JSON report: use it with --json".into(),
        ));
    }
    let (path, sc) = resolve(&cli.scenarios, name)?;
    pictures::check_outputs(&[
        ("svg", &pics.svg),
        ("html", &pics.html),
        ("chrome-trace", &pics.chrome_trace),
    ])?;
    if bless {
        let done = match crate::bless::bless(&cli.scenarios, &path, kind, accept_verdict_change) {
            Ok(done) => done,
            // A full disk is not bad input: exit 3, as for explore's unwritten files.
            Err(e @ crate::bless::BlessError::Write(_)) => {
                errln!("error: {e}");
                return Ok(Exit::NotWritten);
            }
            Err(e @ crate::bless::BlessError::VerdictChange(_)) => {
                return Err(BadInput::msg(format!(
                    "{}: not blessed: {e}\n  if the new verdict is right (checked against the model's rules), run again with --accept-verdict-change",
                    path.display()
                )))
            }
            Err(e) => return Err(BadInput::msg(e.to_string())),
        };
        if cli.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "blessed": done.path.display().to_string(),
                    "stored_trace": done.stored_trace.as_ref().map(|p| p.display().to_string()),
                    "expect": done.expect,
                    "verdict_changes": done.verdict_changes,
                }))
                .expect("json")
            );
        } else {
            for c in &done.verdict_changes {
                errln!(
                    "verdict change accepted: {}: {} -> {}",
                    c.field,
                    c.was,
                    c.now
                );
            }
            let also = done
                .stored_trace
                .as_ref()
                .map_or(String::new(), |p| format!(" and {}", p.display()));
            errln!(
                "blessed {}: [expect]{also} rewritten from this run",
                done.path.display()
            );
        }
        return Ok(Exit::Ok);
    }
    let checked = crate::bless::check(&cli.scenarios, &sc, kind);
    let passes = checked.passes();
    let stale = checked.stale_trace.clone();
    let rep = checked.report;
    pictures::replay_pictures(&sc, &rep, pics)?;
    if cli.json {
        let mut v = serde_json::to_value(&rep).expect("a report serialises");
        if rep.drift.is_some() {
            v["drift"]["bless"] = serde_json::json!(output::bless_command(&sc.name));
        }
        if pics.trace {
            output::print_json_streamed(&pictures::TraceJson(&rep).with(&v));
        } else {
            output::print_or_exit(&(serde_json::to_string_pretty(&v).expect("json") + "\n"));
        }
    } else {
        output::print_replay(&sc, &rep, kind);
    }
    if let Some(p) = stale {
        errln!(
            "{}: the trace hash matches but the stored trace {} is stale; rewrite it with: {}",
            sc.name,
            p.display(),
            output::bless_command(&sc.name)
        );
    }
    Ok(if passes { Exit::Ok } else { Exit::Mismatch })
}

/// The scenario files under `root`, with a note for each thing skipped; a missing or empty
/// folder is bad input.
fn scanned(root: &Path) -> Result<Vec<PathBuf>, BadInput> {
    if !root.is_dir() {
        return Err(BadInput::msg(format!(
            "the scenarios folder {} does not exist (or is not a folder): run from a readysim checkout, give --scenarios DIR (or READYSIM_SCENARIOS), or see the {} scenarios built into readysim with `readysim list --builtin`",
            root.display(),
            scenario::builtin::all().len()
        )));
    }
    let scan = scenario::scan(root);
    for (p, why) in &scan.skipped {
        errln!("note: skipped {}: {why}", p.display());
    }
    if scan.files.is_empty() {
        return Err(BadInput::msg(format!(
            "no scenario files (*.toml) under {}",
            root.display()
        )));
    }
    Ok(scan.files)
}

fn explain(cli: &Cli, name: Option<&str>, list: bool) -> Result<Exit, BadInput> {
    let text = match name {
        Some(n) if !list => crate::explain::explain(n).map_err(BadInput::msg)?,
        _ => crate::explain::list(),
    };
    if cli.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"name": name, "text": text}))
                .expect("json")
        );
    } else {
        out!("{text}");
    }
    Ok(Exit::Ok)
}

fn list(cli: &Cli, builtin: bool) -> Result<Exit, BadInput> {
    let mut rows = Vec::new();
    if builtin {
        for (rel, text) in scenario::builtin::all() {
            let p = scenario::builtin::path_of(rel);
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let sc = scenario::parse(text, &p, Some(stem))?;
            rows.push((rel.to_string(), sc));
        }
    } else {
        for p in scanned(&cli.scenarios)? {
            let sc = scenario::load(&p)?;
            let rel = p
                .strip_prefix(&cli.scenarios)
                .unwrap_or(&p)
                .display()
                .to_string();
            rows.push((rel, sc));
        }
    }
    // The folder's own scenarios first, then those in subfolders (found/, seed-suite/).
    rows.sort_by(|a, b| (a.0.contains('/'), &a.0).cmp(&(b.0.contains('/'), &b.0)));
    if cli.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(f, sc)| {
                serde_json::json!({
                    "name": sc.name,
                    "file": f,
                    "preset": sc.policy.preset.name(),
                    "summary": sc.summary,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        let mut t = output::table(&["name", "preset", "summary"]);
        for (f, sc) in &rows {
            let folder = f
                .rsplit_once('/')
                .map_or(String::new(), |(d, _)| format!("{d}/"));
            t.add_row(vec![
                format!("{folder}{}", sc.name),
                sc.policy.preset.name().to_string(),
                sc.summary.clone(),
            ]);
        }
        outln!("{}", t.trim_fmt());
        outln!(
            "{} ({}); replay one with: readysim replay NAME",
            output::plural(rows.len(), "scenario"),
            if builtin {
                "built into readysim".to_string()
            } else {
                format!("under {}", cli.scenarios.display())
            }
        );
    }
    Ok(Exit::Ok)
}

fn compare(cli: &Cli, name: &str, kind: EngineKind, html: Option<&Path>) -> Result<Exit, BadInput> {
    let (_, sc) = resolve(&cli.scenarios, name)?;
    pictures::check_outputs(&[("html", &html.map(Path::to_path_buf))])?;
    let reports: Vec<(Preset, Report)> = Preset::ALL
        .iter()
        .map(|&p| {
            let mut s = sc.clone();
            s.policy.preset = p;
            s.expect = None;
            (p, replay::report(&s, replay::evaluate_valid(&s, kind)))
        })
        .collect();
    if let Some(f) = html {
        pictures::compare_html(&sc, &reports, f)?;
    }
    if cli.json {
        let v: Vec<_> = reports
            .iter()
            .map(|(p, r)| {
                let mut j = serde_json::to_value(r).expect("report");
                j["preset"] = serde_json::json!(p.name());
                // compare runs without the file's [expect]: nothing is matched.
                if let Some(m) = j.as_object_mut() {
                    m.remove("matches");
                    m.remove("mismatches");
                    m.remove("drift");
                }
                j
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        out!("{}", output::compare_table(&sc, &reports));
    }
    Ok(Exit::Ok)
}

fn all(cli: &Cli, kind: EngineKind) -> Result<Exit, BadInput> {
    let files = scanned(&cli.scenarios)?;
    let dups = scenario::duplicate_names(&cli.scenarios);
    let mut rows = Vec::new();
    let mut bad = false;
    for p in &files {
        let row = match scenario::load(p) {
            Ok(sc) if dups.iter().any(|(n, _)| *n == sc.name) => {
                bad = true;
                output::Row::error(p, "duplicate name".into())
            }
            Ok(sc) => {
                let has = sc.expect.is_some();
                output::Row::from_checked(p, &crate::bless::check(&cli.scenarios, &sc, kind), has)
            }
            Err(e) => {
                bad = true;
                output::Row::error(p, e.to_string())
            }
        };
        rows.push(row);
    }
    let failed = rows.iter().filter(|r| !r.pass).count();
    if cli.json {
        outln!("{}", serde_json::to_string_pretty(&rows).expect("json"));
    } else {
        out!("{}", output::all_table(&rows, kind));
    }
    // In a GitHub Actions job, each failing file is annotated where it lives.
    if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        for r in rows.iter().filter(|r| !r.pass) {
            errln!("{}", output::github_error(r));
        }
    }
    if let Some(f) = &cli.junit {
        pictures::write_out(f, "junit", &output::junit(&rows, kind))?;
    }
    Ok(if bad {
        Exit::BadInput
    } else if failed > 0 {
        Exit::Mismatch
    } else {
        Exit::Ok
    })
}

/// `readysim completions SHELL`.
fn completions(shell: clap_complete::Shell) -> Result<Exit, BadInput> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "readysim", &mut buf);
    output::print_or_exit(&String::from_utf8_lossy(&buf));
    Ok(Exit::Ok)
}

/// `readysim man`.
fn man() -> Result<Exit, BadInput> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| BadInput::msg(format!("cannot render the man page: {e}")))?;
    output::print_or_exit(&String::from_utf8_lossy(&buf));
    Ok(Exit::Ok)
}

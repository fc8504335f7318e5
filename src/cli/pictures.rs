//! The picture options and commands: `replay --svg/--html/--chrome-trace`, `compare --html`,
//! `map`, and the files they write. The pictures themselves are `crate::picture`.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::engine::EngineKind;
use crate::picture::{self, map};
use crate::replay::Report;
use crate::scenario::{self, Preset, Scenario};
use crate::unknown_name;

use super::{resolve, BadInput, Cli, Exit};

/// The picture outputs of `readysim replay`.
#[derive(Args, Debug, Default)]
pub struct ReplayPictures {
    /// Write the run's timeline as SVG to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write a self-contained HTML page (timeline, verdict, trace table) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write a Chrome trace-event JSON file (open it in ui.perfetto.dev or chrome://tracing).
    #[arg(long, value_name = "FILE")]
    pub chrome_trace: Option<PathBuf>,
    /// With --json: include the trace's events and the same-instant decisions.
    #[arg(long)]
    pub trace: bool,
}

/// `readysim map` options.
#[derive(Args, Debug)]
pub struct MapArgs {
    /// Scenario name or path.
    pub name: String,
    /// The x field, optionally with its range: `redis.server.up_from_ms=0..5000`.
    #[arg(long, value_name = "FIELD[=LO..HI]")]
    pub x: String,
    /// The y field, optionally with its range.
    #[arg(long, value_name = "FIELD[=LO..HI]")]
    pub y: String,
    /// One panel per preset (repeatable; default: the file's preset, then reference).
    #[arg(long = "preset", value_name = "P", num_args = 1..)]
    pub presets: Vec<String>,
    /// Values per axis (2 to 500): steps x steps runs per preset.
    #[arg(long, default_value_t = map::DEFAULT_STEPS, value_name = "N")]
    pub steps: u64,
    /// Write the map as SVG to FILE (`-` for standard output); needed unless --json.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// The most engine steps all of the map's runs may take together (the default map of a
    /// shipped scenario needs well under a tenth of it). Past it, map stops with exit 2 and
    /// says how far it got.
    #[arg(long, value_name = "N", default_value_t = MAP_MAX_STEPS)]
    pub max_steps: u64,
}

/// Default of `map --max-steps`: about a minute of the fast engine.
pub const MAP_MAX_STEPS: u64 = 500_000_000;

/// Writes `text` to `path` whole or not at all (`-` is standard output).
pub fn write_out(path: &Path, what: &str, text: &str) -> Result<(), BadInput> {
    if path.as_os_str() == "-" {
        super::output::print_or_exit(text);
        return Ok(());
    }
    if path.is_dir() {
        return Err(BadInput::msg(format!(
            "--{what} {}: is a folder; give a file name",
            path.display()
        )));
    }
    scenario::write_atomic(path, text, true).map_err(|e| {
        BadInput::not_written(format!("--{what} {}: cannot write: {e}", path.display()))
    })?;
    errln!("wrote {}", path.display());
    Ok(())
}

/// Checks that every output's folder exists before anything runs.
pub fn check_outputs(outs: &[(&str, &Option<PathBuf>)]) -> Result<(), BadInput> {
    for (what, p) in outs {
        let Some(p) = p else { continue };
        if p.as_os_str() == "-" {
            continue;
        }
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(BadInput::msg(format!(
                "--{what} {}: folder {} does not exist",
                p.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Writes the pictures `replay` was asked for.
pub fn replay_pictures(sc: &Scenario, rep: &Report, p: &ReplayPictures) -> Result<(), BadInput> {
    if p.svg.is_none() && p.html.is_none() && p.chrome_trace.is_none() {
        return Ok(());
    }
    let pic = picture::build(sc, rep);
    if let Some(f) = &p.svg {
        write_out(f, "svg", &picture::timeline::svg(&pic))?;
    }
    if let Some(f) = &p.html {
        write_out(f, "html", &picture::html::page(sc, rep))?;
    }
    if let Some(f) = &p.chrome_trace {
        let text = serde_json::to_string(&picture::chrome::trace(&pic)).expect("json") + "\n";
        write_out(f, "chrome-trace", &text)?;
    }
    Ok(())
}

/// The `trace` and `decisions` members `replay --json --trace` adds, serialised as they are
/// written: a million-event trace streams to the output instead of becoming a JSON tree (which
/// took 2 kB an event).
pub struct TraceJson<'a>(pub &'a Report);

struct Events<'a>(&'a [crate::trace::Event]);

/// One event as `--json --trace` prints it (fields in the sorted order of every JSON object).
#[derive(serde::Serialize)]
struct EventJson {
    actor: String,
    details: String,
    event: &'static str,
    t: u64,
}

impl serde::Serialize for Events<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|e| {
            let mut details = String::new();
            e.ev.details(&mut details);
            EventJson {
                actor: e.actor.to_string(),
                details,
                event: e.ev.name(),
                t: e.t,
            }
        }))
    }
}

struct Choices<'a>(&'a [crate::engine::Choice]);

/// One same-instant choice as `--json --trace` prints it.
#[derive(serde::Serialize)]
struct ChoiceJson {
    at_ms: u64,
    chosen: u32,
    ready: u32,
}

impl serde::Serialize for Choices<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| ChoiceJson {
            at_ms: c.at_ms,
            chosen: c.chosen,
            ready: c.ready,
        }))
    }
}

impl TraceJson<'_> {
    /// Serialises `base` (the report's object) with `trace` and `decisions` added, keys in
    /// sorted order like every other JSON object readysim prints.
    pub fn with<'b>(&'b self, base: &'b serde_json::Value) -> impl serde::Serialize + 'b {
        WithTrace { base, rep: self.0 }
    }
}

struct WithTrace<'b> {
    base: &'b serde_json::Value,
    rep: &'b Report,
}

impl serde::Serialize for WithTrace<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let out = &self.rep.evaluation.output;
        let empty = serde_json::Map::new();
        let base = self.base.as_object().unwrap_or(&empty);
        let mut keys: Vec<&str> = base
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "trace" && *k != "decisions")
            .chain(["trace", "decisions"])
            .collect();
        keys.sort_unstable();
        let mut m = s.serialize_map(Some(keys.len()))?;
        for k in keys {
            match k {
                "trace" => m.serialize_entry(k, &Events(&out.trace))?,
                "decisions" => m.serialize_entry(k, &Choices(&out.engine.choices))?,
                _ => m.serialize_entry(k, &base[k])?,
            }
        }
        m.end()
    }
}

/// `readysim map`.
pub fn map_cmd(cli: &Cli, a: &MapArgs, kind: EngineKind) -> Result<Exit, BadInput> {
    let (_, sc) = resolve(&cli.scenarios, &a.name)?;
    if !(2..=map::MAX_STEPS).contains(&a.steps) {
        return Err(BadInput::msg(format!(
            "--steps {}: expected a whole number from 2 to {}",
            a.steps,
            map::MAX_STEPS
        )));
    }
    let x = map::axis(&sc, "--x", &a.x, a.steps).map_err(BadInput::msg)?;
    let y = map::axis(&sc, "--y", &a.y, a.steps).map_err(BadInput::msg)?;
    if x.field == y.field {
        return Err(BadInput::msg(format!(
            "--x and --y both vary {}: give two different fields",
            x.field
        )));
    }
    let mut presets = Vec::new();
    for p in &a.presets {
        let p = Preset::from_name(p)
            .ok_or_else(|| BadInput::msg(unknown_name("preset", p, &Preset::NAMES)))?;
        if !presets.contains(&p) {
            presets.push(p);
        }
    }
    if presets.is_empty() {
        presets.push(sc.policy.preset);
        if sc.policy.preset != Preset::Reference {
            presets.push(Preset::Reference);
        }
    }
    if a.svg.is_none() && !cli.json {
        return Err(BadInput::msg(
            "map needs somewhere to put the map: --svg FILE (`-` for standard output), or --json"
                .into(),
        ));
    }
    check_outputs(&[("svg", &a.svg)])?;
    let runs = a.steps * a.steps * presets.len() as u64;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(runs),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, eta {eta}",
        )
        .expect("a valid template"),
    );
    let tick = |n: u64| bar.set_position(n);
    let budget = crate::search::classify::Budget {
        max_steps: a.max_steps,
        on_run: Some(&tick),
    };
    let m = map::run_within(&sc, x, y, &presets, kind, &budget);
    bar.finish_and_clear();
    let m = m.map_err(|e| {
        let done = format!("{} of {runs}", e.runs);
        let hint = "Raise --max-steps, or use fewer --steps";
        BadInput::msg(e.message(&sc.name, "map", &done, a.max_steps, hint))
    })?;
    if let Some(f) = &a.svg {
        write_out(f, "svg", &map::svg(&m))?;
    }
    if cli.json {
        super::output::print_or_exit(
            &(serde_json::to_string_pretty(&map::json(&m)).expect("json") + "\n"),
        );
    } else {
        for p in &m.panels {
            let bad = p
                .cells
                .iter()
                .flatten()
                .filter(|c| !m.categories[**c].violations.is_empty())
                .count();
            outln!(
                "{:<9}  {bad:>6} of {} cells violate",
                p.preset.name(),
                m.x.values.len() * m.y.values.len()
            );
        }
    }
    Ok(Exit::Ok)
}

/// `compare --html`: the per-preset timelines on one page.
pub fn compare_html(
    sc: &Scenario,
    reports: &[(Preset, Report)],
    file: &Path,
) -> Result<(), BadInput> {
    write_out(file, "html", &picture::html::compare_page(sc, reports))
}

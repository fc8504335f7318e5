//! The race map: a scenario re-run over a grid of two timing fields, one panel per preset,
//! each cell coloured by its verdict and violations, with the failure region's boundary drawn.
//!
//! The SVG is written by hand rather than with a plotting crate: a map is rectangles, lines
//! and a few labels, and plotters' text layout needs system fonts (fontconfig) or an embedded
//! font file, which would break building on a machine with only the Rust toolchain and make
//! the bytes depend on the fonts installed.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::escape;
use super::timeline::ms_label;
use crate::engine::EngineKind;
use crate::policy::Preset;
use crate::replay;
use crate::scenario::fields::{self, Access, Field, Kind, Ty};
use crate::scenario::slots::{timing_slots, Slot};
use crate::scenario::Scenario;
use crate::search::classify::{Budget, Exhausted};
use crate::suggest::unknown_name;
use crate::vocab::{StartupOutcome, Violation};

/// The largest `--steps`: 500 x 500 cells per preset is already a quarter million runs.
pub const MAX_STEPS: u64 = 500;
/// The default `--steps`.
pub const DEFAULT_STEPS: u64 = 100;

/// What an axis varies: a timing value of the scenario, or a millisecond policy knob.
#[derive(Clone, Copy)]
enum Target {
    Slot(Slot),
    Knob(&'static Field),
}

impl Target {
    fn get(&self, sc: &Scenario) -> u64 {
        match self {
            Target::Slot(s) => s.get(sc),
            Target::Knob(f) => match f.access {
                Access::Opt(get, _, absent) => get(sc).unwrap_or_else(|| absent(sc)),
                _ => 0,
            },
        }
    }

    fn set(&self, sc: &mut Scenario, v: u64) {
        match self {
            Target::Slot(s) => s.set(sc, v),
            Target::Knob(f) => {
                if let Access::Opt(_, set, _) = f.access {
                    set(sc, Some(v));
                }
            }
        }
    }

    fn field(&self) -> &'static Field {
        match self {
            Target::Slot(s) => s.field,
            Target::Knob(f) => f,
        }
    }
}

/// One axis of a map: the field, its range and the values the grid takes.
#[derive(Clone)]
pub struct MapAxis {
    /// The dotted path, as in the scenario (`redis.server.up_from_ms`, `clients[0].at_ms`).
    pub field: String,
    /// The scenario's own value.
    pub own: u64,
    /// The first value.
    pub lo: u64,
    /// The last value.
    pub hi: u64,
    /// `steps` values from `lo` to `hi`, evenly spaced (rounded to whole ms).
    pub values: Vec<u64>,
    target: Target,
}

/// The fields a map can vary in `sc`: its timing values and the millisecond policy knobs.
pub fn fields_of(sc: &Scenario) -> Vec<String> {
    let mut v: Vec<String> = timing_slots(sc).iter().map(Slot::name).collect();
    v.extend(
        fields::FIELDS
            .iter()
            .filter(|f| f.kind == Kind::Knob && f.ty == Ty::Ms)
            .filter(|f| matches!(f.access, Access::Opt(..)))
            .map(|f| f.path.to_string()),
    );
    v
}

/// A round number at least `v` (1, 2 or 5 times a power of ten).
fn nice_ceil(v: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if p.saturating_mul(m) >= v {
                return p.saturating_mul(m);
            }
        }
        p = p.saturating_mul(10);
    }
}

/// Parses `FIELD` or `FIELD=LO..HI` for `sc` (`flag` names the option in messages). Without
/// a range the axis runs from the field's minimum to a round number at least twice the
/// larger of the scenario's value and the field's default (and at least 1000 ms).
pub fn axis(sc: &Scenario, flag: &str, spec: &str, steps: u64) -> Result<MapAxis, String> {
    let (name, range) = match spec.split_once('=') {
        Some((n, r)) => (n.trim(), Some(r.trim())),
        None => (spec.trim(), None),
    };
    let target = timing_slots(sc)
        .into_iter()
        .find(|s| s.name() == name)
        .map(Target::Slot)
        .or_else(|| {
            fields::FIELDS
                .iter()
                .find(|f| {
                    f.path == name
                        && f.kind == Kind::Knob
                        && f.ty == Ty::Ms
                        && matches!(f.access, Access::Opt(..))
                })
                .map(Target::Knob)
        })
        .ok_or_else(|| {
            let names = fields_of(sc);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            format!(
                "{flag}: {}",
                unknown_name("field for this scenario", name, &names)
            )
        })?;
    let f = target.field();
    let own = target.get(sc);
    let (lo, hi) = match range {
        None => {
            let base = own.max(f.default_value().unwrap_or(0)).max(500);
            (f.min, nice_ceil(base.saturating_mul(2)).min(f.max))
        }
        Some(r) => {
            let bad = || {
                format!(
                    "{flag} {spec}: expected {name}=LO..HI, whole milliseconds with LO < HI, e.g. {name}=0..5000"
                )
            };
            let (a, b) = r.split_once("..").ok_or_else(bad)?;
            let lo: u64 = a.trim().parse().map_err(|_| bad())?;
            let hi: u64 = b.trim().parse().map_err(|_| bad())?;
            if lo >= hi {
                return Err(bad());
            }
            if lo < f.min || hi > f.max {
                return Err(format!(
                    "{flag} {spec}: {name} takes {}",
                    fields::allowed(f.path)
                ));
            }
            (lo, hi)
        }
    };
    let values = (0..steps)
        .map(|i| lo + ((hi - lo) as u128 * i as u128 / (steps - 1) as u128) as u64)
        .collect();
    Ok(MapAxis {
        field: name.to_string(),
        own,
        lo,
        hi,
        values,
        target,
    })
}

/// What a cell shows: the verdict and the violations of its run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Category {
    /// The violations, in name order.
    pub violations: Vec<Violation>,
    /// How startup ended.
    pub startup: Option<StartupOutcome>,
}

impl Category {
    /// Its legend text: `false-ready; startup ready`, `no violation; startup failed`.
    pub fn label(&self) -> String {
        let v = if self.violations.is_empty() {
            "no violation".to_string()
        } else {
            self.violations
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(" + ")
        };
        format!(
            "{v}; startup {}",
            self.startup.map_or("did not end", |s| s.name())
        )
    }
}

/// One preset's grid: `cells[j][i]` is the category of x value `i` and y value `j`.
pub struct Panel {
    /// The preset.
    pub preset: Preset,
    /// Category indices, row `j` (y) by column `i` (x).
    pub cells: Vec<Vec<usize>>,
}

/// A whole map.
pub struct Map {
    /// The scenario's name.
    pub scenario: String,
    /// The x axis.
    pub x: MapAxis,
    /// The y axis.
    pub y: MapAxis,
    /// The categories, clean ones first, then in order.
    pub categories: Vec<Category>,
    /// One panel per preset, in the order asked.
    pub panels: Vec<Panel>,
}

/// Runs `sc` at every grid point under every preset (`expect` is ignored; only the two
/// fields and `preset` change).
pub fn run(sc: &Scenario, x: MapAxis, y: MapAxis, presets: &[Preset], kind: EngineKind) -> Map {
    run_within(sc, x, y, presets, kind, &Budget::UNLIMITED).expect("no budget to exhaust")
}

/// [`run`] within `budget` (engine steps over every cell's run, and a tick per run):
/// `Exhausted` when the cells so far spent more steps than allowed.
pub fn run_within(
    sc: &Scenario,
    x: MapAxis,
    y: MapAxis,
    presets: &[Preset],
    kind: EngineKind,
    budget: &Budget<'_>,
) -> Result<Map, Exhausted> {
    let (mut runs, mut steps) = (0u64, 0u64);
    let mut raw: Vec<(Preset, Vec<Vec<Category>>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for &p in presets {
        let mut base = sc.clone();
        base.policy.preset = p;
        base.expect = None;
        let mut rows = Vec::with_capacity(y.values.len());
        for &vy in &y.values {
            let mut row = Vec::with_capacity(x.values.len());
            for &vx in &x.values {
                let mut s = base.clone();
                x.target.set(&mut s, vx);
                y.target.set(&mut s, vy);
                if steps >= budget.max_steps {
                    return Err(Exhausted { runs, steps });
                }
                let ev = replay::evaluate_valid(&s, kind);
                runs += 1;
                steps = steps.saturating_add(ev.output.engine.steps);
                if let Some(tick) = budget.on_run {
                    tick(runs);
                }
                let c = Category {
                    violations: ev.violations.iter().copied().collect(),
                    startup: ev.output.results.startup,
                };
                seen.insert(c.clone());
                row.push(c);
            }
            rows.push(row);
        }
        raw.push((p, rows));
    }
    let categories: Vec<Category> = seen.into_iter().collect();
    let panels = raw
        .into_iter()
        .map(|(preset, rows)| Panel {
            preset,
            cells: rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|c| categories.binary_search(&c).expect("seen"))
                        .collect()
                })
                .collect(),
        })
        .collect();
    Ok(Map {
        scenario: sc.name.clone(),
        x,
        y,
        categories,
        panels,
    })
}

/// Colours of violating categories, in order (then repeated).
const PALETTE: [&str; 10] = [
    "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#1f77b4",
    "#7f7f7f", "#f7b6d2",
];

fn colour(m: &Map, c: usize) -> &'static str {
    let cat = &m.categories[c];
    if cat.violations.is_empty() {
        return match cat.startup {
            Some(StartupOutcome::Ready) => "#dff0d8",
            _ => "#e0e0e0",
        };
    }
    let k = m.categories[..c]
        .iter()
        .filter(|c| !c.violations.is_empty())
        .count();
    PALETTE[k % PALETTE.len()]
}

fn n(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Round tick values inside `lo..=hi` (about five).
fn ticks(lo: u64, hi: u64) -> Vec<u64> {
    let step = nice_ceil(((hi - lo) / 5).max(1));
    let mut t = lo.div_ceil(step) * step;
    let mut v = Vec::new();
    while t <= hi {
        v.push(t);
        t += step;
    }
    v
}

/// Plot size of one panel.
const SIDE: f64 = 320.0;

/// The smallest band a region is drawn as, in px. At the default 100 steps a cell is 3.2 px
/// and a region one row (or column) thick would vanish under its two boundary lines.
const MIN_BAND: f64 = 4.0;

/// Where a panel sits and how big its cells are.
struct Grid {
    ox: f64,
    oy: f64,
    cw: f64,
    chh: f64,
}

/// For every cell, the (start, length) of the run of its category through it along one
/// axis: columns when `vertical`, rows otherwise.
fn segments(cells: &[Vec<usize>], vertical: bool) -> Vec<Vec<(usize, usize)>> {
    let (ny, nx) = (cells.len(), cells.first().map_or(0, Vec::len));
    let at = |a: usize, b: usize| if vertical { cells[b][a] } else { cells[a][b] };
    let (lines, len) = if vertical { (nx, ny) } else { (ny, nx) };
    let mut out = vec![vec![(0, 0); nx]; ny];
    for a in 0..lines {
        let mut b = 0;
        while b < len {
            let mut e = b + 1;
            while e < len && at(a, e) == at(a, b) {
                e += 1;
            }
            for k in b..e {
                let (j, i) = if vertical { (k, a) } else { (a, k) };
                out[j][i] = (b, e - b);
            }
            b = e;
        }
    }
    out
}

/// The cells, row by row, runs of one category merged into one rectangle (y grows upward);
/// then every run thinner than [`MIN_BAND`] drawn again as a band that wide, centred on it,
/// so a region one row tall stays visible.
fn panel_cells(o: &mut String, m: &Map, p: &Panel, g: &Grid) {
    let (ny, nx) = (p.cells.len(), m.x.values.len());
    o.push_str("<g shape-rendering=\"crispEdges\">\n");
    let rect = |o: &mut String, c: usize, x: f64, y: f64, w: f64, h: f64| {
        let _ = writeln!(
            o,
            r#"<rect class="cell" data-cat="{c}" x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
            n(x),
            n(y),
            n(w),
            n(h),
            colour(m, c)
        );
    };
    for (j, row) in p.cells.iter().enumerate() {
        let top = g.oy + SIDE - g.chh * (j + 1) as f64;
        let mut i = 0;
        while i < nx {
            let c = row[i];
            let mut e = i + 1;
            while e < nx && row[e] == c {
                e += 1;
            }
            rect(
                o,
                c,
                g.ox + g.cw * i as f64,
                top,
                g.cw * (e - i) as f64,
                g.chh,
            );
            i = e;
        }
    }
    // A band centred on a thin run, kept inside the panel.
    let band = |lo: f64, len: usize, cell: f64, origin: f64| {
        let centre = lo + cell * len as f64 / 2.0;
        (centre - MIN_BAND / 2.0).clamp(origin, origin + SIDE - MIN_BAND)
    };
    if g.chh < MIN_BAND {
        let cols = segments(&p.cells, true);
        for (row, segs) in p.cells.iter().zip(&cols) {
            let mut i = 0;
            while i < nx {
                let (c, seg) = (row[i], segs[i]);
                let mut e = i + 1;
                while e < nx && row[e] == c && segs[e] == seg {
                    e += 1;
                }
                if seg.1 as f64 * g.chh < MIN_BAND {
                    // y grows upward: the run's bottom row is its start.
                    let bottom = g.oy + SIDE - g.chh * (seg.0 + seg.1) as f64;
                    let y = band(bottom, seg.1, g.chh, g.oy);
                    rect(
                        o,
                        c,
                        g.ox + g.cw * i as f64,
                        y,
                        g.cw * (e - i) as f64,
                        MIN_BAND,
                    );
                }
                i = e;
            }
        }
    }
    if g.cw < MIN_BAND {
        let rows = segments(&p.cells, false);
        // Column by column: `i` indexes every row, which an iterator cannot hold.
        #[allow(clippy::needless_range_loop)]
        for i in 0..nx {
            let mut j = 0;
            while j < ny {
                let (c, seg) = (p.cells[j][i], rows[j][i]);
                let mut e = j + 1;
                while e < ny && p.cells[e][i] == c && rows[e][i] == seg {
                    e += 1;
                }
                if seg.1 as f64 * g.cw < MIN_BAND {
                    let x = band(g.ox + g.cw * seg.0 as f64, seg.1, g.cw, g.ox);
                    let top = g.oy + SIDE - g.chh * e as f64;
                    rect(o, c, x, top, MIN_BAND, g.chh * (e - j) as f64);
                }
                j = e;
            }
        }
    }
    o.push_str("</g>\n");
}

/// Every edge between two cells of different categories, one path. Thinner than a quarter
/// of a cell, so small cells keep their colour.
fn panel_boundary(o: &mut String, p: &Panel, g: &Grid) {
    let (ny, nx) = (p.cells.len(), p.cells.first().map_or(0, Vec::len));
    let mut d = String::new();
    for j in 0..ny {
        for i in 0..nx {
            let c = p.cells[j][i];
            let x = g.ox + g.cw * i as f64;
            let y = g.oy + SIDE - g.chh * (j + 1) as f64;
            if i + 1 < nx && p.cells[j][i + 1] != c {
                let _ = write!(d, "M{} {}v{}", n(x + g.cw), n(y), n(g.chh));
            }
            if j + 1 < ny && p.cells[j + 1][i] != c {
                let _ = write!(d, "M{} {}h{}", n(x), n(y), n(g.cw));
            }
        }
    }
    if !d.is_empty() {
        let width = (g.cw.min(g.chh) / 4.0).min(1.2);
        let _ = writeln!(
            o,
            r##"<path class="boundary" d="{d}" stroke="#000" stroke-width="{}" fill="none"/>"##,
            n(width)
        );
    }
}

impl Grid {
    /// x of value `v` inside the panel (cell centres at the ends).
    fn xpos(&self, m: &Map, v: u64) -> f64 {
        (v - m.x.lo) as f64 / (m.x.hi - m.x.lo) as f64 * (SIDE - self.cw) + self.cw / 2.0
    }

    /// y of value `v` inside the panel (y grows upward).
    fn ypos(&self, m: &Map, v: u64) -> f64 {
        SIDE - ((v - m.y.lo) as f64 / (m.y.hi - m.y.lo) as f64 * (SIDE - self.chh) + self.chh / 2.0)
    }
}

/// A panel's axes: round ticks in ms, and the fields' names.
fn panel_axes(o: &mut String, m: &Map, g: &Grid) {
    for t in ticks(m.x.lo, m.x.hi) {
        let x = g.ox + g.xpos(m, t);
        let _ = writeln!(
            o,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#333"/><text class="k" x="{x}" y="{}" text-anchor="middle">{}</text>"##,
            n(g.oy + SIDE),
            n(g.oy + SIDE + 4.0),
            n(g.oy + SIDE + 15.0),
            t,
            x = n(x)
        );
    }
    for t in ticks(m.y.lo, m.y.hi) {
        let y = g.oy + g.ypos(m, t);
        let _ = writeln!(
            o,
            r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#333"/><text class="k" x="{}" y="{}" text-anchor="end">{}</text>"##,
            n(g.ox - 4.0),
            n(g.ox),
            n(g.ox - 6.0),
            n(y + 3.5),
            t,
            y = n(y)
        );
    }
    let _ = writeln!(
        o,
        r#"<text class="a axis-x" x="{}" y="{}" text-anchor="middle">{} (ms)</text>"#,
        n(g.ox + SIDE / 2.0),
        n(g.oy + SIDE + 32.0),
        escape(&m.x.field)
    );
    let _ = writeln!(
        o,
        r#"<text class="a axis-y" transform="translate({} {}) rotate(-90)" text-anchor="middle">{} (ms)</text>"#,
        n(g.ox - 48.0),
        n(g.oy + SIDE / 2.0),
        escape(&m.y.field)
    );
}

/// The scenario's own values as a circle, when they are inside the grid.
fn own_point(o: &mut String, m: &Map, g: &Grid) {
    let inside = (m.x.lo..=m.x.hi).contains(&m.x.own) && (m.y.lo..=m.y.hi).contains(&m.y.own);
    if inside {
        let (x, y) = (g.ox + g.xpos(m, m.x.own), g.oy + g.ypos(m, m.y.own));
        let _ = writeln!(
            o,
            r##"<circle class="own" cx="{}" cy="{}" r="5" fill="none" stroke="#fff" stroke-width="3"/><circle cx="{}" cy="{}" r="5" fill="none" stroke="#000" stroke-width="1.5"><title>this scenario: {} = {}, {} = {}</title></circle>"##,
            n(x),
            n(y),
            n(x),
            n(y),
            escape(&m.x.field),
            m.x.own,
            escape(&m.y.field),
            m.y.own
        );
    }
}

/// What the colours and lines mean, with each category's cell count per preset.
fn legend(o: &mut String, m: &Map, legend_y: f64, caption: &str) {
    let _ = writeln!(
        o,
        r#"<text class="a" x="10" y="{}">Each cell is one run at that (x, y), coloured by its violations and verdict; black lines mark where the outcome changes.</text>"#,
        n(legend_y)
    );
    let _ = writeln!(
        o,
        r#"<text class="a" x="10" y="{}">{}</text>"#,
        n(legend_y + 16.0),
        escape(caption)
    );
    for (c, cat) in m.categories.iter().enumerate() {
        let y = legend_y + 20.0 * (c + 2) as f64;
        let counts: Vec<String> = m
            .panels
            .iter()
            .map(|p| {
                let k = p.cells.iter().flatten().filter(|x| **x == c).count();
                format!("{} {k}", p.preset.name())
            })
            .collect();
        let _ = writeln!(
            o,
            r##"<rect x="10" y="{}" width="16" height="12" fill="{}" stroke="#00000044"/><text class="a legend" x="32" y="{}">{} ({} cells)</text>"##,
            n(y - 10.0),
            colour(m, c),
            n(y),
            escape(&cat.label()),
            counts.join(", ")
        );
    }
}

/// The map as an SVG document.
pub fn svg(m: &Map) -> String {
    let cols = m.panels.len().clamp(1, 3);
    let rows = m.panels.len().div_ceil(cols).max(1);
    let pw = SIDE + 110.0;
    let ph = SIDE + 90.0;
    let legend_y = 60.0 + ph * rows as f64;
    let title = format!(
        "race map of {}: {} x {}, {} x {} runs per preset",
        m.scenario,
        m.x.field,
        m.y.field,
        m.x.values.len(),
        m.y.values.len()
    );
    let caption = format!(
        "circle = the scenario's own values ({} = {}, {} = {})",
        m.x.field,
        ms_label(m.x.own),
        m.y.field,
        ms_label(m.y.own)
    );
    let text_w = |s: &str, px: f64| s.chars().count() as f64 * px * 0.6 + 30.0;
    let width = (20.0 + pw * cols as f64)
        .max(text_w(&title, 15.0))
        .max(text_w(&caption, 11.0));
    let height = legend_y + 20.0 * (m.categories.len() + 3) as f64;
    let mut o = String::with_capacity(64 * 1024);
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Verdana, sans-serif">"#,
        w = n(width),
        h = n(height)
    );
    let _ = writeln!(
        o,
        "<title>race map of {}</title>\n<style>.t{{font-size:15px;font-weight:bold}}.p{{font-size:13px;font-weight:bold}}.a{{font-size:11px}}.k{{font-size:10px}}</style>",
        escape(&m.scenario)
    );
    let _ = writeln!(
        o,
        r#"<text class="t" x="10" y="22">{}</text>"#,
        escape(&title)
    );
    let nx = m.x.values.len();
    let ny = m.y.values.len();
    let cw = SIDE / nx as f64;
    let chh = SIDE / ny as f64;
    for (k, p) in m.panels.iter().enumerate() {
        let ox = 80.0 + pw * (k % cols) as f64;
        let oy = 60.0 + ph * (k / cols) as f64;
        let failing = p
            .cells
            .iter()
            .flatten()
            .filter(|c| !m.categories[**c].violations.is_empty())
            .count();
        let _ = writeln!(
            o,
            r#"<g class="panel" data-preset="{}"><text class="p" x="{}" y="{}">{}: {} of {} cells violate</text>"#,
            p.preset.name(),
            n(ox),
            n(oy - 8.0),
            p.preset.name(),
            failing,
            nx * ny
        );
        let g = Grid { ox, oy, cw, chh };
        panel_cells(&mut o, m, p, &g);
        panel_boundary(&mut o, p, &g);
        let _ = writeln!(
            o,
            r##"<rect x="{}" y="{}" width="{s}" height="{s}" fill="none" stroke="#333"/>"##,
            n(ox),
            n(oy),
            s = n(SIDE)
        );
        panel_axes(&mut o, m, &g);
        own_point(&mut o, m, &g);
        o.push_str("</g>\n");
    }
    legend(&mut o, m, legend_y, &caption);
    o.push_str("</svg>\n");
    o
}

/// The grid as JSON: the axes, the categories and, per preset, `cells[y][x]` category indices.
pub fn json(m: &Map) -> Value {
    let ax = |a: &MapAxis| json!({"field": a.field, "lo": a.lo, "hi": a.hi, "own": a.own, "values": a.values});
    json!({
        "scenario": m.scenario,
        "x": ax(&m.x),
        "y": ax(&m.y),
        "categories": m.categories.iter().map(|c| json!({
            "label": c.label(),
            "startup": c.startup.map(|s| s.name()),
            "violations": c.violations.iter().map(|v| v.name()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "panels": m.panels.iter().map(|p| json!({
            "preset": p.preset.name(),
            "violating_cells": p.cells.iter().flatten()
                .filter(|c| !m.categories[**c].violations.is_empty()).count(),
            "cells": p.cells,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ceilings_and_ticks() {
        assert_eq!(nice_ceil(5000), 5000);
        assert_eq!(nice_ceil(5001), 10000);
        assert_eq!(nice_ceil(1300), 2000);
        assert_eq!(ticks(0, 5000), vec![0, 1000, 2000, 3000, 4000, 5000]);
    }

    /// A 100 x 100 panel with one row of category 1 and one column of category 2.
    fn thin_map() -> Map {
        let sc = Scenario::new("thin", "");
        let x = axis(&sc, "--x", "redis.server.up_from_ms=0..1000", 100).expect("x");
        let y = axis(&sc, "--y", "redis.manager.stabilize_ms=0..1000", 100).expect("y");
        let cat = |violations: Vec<Violation>| Category {
            violations,
            startup: Some(StartupOutcome::Ready),
        };
        let mut cells = vec![vec![0; 100]; 100];
        cells[50] = vec![1; 100];
        for row in &mut cells {
            row[30] = 2;
        }
        Map {
            scenario: "thin".into(),
            x,
            y,
            categories: vec![
                cat(vec![]),
                cat(vec![Violation::FalseReady]),
                cat(vec![Violation::LostMessage]),
            ],
            panels: vec![Panel {
                preset: Preset::P8,
                cells,
            }],
        }
    }

    /// The rectangles of one category as (x, y, width, height).
    fn rects(svg: &str, cat: usize) -> Vec<[f64; 4]> {
        let attr = |r: &str, k: &str| -> f64 {
            let v = r.split(&format!(" {k}=\"")).nth(1).expect(k);
            v[..v.find('"').expect("quote")].parse().expect("number")
        };
        svg.lines()
            .filter(|l| l.contains(&format!("data-cat=\"{cat}\"")))
            .map(|r| {
                [
                    attr(r, "x"),
                    attr(r, "y"),
                    attr(r, "width"),
                    attr(r, "height"),
                ]
            })
            .collect()
    }

    #[test]
    fn one_row_and_one_column_regions_stay_visible() {
        let svg = svg(&thin_map());
        // 320 px over 100 cells is 3.2 px, less than the boundary lines would leave.
        let row = rects(&svg, 1);
        assert!(
            row.iter().any(|r| r[3] >= MIN_BAND && r[2] > 100.0),
            "{row:?}"
        );
        let col = rects(&svg, 2);
        assert!(
            col.iter().any(|r| r[2] >= MIN_BAND && r[3] > 100.0),
            "{col:?}"
        );
        // The bands sit on their cells: centred on row 50 and column 30.
        let band = row.iter().find(|r| r[3] >= MIN_BAND).unwrap();
        let centre = band[1] + band[3] / 2.0;
        let cell_centre = 60.0 + SIDE - 3.2 * 50.5;
        assert!(
            (centre - cell_centre).abs() < 0.2,
            "{centre} vs {cell_centre}"
        );
        // Boundary lines thinner than a quarter of a cell.
        assert!(svg.contains("stroke-width=\"0.8\""), "boundary width");
    }

    #[test]
    fn axes_parse_ranges_and_refuse_bad_ones() {
        let sc = Scenario::new("m", "");
        let a = axis(&sc, "--x", "redis.server.up_from_ms=0..1000", 11).expect("axis");
        assert_eq!(
            a.values,
            vec![0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
        );
        assert!(axis(&sc, "--x", "redis.server.up_from_ms=9..9", 11).is_err());
        let e = axis(&sc, "--x", "redis.server.up_fom_ms", 11)
            .err()
            .expect("typo");
        assert!(e.contains("redis.server.up_from_ms"), "{e}");
        assert!(axis(&sc, "--y", "policy.redis_delay_ms", 3).is_ok());
    }
}

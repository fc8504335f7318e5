//! The timeline SVG: one lane per actor, spans and marks on a time axis whose empty stretches
//! are compressed. Hand-written (a few hundred lines) so every byte is ours to keep stable:
//! the same picture always gives the same file, and snapshots can test it.

use std::fmt::Write as _;

use super::{escape, Kind, MarkKind, Picture, Span};

/// Left edge of the plot (the label column is to its left).
const X0: f64 = 240.0;
/// Width of the plot.
const PLOT_W: f64 = 1000.0;
/// Height of one lane.
const LANE_H: f64 = 24.0;
/// Room right of the plot for the labels of what happens at the end.
const RIGHT: f64 = 150.0;
/// Width of a compressed gap.
const GAP_W: f64 = 28.0;
/// A gap is compressed only when longer than this...
const GAP_MIN_MS: u64 = 3000;
/// ...and when it would take more than this share of the remaining uncompressed time.
const GAP_SHARE: f64 = 0.4;

/// A numeric value as SVG text: one decimal, trailing `.0` dropped.
fn n(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Virtual ms as a tick label: `750 ms`, `2 s`, `9.67 s`.
pub fn ms_label(t: u64) -> String {
    if t < 1000 {
        return format!("{t} ms");
    }
    let s = format!("{:.3}", t as f64 / 1000.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} s")
}

/// One piece of the piecewise-linear time axis.
#[derive(Clone, Debug)]
struct Seg {
    t0: u64,
    t1: u64,
    x0: f64,
    x1: f64,
    compressed: bool,
}

/// The time axis: virtual ms to x, with long empty gaps squeezed to `GAP_W`.
#[derive(Clone, Debug)]
pub struct Axis {
    segs: Vec<Seg>,
}

impl Axis {
    /// The axis for a picture: gaps between consecutive instants where something starts, ends
    /// or happens (steady-state health pings aside) are compressed, largest first, while one is longer than `GAP_MIN_MS` and
    /// more than `GAP_SHARE` of what is still drawn to scale.
    pub fn of(p: &Picture) -> Axis {
        let mut at: Vec<u64> = vec![0, p.end];
        at.extend(p.spans.iter().flat_map(|s| [s.from, s.to]));
        at.extend(p.marks.iter().filter(|m| !m.ambient).map(|m| m.t));
        at.retain(|t| *t <= p.end);
        at.sort_unstable();
        at.dedup();
        let gaps: Vec<(u64, u64)> = at.windows(2).map(|w| (w[0], w[1])).collect();
        let mut order: Vec<usize> = (0..gaps.len()).collect();
        // Longest first; ties by position, so the choice is deterministic.
        order.sort_by_key(|&i| (std::cmp::Reverse(gaps[i].1 - gaps[i].0), i));
        let mut squeezed = vec![false; gaps.len()];
        let mut scaled = p.end;
        for i in order {
            let len = gaps[i].1 - gaps[i].0;
            if len <= GAP_MIN_MS || (len as f64) <= GAP_SHARE * scaled as f64 {
                break;
            }
            squeezed[i] = true;
            scaled -= len;
        }
        let k = squeezed.iter().filter(|s| **s).count() as f64;
        let per_ms = (PLOT_W - GAP_W * k) / scaled.max(1) as f64;
        let mut x = X0;
        let mut segs = Vec::new();
        for (i, (a, b)) in gaps.into_iter().enumerate() {
            let w = if squeezed[i] {
                GAP_W
            } else {
                (b - a) as f64 * per_ms
            };
            segs.push(Seg {
                t0: a,
                t1: b,
                x0: x,
                x1: x + w,
                compressed: squeezed[i],
            });
            x += w;
        }
        if segs.is_empty() {
            segs.push(Seg {
                t0: 0,
                t1: p.end.max(1),
                x0: X0,
                x1: X0 + PLOT_W,
                compressed: false,
            });
        }
        Axis { segs }
    }

    /// The x of virtual instant `t`.
    pub fn x(&self, t: u64) -> f64 {
        let i = self
            .segs
            .partition_point(|s| s.t1 < t)
            .min(self.segs.len() - 1);
        let s = &self.segs[i];
        if s.t1 == s.t0 {
            return s.x0;
        }
        let f = (t.clamp(s.t0, s.t1) - s.t0) as f64 / (s.t1 - s.t0) as f64;
        s.x0 + f * (s.x1 - s.x0)
    }

    /// The compressed gaps, as (from, to).
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        self.segs
            .iter()
            .filter(|s| s.compressed)
            .map(|s| (s.t0, s.t1))
            .collect()
    }

    /// Tick instants: multiples of a round step inside the stretches drawn to scale, and both
    /// ends of every compressed gap; labels closer than 56 px to the previous one are dropped.
    pub fn ticks(&self) -> Vec<u64> {
        let scaled: u64 = self
            .segs
            .iter()
            .filter(|s| !s.compressed)
            .map(|s| s.t1 - s.t0)
            .sum();
        let px: f64 = self
            .segs
            .iter()
            .filter(|s| !s.compressed)
            .map(|s| s.x1 - s.x0)
            .sum();
        let want = (scaled.max(1) as f64 * 90.0 / px.max(1.0)).max(1.0);
        let mut step = 1u64;
        'find: loop {
            for m in [1, 2, 5] {
                if (step * m) as f64 >= want {
                    step *= m;
                    break 'find;
                }
            }
            step *= 10;
        }
        let mut at = vec![0];
        for s in &self.segs {
            if s.compressed {
                at.push(s.t0);
                at.push(s.t1);
            } else {
                let mut t = s.t0.div_ceil(step) * step;
                while t <= s.t1 {
                    at.push(t);
                    t += step;
                }
            }
        }
        at.push(self.segs.last().map_or(0, |s| s.t1));
        at.sort_unstable();
        at.dedup();
        let mut kept: Vec<u64> = Vec::new();
        for t in at {
            match kept.last() {
                Some(&p) if self.x(t) - self.x(p) < 56.0 => {
                    // Keep the end of a compressed gap over an ordinary tick before it.
                    if self.gaps().iter().any(|g| g.1 == t) {
                        kept.pop();
                        kept.push(t);
                    }
                }
                _ => kept.push(t),
            }
        }
        kept
    }
}

/// Fill colour of a span kind.
fn fill(k: Kind) -> &'static str {
    match k {
        Kind::Phase => "#e8eef7",
        Kind::CheckPassed => "#d4f0d4",
        Kind::CheckFailed => "#f8d0d0",
        Kind::Sleep => "#9aa5b1",
        Kind::Grace => "#f3c969",
        Kind::Freeze => "#6b4fa0",
        Kind::Connected => "#4caf50",
        Kind::ConnectFailed => "#e57373",
        Kind::LockWait => "#ffb74d",
        Kind::Attempt => "#e3f2fd",
        Kind::Backlog => "#90a4ae",
        Kind::Message => "#42a5f5",
        Kind::Auth => "#26a69a",
        Kind::Hold => "#bbdefb",
        Kind::Up => "#e1f5fe",
        Kind::Down => "#ef9a9a",
        Kind::Spike => "#ff7043",
        Kind::Operational => "#a5d6a7",
        Kind::NotOperational => "#f5e6e6",
    }
}

/// Whether a span kind is a background band (drawn first, full lane height).
fn band(k: Kind) -> bool {
    matches!(
        k,
        Kind::Phase
            | Kind::CheckPassed
            | Kind::CheckFailed
            | Kind::Attempt
            | Kind::Up
            | Kind::Down
            | Kind::Operational
            | Kind::NotOperational
    )
}

fn mark_colour(k: MarkKind) -> &'static str {
    match k {
        MarkKind::ProbeOk => "#2e7d32",
        MarkKind::ProbeFailed => "#e65100",
        MarkKind::Verdict => "#000000",
        MarkKind::Violation => "#c62828",
        MarkKind::Decision => "#7b1fa2",
        MarkKind::Outcome => "#0d47a1",
        MarkKind::Breaker => "#bf360c",
        MarkKind::Event => "#546e7a",
    }
}

fn mark_name(k: MarkKind) -> &'static str {
    match k {
        MarkKind::ProbeOk => "probe: ready",
        MarkKind::ProbeFailed => "probe: not ready / raised",
        MarkKind::Verdict => "verdict",
        MarkKind::Violation => "violation (first instant)",
        MarkKind::Decision => "same-instant decision",
        MarkKind::Outcome => "client outcome",
        MarkKind::Breaker => "breaker changes state",
        MarkKind::Event => "other event",
    }
}

/// Rough text width at 10-11 px sans (only used to decide whether a label fits).
fn text_w(s: &str, px: f64) -> f64 {
    s.chars().count() as f64 * px * 0.6
}

fn span_title(s: &Span) -> String {
    format!("{} ({}..{} ms)", s.label, s.from, s.to)
}

/// Where the picture's parts sit, top to bottom.
struct Layout {
    /// The top of the violation-name rows.
    strip: f64,
    /// The top of the first lane.
    lanes_y: f64,
    /// The height of all lanes.
    lanes_h: f64,
    /// The time axis (the bottom of the lanes).
    axis_y: f64,
    /// The top of the legend.
    legend_y: f64,
}

/// A violation's name above the lanes: x of its mark, its row, whether it ends at the mark
/// (near the right edge), and the mark.
type VLabel<'a> = (f64, usize, bool, &'a super::Mark);

/// The timeline of one picture as a standalone SVG document.
pub fn svg(p: &Picture) -> String {
    let axis = Axis::of(p);
    let (head, y) = header(p);
    let (rows, vlabels) = violation_rows(p, &axis);
    let strip = y + 12.0;
    let lanes_y = strip + 15.0 * rows as f64 + 6.0;
    let lanes_h = LANE_H * p.lanes.len() as f64;
    let axis_y = lanes_y + lanes_h;
    let (kinds, marks_used) = legend_entries(p);
    let legend_n = kinds.len() + marks_used.len() + usize::from(!axis.gaps().is_empty());
    let l = Layout {
        strip,
        lanes_y,
        lanes_h,
        axis_y,
        legend_y: axis_y + 48.0,
    };
    let height = l.legend_y + 18.0 * legend_n.div_ceil(4) as f64 + 10.0;
    let width = X0 + PLOT_W + RIGHT;
    let mut o = String::with_capacity(16 * 1024);
    svg_open(&mut o, p, width, height);
    o.push_str(&head);
    lanes(&mut o, p, &l);
    gaps(&mut o, &axis, &l);
    spans(&mut o, p, &axis, &l);
    marks(&mut o, p, &axis, &l);
    violation_names(&mut o, &vlabels, &l);
    time_axis(&mut o, &axis, &l);
    legend(&mut o, kinds, marks_used, !axis.gaps().is_empty(), &l);
    o.push_str("</svg>\n");
    o
}

/// The header lines (title, summary, verdict, message) and the y of the last one.
fn header(p: &Picture) -> (String, f64) {
    let mut y = 22.0;
    let mut head = String::new();
    let _ = writeln!(
        head,
        r#"<text class="title" x="10" y="{}">{}</text>"#,
        n(y),
        escape(&p.title)
    );
    if !p.summary.is_empty() {
        y += 18.0;
        let _ = writeln!(
            head,
            r#"<text class="summary" x="10" y="{}">{}</text>"#,
            n(y),
            escape(&p.summary)
        );
    }
    y += 20.0;
    let _ = writeln!(
        head,
        r#"<text class="verdict" x="10" y="{}">{}</text>"#,
        n(y),
        escape(&p.verdict)
    );
    if let Some(m) = &p.message {
        y += 17.0;
        let _ = writeln!(
            head,
            r#"<text class="message" x="10" y="{}">{}</text>"#,
            n(y),
            escape(m)
        );
    }
    (head, y)
}

/// Violation names in rows above the lanes, staggered so none overlaps another; a name that
/// would run off the right edge ends at its mark instead of starting there. The number of
/// rows, and each name's place.
fn violation_rows<'a>(p: &'a Picture, axis: &Axis) -> (usize, Vec<VLabel<'a>>) {
    let mut vrows: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut vlabels = Vec::new();
    for m in p.marks.iter().filter(|m| m.kind == MarkKind::Violation) {
        let x = axis.x(m.t);
        let w = text_w(&m.label, 11.0) + 10.0;
        let right = x + w > X0 + PLOT_W + RIGHT - 4.0;
        let (a, b) = if right { (x - w, x) } else { (x, x + w) };
        let row = match vrows
            .iter()
            .position(|r| r.iter().all(|(c, d)| b <= *c || a >= *d))
        {
            Some(r) => r,
            None => {
                vrows.push(Vec::new());
                vrows.len() - 1
            }
        };
        vrows[row].push((a, b));
        vlabels.push((x, row, right, m));
    }
    (vrows.len(), vlabels)
}

/// The span kinds and mark kinds this picture uses, in a fixed order.
fn legend_entries(p: &Picture) -> (Vec<Kind>, Vec<MarkKind>) {
    let mut kinds: Vec<Kind> = p.spans.iter().map(|s| s.kind).collect();
    kinds.sort();
    kinds.dedup();
    let all_marks = [
        MarkKind::ProbeOk,
        MarkKind::ProbeFailed,
        MarkKind::Verdict,
        MarkKind::Violation,
        MarkKind::Decision,
        MarkKind::Outcome,
        MarkKind::Breaker,
        MarkKind::Event,
    ];
    let marks_used: Vec<MarkKind> = all_marks
        .into_iter()
        .filter(|k| p.marks.iter().any(|m| m.kind == *k))
        .collect();
    (kinds, marks_used)
}

/// The `<svg>` element's opening, its title and the style sheet.
fn svg_open(o: &mut String, p: &Picture, width: f64, height: f64) {
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Verdana, sans-serif">"#,
        w = n(width),
        h = n(height)
    );
    let _ = writeln!(o, "<title>{}</title>", escape(&p.title));
    o.push_str(concat!(
        "<style>",
        ".title{font-size:16px;font-weight:bold}",
        ".summary{font-size:12px;fill:#444}",
        ".verdict{font-size:13px;font-weight:bold}",
        ".message{font-size:11px;font-family:DejaVu Sans Mono,monospace;fill:#b71c1c}",
        ".lane{font-size:11px;text-anchor:end}",
        ".in{font-size:10px;text-anchor:middle;fill:#111}",
        ".tick{font-size:10px;text-anchor:middle;fill:#333}",
        ".vname{font-size:11px;fill:#c62828}",
        ".out{font-size:10px;fill:#0d47a1}",
        ".legend{font-size:11px}",
        "</style>\n"
    ));
}

/// Lanes: stripes and labels.
fn lanes(o: &mut String, p: &Picture, at: &Layout) {
    o.push_str("<g class=\"lanes\">\n");
    for (i, l) in p.lanes.iter().enumerate() {
        let ly = at.lanes_y + LANE_H * i as f64;
        let _ = writeln!(
            o,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
            n(X0),
            n(ly),
            n(PLOT_W),
            n(LANE_H),
            if i % 2 == 0 { "#fafafa" } else { "#f0f0f0" }
        );
        let _ = writeln!(
            o,
            r#"<text class="lane" data-lane="{}" x="{}" y="{}">{}</text>"#,
            escape(&l.label),
            n(X0 - 8.0),
            n(ly + LANE_H / 2.0 + 4.0),
            escape(&l.label)
        );
    }
    o.push_str("</g>\n");
}

/// Compressed gaps: a hatched band across every lane.
fn gaps(o: &mut String, axis: &Axis, l: &Layout) {
    for (a, b) in axis.gaps() {
        let (xa, xb) = (axis.x(a), axis.x(b));
        let _ = writeln!(
            o,
            r##"<rect class="gap" x="{}" y="{}" width="{}" height="{}" fill="#ffffff" stroke="#bbb" stroke-dasharray="3 3"><title>{} of nothing new, compressed</title></rect>"##,
            n(xa),
            n(l.lanes_y),
            n(xb - xa),
            n(l.lanes_h),
            ms_label(b - a)
        );
    }
}

/// Spans: bands first, then the spans inside them.
fn spans(o: &mut String, p: &Picture, axis: &Axis, l: &Layout) {
    o.push_str("<g class=\"spans\">\n");
    for pass in [true, false] {
        for s in p.spans.iter().filter(|s| band(s.kind) == pass) {
            let ly = l.lanes_y + LANE_H * s.lane as f64;
            let (x, x1) = (axis.x(s.from), axis.x(s.to));
            let w = (x1 - x).max(1.5);
            let (top, h) = if pass {
                (ly + 2.0, LANE_H - 4.0)
            } else {
                (ly + 6.0, LANE_H - 12.0)
            };
            let _ = writeln!(
                o,
                r##"<rect class="span" data-kind="{}" data-lane="{}" x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#00000033"><title>{}</title></rect>"##,
                s.kind.name(),
                escape(&p.lanes[s.lane].label),
                n(x),
                n(top),
                n(w),
                n(h),
                fill(s.kind),
                escape(&span_title(s))
            );
            if w >= text_w(&s.label, 10.0) + 8.0 && !matches!(s.kind, Kind::Attempt) {
                let _ = writeln!(
                    o,
                    r#"<text class="in" x="{}" y="{}">{}</text>"#,
                    n(x + w / 2.0),
                    n(ly + LANE_H / 2.0 + 3.5),
                    escape(&s.label)
                );
            }
        }
    }
    o.push_str("</g>\n");
}

/// Marks, each kind its own shape; background marks inside a compressed gap are left out.
/// Marks of one lane closer than this (px) would cover one another.
const MARK_W: f64 = 9.0;
/// Vertical offsets for marks of different kinds stacked at one place in a lane.
const TIERS: [f64; 3] = [0.0, -6.0, 6.0];

/// A mark as drawn: where, how many identical marks it stands for, and whether its label
/// (outcomes, breakers) has room.
struct Placed<'a> {
    /// The mark's index in the picture: marks are drawn in the picture's order.
    idx: usize,
    mark: &'a super::Mark,
    x: f64,
    dy: f64,
    titles: Vec<String>,
    label: bool,
}

/// Lays the marks out lane by lane: marks of one kind on the same pixel collapse into one
/// (its tooltip lists them all, its label says `x N`); marks of other kinds within
/// [`MARK_W`] stack above and below; a label that would run into the previous one in its
/// lane is left to the tooltip. Marks that cover nothing are placed exactly as before.
fn place<'a>(p: &'a Picture, axis: &Axis) -> Vec<Placed<'a>> {
    let gaps = axis.gaps();
    let mut order: Vec<(usize, &super::Mark)> = p
        .marks
        .iter()
        .enumerate()
        // Background inside a compressed gap would only pile up on a few pixels.
        .filter(|(_, m)| !(m.ambient && gaps.iter().any(|(a, b)| *a < m.t && m.t < *b)))
        .collect();
    // Stable: within a lane, marks keep their trace order at one instant.
    order.sort_by_key(|(_, m)| (m.lane, m.t));
    let mut out: Vec<Placed<'a>> = Vec::with_capacity(order.len());
    let mut lane_start = 0;
    let mut label_end = f64::MIN;
    for (idx, m) in order {
        let x = axis.x(m.t);
        let title = format!("{} at {} ms", m.label, m.t);
        if out.get(lane_start).is_none_or(|f| f.mark.lane != m.lane) {
            lane_start = out.len();
            label_end = f64::MIN;
        }
        let near = &mut out[lane_start..];
        if let Some(same) = near
            .iter_mut()
            .rev()
            .take_while(|q| x - q.x < MARK_W)
            .find(|q| q.mark.kind == m.kind && (x - q.x).abs() < 1.0 && q.mark.label == m.label)
        {
            same.titles.push(title);
            continue;
        }
        let taken: Vec<f64> = near
            .iter()
            .rev()
            .take_while(|q| x - q.x < MARK_W)
            .filter(|q| q.mark.kind != m.kind)
            .map(|q| q.dy)
            .collect();
        let dy = TIERS
            .iter()
            .copied()
            .find(|t| !taken.contains(t))
            .unwrap_or(0.0);
        let labelled = matches!(m.kind, MarkKind::Outcome | MarkKind::Breaker);
        let label = labelled && x >= label_end;
        if label {
            label_end = x + 7.0 + text_w(&m.label, 11.0) + 6.0;
        }
        out.push(Placed {
            idx,
            mark: m,
            x,
            dy,
            titles: vec![title],
            label,
        });
    }
    out.sort_by_key(|q| q.idx);
    out
}

fn marks(o: &mut String, p: &Picture, axis: &Axis, l: &Layout) {
    o.push_str("<g class=\"marks\">\n");
    for pl in place(p, axis) {
        draw_mark(o, p, &pl, l);
    }
    o.push_str("</g>\n");
}

/// One placed mark, in its kind's shape, with its tooltip and (outcomes, breakers) label.
fn draw_mark(o: &mut String, p: &Picture, pl: &Placed<'_>, l: &Layout) {
    let m = pl.mark;
    let ly = l.lanes_y + LANE_H * m.lane as f64;
    let cy = ly + LANE_H / 2.0 + pl.dy;
    let x = pl.x;
    let c = mark_colour(m.kind);
    let title = escape(&pl.titles.join("; "));
    let lane = escape(&p.lanes[m.lane].label);
    let text = if pl.titles.len() > 1 {
        escape(&format!("{} x{}", m.label, pl.titles.len()))
    } else {
        escape(&m.label)
    };
    let kind = m.kind.category();
    match m.kind {
        MarkKind::ProbeOk | MarkKind::ProbeFailed => {
            let _ = writeln!(
                o,
                r##"<circle class="mark" data-kind="{kind}" data-lane="{lane}" cx="{}" cy="{}" r="4" fill="{c}" stroke="#fff"><title>{title}</title></circle>"##,
                n(x),
                n(cy)
            );
        }
        MarkKind::Verdict => {
            let _ = writeln!(
                o,
                r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#000" stroke-width="1.5"/>"##,
                n(l.lanes_y),
                n(l.axis_y),
                x = n(x)
            );
            let _ = writeln!(
                o,
                r##"<path class="mark" data-kind="{kind}" data-lane="{lane}" d="M{} {}l6 6l-6 6l-6 -6z" fill="{c}"><title>{title}</title></path>"##,
                n(x),
                n(cy - 6.0)
            );
        }
        MarkKind::Violation => {
            let _ = writeln!(
                o,
                r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{c}" stroke-dasharray="4 3"/>"##,
                n(l.strip - 4.0),
                n(l.axis_y),
                x = n(x)
            );
            let _ = writeln!(
                o,
                r##"<path class="mark" data-kind="{kind}" data-lane="{lane}" data-name="{}" d="M{} {}l6 10h-12z" fill="{c}"><title>{title}</title></path>"##,
                escape(&m.label),
                n(x),
                n(cy - 5.0)
            );
        }
        MarkKind::Decision => {
            let _ = writeln!(
                o,
                r##"<rect class="mark" data-kind="{kind}" data-lane="{lane}" x="{}" y="{}" width="3" height="12" fill="{c}"><title>{title}</title></rect>"##,
                n(x - 1.5),
                n(cy - 6.0)
            );
        }
        MarkKind::Breaker => {
            let _ = writeln!(
                o,
                r##"<path class="mark" data-kind="{kind}" data-lane="{lane}" d="M{} {}h8v8h-8z" fill="{c}" transform="rotate(45 {} {})"><title>{title}</title></path><text class="out" x="{}" y="{}" fill="{c}">{}</text>"##,
                n(x - 4.0),
                n(cy - 4.0),
                n(x),
                n(cy),
                n(x + 7.0),
                n(cy - 4.0),
                if pl.label { text.as_str() } else { "" }
            );
        }
        MarkKind::Outcome => {
            let _ = writeln!(
                o,
                r##"<rect class="mark" data-kind="{kind}" data-lane="{lane}" x="{}" y="{}" width="7" height="7" fill="{c}"><title>{title}</title></rect>"##,
                n(x - 3.5),
                n(cy - 3.5)
            );
            if pl.label {
                let _ = writeln!(
                    o,
                    r#"<text class="out" x="{}" y="{}">{}</text>"#,
                    n(x + 6.0),
                    n(cy + 3.5),
                    text
                );
            }
        }
        MarkKind::Event => {
            let _ = writeln!(
                o,
                r##"<rect class="mark" data-kind="{kind}" data-lane="{lane}" x="{}" y="{}" width="2" height="16" fill="{c}"><title>{title}</title></rect>"##,
                n(x - 1.0),
                n(cy - 8.0)
            );
        }
    }
}

/// The violation names in their rows.
fn violation_names(o: &mut String, vlabels: &[VLabel<'_>], l: &Layout) {
    for &(x, row, right, m) in vlabels {
        let _ = writeln!(
            o,
            r#"<text class="vname" x="{}" y="{}"{}>{}</text>"#,
            n(if right { x - 3.0 } else { x + 3.0 }),
            n(l.strip + 15.0 * row as f64 + 8.0),
            if right { r#" text-anchor="end""# } else { "" },
            escape(&m.label)
        );
    }
}

/// The time axis: line, ticks, the marks of compressed gaps, and its caption.
fn time_axis(o: &mut String, axis: &Axis, l: &Layout) {
    let _ = writeln!(
        o,
        r##"<line class="axis" x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#333"/>"##,
        n(X0),
        n(X0 + PLOT_W),
        y = n(l.axis_y)
    );
    for t in axis.ticks() {
        let x = axis.x(t);
        let _ = writeln!(
            o,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#333"/><text class="tick" x="{x}" y="{}">{}</text>"##,
            n(l.axis_y),
            n(l.axis_y + 5.0),
            n(l.axis_y + 17.0),
            ms_label(t),
            x = n(x)
        );
    }
    for (a, b) in axis.gaps() {
        let xm = (axis.x(a) + axis.x(b)) / 2.0;
        let _ = writeln!(
            o,
            r##"<path class="break" d="M{} {}l6 -8M{} {}l6 -8" stroke="#333" stroke-width="1.5"/>"##,
            n(xm - 6.0),
            n(l.axis_y + 4.0),
            n(xm),
            n(l.axis_y + 4.0)
        );
    }
    let _ = writeln!(
        o,
        r#"<text class="tick" x="{}" y="{}">virtual time since the process started{}</text>"#,
        n(X0 + PLOT_W / 2.0),
        n(l.axis_y + 34.0),
        if axis.gaps().is_empty() {
            ""
        } else {
            " (// marks a compressed gap)"
        }
    );
}

/// The legend: four entries a row.
fn legend(o: &mut String, kinds: Vec<Kind>, marks_used: Vec<MarkKind>, gaps: bool, l: &Layout) {
    let mut i = 0usize;
    let mut slot = |o: &mut String, draw: &dyn Fn(&mut String, f64, f64), text: &str| {
        let x = 10.0 + 300.0 * (i % 4) as f64;
        let y = l.legend_y + 18.0 * (i / 4) as f64;
        draw(o, x, y);
        let _ = writeln!(
            o,
            r#"<text class="legend" x="{}" y="{}">{}</text>"#,
            n(x + 22.0),
            n(y + 10.0),
            escape(text)
        );
        i += 1;
    };
    o.push_str("<g class=\"legend\">\n");
    for k in kinds {
        slot(
            o,
            &|o, x, y| {
                let _ = writeln!(
                    o,
                    r##"<rect x="{}" y="{}" width="16" height="11" fill="{}" stroke="#00000033"/>"##,
                    n(x),
                    n(y + 1.0),
                    fill(k)
                );
            },
            k.name(),
        );
    }
    for k in marks_used {
        slot(
            o,
            &|o, x, y| {
                let _ = writeln!(
                    o,
                    r#"<circle cx="{}" cy="{}" r="4" fill="{}"/>"#,
                    n(x + 8.0),
                    n(y + 6.5),
                    mark_colour(k)
                );
            },
            mark_name(k),
        );
    }
    if gaps {
        slot(
            o,
            &|o, x, y| {
                let _ = writeln!(
                    o,
                    r##"<rect x="{}" y="{}" width="16" height="11" fill="#fff" stroke="#bbb" stroke-dasharray="3 3"/>"##,
                    n(x),
                    n(y + 1.0)
                );
            },
            "compressed gap (nothing starts or ends)",
        );
    }
    o.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pic(end: u64, at: &[u64]) -> Picture {
        Picture {
            title: "t".into(),
            summary: String::new(),
            verdict: String::new(),
            message: None,
            lanes: vec![super::super::Lane { label: "a".into() }],
            spans: Vec::new(),
            marks: at
                .iter()
                .map(|t| super::super::Mark {
                    lane: 0,
                    t: *t,
                    kind: MarkKind::Event,
                    label: String::new(),
                    ambient: false,
                })
                .collect(),
            end,
        }
    }

    fn mark(t: u64, kind: MarkKind, label: &str) -> super::super::Mark {
        super::super::Mark {
            lane: 0,
            t,
            kind,
            label: label.into(),
            ambient: false,
        }
    }

    #[test]
    fn marks_on_one_spot_collapse_or_stack_and_labels_do_not_collide() {
        let mut p = pic(7000, &[]);
        p.marks = vec![
            mark(5000, MarkKind::Outcome, "served"),
            mark(5000, MarkKind::Outcome, "served"),
            mark(5000, MarkKind::Violation, "lost-message"),
            mark(5010, MarkKind::Outcome, "closed-1011"),
            mark(7000, MarkKind::Outcome, "served"),
        ];
        let axis = Axis::of(&p);
        let placed = place(&p, &axis);
        // The two identical outcomes are one mark that says so.
        assert_eq!(placed.len(), 4);
        assert_eq!(placed[0].titles, ["served at 5000 ms", "served at 5000 ms"]);
        // The violation on the same spot and the outcome 1 px later stack on free tiers.
        let dys: Vec<f64> = placed[..3].iter().map(|q| q.dy).collect();
        assert_eq!(dys, [0.0, -6.0, 0.0]);
        // The second label would overlap "served x2": left to the tooltip. The far one shows.
        let labels: Vec<bool> = placed.iter().map(|q| q.label).collect();
        assert_eq!(labels, [true, false, false, true]);
        let svg = svg(&p);
        assert!(svg.contains(">served x2</text>"), "{svg}");
        assert!(svg.contains("served at 5000 ms; served at 5000 ms"));
        // Marks far apart are placed exactly where they were.
        assert_eq!(placed[3].dy, 0.0);
        assert_eq!(placed[3].titles.len(), 1);
    }

    #[test]
    fn a_long_empty_tail_is_compressed_and_the_action_keeps_the_width() {
        let a = Axis::of(&pic(600_000, &[0, 500, 2000, 4000, 6000, 8000, 9670]));
        assert_eq!(a.gaps(), vec![(9670, 600_000)]);
        assert!(a.x(9670) > X0 + PLOT_W - GAP_W - 1.0);
        assert!((a.x(600_000) - (X0 + PLOT_W)).abs() < 1e-6);
    }

    #[test]
    fn evenly_spread_action_is_drawn_to_scale() {
        let a = Axis::of(&pic(40_000, &[0, 10_000, 20_000, 30_000]));
        assert!(a.gaps().is_empty());
        assert!((a.x(20_000) - (X0 + PLOT_W / 2.0)).abs() < 1e-6);
    }

    #[test]
    fn ticks_are_round_and_increasing() {
        let a = Axis::of(&pic(9670, &[0, 2162, 3664, 5165, 6666, 8167, 9670]));
        let t = a.ticks();
        assert_eq!(t[0], 0);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert!(t.contains(&1000) && t.contains(&9000), "{t:?}");
        assert_eq!(ms_label(9670), "9.67 s");
        assert_eq!(ms_label(750), "750 ms");
        assert_eq!(ms_label(2000), "2 s");
    }
}

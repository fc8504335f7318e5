//! Self-contained HTML pages: a replay's timeline with its verdict and trace table, the
//! per-preset timelines of `compare`, and the index of an `explore` run. No scripts, no
//! external files: a page opens from disk, from a CI artifact, or attached to an issue.

use std::fmt::Write as _;

use super::{build, escape, timeline};
use crate::policy::Preset;
use crate::replay::Report;
use crate::scenario::Scenario;
use crate::search::Summary;

const STYLE: &str = "body{font-family:DejaVu Sans,Verdana,sans-serif;margin:1.5em;color:#111}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}\
th{background:#eee}td:first-child{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.trace td{font-family:DejaVu Sans Mono,monospace;font-size:12px;border:none;padding:0 10px 0 0}\
.ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}.msg{font-family:DejaVu Sans Mono,monospace;color:#b71c1c}\
.bar{background:#90caf9;height:10px;display:inline-block}.zero{color:#c62828}\
svg{max-width:100%;height:auto}\
.side{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.side>.tl{flex:1 1 720px;min-width:0}\
.fields td{font-family:DejaVu Sans Mono,monospace;font-size:12px}";

fn head(o: &mut String, title: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
}

fn verdict_table(o: &mut String, rep: &Report) {
    o.push_str("<table class=\"verdict\">\n");
    fn row(o: &mut String, k: &str, v: String) {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    row(
        o,
        "startup",
        rep.startup
            .map_or("did not end".into(), |s| escape(s.name())),
    );
    row(
        o,
        "verdict at",
        rep.verdict_at_ms.map_or("-".into(), |t| format!("{t} ms")),
    );
    row(
        o,
        "elapsed",
        rep.elapsed_ms.map_or("-".into(), |t| format!("{t} ms")),
    );
    row(
        o,
        "failed services",
        rep.failed_services.as_ref().map_or("-".into(), |f| {
            escape(&f.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "))
        }),
    );
    if let Some(m) = &rep.message {
        row(
            o,
            "message",
            format!("<span class=\"msg\">{}</span>", escape(m)),
        );
    }
    let clients: Vec<String> = rep
        .clients
        .iter()
        .zip(&rep.client_reasons)
        .map(|(c, r)| {
            let c = c.map_or("none", |c| c.name());
            match r {
                Some(r) => format!("{c} ({})", r.name()),
                None => c.to_string(),
            }
        })
        .collect();
    if !clients.is_empty() {
        row(o, "clients", escape(&clients.join(", ")));
    }
    row(o, "lost messages", rep.lost_messages.to_string());
    let findings: Vec<String> = rep
        .evaluation
        .findings
        .iter()
        .map(|(f, t)| format!("{} at {t} ms", f.violation.name()))
        .collect();
    let mut violations: Vec<String> = rep.violations.iter().map(|v| v.name().into()).collect();
    if violations.is_empty() {
        violations.push("none".into());
    }
    row(
        o,
        "violations",
        format!(
            "<span class=\"{}\">{}</span>{}",
            if rep.violations.is_empty() {
                "ok"
            } else {
                "bad"
            },
            escape(&violations.join(", ")),
            if findings.is_empty() {
                String::new()
            } else {
                format!("<br>first: {}", escape(&findings.join("; ")))
            }
        ),
    );
    row(o, "trace hash", escape(&rep.trace_hash));
    if !rep.mismatches.is_empty() || rep.drift.is_some() {
        let m: Vec<String> = rep
            .mismatches
            .iter()
            .map(|m| format!("{}: expected {}, got {}", m.field, m.expected, m.got))
            .collect();
        row(
            o,
            "[expect]",
            format!("<span class=\"bad\">{}</span>", escape(&m.join("; "))),
        );
    } else {
        row(o, "[expect]", "<span class=\"ok\">matches</span>".into());
    }
    o.push_str("</table>\n");
}

fn trace_table(o: &mut String, rep: &Report) {
    o.push_str("<table class=\"trace\">\n<tr><th>t (ms)</th><th>actor</th><th>event</th><th>details</th></tr>\n");
    let trace = &rep.evaluation.output.trace;
    for e in trace.iter().take(super::MAX_PICTURE_EVENTS) {
        let mut d = String::new();
        e.ev.details(&mut d);
        let _ = writeln!(
            o,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.t,
            escape(&e.actor.to_string()),
            e.ev.name(),
            escape(&d)
        );
    }
    if trace.len() > super::MAX_PICTURE_EVENTS {
        let _ = writeln!(
            o,
            "<tr><td colspan=\"4\">{} more events: <code>readysim replay NAME --json --trace</code> lists them all</td></tr>",
            trace.len() - super::MAX_PICTURE_EVENTS
        );
    }
    o.push_str("</table>\n");
    let choices: Vec<_> = rep
        .evaluation
        .output
        .engine
        .choices
        .iter()
        .filter(|c| c.ready >= 2)
        .take(super::MAX_PICTURE_EVENTS)
        .collect();
    if !choices.is_empty() {
        o.push_str("<h2>Same-instant decisions</h2>\n<table class=\"trace\">\n");
        for c in choices {
            let _ = writeln!(
                o,
                "<tr><td class=\"n\">{}</td><td>ran #{} of {} ready</td></tr>",
                c.at_ms, c.chosen, c.ready
            );
        }
        o.push_str("</table>\n");
    }
}

/// The fields the file sets away from their defaults, so a reader sees why a lane is red
/// without opening the file.
fn fields_table(o: &mut String, sc: &Scenario) {
    let fields = crate::scenario::non_default_values(sc);
    o.push_str("<div>\n<h2>Non-default fields</h2>\n");
    if fields.is_empty() {
        o.push_str("<p>none: every field is at its default</p>\n</div>\n");
        return;
    }
    o.push_str("<table class=\"fields\">\n");
    for (path, value) in &fields {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(path),
            escape(value)
        );
    }
    o.push_str("</table>\n</div>\n");
}

/// The page of one replay: the timeline, the fields the file sets, the verdict and the trace
/// table.
pub fn page(sc: &Scenario, rep: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    head(&mut o, &format!("readysim: {}", sc.name));
    let _ = writeln!(
        o,
        "<h1>{}</h1>\n<p>{}</p>\n<p>preset <b>{}</b>, environment {}</p>",
        escape(&sc.name),
        escape(&sc.summary),
        sc.policy.preset.name(),
        escape(sc.environment.name.name())
    );
    o.push_str("<div class=\"side\">\n<div class=\"tl\">");
    o.push_str(&timeline::svg(&build(sc, rep)));
    o.push_str("</div>\n");
    fields_table(&mut o, sc);
    o.push_str("</div>\n<h2>Verdict</h2>\n");
    verdict_table(&mut o, rep);
    o.push_str("<h2>Trace</h2>\n");
    trace_table(&mut o, rep);
    o.push_str("</body>\n</html>\n");
    o
}

/// The page of `compare`: one row per preset, then each preset's timeline, stacked.
pub fn compare_page(sc: &Scenario, reports: &[(Preset, Report)]) -> String {
    let mut o = String::with_capacity(256 * 1024);
    head(&mut o, &format!("readysim compare: {}", sc.name));
    let _ = writeln!(
        o,
        "<h1>{} under every preset</h1>\n<p>{}</p>\n<p>Only <code>preset</code> changes between the rows; the timings and the decisions are the file's.</p>",
        escape(&sc.name),
        escape(&sc.summary)
    );
    o.push_str("<table>\n<tr><th>preset</th><th>startup</th><th>verdict at</th><th>clients</th><th>violations</th></tr>\n");
    for (p, r) in reports {
        let clients: Vec<&str> = r
            .clients
            .iter()
            .map(|c| c.map_or("none", |c| c.name()))
            .collect();
        let v: Vec<&str> = r.violations.iter().map(|v| v.name()).collect();
        let _ = writeln!(
            o,
            "<tr><td><a href=\"#{p}\">{p}</a></td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            r.startup.map_or("did not end", |s| s.name()),
            r.verdict_at_ms.map_or("-".into(), |t| t.to_string()),
            escape(&clients.join(", ")),
            if v.is_empty() { "ok" } else { "bad" },
            if v.is_empty() { "none".into() } else { v.join(", ") },
            p = p.name()
        );
    }
    o.push_str("</table>\n");
    for (p, r) in reports {
        let mut s = sc.clone();
        s.policy.preset = *p;
        let _ = writeln!(o, "<h2 id=\"{p}\">{p}</h2>", p = p.name());
        // The file's name and summary head the page once; each picture says only its preset
        // (the summary describes the file's own preset, so it would be wrong under others).
        let mut picture = build(&s, r);
        picture.title = format!("{} under {}", sc.name, p.name());
        picture.summary.clear();
        o.push_str(&timeline::svg(&picture));
    }
    o.push_str("</body>\n</html>\n");
    o
}

/// One recorded failure on the explore index: what was found and, when its timeline page
/// was written, the page's file name (relative to the index).
pub struct Entry<'a> {
    /// The failure.
    pub found: &'a crate::search::Found,
    /// Its timeline page, next to the index.
    pub page: Option<String>,
}

/// The index page of `explore --html`: the summary table, coverage bars, and each failure
/// with a link to its timeline.
pub fn explore_index(command: &str, summary: &Summary, entries: &[Entry<'_>]) -> String {
    let mut o = String::with_capacity(32 * 1024);
    head(&mut o, &format!("readysim explore --seed {}", summary.seed));
    let _ = writeln!(
        o,
        "<h1>readysim explore, seed {}</h1>\n<p><code>{}</code>{}</p>",
        summary.seed,
        escape(command),
        if summary.interrupted {
            " (interrupted before its case budget)"
        } else {
            ""
        }
    );
    let _ = writeln!(o, "<p>{}</p>", escape(&summary.space.describe()));
    // Summary: one row per (code, property), then its places.
    o.push_str("<h2>Summary</h2>\n<table>\n<tr><th>code under test</th><th>cases</th><th>property</th><th>failing cases</th><th>signatures</th><th>first failure</th><th>places</th></tr>\n");
    for p in &summary.codes {
        for s in &p.properties {
            let first = match (s.first_failure, s.upper_rate) {
                (Some(c), _) => format!("case {c}"),
                (None, Some(u)) => format!("none (rate &lt; {u:.2e} per case, 95 %)"),
                (None, None) => "none".into(),
            };
            let places: Vec<String> = s
                .places
                .iter()
                .map(|pl| {
                    let what = format!(
                        "{}{}",
                        pl.place.slug(),
                        if pl.what_if { " (what-if)" } else { "" }
                    );
                    match (pl.first_failure, pl.upper_rate) {
                        (Some(c), _) => format!("{what}: {} from case {c}", pl.failures),
                        (None, Some(u)) => format!("{what}: none, rate &lt; {u:.2e}"),
                        (None, None) => format!("{what}: none"),
                    }
                })
                .map(|t| escape(&t).replace("&amp;lt;", "&lt;"))
                .collect();
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n{}\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(p.code.as_str()),
                p.cases,
                s.property.name(),
                if s.failures > 0 { " bad" } else { "" },
                s.failures,
                s.distinct,
                first,
                places.join("<br>")
            );
        }
    }
    o.push_str("</table>\n");
    // Failures.
    o.push_str("<h2>Failures</h2>\n");
    if entries.is_empty() {
        o.push_str("<p>None found.</p>\n");
    } else {
        o.push_str("<table>\n<tr><th>scenario</th><th>kind</th><th>code under test</th><th>property</th><th>place</th><th>case</th><th>class</th><th>depends on</th><th>reasons</th></tr>\n");
        for e in entries {
            let f = e.found;
            let name = match &e.page {
                Some(p) => format!("<a href=\"{}\">{}</a>", escape(p), escape(&f.name)),
                None => escape(&f.name),
            };
            let reasons: Vec<&str> = f.reasons.iter().map(|r| r.name()).collect();
            let kind = if f.signature.what_if {
                format!("what-if ({})", f.what_if.join(", "))
            } else {
                "finding".to_string()
            };
            let _ = writeln!(
                o,
                "<tr><td>{name}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if f.known { " (known)" } else { "" },
                escape(&kind),
                escape(f.signature.code.as_str()),
                f.property.name(),
                escape(&f.signature.place.to_string()),
                f.case,
                f.class.map_or("-", |c| c.name()),
                escape(&f.depends_on.join(", ")),
                escape(&reasons.join(", "))
            );
        }
        o.push_str("</table>\n");
    }
    // Coverage bars, scaled to the ordering reached most often.
    let cov = summary.coverage();
    let named = cov.named();
    let max = named.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1);
    o.push_str("<h2>Coverage</h2>\n<p>Cases (over every code) that reached each named ordering.</p>\n<table>\n");
    for (n, c) in named {
        let w = (c as f64 / max as f64 * 300.0).round() as u64;
        let _ = writeln!(
            o,
            "<tr><td>{n}</td><td class=\"n{}\">{c}</td><td><span class=\"bar\" style=\"width:{w}px\"></span></td></tr>",
            if c == 0 { " zero" } else { "" }
        );
    }
    o.push_str("</table>\n</body>\n</html>\n");
    o
}

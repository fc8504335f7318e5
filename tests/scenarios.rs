//! Replays every scenario file under `scenarios/` as its own test (named after the file): it
//! passes when the file's `[expect]` matches, trace hash included. A failure prints the
//! differing fields, the first differing trace lines against the stored trace (if any), and
//! the one command that accepts a reviewed change.

use std::path::Path;

use readysim::bless;
use readysim::engine::EngineKind;

fn check(path: &Path) -> datatest_stable::Result<()> {
    let sc = readysim::scenario::load(path)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    // The one rule the CLI's `replay` and `all` use too.
    let checked = bless::check(&root, &sc, EngineKind::Fast);
    if checked.passes() {
        return Ok(());
    }
    let rep = &checked.report;
    let bless = format!("cargo run --release -- replay {} --bless", sc.name);
    if !rep.matches {
        let mut o = format!("\n{} does not match its [expect]:\n", path.display());
        for m in &rep.mismatches {
            o.push_str(&format!(
                "  {}: expected {}, got {}\n",
                m.field, m.expected, m.got
            ));
        }
        if let Some(d) = &rep.drift {
            if let Some(line) = d.first_line {
                o.push_str(&format!(
                    "  first difference at trace line {line} (stored: {}):\n",
                    d.previous_source.as_deref().unwrap_or("-")
                ));
                for l in &d.previous {
                    o.push_str(&format!("  - {l}\n"));
                }
                for l in &d.current {
                    o.push_str(&format!("  + {l}\n"));
                }
            }
        }
        o.push_str(&format!(
            "  after reviewing the change, accept it with:\n    {bless}\n  (a changed verdict also needs --accept-verdict-change)\n"
        ));
        // Real lines on stderr (test harnesses show a returned error as one quoted string).
        eprintln!("{o}");
        return Err(format!("{}: expectations differ (see above)", sc.name).into());
    }
    if let Some(p) = &checked.stale_trace {
        eprintln!(
            "\n{}: the trace hash matches but the stored trace {} is stale;\n  \
             rewrite it with:\n    {bless}\n",
            sc.name,
            p.display()
        );
    }
    Err(format!("{}: stale stored trace", sc.name).into())
}

datatest_stable::harness! {
    { test = check, root = "scenarios", pattern = r"\.toml$" },
}

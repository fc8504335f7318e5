//! Replays every scenario file under `scenarios/` as its own test (named after the file) and
//! snapshots its trace with insta.

use std::path::Path;

use readysim::engine::EngineKind;

fn replay(path: &Path) -> datatest_stable::Result<()> {
    let sc = readysim::scenario::load(path)?;
    let rep = readysim::replay(&sc, EngineKind::Fast);
    if !rep.matches {
        let lines: Vec<String> = rep
            .mismatches
            .iter()
            .map(|m| format!("  {}: expected {}, got {}", m.field, m.expected, m.got))
            .collect();
        return Err(format!(
            "{} does not match its [expect]:\n{}\n\ntrace:\n{}",
            path.display(),
            lines.join("\n"),
            rep.trace_text
        )
        .into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(format!("trace@{}", sc.name), rep.trace_text));
    Ok(())
}

datatest_stable::harness! {
    { test = replay, root = "scenarios", pattern = r"\.toml$" },
}

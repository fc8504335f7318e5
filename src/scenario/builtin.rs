//! The scenarios shipped with readysim, built into the binary (by `build.rs`) so a name can be
//! replayed from any folder. A scenarios folder on disk, when there is one, wins.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The prefix of a built-in scenario's path in messages.
pub const PREFIX: &str = "<built-in>";

/// The built-in scenarios: (path under `scenarios/`, text), sorted by path.
pub fn all() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}

/// The path a built-in scenario is reported under (`<built-in>/found/x.toml`).
pub fn path_of(rel: &str) -> PathBuf {
    Path::new(PREFIX).join(rel)
}

/// Whether `p` names a built-in scenario rather than a file.
pub fn is_builtin(p: &Path) -> bool {
    p.starts_with(PREFIX)
}

/// The built-in scenario named `name` (its file stem): (path, text).
pub fn find(name: &str) -> Option<(PathBuf, &'static str)> {
    BUILTIN
        .iter()
        .find(|(rel, _)| Path::new(rel).file_stem().and_then(|s| s.to_str()) == Some(name))
        .map(|(rel, text)| (path_of(rel), *text))
}

/// The text of a built-in path (`<built-in>/x.toml`).
pub fn text_of(p: &Path) -> Option<&'static str> {
    let rel = p.strip_prefix(PREFIX).ok()?;
    BUILTIN
        .iter()
        .find(|(r, _)| Path::new(r) == rel)
        .map(|(_, t)| *t)
}

/// The names of every built-in scenario.
pub fn names() -> Vec<&'static str> {
    BUILTIN
        .iter()
        .filter_map(|(rel, _)| Path::new(rel).file_stem().and_then(|s| s.to_str()))
        .collect()
}

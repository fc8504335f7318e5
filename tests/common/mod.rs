//! Helpers shared by the integration tests.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use readysim::scenario::{self, Scenario};

/// A scenario from the body of a file (everything after `format`, `name` and `summary`).
pub fn scenario(body: &str) -> Scenario {
    let src = format!("format = 1\nname = \"t\"\nsummary = \"t\"\n{body}");
    scenario::parse(&src, std::path::Path::new("t.toml"), None).expect("valid test scenario")
}

/// A temp project with a copy of the shipped scenario `name` under its `scenarios/`.
pub fn project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    let p = dir.path().join("scenarios").join(format!("{name}.toml"));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    fs::copy(shipped.join(format!("{name}.toml")), &p).unwrap();
    (dir, p)
}

/// Makes the file's stored trace hash stale, so bless has something to rewrite.
pub fn stale(p: &Path) {
    let t = fs::read_to_string(p).unwrap();
    let i = t.find("trace_hash = \"").unwrap() + 14;
    fs::write(p, format!("{}0000000000000000{}", &t[..i], &t[i + 16..])).unwrap();
}

/// Runs the readysim binary in `dir` with `args` (no `READYSIM_SCENARIOS`, no `COLUMNS`
/// from the caller's environment): the exit code, stdout and stderr.
pub fn readysim_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_readysim"))
        .current_dir(dir)
        .env_remove("READYSIM_SCENARIOS")
        .env_remove("COLUMNS")
        .args(args)
        .output()
        .expect("run readysim");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A suite whose environment is missing: prints `why` (its tests then show as ignored), or,
/// when the variable `require` is set (CI, where the tools are installed), says so and fails
/// the test binary: a missing `missing` is a failure there.
pub fn missing_environment(suite: &str, why: &str, require: &str, missing: &str) {
    eprintln!("{why}");
    if std::env::var_os(require).is_some() {
        eprintln!("{suite}: {require} is set: a missing {missing} is a failure");
        std::process::exit(1);
    }
}

//! Scans the model's sources for determinism breakers clippy cannot see (an unbiased
//! `select!` is a macro, not a method) or that a model file could sneak past clippy's paths.

use std::path::{Path, PathBuf};

/// Forbidden text in model code, with why.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "tokio::time",
        "tokio timers bypass the engine: use Rt::sleep / Rt::sleep_until",
    ),
    ("Instant::now", "the wall clock: use Rt::now"),
    ("SystemTime", "the wall clock: use Rt::now"),
    (
        "thread::spawn",
        "a real thread: interleavings the engine cannot replay",
    ),
    (
        "spawn_blocking",
        "a real thread that also stalls tokio's auto-advance",
    ),
    (
        "HashMap",
        "iteration order is seeded per process: use BTreeMap",
    ),
    (
        "HashSet",
        "iteration order is seeded per process: use BTreeSet",
    ),
    ("rand::", "OS-seeded randomness: draw values with Rt::draw"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a line: what precedes a `//` comment (doc comments may name what they forbid).
fn code_of(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// Every determinism breaker in `src` (the text of one file), as `line: message`. Items
/// under `#[cfg(test)]` are skipped: unit tests may drive tokio's paused clock directly.
fn violations(src: &str) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut skip_test_item = false;
    let mut depth = 0i64;
    let mut seen_open = false;
    for (i, line) in lines.iter().enumerate() {
        let code = code_of(line);
        if skip_test_item {
            // Skip until the braces of the item after `#[cfg(test)]` balance again.
            let opens = code.matches('{').count() as i64;
            depth += opens - code.matches('}').count() as i64;
            seen_open |= opens > 0;
            if depth <= 0 && (seen_open || code.trim_end().ends_with(';')) {
                skip_test_item = false;
            }
            continue;
        }
        if code.trim() == "#[cfg(test)]" {
            skip_test_item = true;
            seen_open = false;
            depth = 0;
            continue;
        }
        for (needle, why) in FORBIDDEN {
            if code.contains(needle) {
                out.push(format!("{}: `{needle}`: {why}", i + 1));
            }
        }
        if code.contains("select!") {
            // `biased;` must open the macro body: look at the text up to the first branch.
            let body: String = lines[i..]
                .iter()
                .take(4)
                .map(|l| code_of(l))
                .collect::<Vec<_>>()
                .join(" ");
            let after = body.split("select!").nth(1).unwrap_or("");
            let head = after.split("=>").next().unwrap_or("");
            if !head.contains("biased;") {
                out.push(format!(
                    "{}: `select!` without `biased;`: its branch order is random per process",
                    i + 1
                ));
            }
        }
    }
    out
}

/// Whether `src` is a test-only file: one a parent includes with `#[cfg(test)] #[path = ..]
/// mod tests;` (its whole text is test code, like an inline `#[cfg(test)]` module).
fn test_only(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with("_tests.rs"))
}

#[test]
fn model_code_has_no_determinism_breakers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    // The model's actors and the judge: everything whose output is a trace or a verdict.
    for dir in ["model", "judge"] {
        rust_files(&src.join(dir), &mut files);
    }
    files.retain(|f| !test_only(f));
    assert!(files.len() > 5, "too few sources under {}", src.display());
    let mut found = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).expect("readable source");
        for v in violations(&src) {
            found.push(format!("{}:{v}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "determinism breakers in model code:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_catches_each_breaker() {
    for (needle, _) in FORBIDDEN {
        let src = format!("fn f() {{\n    let x = {needle}foo();\n}}\n");
        assert_eq!(violations(&src).len(), 1, "missed `{needle}`");
    }
    let unbiased = "async fn f() {\n    tokio::select! {\n        _ = a => {}\n        _ = b => {}\n    }\n}\n";
    assert_eq!(violations(unbiased).len(), 1, "missed an unbiased select!");
    let biased =
        "async fn f() {\n    tokio::select! {\n        biased;\n        _ = a => {}\n    }\n}\n";
    assert!(violations(biased).is_empty(), "flagged a biased select!");
    let commented = "/// Never use a HashMap here.\nfn f() {} // nor tokio::time\n";
    assert!(violations(commented).is_empty(), "flagged a comment");
    let in_tests = "#[cfg(test)]\nmod tests {\n    fn t() {\n        tokio::time::advance(d);\n    }\n}\nfn g() { let m = HashMap::new(); }\n";
    assert_eq!(
        violations(in_tests),
        vec!["7: `HashMap`: iteration order is seeded per process: use BTreeMap".to_string()]
    );
}

//! The layering of docs/architecture.md, checked: every `crate::X` a module's code names must
//! be in that module's "may import" cell of the table, and every module under `src/` must have
//! a row. The table is read from the doc, so the doc and the check cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name -> what it may import (module names, `module::Item`, or `facade`).
type Table = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The backticked words of a cell, or nothing for "nothing".
fn words(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|w| w.to_string())
        .collect()
}

/// The "Modules and what each owns" table: first cell names the module (`vocab.rs`,
/// `scenario/`), the last lists what it may import.
fn table(doc: &str) -> Table {
    let section = doc
        .split("## Modules and what each owns")
        .nth(1)
        .expect("docs/architecture.md has the modules section");
    let mut t = Table::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        if !line.starts_with("| `") || cells.len() < 3 {
            continue;
        }
        let name = cells[0].trim_start_matches("| ").trim_matches('`');
        let name = name.trim_end_matches(".rs").trim_end_matches('/');
        let last = cells[cells.len() - 1].trim_end_matches(" |");
        t.insert(name.to_string(), words(last));
    }
    t
}

/// Source text with `#[cfg(test)] mod ... { }` blocks at the end removed: tests may reach
/// anywhere (they build scenarios with the model, for instance).
fn without_tests(text: &str) -> &str {
    let mut cut = text.len();
    for (i, _) in text.match_indices("#[cfg(test)]") {
        let after = text[i + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") || after.starts_with("pub(crate) mod ") {
            cut = cut.min(i);
        }
    }
    &text[..cut]
}

/// Top-level names inside a `use crate::{...}` group, at brace depth 0.
fn group_names(body: &str) -> Vec<String> {
    let (mut depth, mut cur, mut out) = (0, String::new(), Vec::new());
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every path a source names after `crate::`, groups expanded one level
/// (`crate::policy::{Policy, Preset}` gives `policy::Policy` and `policy::Preset`).
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i + "crate::".len()..];
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let prefix = &tail[..end];
        match tail[end..].strip_prefix('{') {
            Some(group) if prefix.is_empty() || prefix.ends_with("::") => {
                let close = group.find("};").or_else(|| group.find('}'));
                let names = group_names(&group[..close.unwrap_or(group.len())]);
                out.extend(names.into_iter().map(|n| format!("{prefix}{n}")));
            }
            _ => out.push(prefix.trim_end_matches(':').to_string()),
        }
        rest = tail;
    }
    out
}

/// Whether `path` (as written after `crate::`) is allowed by `allowed`, for module `me`.
fn allowed(me: &str, path: &str, allowed: &BTreeSet<String>, modules: &BTreeSet<String>) -> bool {
    let mut parts = path.split("::");
    let first = parts.next().unwrap_or_default();
    if first == me || first.is_empty() {
        return true;
    }
    if !modules.contains(first) {
        return allowed.contains("facade");
    }
    if allowed.contains(first) {
        return true;
    }
    let item = parts.next();
    item.is_some_and(|i| allowed.contains(&format!("{first}::{i}")))
}

/// The module each file under `src/` belongs to, with its text; test-only files left out.
fn sources() -> Vec<(String, PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".rs") || name.ends_with("tests.rs") {
                continue;
            }
            let rel = path.strip_prefix(root().join("src")).unwrap();
            let module = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = module.trim_end_matches(".rs").to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            out.push((
                module,
                path.clone(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

fn violations(t: &Table, files: &[(String, PathBuf, String)]) -> Vec<String> {
    let in_files = files.iter().map(|(m, _, _)| m.clone());
    let modules: BTreeSet<String> = t.keys().cloned().chain(in_files).collect();
    let mut bad = Vec::new();
    for (module, path, text) in files {
        let Some(ok) = t.get(module) else {
            bad.push(format!(
                "module `{module}` has no row in docs/architecture.md"
            ));
            continue;
        };
        for import in imports(without_tests(text)) {
            if !allowed(module, &import, ok, &modules) {
                let file = path.strip_prefix(root()).unwrap_or(path).display();
                bad.push(format!("{file}: `{module}` imports `crate::{import}`"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

#[test]
fn every_module_imports_only_what_the_architecture_allows() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let t = table(&doc);
    assert!(t.len() >= 15, "the table was read: {:?}", t.keys());
    assert_eq!(t["engine"], BTreeSet::new(), "the engine imports nothing");
    let bad = violations(&t, &sources());
    assert!(
        bad.is_empty(),
        "imports against the layering:\n{}",
        bad.join("\n")
    );
}

#[test]
fn an_import_against_the_table_is_caught() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let t = table(&doc);
    let file = |m: &str, text: &str| (m.to_string(), Path::new("src/x.rs").into(), text.into());
    let files = vec![
        file(
            "judge",
            "use crate::model::world::World;\nuse crate::{trace::Ev, policy};\n",
        ),
        file("engine", "fn f() { crate::scenario::load(p); }"),
        file(
            "picture",
            "use crate::policy::{Policy, Preset};\nuse crate::policy::Preset;",
        ),
        file(
            "model",
            "use crate::vocab::Check;\n#[cfg(test)]\nmod tests { use crate::cli; }",
        ),
        file("scenario", "use crate::policy::Policy;"),
        file("newmod", ""),
    ];
    let bad = violations(&t, &files);
    let expect = [
        "module `newmod` has no row in docs/architecture.md",
        "src/x.rs: `engine` imports `crate::scenario::load`",
        "src/x.rs: `judge` imports `crate::model::world::World`",
        "src/x.rs: `judge` imports `crate::policy`",
        "src/x.rs: `picture` imports `crate::policy::Policy`",
    ];
    assert_eq!(bad, expect);
}

//! The help texts against the behaviours they name, where checking is cheap: the commands
//! they list, the numbers they state, the defaults and ranges they promise, the exit codes.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

mod common;

fn run(args: &[&str]) -> (i32, String, String) {
    common::readysim_in(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn help(cmd: &str) -> String {
    let (code, out, err) = run(&["help", cmd]);
    assert_eq!(code, 0, "{err}");
    out
}

/// The subcommands `readysim --help` lists.
fn commands() -> Vec<String> {
    let (_, top, _) = run(&["--help"]);
    top.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn every_command_in_the_help_is_in_the_readme_table_and_answers_its_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let cmds = commands();
    assert!(cmds.len() >= 14, "{cmds:?}");
    for c in &cmds {
        assert!(
            readme.contains(&format!("`readysim {c}")),
            "README's CLI table lacks {c}"
        );
        assert!(help(c).contains("Usage: readysim "), "{c}");
    }
}

#[test]
fn seed_suite_help_counts_the_tests_it_answers() {
    let (_, top, _) = run(&["--help"]);
    let n: usize = top
        .split("suites (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the help names a test count");
    let (code, out, _) = run(&["--json", "seed-suite"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), n);
}

#[test]
fn map_steps_range_and_required_output_are_as_the_help_says() {
    let h = help("map");
    assert!(
        h.contains("(2 to 500)") && h.contains("[default: 100]"),
        "{h}"
    );
    // The same map, with the options of each case after it.
    let map = |extra: &[&str]| {
        let mut args = vec![
            "map",
            "slow-redis",
            "--x",
            "redis.server.up_from_ms",
            "--y",
            "redis.manager.stabilize_ms",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    for bad in ["1", "501"] {
        let (code, out, err) = map(&["--steps", bad, "--json"]);
        assert_eq!(code, 2, "--steps {bad}: {err}");
        // With --json the error is the JSON object on standard output.
        assert!(out.contains("from 2 to 500"), "{out}");
    }
    // "needed unless --json"
    let (code, _, err) = map(&["--steps", "2"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = map(&["--json", "--steps", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim_start().starts_with('{'));
}

#[test]
fn classify_help_names_searchs_default_properties() {
    let names: Vec<&str> = readysim::search::DEFAULT_PROPERTIES
        .iter()
        .map(|v| v.name())
        .collect();
    let list = names.join(", ");
    assert!(
        help("classify").contains(&list),
        "classify --help lacks {list}"
    );
    assert!(help("explore").contains(&format!("(default: {list})")));
}

#[test]
fn exit_code_3_when_standard_output_cannot_be_written() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not Linux: nothing to test
    };
    for (cmd, args) in [
        ("replay", &["replay", "incident-2025-09-09"][..]),
        ("compare", &["compare", "incident-2025-09-09"][..]),
        ("explain", &["explain", "p8"][..]),
    ] {
        assert!(help(cmd).contains(", 3 "), "{cmd} --help names exit 3");
        let status = Command::new(BIN)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .stdout(Stdio::from(full.try_clone().unwrap()))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3), "{args:?}");
    }
}

#[test]
fn global_options_are_documented_once_after_each_commands_own() {
    for c in commands() {
        let h = help(&c);
        assert_eq!(h.matches("Global options:").count(), 1, "{c}");
        assert_eq!(h.matches("--scenarios <SCENARIOS>").count(), 1, "{c}");
        let own = h.find("Options:").unwrap_or(0);
        assert!(h.find("Global options:").unwrap() > own, "{c}");
    }
}

#[test]
fn explore_help_defaults_hold() {
    let h = help("explore");
    assert!(
        h.contains("[default: 1000]") && h.contains("[default: swarm]"),
        "{h}"
    );
    assert!(h.contains("target/readysim/found"));
    // The default case count is what a search without --cases runs.
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "--json",
            "explore",
            "--seed",
            "1",
            "--preset",
            "reference",
            "--count-only",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["summary"]["codes"][0]["cases"], 1000);
}

#[test]
fn the_bless_json_keys_are_the_documented_ones() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md")).unwrap();
    let row = doc
        .lines()
        .find(|l| l.starts_with("| `replay --bless` |"))
        .expect("the row");
    // The top-level keys of `{a, b, c: [...]}`.
    let inner = &row[row.find("`{").unwrap() + 2..row.find("}` ").unwrap()];
    let (mut keys, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in inner.chars() {
        match ch {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => keys.push(std::mem::take(&mut cur)),
            _ if depth == 0 => cur.push(ch),
            _ => {}
        }
    }
    keys.push(cur);
    let mut keys: Vec<String> = keys
        .iter()
        .map(|k| k.split(':').next().unwrap().trim().to_string())
        .collect();
    keys.sort();
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s");
    std::fs::create_dir_all(&scen).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/slow-redis.toml");
    std::fs::copy(src, scen.join("slow-redis.toml")).unwrap();
    let (code, out, err) = run(&[
        "--json",
        "--scenarios",
        scen.to_str().unwrap(),
        "replay",
        "slow-redis",
        "--bless",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut got: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    got.sort();
    assert_eq!(got, keys);
}

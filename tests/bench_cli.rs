//! `readysim bench` runs with a tiny budget and prints every row; no speed is asserted.

use std::process::Command;

fn bench(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_readysim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("bench")
        .args(["--seconds", "0"])
        .args(args)
        .output()
        .expect("run readysim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn bench_prints_a_row_per_workload_engine_and_trace_mode() {
    let (code, text) = bench(&[]);
    assert_eq!(code, 0, "{text}");
    for row in [
        ("incident", "fast", "none"),
        ("mixed", "fast", "none"),
        ("incident", "tokio", "none"),
        ("mixed", "tokio", "none"),
        ("incident", "fast", "rendered"),
        ("mixed", "fast", "rendered"),
    ] {
        let found = text.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 4 && w[0] == row.0 && w[2] == row.1 && w[3] == row.2
        });
        assert!(found, "no row {row:?} in:\n{text}");
    }
    assert!(text.contains("fast/tokio"), "{text}");
}

#[test]
fn bench_json_has_six_rows_and_the_ratios() {
    let (code, text) = bench(&["--json"]);
    assert_eq!(code, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(6), "{text}");
    assert!(
        v["incident_ratio"].as_f64().is_some_and(|r| r > 0.0),
        "{text}"
    );
    assert!(v["mixed_ratio"].as_f64().is_some_and(|r| r > 0.0), "{text}");
    // The binary counts heap bytes: every memory row has a peak, and the mixed set's largest
    // run needs more than the incident's.
    let mem = v["memory"].as_array().expect("memory rows");
    assert_eq!(mem.len(), 3, "{text}");
    let peak = |i: usize| mem[i]["peak_heap_kib"].as_f64().expect("counted");
    assert!(peak(0) > 0.0 && peak(1) > peak(0), "{text}");
    // Cost curves: four points per axis; more clients, more events.
    let sc = v["scaling"].as_array().expect("scaling rows");
    assert_eq!(sc.len(), 12, "{text}");
    let clients: Vec<u64> = sc
        .iter()
        .filter(|r| r["axis"] == "clients")
        .map(|r| r["events"].as_u64().expect("events"))
        .collect();
    assert!(clients.windows(2).all(|w| w[0] < w[1]), "{clients:?}");
    assert!(v["virtual_ms_per_cpu_ms"].as_f64().is_some_and(|r| r > 0.0));
    // With no budget the two whole searches are skipped.
    assert!(v["explore_jobs"].is_null(), "{text}");
}

#[test]
fn bench_falls_back_to_the_built_in_incident() {
    let dir = std::env::temp_dir().join(format!("readysim-bench-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (code, text) = bench(&["--scenarios", dir.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("incident: built-in"), "{text}");
}

#[test]
fn bench_rejects_a_bad_budget() {
    let out = Command::new(env!("CARGO_BIN_EXE_readysim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "--seconds", "-1"])
        .output()
        .expect("run readysim");
    assert_eq!(out.status.code(), Some(2));
}

/// With a budget, and two cores, the `--jobs 1` / `--jobs 2` row says how many rounds it
/// timed, and its ratio is of the two times it shows.
#[test]
fn bench_json_times_both_job_counts_over_several_rounds() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_readysim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "--json", "--seconds", "0.002"])
        .output()
        .expect("run readysim");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let j = &v["explore_jobs"];
    assert_eq!(j["rounds"].as_u64(), Some(3), "{text}");
    assert_eq!(j["cases"].as_u64(), Some(1), "{text}");
    let (one, two) = (
        j["jobs1_seconds"].as_f64().expect("jobs1"),
        j["jobs2_seconds"].as_f64().expect("jobs2"),
    );
    assert!(one > 0.0 && two > 0.0, "{text}");
    let speedup = j["speedup"].as_f64().expect("speedup");
    assert!(
        (speedup - one / two).abs() < 1e-9 * speedup.max(1.0),
        "{text}"
    );
}

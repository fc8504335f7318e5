//! Every class of bad input gets exit 2 and one error naming file, line, column, field and what
//! is allowed (issue 6). Runs the real binary on files written to a fresh temp folder.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_readysim");

/// A fresh, empty folder under the system temp dir, removed when dropped.
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

fn temp_dir(tag: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("readysim-bad-{tag}-"))
            .tempdir()
            .expect("temp dir"),
    )
}

/// A valid head for a scenario named `name`; tests append to it.
fn head(name: &str) -> String {
    format!("format = 1\nname = \"{name}\"\nsummary = \"s\"\n\n[policy]\npreset = \"p0\"\n")
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(BIN)
        .arg("--scenarios")
        .arg(dir)
        .args(args)
        .output()
        .expect("run readysim");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Writes `text` as `<stem>.toml` in a fresh folder, replays it by path, and returns stderr
/// after checking exit 2, a single `error:` line and the file name.
fn replay_bad(stem: &str, text: &str) -> String {
    let dir = temp_dir(stem);
    let path = dir.join(format!("{stem}.toml"));
    std::fs::write(&path, text).expect("write");
    let out = run(&dir, &["replay", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.code, 2, "exit code; stderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
    assert_eq!(
        out.stderr.matches("error:").count(),
        1,
        "exactly one error: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{stem}.toml")),
        "names the file: {}",
        out.stderr
    );
    out.stderr
}

fn has(err: &str, words: &[&str]) {
    for w in words {
        assert!(err.contains(w), "`{w}` missing from: {err}");
    }
}

#[test]
fn syntax_error() {
    let e = replay_bad("syntax", &(head("syntax") + "[run]\nhorizon_ms = = 5\n"));
    has(
        &e,
        &["syntax.toml:8:14", "field `run.horizon_ms`", "expected"],
    );
}

#[test]
fn unterminated_string() {
    let e = replay_bad(
        "unterminated",
        "format = 1\nname = \"unterminated\nsummary = \"s\"\n",
    );
    has(&e, &["unterminated.toml:2:", "field `name`"]);
}

#[test]
fn unknown_field_in_table_suggests_nearest() {
    let e = replay_bad("unknown", &(head("unknown") + "[run]\nhorizn_ms = 5\n"));
    has(
        &e,
        &[
            "unknown.toml:8:1",
            "field `run.horizn_ms`",
            "did you mean `horizon_ms`?",
            "`max_steps`",
        ],
    );
}

#[test]
fn unknown_top_level_field_suggests_nearest() {
    let text = "format = 1\nname = \"top\"\nsumary = \"s\"\n[policy]\npreset = \"p0\"\n";
    let e = replay_bad("top", text);
    has(
        &e,
        &["top.toml:3:1", "field `sumary`", "did you mean `summary`?"],
    );
}

#[test]
fn unknown_table_suggests_nearest() {
    let e = replay_bad("table", &(head("table") + "[redis.sever]\nping_ms = 1\n"));
    has(
        &e,
        &["table.toml:7:", "redis.sever", "did you mean `server`?"],
    );
}

#[test]
fn wrong_type() {
    let e = replay_bad(
        "wrongtype",
        &(head("wrongtype") + "[run]\nhorizon_ms = \"big\"\n"),
    );
    has(
        &e,
        &[
            "wrongtype.toml:8:14",
            "field `run.horizon_ms`",
            "found string \"big\"",
            "from 1 to 86400000",
        ],
    );
}

#[test]
fn wrong_type_bool() {
    let e = replay_bad(
        "wrongbool",
        &(head("wrongbool") + "[environment]\ncloud_run = \"yes\"\n"),
    );
    has(
        &e,
        &[
            "wrongbool.toml:8:13",
            "field `environment.cloud_run`",
            "true or false",
        ],
    );
}

#[test]
fn float_instead_of_integer() {
    let e = replay_bad("float", &(head("float") + "[run]\nhorizon_ms = 1e15\n"));
    has(
        &e,
        &[
            "float.toml:8:14",
            "field `run.horizon_ms`",
            "floating point",
        ],
    );
}

#[test]
fn missing_required_top_level_field() {
    let e = replay_bad(
        "nosummary",
        "format = 1\nname = \"nosummary\"\n\n[policy]\npreset = \"p0\"\n",
    );
    has(
        &e,
        &[
            "nosummary.toml:1:1",
            "field `summary`",
            "required field `summary` is missing",
        ],
    );
}

#[test]
fn missing_required_field_in_table() {
    let text = "format = 1\nname = \"nopreset\"\nsummary = \"s\"\n[policy]\ngrace = \"async\"\n";
    let e = replay_bad("nopreset", text);
    has(
        &e,
        &[
            "nopreset.toml:4:1",
            "field `policy.preset`",
            "missing from [policy]",
        ],
    );
}

#[test]
fn missing_policy_table() {
    let e = replay_bad(
        "nopolicy",
        "format = 1\nname = \"nopolicy\"\nsummary = \"s\"\n",
    );
    has(&e, &["nopolicy.toml:1:1", "field `policy`", "required"]);
}

#[test]
fn missing_required_field_in_array_of_tables() {
    let text = head("noat") + "[[clients]]\nat_ms = 1\n\n[[clients]]\nmessages = 3\n";
    let e = replay_bad("noat", &text);
    has(
        &e,
        &[
            "noat.toml:10:1",
            "field `clients[1].at_ms`",
            "missing from [clients[1]]",
        ],
    );
}

#[test]
fn name_differs_from_stem() {
    let e = replay_bad("stem", &head("other"));
    has(
        &e,
        &[
            "stem.toml:2:1",
            "field `name`",
            "`other` differs from the file stem `stem`",
        ],
    );
}

#[test]
fn two_files_with_one_name() {
    let dir = temp_dir("dup");
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        std::fs::write(dir.join(sub).join("dup.toml"), head("dup")).expect("write");
    }
    let out = run(&dir, &["replay", "dup"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    has(
        &out.stderr,
        &[
            "`dup` is used by 2 files",
            "a/dup.toml",
            "b/dup.toml",
            "unique",
        ],
    );
    // The default command reports it too, and exits 2.
    let out = run(&dir, &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    has(&out.stdout, &["duplicate name"]);
}

#[test]
fn unknown_preset_suggests_nearest() {
    let text = head("preset").replace("\"p0\"", "\"refrence\"");
    let e = replay_bad("preset", &text);
    has(
        &e,
        &[
            "preset.toml:6:10",
            "field `policy.preset`",
            "did you mean `reference`?",
            "`p0`, `p1`, `p2`, `p4`",
        ],
    );
}

#[test]
fn unknown_knob_value_suggests_nearest() {
    let e = replay_bad("knob", &(head("knob") + "grace = \"asinc\"\n"));
    has(
        &e,
        &[
            "knob.toml:7:9",
            "field `policy.grace`",
            "did you mean `async`?",
            "`none`, `blocking`, `async`",
        ],
    );
}

#[test]
fn unknown_expect_value_suggests_nearest() {
    let e = replay_bad("exp", &(head("exp") + "[expect]\nstartup = \"faild\"\n"));
    has(
        &e,
        &[
            "exp.toml:8:11",
            "field `expect.startup`",
            "did you mean `failed`?",
            "`ready`, `failed`",
        ],
    );
}

#[test]
fn negative_number() {
    let e = replay_bad(
        "negative",
        &(head("negative") + "[[clients]]\nat_ms = 5\nmessages = -1\n"),
    );
    has(
        &e,
        &[
            "negative.toml:9:12",
            "field `clients[0].messages`",
            "`-1` is negative",
            "from 0 to 10000",
        ],
    );
}

#[test]
fn negative_time() {
    let e = replay_bad(
        "negtime",
        &(head("negtime") + "[redis.server]\nouttages = 1\nping_ms = -3\n"),
    );
    // The first error in the file wins: the typo comes before the negative number.
    has(&e, &["negtime.toml:8:1", "did you mean `outages`?"]);
    let e = replay_bad(
        "negtime2",
        &(head("negtime2") + "[redis.server]\nping_ms = -3\n"),
    );
    has(
        &e,
        &[
            "negtime2.toml:8:11",
            "field `redis.server.ping_ms`",
            "negative",
            "milliseconds from 0 to",
        ],
    );
}

#[test]
fn absurd_horizon() {
    let e = replay_bad(
        "horizon",
        &(head("horizon") + "[run]\nhorizon_ms = 1000000000000000\n"),
    );
    has(
        &e,
        &[
            "horizon.toml:8:1",
            "field `run.horizon_ms`",
            "1000000000000000 ms",
            "1 to 86400000",
        ],
    );
}

#[test]
fn integer_beyond_u64() {
    let e = replay_bad(
        "beyond",
        &(head("beyond") + "[run]\nhorizon_ms = 99999999999999999999\n"),
    );
    has(
        &e,
        &[
            "beyond.toml:8:14",
            "field `run.horizon_ms`",
            "99999999999999999999",
            "1 to 86400000",
        ],
    );
}

#[test]
fn absurd_time() {
    let e = replay_bad(
        "time",
        &(head("time") + "[startup]\ndatabase_ms = 1000000000000000\n"),
    );
    has(
        &e,
        &[
            "time.toml:8:1",
            "field `startup.database_ms`",
            "too large",
            "0 to 1000000000000",
        ],
    );
}

#[test]
fn absurd_messages() {
    let e = replay_bad(
        "messages",
        &(head("messages") + "[[clients]]\nat_ms = 5\nmessages = 1000000000\n"),
    );
    has(
        &e,
        &[
            "messages.toml:9:1",
            "field `clients[0].messages`",
            "1000000000 messages",
            "at most 10000",
        ],
    );
}

#[test]
fn messages_beyond_u32() {
    let e = replay_bad(
        "messages32",
        &(head("messages32") + "[[clients]]\nat_ms = 5\nmessages = 10000000000\n"),
    );
    has(
        &e,
        &[
            "messages32.toml:9:12",
            "field `clients[0].messages`",
            "too large",
            "0 to 10000",
        ],
    );
}

#[test]
fn too_many_clients() {
    let mut text = head("clients");
    for _ in 0..10_001 {
        text.push_str("[[clients]]\nat_ms = 0\n");
    }
    let e = replay_bad("clients", &text);
    has(
        &e,
        &[
            "clients.toml:7:3",
            "field `clients`",
            "10001 clients",
            "at most 10000",
        ],
    );
}

#[test]
fn too_much_client_work() {
    let mut text = head("work");
    for _ in 0..100 {
        text.push_str("[[clients]]\nat_ms = 0\nmessages = 10000\n");
    }
    let e = replay_bad("work", &text);
    has(
        &e,
        &[
            "field `clients`",
            "1000000 units of work",
            "at most 200000",
            "fewer clients, messages or retries",
        ],
    );
}

#[test]
fn guarded_retries_count_the_whole_validation() {
    // p8's guard (degrade) runs the whole validation: 5+4+3+4+3+3 = 22 probes per attempt.
    let mut text = head("guarded").replace("\"p0\"", "\"p8\"");
    for _ in 0..10 {
        text.push_str("[[clients]]\nat_ms = 0\nretries = 1000\n");
    }
    let e = replay_bad("guarded", &text);
    has(&e, &["220220 units of work", "x 22 guard probes"]);
    // Without a guard the same clients cost nothing but their messages.
    let dir = temp_dir("unguarded");
    let path = dir.join("unguarded.toml");
    let unguarded = text
        .replace("guarded", "unguarded")
        .replace("preset = \"p8\"", "preset = \"p8\"\nguard = \"none\"");
    std::fs::write(&path, unguarded).expect("write");
    let out = run(&dir, &["replay", path.to_str().expect("utf-8")]);
    assert_ne!(out.code, 2, "{}", out.stderr);
}

#[test]
fn too_many_decisions() {
    let list = vec!["1"; 100_001].join(",");
    let e = replay_bad(
        "decisions",
        &(head("decisions") + &format!("[run]\ndecisions = [{list}]\n")),
    );
    has(
        &e,
        &[
            "decisions.toml:8:1",
            "field `run.decisions`",
            "100001 decisions",
            "at most 100000",
        ],
    );
}

#[test]
fn ten_million_decisions_is_a_file_too_large() {
    let list = vec!["0"; 10_000_000].join(",");
    let e = replay_bad(
        "huge",
        &(head("huge") + &format!("[run]\ndecisions = [{list}]\n")),
    );
    has(&e, &["huge.toml", "bytes; at most 4194304 are allowed"]);
}

#[test]
fn decision_beyond_u32() {
    let e = replay_bad(
        "draw",
        &(head("draw") + "[run]\ndecisions = [0, 4294967296]\n"),
    );
    has(
        &e,
        &["draw.toml:8:17", "field `run.decisions[1]`", "too large"],
    );
}

#[test]
fn outage_ends_before_it_starts() {
    let e = replay_bad(
        "outage",
        &(head("outage") + "[redis.server]\noutages = [[1000, 2000], [5000, 4000]]\n"),
    );
    has(
        &e,
        &[
            "outage.toml:8:26",
            "field `redis.server.outages[1]`",
            "outage 2 ends (4000) before or when it starts (5000)",
            "start < end",
        ],
    );
}

#[test]
fn overlapping_outages() {
    let e = replay_bad(
        "overlap",
        &(head("overlap") + "[redis.server]\noutages = [[3000, 5000], [1000, 4000]]\n"),
    );
    has(
        &e,
        &[
            "overlap.toml:8:26",
            "field `redis.server.outages[1]`",
            "[1000, 4000] and [3000, 5000] overlap",
            "disjoint",
        ],
    );
}

#[test]
fn too_many_outages() {
    let list: Vec<String> = (0..1001)
        .map(|i| format!("[{}, {}]", 2 * i, 2 * i + 1))
        .collect();
    let e = replay_bad(
        "windows",
        &(head("windows") + &format!("[redis.server]\noutages = [{}]\n", list.join(", "))),
    );
    has(
        &e,
        &[
            "field `redis.server.outages`",
            "1001 outages",
            "at most 1000",
        ],
    );
}

#[test]
fn wrong_group_timeouts_length() {
    let e = replay_bad("groups", &(head("groups") + "group_timeouts_ms = [1, 2]\n"));
    has(
        &e,
        &[
            "groups.toml:7:21",
            "field `policy.group_timeouts_ms`",
            "exactly 3 values",
        ],
    );
}

#[test]
fn unknown_format() {
    let e = replay_bad(
        "format2",
        &head("format2").replace("format = 1", "format = 2"),
    );
    has(&e, &["format2.toml:1:1", "field `format`", "only 1 exists"]);
}

#[test]
fn not_utf8() {
    let dir = temp_dir("bytes");
    let path = dir.join("bytes.toml");
    std::fs::write(&path, b"format = 1\nname = \"\xff\"\n").expect("write");
    let out = run(&dir, &["replay", path.to_str().expect("utf-8")]);
    assert_eq!(out.code, 2);
    has(&out.stderr, &["bytes.toml", "not UTF-8"]);
}

#[test]
fn empty_file() {
    let e = replay_bad("empty", "");
    has(&e, &["empty.toml:1:1", "field `format`", "required"]);
}

#[test]
fn unknown_scenario_name_suggests_nearest() {
    let dir = temp_dir("names");
    for n in ["incident-2025-09-09", "flapping-redis"] {
        std::fs::write(dir.join(format!("{n}.toml")), head(n)).expect("write");
    }
    let out = run(&dir, &["replay", "incidnt-2025-09-09"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    has(
        &out.stderr,
        &[
            "no scenario named `incidnt-2025-09-09`",
            "did you mean incident-2025-09-09?",
        ],
    );
    let out = run(&dir, &["replay", "flaping"]);
    assert_eq!(out.code, 2);
    has(&out.stderr, &["did you mean flapping-redis?"]);
}

#[test]
fn json_reports_errors_as_one_object() {
    let dir = temp_dir("json");
    let path = dir.join("jsonerr.toml");
    std::fs::write(&path, head("jsonerr") + "[run]\nhorizn_ms = 5\n").expect("write");
    let out = run(&dir, &["replay", path.to_str().expect("utf-8"), "--json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    assert_eq!(v["line"], 8);
    assert_eq!(v["column"], 1);
    assert_eq!(v["field"], "run.horizn_ms");
    assert!(v["file"].as_str().expect("file").ends_with("jsonerr.toml"));
    assert!(v["error"]
        .as_str()
        .expect("error")
        .contains("did you mean `horizon_ms`?"));

    // An unknown name and a bad argument are JSON too.
    let out = run(&dir, &["--json", "replay", "nope"]);
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    assert!(v["error"].as_str().expect("error").contains("`nope`"));
    assert!(v["line"].is_null());
    let out = run(&dir, &["--json", "replay"]);
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    assert!(v["error"].as_str().expect("error").contains("<NAME>"));
}

#[test]
fn client_fields_of_the_accept_path_are_checked() {
    let e = replay_bad(
        "token",
        &(head("token") + "[[clients]]\nat_ms = 5\ntoken = \"expired\"\n"),
    );
    has(&e, &["field `clients[0].token`", "`valid` or `invalid`"]);
    let e = replay_bad(
        "count",
        &(head("count") + "[[clients]]\nat_ms = 5\ncount = 0\n"),
    );
    has(&e, &["field `clients[0].count`", "too small", "1 to 10000"]);
    let e = replay_bad(
        "storm",
        &(head("storm") + "[[clients]]\nat_ms = 5\ncount = 5000\nreconnects = 2\n"),
    );
    has(
        &e,
        &[
            "field `clients`",
            "15000 connection attempts",
            "at most 10000",
        ],
    );
    let long = "x".repeat(300);
    let e = replay_bad(
        "longid",
        &(head("longid") + &format!("[[clients]]\nat_ms = 5\nuser_id = \"{long}\"\n")),
    );
    has(
        &e,
        &["field `clients[0].user_id`", "300 bytes", "at most 256"],
    );
}

#[test]
fn expectations_count_client_attempts() {
    let body = "[[clients]]\nat_ms = 5\nreconnects = 2\n[expect]\nclients = []\n";
    let e = replay_bad("attempts", &(head("attempts") + body));
    has(
        &e,
        &["field `expect.clients`", "1 to 3 connection attempts"],
    );
    let body = "[[clients]]\nat_ms = 5\n[expect]\nclient_reasons = [\"keepalives\"]\n";
    let e = replay_bad("reasons", &(head("reasons") + body));
    has(
        &e,
        &[
            "field `expect.client_reasons`",
            "did you mean `keepalive`?",
            "`none`",
        ],
    );
}

#[test]
fn auth_outages_are_windows_like_redis_outages() {
    let e = replay_bad(
        "authout",
        &(head("authout") + "[auth]\noutages = [[10, 5]]\n"),
    );
    has(&e, &["field `auth.outages[0]`", "start < end"]);
}

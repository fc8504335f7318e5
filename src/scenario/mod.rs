//! The scenario file: load (serde + toml, unknown fields rejected), validate ranges and limits,
//! locate every error by file, line, column and field, find files by name, write atomically.

mod types;

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use types::*;

use crate::oracle::Violation;

/// Limits on what a scenario may ask for (documented in the README).
pub mod limits {
    /// The longest horizon: one virtual day.
    pub const MAX_HORIZON_MS: u64 = 86_400_000;
    /// Any other time value.
    pub const MAX_TIME_MS: u64 = 1_000_000_000_000;
    /// Clients per scenario.
    pub const MAX_CLIENTS: usize = 10_000;
    /// Messages per client.
    pub const MAX_MESSAGES: u32 = 10_000;
    /// Retries per client.
    pub const MAX_CLIENT_RETRIES: u32 = 1_000;
    /// Entries of `run.decisions`.
    pub const MAX_DECISIONS: usize = 100_000;
    /// `run.max_steps` (the default budget is `model::world::DEFAULT_MAX_STEPS`). A step is one
    /// task poll; 20 million take a few seconds in a release build.
    pub const MAX_STEPS: u64 = 20_000_000;
    /// Work the clients may cause without the clock moving, summed over `[[clients]]`:
    /// `messages + (1 + retries) x (1 + R)`, where R is `policy.redis_retries` (10 when not
    /// set, the largest any preset uses): each connection attempt may run one guard check of up
    /// to R + 1 probes. Zero-length delays let this work happen inside one step, so the step
    /// budget cannot bound it; this limit does.
    pub const MAX_CLIENT_WORK: u64 = 200_000;
    /// R assumed by `MAX_CLIENT_WORK` when `policy.redis_retries` is not set.
    pub const PRESET_MAX_REDIS_RETRIES: u32 = 10;
    /// Retries of the redis check.
    pub const MAX_RETRIES: u32 = 10_000;
    /// Outages and ping spikes, each.
    pub const MAX_WINDOWS: usize = 1_000;
    /// Size of a scenario file.
    pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
}

/// A scenario file that cannot be used, located as precisely as the input allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `<input>`).
    pub file: PathBuf,
    /// 1-based line, 0 when the file as a whole is at fault.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted path of the field at fault (`redis.server.outages`), or empty.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and validates a scenario file; its name must equal the file stem.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let whole = |message: String| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message,
    };
    let meta = fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    if meta.len() > limits::MAX_FILE_BYTES {
        return Err(whole(format!(
            "the file has {} bytes; at most {} are allowed",
            meta.len(),
            limits::MAX_FILE_BYTES
        )));
    }
    let bytes = fs::read(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    let src = String::from_utf8(bytes).map_err(|_| whole("the file is not UTF-8".into()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    parse(&src, path, Some(stem))
}

/// Parses and validates scenario text; `stem`, when given, must equal `name`.
pub fn parse(src: &str, file: &Path, stem: Option<&str>) -> Result<Scenario, ScenarioError> {
    if src.len() as u64 > limits::MAX_FILE_BYTES {
        return Err(ScenarioError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!(
                "the file has {} bytes; at most {} are allowed",
                src.len(),
                limits::MAX_FILE_BYTES
            ),
        });
    }
    let sc: Scenario = toml::from_str(src).map_err(|e| toml_error(src, file, &e))?;
    validate(&sc, src, file, stem)?;
    Ok(sc)
}

/// Turns a toml/serde error into a located error naming the field at fault.
fn toml_error(src: &str, file: &Path, e: &toml::de::Error) -> ScenarioError {
    let span = e.span();
    let offset = span.as_ref().map_or(0, |s| s.start);
    let index = Index::build(src);
    let mut field = match &index {
        Some(ix) => ix.field_at(offset),
        None => None,
    }
    .unwrap_or_else(|| field_at_line(src, line_col(src, offset).0));
    let raw = e.message().trim().replace('\n', " ");
    let (mut line, mut column) = line_col(src, offset);
    // A missing field: serde reports the span of the table that lacks it. Name the field in
    // full, and point at the table's header (or the file start for the top level).
    if let Some(missing) = raw
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        let table = index
            .as_ref()
            .and_then(|ix| ix.table_at(offset))
            .unwrap_or_default();
        field = join(&table, missing);
        if table.is_empty() {
            (line, column) = (1, 1);
        }
        let message = format!(
            "the required field `{missing}` is missing{}",
            if table.is_empty() {
                " at the top of the file".to_string()
            } else {
                format!(" from [{table}]")
            }
        );
        return ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            field,
            message,
        };
    }
    let message = tidy_toml_message(&raw, &field);
    ScenarioError {
        file: file.to_path_buf(),
        line,
        column,
        field,
        message,
    }
}

fn join(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// Where every key, table and array element of a document is written: the parsed document's
/// spans flattened to dotted paths (`redis.server.outages[1]`, `clients[0].at_ms`).
struct Index {
    entries: Vec<Entry>,
}

struct Entry {
    path: String,
    key: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
    table: bool,
}

impl Index {
    /// None when the text is not TOML at all.
    fn build(src: &str) -> Option<Index> {
        let doc = toml::de::DeTable::parse(src).ok()?;
        let mut entries = Vec::new();
        Self::walk_table(doc.get_ref(), "", &mut entries);
        Some(Index { entries })
    }

    fn walk_table(t: &toml::de::DeTable<'_>, prefix: &str, out: &mut Vec<Entry>) {
        for (k, v) in t.iter() {
            let path = join(prefix, k.get_ref());
            out.push(Entry {
                path: path.clone(),
                key: k.span(),
                value: v.span(),
                table: v.get_ref().is_table(),
            });
            Self::walk_value(v.get_ref(), &path, out);
        }
    }

    fn walk_value(v: &toml::de::DeValue<'_>, path: &str, out: &mut Vec<Entry>) {
        match v {
            toml::de::DeValue::Table(t) => Self::walk_table(t, path, out),
            toml::de::DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    out.push(Entry {
                        path: p.clone(),
                        key: item.span(),
                        value: item.span(),
                        table: item.get_ref().is_table(),
                    });
                    Self::walk_value(item.get_ref(), &p, out);
                }
            }
            _ => {}
        }
    }

    /// The innermost key whose key or value covers `offset`.
    fn field_at(&self, offset: usize) -> Option<String> {
        let covers =
            |r: &std::ops::Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
        self.entries
            .iter()
            .filter(|e| covers(&e.key) || covers(&e.value))
            .max_by_key(|e| e.path.len())
            .map(|e| e.path.clone())
    }

    /// The innermost table whose value starts at or covers `offset` ("" for the top level).
    fn table_at(&self, offset: usize) -> Option<String> {
        self.entries
            .iter()
            .filter(|e| e.table && e.value.start <= offset && offset <= e.value.end)
            .max_by_key(|e| e.path.len())
            .map(|e| e.path.clone())
    }

    /// The start of `path`'s key, if it is written.
    fn position(&self, path: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.key.start)
    }
}

fn tidy_toml_message(m: &str, field: &str) -> String {
    let m = m.trim().replace('\n', " ");
    let expected_words = |e: &str| -> String {
        match e.trim() {
            "u64" | "u32" | "i64" | "usize" => allowed(field),
            "a sequence" => "an array".into(),
            "a boolean" => "true or false".into(),
            "a string" => "a string in double quotes".into(),
            "a map" | "struct" => "a table".into(),
            other => other.to_string(),
        }
    };
    if let Some(rest) = m.strip_prefix("invalid value: integer `") {
        if let Some((n, expected)) = rest.split_once("`, expected ") {
            let why = if n.starts_with('-') {
                "is negative"
            } else {
                "is too large"
            };
            return format!("`{n}` {why}; expected {}", expected_words(expected));
        }
    }
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        if let Some((got, expected)) = rest.rsplit_once(", expected ") {
            let got = got.replace(" as i128", "").replace(" as u128", "");
            return format!("found {got}; expected {}", expected_words(expected));
        }
    }
    // serde lists the allowed names; add the nearest one as a hint.
    for (prefix, kind) in [("unknown field `", "field"), ("unknown variant `", "value")] {
        if let Some((name, expected)) = m
            .strip_prefix(prefix)
            .and_then(|r| r.split_once("`, expected "))
        {
            let options = expected
                .split([',', ' ', '`'])
                .filter(|s| !s.is_empty() && *s != "one" && *s != "of" && *s != "or");
            let hint = did_you_mean(name, options);
            return format!("unknown {kind} `{name}`{hint}; expected {expected}");
        }
    }
    m
}

/// The candidate closest to `word` by edit distance, if it is plausibly a typo of it.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted path of the key assigned on `line` (1-based), from the table headers above it.
fn field_at_line(src: &str, line: usize) -> String {
    let mut table = String::new();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, l) in src.lines().enumerate() {
        let t = l.trim();
        if let Some(h) = t.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
            let h = h.trim().to_string();
            let n = counts.entry(h.clone()).or_insert(0);
            table = format!("{h}[{n}]");
            *n += 1;
        } else if let Some(h) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
            table = h.trim().to_string();
        }
        if i + 1 == line {
            let key = t
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string())
                .filter(|k| !k.starts_with('['));
            return match key {
                Some(k) if table.is_empty() => k,
                Some(k) => format!("{table}.{k}"),
                None => table,
            };
        }
    }
    String::new()
}

/// Where `field` (a dotted path such as `clients[0].at_ms`) is written; else its nearest
/// written parent; else the file start.
fn locate(src: &str, field: &str) -> (usize, usize) {
    if let Some(ix) = Index::build(src) {
        let mut f = field;
        loop {
            if let Some(offset) = ix.position(f) {
                return line_col(src, offset);
            }
            match f.rfind(['.', '[']) {
                Some(i) => f = &f[..i],
                None => break,
            }
        }
    }
    (1, 1)
}

/// What a numeric field accepts, in words (used in messages).
pub fn allowed(field: &str) -> String {
    let last = field
        .rsplit('.')
        .next()
        .unwrap_or(field)
        .split('[')
        .next()
        .unwrap_or("");
    let ms = |lo: u64, hi: u64| format!("a whole number of milliseconds from {lo} to {hi}");
    match last {
        "format" => "1 (the only format)".into(),
        "horizon_ms" => ms(1, limits::MAX_HORIZON_MS),
        "max_steps" => format!("a whole number from 1 to {}", limits::MAX_STEPS),
        "messages" => format!("a whole number from 0 to {}", limits::MAX_MESSAGES),
        "retries" => format!("a whole number from 0 to {}", limits::MAX_CLIENT_RETRIES),
        "redis_retries" => format!("a whole number from 0 to {}", limits::MAX_RETRIES),
        "decisions" => format!(
            "an array of at most {} whole numbers from 0 to {}",
            limits::MAX_DECISIONS,
            u32::MAX
        ),
        "outages" => format!(
            "an array of at most {} [start_ms, end_ms] pairs, 0 <= start < end <= {}",
            limits::MAX_WINDOWS,
            limits::MAX_TIME_MS
        ),
        "ping_spikes" => format!(
            "an array of at most {} {{ at_ms = N, extra_ms = N }} tables, N from 0 to {}",
            limits::MAX_WINDOWS,
            limits::MAX_TIME_MS
        ),
        "group_timeouts_ms" => format!(
            "an array of 3 whole numbers of milliseconds from 0 to {}",
            limits::MAX_TIME_MS
        ),
        "health_interval_ms" | "startup_reconnect_ms" => ms(1, limits::MAX_TIME_MS),
        "lost_messages" | "verdict_at_ms" | "elapsed_ms" => "a whole number from 0 up".into(),
        l if l.ends_with("_ms") => ms(0, limits::MAX_TIME_MS),
        _ => "a whole number from 0 up".into(),
    }
}

fn validate(
    sc: &Scenario,
    src: &str,
    file: &Path,
    stem: Option<&str>,
) -> Result<(), ScenarioError> {
    let err = |field: &str, message: String| {
        let (line, column) = locate(src, field);
        Err(ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message,
        })
    };
    if sc.format != 1 {
        return err(
            "format",
            format!("format {} is unknown; only 1 exists", sc.format),
        );
    }
    if sc.name.is_empty()
        || !sc
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return err(
            "name",
            format!(
                "`{}` is not a valid name: use letters, digits, `-`, `_` and `.`",
                sc.name
            ),
        );
    }
    if let Some(stem) = stem {
        if sc.name != stem {
            return err(
                "name",
                format!(
                    "the name `{}` differs from the file stem `{stem}`; they must be equal",
                    sc.name
                ),
            );
        }
    }
    let time = |field: &str, v: u64| {
        if v > limits::MAX_TIME_MS {
            err(
                field,
                format!("{v} ms is too large; expected {}", allowed(field)),
            )
        } else {
            Ok(())
        }
    };
    let s = &sc.startup;
    for (f, v) in [
        ("startup.init_ms", s.init_ms),
        ("startup.dependencies_ms", s.dependencies_ms),
        ("startup.database_ms", s.database_ms),
        ("startup.cache_ms", s.cache_ms),
        ("startup.services_ms", s.services_ms),
        ("startup.websocket_ms", s.websocket_ms),
        ("startup.finalize_ms", s.finalize_ms),
        ("startup.probe_cost_ms", s.probe_cost_ms),
        (
            "services.database_ready_at_ms",
            sc.services.database_ready_at_ms,
        ),
        ("services.auth_ready_at_ms", sc.services.auth_ready_at_ms),
        (
            "services.agent_supervisor_ready_at_ms",
            sc.services.agent_supervisor_ready_at_ms,
        ),
        (
            "services.websocket_bridge_ready_at_ms",
            sc.services.websocket_bridge_ready_at_ms,
        ),
        ("redis.server.up_from_ms", sc.redis.server.up_from_ms),
        ("redis.server.connect_ms", sc.redis.server.connect_ms),
        ("redis.server.refuse_ms", sc.redis.server.refuse_ms),
        ("redis.server.ping_ms", sc.redis.server.ping_ms),
        ("redis.manager.stabilize_ms", sc.redis.manager.stabilize_ms),
        (
            "redis.manager.reconnect_spawn_jitter_ms",
            sc.redis.manager.reconnect_spawn_jitter_ms,
        ),
        (
            "redis.manager.health_spawn_jitter_ms",
            sc.redis.manager.health_spawn_jitter_ms,
        ),
        (
            "redis.manager.ping_timeout_ms",
            sc.redis.manager.ping_timeout_ms,
        ),
        (
            "redis.manager.get_client_ping_timeout_ms",
            sc.redis.manager.get_client_ping_timeout_ms,
        ),
        (
            "redis.manager.health_interval_ms",
            sc.redis.manager.health_interval_ms,
        ),
        ("server.bind_ms", sc.server.bind_ms),
    ] {
        time(f, v)?;
    }
    let p = &sc.policy;
    for (f, v) in [
        ("policy.grace_ms", p.grace_ms),
        ("policy.redis_delay_ms", p.redis_delay_ms),
        (
            "policy.declared_redis_timeout_ms",
            p.declared_redis_timeout_ms,
        ),
        ("policy.deadline_ms", p.deadline_ms),
        ("policy.guard_timeout_ms", p.guard_timeout_ms),
        ("policy.retry_after_ms", p.retry_after_ms),
        ("policy.startup_reconnect_ms", p.startup_reconnect_ms),
    ] {
        if let Some(v) = v {
            time(f, v)?;
        }
    }
    if p.redis_retries.is_some_and(|r| r > limits::MAX_RETRIES) {
        return err(
            "policy.redis_retries",
            format!("at most {} retries are allowed", limits::MAX_RETRIES),
        );
    }
    if let Some(g) = &p.group_timeouts_ms {
        if g.len() != 3 {
            return err(
                "policy.group_timeouts_ms",
                format!("needs exactly 3 values (phases 1, 2, 3); got {}", g.len()),
            );
        }
        for (i, v) in g.iter().enumerate() {
            time(&format!("policy.group_timeouts_ms[{i}]"), *v)?;
        }
    }
    if p.startup_reconnect_ms == Some(0) {
        return err(
            "policy.startup_reconnect_ms",
            "must be at least 1 ms".into(),
        );
    }
    let srv = &sc.redis.server;
    if srv.outages.len() > limits::MAX_WINDOWS {
        return err(
            "redis.server.outages",
            format!(
                "{} outages; at most {} are allowed",
                srv.outages.len(),
                limits::MAX_WINDOWS
            ),
        );
    }
    if srv.ping_spikes.len() > limits::MAX_WINDOWS {
        return err(
            "redis.server.ping_spikes",
            format!(
                "{} ping spikes; at most {} are allowed",
                srv.ping_spikes.len(),
                limits::MAX_WINDOWS
            ),
        );
    }
    for (i, [a, b]) in srv.outages.iter().enumerate() {
        let f = format!("redis.server.outages[{i}]");
        if a >= b {
            return err(
                &f,
                format!(
                    "outage {} ends ({b}) before or when it starts ({a}); \
                     write [start_ms, end_ms] with start < end",
                    i + 1
                ),
            );
        }
        time(&f, *b)?;
    }
    let mut order: Vec<usize> = (0..srv.outages.len()).collect();
    order.sort_by_key(|&i| srv.outages[i]);
    for pair in order.windows(2) {
        let (x, y) = (srv.outages[pair[0]], srv.outages[pair[1]]);
        if y[0] < x[1] {
            let later = pair[0].max(pair[1]);
            return err(
                &format!("redis.server.outages[{later}]"),
                format!(
                    "outages [{}, {}] and [{}, {}] overlap; windows must be disjoint \
                     (merge them into one)",
                    x[0], x[1], y[0], y[1]
                ),
            );
        }
    }
    for (i, s) in srv.ping_spikes.iter().enumerate() {
        time(&format!("redis.server.ping_spikes[{i}].at_ms"), s.at_ms)?;
        time(
            &format!("redis.server.ping_spikes[{i}].extra_ms"),
            s.extra_ms,
        )?;
    }
    if sc.redis.manager.health_interval_ms == 0 {
        return err(
            "redis.manager.health_interval_ms",
            "must be at least 1 ms".into(),
        );
    }
    if sc.clients.len() > limits::MAX_CLIENTS {
        return err(
            "clients",
            format!(
                "{} clients; at most {} are allowed",
                sc.clients.len(),
                limits::MAX_CLIENTS
            ),
        );
    }
    for (i, c) in sc.clients.iter().enumerate() {
        let f = |k: &str| format!("clients[{i}].{k}");
        time(&f("at_ms"), c.at_ms)?;
        time(&f("message_gap_ms"), c.message_gap_ms)?;
        if c.messages > limits::MAX_MESSAGES {
            return err(
                &f("messages"),
                format!(
                    "{} messages; at most {} per client",
                    c.messages,
                    limits::MAX_MESSAGES
                ),
            );
        }
        if c.retries > limits::MAX_CLIENT_RETRIES {
            return err(
                &f("retries"),
                format!(
                    "{} retries; at most {}",
                    c.retries,
                    limits::MAX_CLIENT_RETRIES
                ),
            );
        }
    }
    let probes = 1 + u64::from(p.redis_retries.unwrap_or(limits::PRESET_MAX_REDIS_RETRIES));
    let work: u64 = sc
        .clients
        .iter()
        .map(|c| u64::from(c.messages) + (1 + u64::from(c.retries)) * probes)
        .sum();
    if work > limits::MAX_CLIENT_WORK {
        return err(
            "clients",
            format!(
                "the clients add up to {work} units of work; at most {} are allowed \
                 (per client: messages + (1 + retries) x {probes} guard probes, where {probes} \
                 is 1 + policy.redis_retries); use fewer clients, messages or retries",
                limits::MAX_CLIENT_WORK
            ),
        );
    }
    let r = &sc.run;
    if r.horizon_ms == 0 || r.horizon_ms > limits::MAX_HORIZON_MS {
        return err(
            "run.horizon_ms",
            format!(
                "{} ms; allowed is 1 to {} (one virtual day)",
                r.horizon_ms,
                limits::MAX_HORIZON_MS
            ),
        );
    }
    if r.decisions.len() > limits::MAX_DECISIONS {
        return err(
            "run.decisions",
            format!(
                "{} decisions; at most {} are allowed",
                r.decisions.len(),
                limits::MAX_DECISIONS
            ),
        );
    }
    if r.max_steps.is_some_and(|s| s == 0 || s > limits::MAX_STEPS) {
        return err(
            "run.max_steps",
            format!("allowed is 1 to {}", limits::MAX_STEPS),
        );
    }
    if let Some(e) = &sc.expect {
        const STARTUPS: [&str; 5] = ["ready", "failed", "bypassed", "skipped", "hang"];
        if let Some(s) = &e.startup {
            if !STARTUPS.contains(&s.as_str()) {
                return err("expect.startup", unknown_value(s, &STARTUPS));
            }
        }
        const OUTCOMES: [&str; 7] = [
            "served",
            "closed-1011",
            "closed-1001",
            "rejected-503",
            "handshake-failed",
            "reset",
            "refused",
        ];
        for o in e.clients.iter().flatten() {
            if !OUTCOMES.contains(&o.as_str()) {
                return err("expect.clients", unknown_value(o, &OUTCOMES));
            }
        }
        if e.clients
            .as_ref()
            .is_some_and(|c| c.len() != sc.clients.len())
        {
            return err(
                "expect.clients",
                format!(
                    "lists {} outcomes but the file has {} [[clients]]; give one per client",
                    e.clients.as_ref().map_or(0, Vec::len),
                    sc.clients.len()
                ),
            );
        }
        let names: Vec<&str> = Violation::ALL.iter().map(|v| v.name()).collect();
        for v in e.violations.iter().flatten() {
            if Violation::from_name(v).is_none() {
                return err("expect.violations", unknown_value(v, &names));
            }
        }
        const SERVICES: [&str; 6] = [
            "database",
            "redis",
            "auth",
            "agent_supervisor",
            "websocket_bridge",
            "websocket_integration",
        ];
        for s in e.failed_services.iter().flatten() {
            if !SERVICES.contains(&s.as_str()) {
                return err("expect.failed_services", unknown_value(s, &SERVICES));
            }
        }
    }
    Ok(())
}

fn unknown_value(v: &str, allowed: &[&str]) -> String {
    unknown_name("value", v, allowed)
}

/// ` (did you mean `x`?)` when a candidate is plausibly what `word` was meant to be, else "".
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

/// "unknown KIND `v` (did you mean ...); allowed: a, b, c".
pub fn unknown_name(kind: &str, v: &str, allowed: &[&str]) -> String {
    let hint = did_you_mean(v, allowed.iter().copied());
    format!(
        "unknown {kind} `{v}`{hint}; allowed: {}",
        allowed.join(", ")
    )
}

/// Every `*.toml` under `root`, recursively, in sorted path order.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Why a name or path did not lead to one scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindError {
    /// No file has that name; the nearest names follow.
    Unknown {
        /// What was asked for.
        name: String,
        /// The folder searched.
        root: PathBuf,
        /// The closest names that exist.
        suggestions: Vec<String>,
    },
    /// Two files share one name.
    Duplicate {
        /// The name.
        name: String,
        /// The files.
        files: Vec<PathBuf>,
    },
}

impl fmt::Display for FindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindError::Unknown {
                name,
                root,
                suggestions,
            } => {
                write!(f, "no scenario named `{name}` under {}", root.display())?;
                if !suggestions.is_empty() {
                    write!(f, "; did you mean {}?", suggestions.join(", "))?;
                }
                Ok(())
            }
            FindError::Duplicate { name, files } => {
                let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "the name `{name}` is used by {} files ({}); names must be unique",
                    files.len(),
                    list.join(", ")
                )
            }
        }
    }
}

/// Resolves a scenario name (a file stem under `root`) or a path to a file.
pub fn find(root: &Path, name_or_path: &str) -> Result<PathBuf, FindError> {
    let as_path = Path::new(name_or_path);
    if (name_or_path.ends_with(".toml") || name_or_path.contains('/')) && as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    let files = files_under(root);
    let matches: Vec<PathBuf> = files
        .iter()
        .filter(|p| p.file_stem().and_then(|s| s.to_str()) == Some(name_or_path))
        .cloned()
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one")),
        0 => {
            let mut scored: Vec<(usize, String)> = files
                .iter()
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()))
                .filter_map(|s| {
                    // A typo in the first words of a long name ("incidnet" for
                    // "incident-2025-09-09") is as telling as a typo in a short one.
                    let q = name_or_path.chars().count();
                    let full = edit_distance(name_or_path, s);
                    let head = (q.saturating_sub(1)..=q + 1)
                        .map(|n| s.chars().take(n).collect::<String>())
                        .map(|prefix| edit_distance(name_or_path, &prefix))
                        .min()
                        .unwrap_or(full);
                    let close = full <= (s.chars().count().max(q) / 3).max(2)
                        || head <= (q / 4).max(1)
                        || s.contains(name_or_path);
                    close.then(|| (full.min(head), s.to_string()))
                })
                .collect();
            scored.sort();
            Err(FindError::Unknown {
                name: name_or_path.to_string(),
                root: root.to_path_buf(),
                suggestions: scored.into_iter().take(3).map(|(_, s)| s).collect(),
            })
        }
        _ => Err(FindError::Duplicate {
            name: name_or_path.to_string(),
            files: matches,
        }),
    }
}

/// Names used by more than one file under `root`, with their files.
pub fn duplicate_names(root: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let mut by_name: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for p in files_under(root) {
        if let Some(s) = p.file_stem().and_then(|s| s.to_str()) {
            by_name.entry(s.to_string()).or_default().push(p);
        }
    }
    by_name.into_iter().filter(|(_, v)| v.len() > 1).collect()
}

/// Serialises a scenario, with `header` lines as `#` comments on top.
pub fn to_toml(sc: &Scenario, header: &[String]) -> String {
    let mut out = String::new();
    for h in header {
        out.push_str("# ");
        out.push_str(h);
        out.push('\n');
    }
    out.push_str(&toml::to_string(sc).expect("a scenario always serialises"));
    out
}

/// Writes `text` to `path` through a temporary file and a rename, so the file is either whole
/// or absent. Refuses to overwrite unless `overwrite`.
pub fn write_atomic(path: &Path, text: &str, overwrite: bool) -> std::io::Result<()> {
    if !overwrite && path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists; readysim never overwrites a scenario",
                path.display()
            ),
        ));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("scenario");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if overwrite {
            fs::rename(&tmp, path)
        } else {
            // hard_link fails if the target exists: no window in which another writer's file
            // could be replaced.
            fs::hard_link(&tmp, path).and_then(|_| fs::remove_file(&tmp))
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

//! Where an error is in a file: the parsed document's spans flattened to dotted paths, line
//! and column of a field, and serde's messages tidied into what the field allows.

use std::path::Path;

use super::ScenarioError;

/// The deepest nesting of tables, arrays and dotted keys a scenario needs is 5
/// (`redis.server.ping_spikes[0].at_ms`); beyond [`MAX_DEPTH`] the parser's recursion limit
/// would answer with a message about nothing in the file.
const MAX_DEPTH: usize = 32;

/// What TOML forbids anywhere, found before parsing so that the message names it: control
/// characters (all but tab and line ends, NUL included), and keys or arrays nested deeper than
/// any scenario field could be ([`MAX_DEPTH`]).
pub(super) fn precheck(src: &str, file: &Path) -> Result<(), ScenarioError> {
    let err = |offset: usize, message: String| {
        let (line, column) = line_col(src, offset);
        ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            field: short_field(field_at_line(src, line)),
            message,
        }
    };
    let bytes = src.as_bytes();
    for (i, c) in src.char_indices() {
        let bad = match c {
            '\t' | '\n' => false,
            '\r' => bytes.get(i + 1) != Some(&b'\n'),
            c => c.is_ascii_control(),
        };
        if bad {
            return Err(err(
                i,
                format!(
                    "control character U+{:04X}{} in the file: TOML allows none but tab and line \
                     ends (inside a string, write it as \\u{:04X})",
                    c as u32,
                    if c == '\0' { " (NUL)" } else { "" },
                    c as u32
                ),
            ));
        }
    }
    // Nesting: brackets and braces open a level, a dot in a key (not in a number, a string or
    // a comment) goes one deeper; dots count until the line ends.
    let mut depth = 0usize;
    let mut dots = 0usize;
    let mut quote: Option<&str> = None;
    let mut after_eq = false;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &src[i..];
        if let Some(q) = quote {
            if rest.starts_with(q) {
                i += q.len();
                quote = None;
            } else if q == "\"" && rest.starts_with('\\') {
                i += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
            continue;
        }
        if let Some(q) = ["\"\"\"", "'''", "\"", "'"]
            .into_iter()
            .find(|q| rest.starts_with(q))
        {
            quote = Some(q);
            i += q.len();
            continue;
        }
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' => {
                dots = 0;
                after_eq = false;
            }
            b'=' => after_eq = true,
            b',' if depth > 0 => after_eq = false,
            b'{' => {
                depth += 1;
                after_eq = false;
            }
            b'[' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'.' if !after_eq => dots += 1,
            _ => {}
        }
        if depth + dots > MAX_DEPTH {
            return Err(err(
                i,
                format!(
                    "nested more than {MAX_DEPTH} levels deep (tables, arrays, dotted keys): \
                     no scenario field is deeper than 5"
                ),
            ));
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    Ok(())
}

/// A field path cut to its first 100 characters when longer (a 100k-deep key is named by its
/// start, not printed whole).
fn short_field(field: String) -> String {
    const KEEP: usize = 100;
    let n = field.chars().count();
    if n <= KEEP + 20 {
        return field;
    }
    let head: String = field.chars().take(KEEP).collect();
    format!("{head}... ({n} characters)")
}

/// Whether `text` starts with a TOML date or time (`1979-05-27`, `07:32:00`).
fn looks_like_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        r.into_iter()
            .all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    (digits(0..4) && b.get(4) == Some(&b'-')) || (digits(0..2) && b.get(2) == Some(&b':'))
}

/// Turns a toml/serde error into a located error naming the field at fault.
pub(super) fn toml_error(src: &str, file: &Path, e: &toml::de::Error) -> ScenarioError {
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
    let mut message = tidy_toml_message(&raw, &field);
    let value = &src[offset.min(src.len())..];
    if raw.starts_with("invalid type: map") && looks_like_datetime(value) {
        // toml hands a date or time to serde as a private one-key table.
        message = message.replacen("found map", "found a date/time", 1);
    }
    if raw.starts_with("string values must be quoted") {
        // Also what toml says for `key =` with nothing after it.
        let line_rest = value.split('\n').next().unwrap_or("").trim();
        if line_rest.is_empty() || line_rest.starts_with('#') {
            message = format!(
                "no value after `=`; expected {}",
                super::fields::allowed(&field)
            );
        }
    }
    ScenarioError {
        file: file.to_path_buf(),
        line,
        column,
        field: short_field(field),
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
            "u64" | "u32" | "i64" | "usize" => super::fields::allowed(field),
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
    if let Some(n) = m
        .strip_prefix("invalid length ")
        .and_then(|r| r.strip_suffix(", expected an array of length 3"))
    {
        return format!("needs exactly 3 values (phases 1, 2, 3); got {n}");
    }
    if let Some((n, what)) = m
        .strip_prefix("invalid length ")
        .and_then(|r| r.split_once(", expected "))
    {
        if what.contains("pair") {
            return format!(
                "has {n} element(s); expected {what} of whole numbers (ms), e.g. [1000, 2000]"
            );
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
            let hint = crate::suggest::did_you_mean(name, options);
            return format!("unknown {kind} `{name}`{hint}; expected {expected}");
        }
    }
    m
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
pub(super) fn locate(src: &str, field: &str) -> (usize, usize) {
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

//! Where an error is in a file: the parsed document's spans flattened to dotted paths, line
//! and column of a field, and serde's messages tidied into what the field allows.

use std::path::Path;

use super::ScenarioError;

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

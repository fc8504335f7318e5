//! Rewriting one table of a scenario file (`[expect]` on bless, `[classification]` on
//! `classify --write`) without touching anything else: comments, key order, the table's own
//! style (a `[expect]` section, an inline `expect = { .. }`, dotted `expect.x = ..` keys),
//! multi-line strings, line endings; and writing the result back so the file's mode, symlink
//! target and hard links survive, refusing a file that changed since it was read.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{DocumentMut, Item, Table};

/// Why a rewrite was refused.
#[derive(Debug)]
pub enum EditError {
    /// The text is not TOML (it loaded before, so someone changed it).
    Parse(String),
    /// The file changed between the read and the write.
    Changed(PathBuf),
    /// The file is read-only.
    ReadOnly(PathBuf),
    /// Reading or writing failed.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Parse(e) => write!(f, "cannot edit: {e}"),
            EditError::Changed(p) => write!(
                f,
                "{}: the file changed while readysim ran; nothing was written (run the command again)",
                p.display()
            ),
            EditError::ReadOnly(p) => write!(
                f,
                "{}: the file is read-only; readysim does not rewrite it",
                p.display()
            ),
            EditError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for EditError {}

/// `value` as a TOML table (its fields as keys, in declaration order).
fn table_of<T: Serialize>(value: &T) -> Result<Table, EditError> {
    let doc = toml_edit::ser::to_document(value).map_err(|e| EditError::Parse(e.to_string()))?;
    Ok(doc.as_table().clone())
}

/// Replaces the contents of table `name` in `text` with `value`'s fields. Keys kept keep
/// their place, their comments and the comment after their value; keys no longer present go;
/// new keys come last. A missing table is appended as a `[name]` section.
pub fn set_table<T: Serialize>(text: &str, name: &str, value: &T) -> Result<String, EditError> {
    let crlf = text.contains("\r\n");
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Parse(e.to_string()))?;
    let new = table_of(value)?;
    match doc.get_mut(name) {
        Some(Item::Table(t)) => merge(t, &new),
        Some(Item::Value(toml_edit::Value::InlineTable(t))) => {
            let mut inline = new.clone().into_inline_table();
            // Keep the inline table's own spacing and trailing comment.
            *inline.decor_mut() = t.decor().clone();
            *t = inline;
        }
        Some(other) => *other = Item::Table(new),
        None => {
            let mut t = new;
            t.set_implicit(false);
            doc.insert(name, Item::Table(t));
        }
    }
    let mut out = doc.to_string();
    if crlf {
        out = out.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    Ok(out)
}

/// `old` takes `new`'s keys and values, keeping the decoration of what it already had.
fn merge(old: &mut Table, new: &Table) {
    let gone: Vec<String> = old
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k))
        .collect();
    for k in gone {
        old.remove(&k);
    }
    for (k, v) in new.iter() {
        match (old.get_mut(k), v) {
            (Some(Item::Value(ov)), Item::Value(nv)) => {
                let decor = ov.decor().clone();
                *ov = nv.clone();
                *ov.decor_mut() = decor;
            }
            (Some(o), _) => *o = v.clone(),
            (None, _) => {
                old.insert(k, v.clone());
            }
        }
    }
    // A dotted table (`expect.startup = ..`) stays dotted; a section stays a section.
    if old.is_dotted() {
        for (_, v) in old.iter_mut() {
            if let Item::Table(t) = v {
                t.set_dotted(true);
            }
        }
    }
}

/// `text` with the first line of its leading comment block that starts with `# {prefix}`
/// replaced by `# {line}` (the header search writes, kept true when a file is re-classified);
/// unchanged when there is no such line.
pub fn replace_header_line(text: &str, prefix: &str, line: &str) -> String {
    let mut out = String::with_capacity(text.len() + line.len());
    let mut done = false;
    let mut in_header = true;
    for l in text.split_inclusive('\n') {
        in_header &= l.starts_with('#');
        if in_header && !done && l.starts_with(&format!("# {prefix}")) {
            out.push_str("# ");
            out.push_str(line);
            out.push_str(if l.ends_with("\r\n") { "\r\n" } else { "\n" });
            done = true;
        } else {
            out.push_str(l);
        }
    }
    out
}

/// Writes `new` over `path`, which was read as `original`: refused if the file now differs
/// from `original` or is read-only; the write goes to the symlink's target, keeps the mode,
/// and for a file with other hard links rewrites it in place (a rename would break them).
pub fn write_back(path: &Path, original: &str, new: &str) -> Result<(), EditError> {
    let io = |e| EditError::Io(path.to_path_buf(), e);
    let target = fs::canonicalize(path).map_err(io)?;
    let now = fs::read(&target).map_err(io)?;
    if now != original.as_bytes() {
        return Err(EditError::Changed(path.to_path_buf()));
    }
    let meta = fs::metadata(&target).map_err(io)?;
    if meta.permissions().readonly() {
        return Err(EditError::ReadOnly(path.to_path_buf()));
    }
    if links(&meta) > 1 {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&target)
            .map_err(io)?;
        f.write_all(new.as_bytes()).map_err(io)?;
        return f.sync_all().map_err(io);
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("scenario");
    super::files::remove_stale_temps(dir);
    let tmp = dir.join(super::files::temp_name(name));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(new.as_bytes())?;
        f.set_permissions(meta.permissions())?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(unix)]
fn links(m: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(m)
}

#[cfg(not(unix))]
fn links(_: &fs::Metadata) -> u64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct E {
        startup: String,
        violations: Vec<String>,
    }

    fn e() -> E {
        E {
            startup: "ready".into(),
            violations: vec!["false-ready".into()],
        }
    }

    #[test]
    fn a_section_keeps_its_comments_and_the_rest_of_the_file() {
        let text = "# top\nname = \"x\"\nnotes = \"\"\"\nhas [expect] and \"\"\\\" inside\"\"\"\n\n[expect]\n# why\nstartup = \"failed\"  # was\nold = 1\n\n# trailing\n";
        let out = set_table(text, "expect", &e()).unwrap();
        assert!(out.starts_with("# top\nname = \"x\"\nnotes = \"\"\"\nhas [expect]"));
        assert!(out.contains("# why\nstartup = \"ready\"  # was\n"), "{out}");
        assert!(!out.contains("old"));
        assert!(out.contains("violations = [\"false-ready\"]"));
        assert!(out.contains("# trailing"));
        let back: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(back["expect"]["startup"].as_str(), Some("ready"));
    }

    #[test]
    fn inline_dotted_and_quoted_tables_stay_valid_and_keep_their_style() {
        for text in [
            "name = \"x\"\nexpect = { startup = \"failed\" }\n",
            "name = \"x\"\nexpect.startup = \"failed\"\n",
            "name = \"x\"\n[\"expect\"]\nstartup = \"failed\"\n",
            "name = \"x\"\n",
        ] {
            let out = set_table(text, "expect", &e()).unwrap();
            let back: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
            assert_eq!(back["expect"]["startup"].as_str(), Some("ready"), "{out}");
            assert_eq!(back["name"].as_str(), Some("x"));
        }
        let inline = set_table("expect = { startup = \"failed\" }\n", "expect", &e()).unwrap();
        assert!(inline.starts_with("expect = {"), "{inline}");
        let dotted = set_table("expect.startup = \"failed\"\n", "expect", &e()).unwrap();
        assert!(dotted.contains("expect.startup = \"ready\""), "{dotted}");
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let out = set_table(
            "name = \"x\"\r\n[expect]\r\nstartup = \"failed\"\r\n",
            "expect",
            &e(),
        )
        .unwrap();
        assert!(out.contains("\r\n"));
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
    }
}

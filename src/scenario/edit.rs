//! Rewriting one table of a scenario file (`[expect]` on bless, `[classification]` on
//! `classify --write`) without touching anything else: comments, key order, the table's own
//! style (a `[expect]` section, an inline `expect = { .. }`, dotted `expect.x = ..` keys),
//! multi-line strings, line endings; and writing the result back so the file's mode and
//! symlink target survive, refusing a file that changed since it was read (even during the
//! write) or that has other hard links.

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
    /// The file has other hard links (their number): a rename would break them, a write in
    /// place could leave every link half-written.
    HardLinked(PathBuf, u64),
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
            EditError::HardLinked(p, n) => write!(
                f,
                "{}: the file has {n} hard links; readysim does not rewrite it (a rename would break the links, a write in place could leave them all half-written); make it a file of its own (cp FILE FILE.new && mv FILE.new FILE) and run again",
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
#[cfg(feature = "cli")]
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
/// from `original`, is read-only or has other hard links. The write goes to a temporary file
/// beside the symlink's target, with its mode, and is swapped in atomically; the swap is
/// undone if what it replaced is not `original` (an edit made while readysim ran), so such an
/// edit is never lost. On any failure the original is untouched.
pub fn write_back(path: &Path, original: &str, new: &str) -> Result<(), EditError> {
    let io = |e| EditError::Io(path.to_path_buf(), e);
    let target = fs::canonicalize(path).map_err(io)?;
    if fs::read(&target).map_err(io)? != original.as_bytes() {
        return Err(EditError::Changed(path.to_path_buf()));
    }
    let meta = fs::metadata(&target).map_err(io)?;
    if meta.permissions().readonly() {
        return Err(EditError::ReadOnly(path.to_path_buf()));
    }
    if links(&meta) > 1 {
        return Err(EditError::HardLinked(path.to_path_buf(), links(&meta)));
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("scenario");
    super::files::remove_stale_temps(dir);
    let tmp = dir.join(super::files::temp_name(name));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(new.as_bytes())?;
        f.set_permissions(meta.permissions())?;
        f.sync_all()
    })();
    let result = written
        .map_err(io)
        .and_then(|()| swap_in(&tmp, &target, original).map_err(|e| e.at(path)));
    let _ = fs::remove_file(&tmp);
    result
}

/// Why the swap failed: the file changed, or IO.
enum SwapError {
    Changed,
    Io(std::io::Error),
}

impl SwapError {
    fn at(self, path: &Path) -> EditError {
        match self {
            SwapError::Changed => EditError::Changed(path.to_path_buf()),
            SwapError::Io(e) => EditError::Io(path.to_path_buf(), e),
        }
    }
}

/// Puts `tmp` in `target`'s place if `target` still holds `original`. On Linux the two are
/// exchanged atomically and `tmp` then holds what was replaced: if that is not `original`,
/// they are exchanged back. Elsewhere (or on a file system without the exchange) the check
/// is made just before a plain rename, which leaves a window of microseconds.
fn swap_in(tmp: &Path, target: &Path, original: &str) -> Result<(), SwapError> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, tmp, CWD, target, RenameFlags::EXCHANGE) {
            Ok(()) => {
                if fs::read(tmp).map_err(SwapError::Io)? == original.as_bytes() {
                    return Ok(());
                }
                renameat_with(CWD, tmp, CWD, target, RenameFlags::EXCHANGE)
                    .map_err(|e| SwapError::Io(e.into()))?;
                return Err(SwapError::Changed);
            }
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(SwapError::Io(e.into())),
        }
    }
    if fs::read(target).map_err(SwapError::Io)? != original.as_bytes() {
        return Err(SwapError::Changed);
    }
    fs::rename(tmp, target).map_err(SwapError::Io)
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
    fn write_back_refuses_to_write_over_text_that_is_not_what_it_read() {
        let dir = tempfile::Builder::new()
            .prefix("readysim-test-")
            .tempdir()
            .unwrap();
        let p = dir.path().join("s.toml");
        fs::write(&p, "name = \"x\"\n").unwrap();
        let e = write_back(&p, "something else", "new").unwrap_err();
        assert!(e.to_string().contains("changed"), "{e}");
        assert_eq!(fs::read_to_string(&p).unwrap(), "name = \"x\"\n");
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

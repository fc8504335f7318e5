//! Scenario files on disk: discovery under a folder, lookup by name, serialisation, and
//! atomic never-overwriting writes.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::types::Scenario;

/// Every `*.toml` under `root`, recursively, in sorted path order.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    scan(root).files
}

/// What a walk of a scenarios folder found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Every regular `*.toml` file, sorted.
    pub files: Vec<PathBuf>,
    /// What was passed over, and why (a FIFO or device named `*.toml`, a folder link that
    /// loops, an unreadable folder).
    pub skipped: Vec<(PathBuf, String)>,
}

/// How deep a scenarios folder is searched; a folder at this depth is reported, not entered.
pub const MAX_FOLDER_DEPTH: usize = 64;

/// Walks `root` (following links, each folder once: a link back to an ancestor is skipped
/// and reported) for regular `*.toml` files.
pub fn scan(root: &Path) -> Scan {
    let mut out = Scan::default();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(true)
        .max_depth(MAX_FOLDER_DEPTH)
        .sort_by_file_name();
    for entry in walk {
        match entry {
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                if path == root {
                    continue;
                }
                let why = match e.loop_ancestor() {
                    Some(a) => format!("a folder link that loops back to {}", a.display()),
                    None => e
                        .io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string()),
                };
                out.skipped.push((path, why));
            }
            Ok(e) => {
                let p = e.path();
                if e.file_type().is_dir() && e.depth() == MAX_FOLDER_DEPTH {
                    out.skipped.push((
                        p.to_path_buf(),
                        format!("more than {MAX_FOLDER_DEPTH} folders deep: not searched"),
                    ));
                    continue;
                }
                if e.file_type().is_dir() || p.extension().is_none_or(|x| x != "toml") {
                    continue;
                }
                if e.file_type().is_file() {
                    out.files.push(p.to_path_buf());
                } else {
                    out.skipped.push((
                        p.to_path_buf(),
                        "not a regular file (a FIFO, socket or device)".into(),
                    ));
                }
            }
        }
    }
    out.files.sort();
    out
}

/// An IO error on a path, in words a user acts on (Linux's numbers; elsewhere the system's
/// own text).
fn path_error(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        return "permission denied (EACCES): readysim may not read it or a folder on the way"
            .into();
    }
    match e.raw_os_error() {
        Some(40) if cfg!(target_os = "linux") => "a loop of symbolic links (ELOOP)".into(),
        Some(20) if cfg!(target_os = "linux") => {
            "a part of the path is not a folder (ENOTDIR)".into()
        }
        Some(36) if cfg!(target_os = "linux") => "the path is too long (ENAMETOOLONG)".into(),
        _ => e.to_string(),
    }
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
    /// A path that exists but cannot be read as a file: a symbolic-link loop, a permission,
    /// a link to nothing.
    Path {
        /// The path given.
        path: PathBuf,
        /// What the system said, in words.
        why: String,
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
                write!(
                    f,
                    "no scenario named `{name}` under {}{} (nor among the {} built into readysim)",
                    root.display(),
                    if root.is_dir() {
                        ""
                    } else {
                        ", which does not exist"
                    },
                    super::builtin::all().len()
                )?;
                if !suggestions.is_empty() {
                    write!(f, "; did you mean {}?", suggestions.join(", "))?;
                }
                Ok(())
            }
            FindError::Path { path, why } => write!(f, "{}: {why}", path.display()),
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
    // Any existing non-folder path is the file meant: a FIFO or a device then gets "not a
    // regular file" from the reader, not "no scenario named". A path the system refuses (a
    // link loop, a permission) is named as what it is.
    if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        match std::fs::metadata(as_path) {
            Ok(m) if !m.is_dir() => return Ok(as_path.to_path_buf()),
            Ok(_) => {}
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(FindError::Path {
                    path: as_path.to_path_buf(),
                    why: path_error(&e),
                })
            }
            Err(_) if std::fs::symlink_metadata(as_path).is_ok() => {
                return Err(FindError::Path {
                    path: as_path.to_path_buf(),
                    why: "a symbolic link to a file that does not exist".into(),
                })
            }
            Err(_) => {}
        }
    }
    let files = files_under(root);
    let matches: Vec<PathBuf> = files
        .iter()
        .filter(|p| p.file_stem().and_then(|s| s.to_str()) == Some(name_or_path))
        .cloned()
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one")),
        // A shipped scenario the folder lacks (or there is no folder): the built-in copy.
        0 if super::builtin::find(name_or_path).is_some() => {
            Ok(super::builtin::find(name_or_path).expect("checked").0)
        }
        0 => {
            let mut names: Vec<&str> = files
                .iter()
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()))
                .chain(super::builtin::names())
                .collect();
            names.sort_unstable();
            names.dedup();
            let suggestions = crate::suggest::close_names(name_or_path, names);
            Err(FindError::Unknown {
                name: name_or_path.to_string(),
                root: root.to_path_buf(),
                suggestions,
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

/// The fields where `sc` differs from a new scenario, as `(dotted path, value)` in file
/// order: what a reader needs beside a picture to see why a run is what it is. `name`,
/// `summary`, `[expect]` and `[classification]` are the file's bookkeeping, not the run's,
/// and are left out. A list entry the default lacks is compared field by field against a
/// default entry where the list has one (`clients`), shown whole otherwise (a window).
pub fn non_default_values(sc: &Scenario) -> Vec<(String, String)> {
    let value = |s: &Scenario| toml::Value::try_from(s).expect("a scenario always serialises");
    let base = value(&Scenario::new(&sc.name, &sc.summary));
    let client =
        toml::Value::try_from(super::types::Client::default()).expect("a client always serialises");
    let mut out = Vec::new();
    let skip = ["format", "name", "summary", "expect", "classification"];
    if let (toml::Value::Table(t), toml::Value::Table(b)) = (value(sc), base) {
        for (k, v) in t.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            diff_value(k, v, b.get(k), &client, &mut out);
        }
    }
    // In the field table's order, which is the file's, not the serialiser's (alphabetical).
    out.sort_by_key(|(path, _)| field_rank(path));
    out
}

/// A path's place in the field table: its row, or the row of its nearest listed parent.
fn field_rank(path: &str) -> (usize, String) {
    let mut generic = String::new();
    let mut in_index = false;
    for ch in path.chars() {
        match ch {
            '[' => {
                in_index = true;
                generic.push('[');
            }
            ']' => {
                in_index = false;
                generic.push(']');
            }
            _ if in_index => {}
            c => generic.push(c),
        }
    }
    let mut probe = generic.as_str();
    loop {
        if let Some(i) = super::fields::FIELDS.iter().position(|f| f.path == probe) {
            return (i, path.to_string());
        }
        match probe.rfind(['.', '[']) {
            Some(cut) => probe = &probe[..cut],
            None => return (usize::MAX, path.to_string()),
        }
    }
}

fn diff_value(
    path: &str,
    v: &toml::Value,
    d: Option<&toml::Value>,
    client: &toml::Value,
    out: &mut Vec<(String, String)>,
) {
    match (v, d) {
        (toml::Value::Table(t), Some(toml::Value::Table(b))) => {
            for (k, v) in t {
                diff_value(&format!("{path}.{k}"), v, b.get(k), client, out);
            }
        }
        (toml::Value::Array(items), d) if d.and_then(|d| d.as_array()) != Some(items) => {
            if !items.iter().any(toml::Value::is_table) {
                // A list of values (decisions, what-ifs) reads best whole.
                out.push((path.to_string(), v.to_string()));
                return;
            }
            let empty = Vec::new();
            let b = d.and_then(|d| d.as_array()).unwrap_or(&empty);
            for (i, item) in items.iter().enumerate() {
                let base = b.get(i).or((path == "clients").then_some(client));
                let at = format!("{path}[{i}]");
                match (b.get(i), base) {
                    (Some(base), _) => diff_value(&at, item, Some(base), client, out),
                    (None, Some(base)) => {
                        // An entry the default lacks is a change even when all its fields
                        // are default ones.
                        let before = out.len();
                        diff_value(&at, item, Some(base), client, out);
                        if out.len() == before {
                            out.push((at, "an entry with every field at its default".into()));
                        }
                    }
                    (None, None) => out.push((at, item.to_string())),
                }
            }
            if items.len() < b.len() {
                out.push((path.to_string(), v.to_string()));
            }
        }
        (v, d) if Some(v) != d => out.push((path.to_string(), v.to_string())),
        _ => {}
    }
}

/// The temporary file name readysim writes `name` through in its folder: hidden, and carrying
/// this process's id, so a file left by a killed process can be told from one being written.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.tmp-{}", std::process::id())
}

/// Removes the temporary files under `dir` (not below it) that readysim processes left when
/// they were killed (SIGKILL, power loss): names `.NAME.tmp-PID` or
/// `.readysim-write-test-PID` whose PID is no running process. Returns what it removed. Where
/// the system has no `/proc` to ask, nothing is removed: a live writer's file is never taken.
/// Called once per command that writes into a folder (opening a record folder, a bless), not
/// per file written: a search writing many files would read the folder each time.
pub fn remove_stale_temps(dir: &Path) -> Vec<std::path::PathBuf> {
    let proc_fs = Path::new("/proc/self");
    let mut removed = Vec::new();
    if !proc_fs.exists() {
        return removed;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let pid = if let Some(rest) = name.strip_prefix(".readysim-write-test-") {
            rest
        } else if let (true, Some((_, pid))) = (name.starts_with('.'), name.rsplit_once(".tmp-")) {
            pid
        } else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
            && fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    removed.sort();
    removed
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
    let tmp = dir.join(temp_name(name));
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

#[cfg(test)]
mod non_default_tests {
    use super::*;

    #[test]
    fn non_default_values_lists_only_what_the_file_changes() {
        let mut sc = Scenario::new("x", "y");
        assert!(non_default_values(&sc).is_empty());
        sc.startup.services_ms += 5;
        sc.clients.push(super::super::types::Client {
            count: 41,
            ..Default::default()
        });
        let got = non_default_values(&sc);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["startup.services_ms", "clients[0].count"],
            "{got:?}"
        );
        assert_eq!(got[1].1, "41");
        sc.run.decisions = vec![3, 1];
        let got = non_default_values(&sc);
        assert_eq!(
            got.last(),
            Some(&("run.decisions".to_string(), "[3, 1]".to_string()))
        );
    }
}

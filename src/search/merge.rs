//! `readysim merge`: the shard folders of one sharded search combined into exactly the files
//! the unsharded search writes. A recorded file's name and body depend only on what was found
//! (the command it names leaves the shard out, its case number is global), and the unsharded
//! run records the first case of each new signature, so merging is choosing: per (command,
//! signature), the file of the lowest case; then per (command, code, property), the first
//! `--max-failures` signatures in case order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::record::signatures_of;
use super::signature::Signature;
use crate::scenario;

/// One recorded file of a shard folder.
#[derive(Clone, Debug)]
struct Recorded {
    path: PathBuf,
    name: String,
    command: String,
    case: u64,
    sig: Signature,
    bytes: Vec<u8>,
}

/// What `merge` did with one chosen file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Merged {
    /// The file's name (stem).
    pub name: String,
    /// The shard file it came from.
    pub from: PathBuf,
    /// Where it is now.
    pub path: PathBuf,
    /// Whether the target folder already held it.
    pub already: bool,
    /// The signature it records.
    pub signature: Signature,
}

/// Why a merge could not be done.
#[derive(Debug)]
pub enum MergeError {
    /// A folder could not be read or the target written.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for MergeError {}

/// The `# Found by:` command and the case number of a recorded file's header.
fn header(text: &str) -> Option<(String, u64)> {
    let mut command = None;
    let mut case = None;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(c) = line.strip_prefix("# Found by: ") {
            command = Some(c.trim().to_string());
        } else if let Some(rest) = line.trim_start_matches('#').trim().strip_prefix("case ") {
            case = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    Some((command?, case?))
}

/// `--max-failures K` of a command, none (every new signature) when absent.
fn max_failures(command: &str) -> Option<usize> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "--max-failures")
        .and_then(|w| w[1].parse().ok())
}

/// The signature a recorded file was recorded for: the one its name starts with.
fn recorded_for(sc: &scenario::Scenario) -> Option<Signature> {
    signatures_of(sc)
        .into_iter()
        .filter(|s| sc.name.starts_with(&format!("{}-", s.stem())))
        .max_by_key(|s| s.stem().len())
}

fn read(dir: &Path) -> Result<Vec<Recorded>, MergeError> {
    if !dir.is_dir() {
        return Err(MergeError::Io(
            dir.to_path_buf(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        ));
    }
    let mut out = Vec::new();
    for path in scenario::files_under(dir) {
        let bytes = std::fs::read(&path).map_err(|e| MergeError::Io(path.clone(), e))?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let (Some((command, case)), Ok(sc)) = (header(text), scenario::load(&path)) else {
            continue;
        };
        let Some(sig) = recorded_for(&sc) else {
            continue;
        };
        out.push(Recorded {
            path: path.clone(),
            name: sc.name.clone(),
            command,
            case,
            sig,
            bytes,
        });
    }
    Ok(out)
}

/// Merges the recorded files under `sources` into `into` (created if needed; files already
/// there are never overwritten).
pub fn merge(sources: &[PathBuf], into: &Path) -> Result<Vec<Merged>, MergeError> {
    let mut all = Vec::new();
    for s in sources {
        all.extend(read(s)?);
    }
    // Per (command, signature): the file of the lowest case (the unsharded run's
    // representative); then per (command, code, property) the first K in case order, as the
    // unsharded run counts them.
    let mut best: BTreeMap<(String, Signature), Recorded> = BTreeMap::new();
    for r in all {
        let key = (r.command.clone(), r.sig.clone());
        match best.get(&key) {
            Some(b) if (b.case, &b.name) <= (r.case, &r.name) => {}
            _ => {
                best.insert(key, r);
            }
        }
    }
    type Group = (String, scenario::code::CodeId, crate::vocab::Violation);
    let mut groups: BTreeMap<Group, Vec<Recorded>> = BTreeMap::new();
    for ((command, sig), r) in best {
        let g = (command, sig.code.clone(), sig.property);
        groups.entry(g).or_default().push(r);
    }
    std::fs::create_dir_all(into).map_err(|e| MergeError::Io(into.to_path_buf(), e))?;
    let mut out = Vec::new();
    for ((command, ..), mut files) in groups {
        files.sort_by(|a, b| (a.case, &a.sig).cmp(&(b.case, &b.sig)));
        let k = max_failures(&command).unwrap_or(usize::MAX);
        let mut seen = BTreeSet::new();
        for f in files.into_iter().take(k) {
            if !seen.insert(f.sig.clone()) {
                continue;
            }
            let path = into.join(format!("{}.toml", f.name));
            let text = String::from_utf8_lossy(&f.bytes).into_owned();
            let already = match scenario::write_atomic(&path, &text, false) {
                Ok(()) => false,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let same = std::fs::read(&path).is_ok_and(|b| b == f.bytes);
                    if !same {
                        return Err(MergeError::Io(path, e));
                    }
                    true
                }
                Err(e) => return Err(MergeError::Io(path, e)),
            };
            out.push(Merged {
                name: f.name,
                from: f.path,
                path,
                already,
                signature: f.sig,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_give_the_command_and_the_case() {
        let t = "# Found by: readysim explore --seed 3 --cases 90 --max-failures 2\n\
                 #   case 17 of code p8, property false-ready; shrunk to 1\nformat = 1\n";
        let (c, case) = header(t).expect("a header");
        assert_eq!(case, 17);
        assert_eq!(max_failures(&c), Some(2));
        assert_eq!(max_failures("readysim explore --seed 3"), None);
    }
}

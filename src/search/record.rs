//! Recording found failures as scenario files, one per signature:
//! `<code>-<property>-<place>-<short hash>.toml` (what-ifs: `<code>-what-if-...`), written
//! atomically, never overwritten, skipping a signature that a file already has.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::signature::{self, Signature};
use crate::engine::EngineKind;
use crate::scenario::{self, Scenario};

/// A folder of recorded failures, and every signature known: those of its files and of the
/// files under the other folders it was opened with (the scenarios folder).
#[derive(Debug)]
pub struct RecordDir {
    /// The folder.
    pub dir: PathBuf,
    /// Every known signature and the name of the first file (in path order) that shows it.
    pub known: BTreeMap<Signature, String>,
}

/// How a write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// A new file.
    New(PathBuf),
    /// A file with this signature was already there (another process recorded it meanwhile).
    Known(PathBuf),
}

/// Every signature a scenario shows when replayed (its code from the file, what-ifs aside).
pub fn signatures_of(sc: &Scenario) -> Vec<Signature> {
    let ev = crate::replay::evaluate_valid(sc, EngineKind::Fast);
    signature::of_run(sc, &ev, &signature::all_properties())
        .into_iter()
        .collect()
}

/// The signatures the scenario files under `dirs` show, each with the first file's name;
/// files that do not load are skipped (`readysim` reports them where they are used).
pub fn known_under(dirs: &[PathBuf]) -> BTreeMap<Signature, String> {
    let mut known = BTreeMap::new();
    for d in dirs {
        for p in scenario::files_under(d) {
            let Ok(sc) = scenario::load(&p) else { continue };
            for sig in signatures_of(&sc) {
                known.entry(sig).or_insert_with(|| sc.name.clone());
            }
        }
    }
    known
}

/// Why a record folder cannot be used.
#[derive(Debug)]
pub enum RecordError {
    /// The folder could not be created.
    Create(PathBuf, std::io::Error),
    /// A file could not be written (and synced) in it.
    NotWritable(PathBuf, std::io::Error),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Create(d, e) => {
                write!(f, "{}: cannot create the folder: {e}", d.display())
            }
            RecordError::NotWritable(d, e) => write!(f, "{}: not writable: {e}", d.display()),
        }
    }
}

impl std::error::Error for RecordError {}

/// The file name of a failure: its signature's stem and the trace hash shortened to 8 hex
/// digits, or all 16 when `long`.
pub fn file_name(sig: &Signature, trace_hash: &str, long: bool) -> String {
    let h = if long {
        trace_hash
    } else {
        &trace_hash[..trace_hash.len().min(8)]
    };
    format!("{}-{h}", sig.stem())
}

/// Bytes written to test the record folder: more than any recorded scenario file.
const PROBE_BYTES: usize = 64 * 1024;

impl RecordDir {
    /// Creates `dir` if needed, checks that a file can be written in it, and reads the
    /// signatures of what it and the folders `also` hold.
    pub fn open(dir: &Path, also: &[PathBuf]) -> Result<RecordDir, RecordError> {
        std::fs::create_dir_all(dir).map_err(|e| RecordError::Create(dir.to_path_buf(), e))?;
        for p in scenario::remove_stale_temps(dir) {
            eprintln!(
                "note: removed {}: a temporary file left by a readysim process that is gone",
                crate::printable::printable(&p.display().to_string())
            );
        }
        // Write (and sync) more than any recorded file needs, so a read-only folder or a full
        // disk is reported now, before any work, not after an hour of search.
        let probe = dir.join(format!(".readysim-write-test-{}", std::process::id()));
        let written = std::fs::File::create(&probe).and_then(|mut f| {
            use std::io::Write as _;
            f.write_all(&[b'#'; PROBE_BYTES])?;
            f.sync_all()
        });
        let _ = std::fs::remove_file(&probe);
        written.map_err(|e| RecordError::NotWritable(dir.to_path_buf(), e))?;
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(also.iter().filter(|d| !d.starts_with(dir)).cloned());
        Ok(RecordDir {
            dir: dir.to_path_buf(),
            known: known_under(&dirs),
        })
    }

    /// The signatures `dir` (when it exists) and `also` hold, for a search that writes nothing
    /// (`--count-only`): the folder is neither created nor tested.
    pub fn read_only(dir: &Path, also: &[PathBuf]) -> RecordDir {
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(also.iter().filter(|d| !d.starts_with(dir)).cloned());
        RecordDir {
            dir: dir.to_path_buf(),
            known: known_under(&dirs),
        }
    }

    /// The file that already shows `sig`, if any.
    pub fn has(&self, sig: &Signature) -> Option<&str> {
        self.known.get(sig).map(String::as_str)
    }

    /// Writes `sc` under the name [`file_name`] gives, with the comment lines `header(name)`
    /// on top, through a temporary file and a link that fails if the name exists: the name is
    /// reserved atomically, so processes recording into one folder never overwrite each other.
    /// A taken name whose file shows the same signature (another process was first) is that
    /// failure, recorded; one that shows another makes the name with the whole hash be used.
    pub fn write(
        &mut self,
        mut sc: Scenario,
        sig: &Signature,
        trace_hash: &str,
        header: &dyn Fn(&str) -> Vec<String>,
    ) -> std::io::Result<Written> {
        let mut last = None;
        for long in [false, true] {
            sc.name = file_name(sig, trace_hash, long);
            let path = self.dir.join(format!("{}.toml", sc.name));
            let text = scenario::to_toml(&sc, &header(&sc.name));
            match scenario::write_atomic(&path, &text, false) {
                Ok(()) => {
                    self.known.insert(sig.clone(), sc.name.clone());
                    return Ok(Written::New(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let same = scenario::load(&path)
                        .ok()
                        .is_some_and(|other| signatures_of(&other).contains(sig));
                    if same {
                        self.known.insert(sig.clone(), sc.name.clone());
                        return Ok(Written::Known(path));
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("both names were tried"))
    }
}

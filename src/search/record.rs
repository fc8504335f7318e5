//! Recording found failures as scenario files: `<preset>-<property>-<short hash>.toml`, written
//! atomically, never overwritten, skipping a (property, trace hash) already recorded.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::policy::Preset;
use crate::scenario::{self, Scenario};
use crate::vocab::Violation;

/// A folder of recorded failures and what it already holds.
#[derive(Debug)]
pub struct RecordDir {
    /// The folder.
    pub dir: PathBuf,
    /// (preset, property, trace hash) of every file in it.
    pub known: BTreeSet<Key>,
}

/// What identifies a recorded failure: its preset, property and trace hash.
pub type Key = (Preset, Violation, String);

/// How a write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// A new file.
    New(PathBuf),
    /// The file was already there (another process recorded the same failure meanwhile).
    Known(PathBuf),
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

/// The property a recorded file's name gives (`p8-false-ready-1a2b3c4d` -> `false-ready`).
pub fn property_of_name(name: &str) -> Option<Violation> {
    key_of_name(name).map(|(_, p)| p)
}

/// The preset and property a recorded file's name gives.
pub fn key_of_name(name: &str) -> Option<(Preset, Violation)> {
    let (preset, rest) = name.split_once('-')?;
    let (prop, _) = rest.rsplit_once('-')?;
    Some((Preset::from_name(preset)?, Violation::from_name(prop)?))
}

/// The key of a recorded file: from its name and its `expect.trace_hash`.
pub fn key_of(sc: &Scenario) -> Option<Key> {
    let (preset, prop) = key_of_name(&sc.name)?;
    let hash = sc.expect.as_ref()?.trace_hash.clone()?;
    Some((preset, prop, hash))
}

/// The file name of a failure: the hash shortened to 8 hex digits, or all 16 when `long`.
pub fn file_name(preset: Preset, property: Violation, trace_hash: &str, long: bool) -> String {
    let h = if long {
        trace_hash
    } else {
        &trace_hash[..trace_hash.len().min(8)]
    };
    format!("{}-{property}-{h}", preset.name())
}

/// Bytes written to test the record folder: more than any recorded scenario file.
const PROBE_BYTES: usize = 64 * 1024;

impl RecordDir {
    /// Creates `dir` if needed, checks that a file can be written in it, and reads what it
    /// holds.
    pub fn open(dir: &Path) -> Result<RecordDir, RecordError> {
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
        let mut known = BTreeSet::new();
        for p in scenario::files_under(dir) {
            let Ok(sc) = scenario::load(&p) else { continue };
            if let Some(k) = key_of(&sc) {
                known.insert(k);
            }
        }
        Ok(RecordDir {
            dir: dir.to_path_buf(),
            known,
        })
    }

    /// Whether (preset, property, trace hash) is already recorded.
    pub fn has(&self, preset: Preset, property: Violation, trace_hash: &str) -> bool {
        self.known
            .contains(&(preset, property, trace_hash.to_string()))
    }

    /// Writes `sc` under the name [`file_name`] gives, with the comment lines `header(name)`
    /// on top, through a temporary file and a link that fails if the name exists: the name is
    /// reserved atomically, so processes recording into one folder never overwrite each other.
    /// A taken name that holds the same failure (another process was first) is that failure,
    /// recorded; one that holds another failure with the same short hash makes the name with
    /// the whole hash be used instead.
    pub fn write(
        &mut self,
        mut sc: Scenario,
        preset: Preset,
        property: Violation,
        trace_hash: &str,
        header: &dyn Fn(&str) -> Vec<String>,
    ) -> std::io::Result<Written> {
        let key = (preset, property, trace_hash.to_string());
        let mut last = None;
        for long in [false, true] {
            sc.name = file_name(preset, property, trace_hash, long);
            let path = self.dir.join(format!("{}.toml", sc.name));
            let text = scenario::to_toml(&sc, &header(&sc.name));
            match scenario::write_atomic(&path, &text, false) {
                Ok(()) => {
                    self.known.insert(key);
                    return Ok(Written::New(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let same = scenario::load(&path)
                        .ok()
                        .and_then(|other| key_of(&other))
                        .is_some_and(|k| k == key);
                    if same {
                        self.known.insert(key);
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

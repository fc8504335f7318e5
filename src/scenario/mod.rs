//! The scenario file: load (serde + toml, unknown fields rejected), validate against the
//! field table, locate every error by file, line, column and field, find files by name.

pub(crate) mod builtin;
pub(crate) mod code;
pub(crate) mod deps;
pub(crate) mod edit;
mod expect;
pub(crate) mod fields;
mod files;
mod locate;
pub(crate) mod slots;
mod timeline;
mod types;
mod validate;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

pub use files::{
    duplicate_names, files_under, find, non_default_values, remove_stale_temps, scan, temp_name,
    to_toml, write_atomic, FindError, Scan,
};
pub use timeline::Timeline;
pub use types::*;
pub use validate::{attempts, guard_probes, validate, FieldError, Invalid};

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
    /// `run.max_steps`, also the default budget (`DEFAULT_MAX_STEPS` is this value): a file
    /// may lower it, not raise it. A step is one task poll and writes at most a few trace
    /// events, so this caps the kept trace (about 2 million events, ~100 MB, in the worst
    /// file found); a 20 million budget took 6 GB.
    pub const MAX_STEPS: u64 = 1_000_000;
    /// Work the clients may cause without the clock moving, summed over `[[clients]]`:
    /// `messages + (1 + retries) x P`, where P is what one guard may probe under the file's
    /// own policy (`scenario::guard_probes`). Zero-length delays let this work happen inside
    /// one step, so the step budget cannot bound it; this limit does.
    pub const MAX_CLIENT_WORK: u64 = 200_000;
    /// Retries of the redis check.
    pub const MAX_RETRIES: u32 = 10_000;
    /// Outages and ping spikes, each.
    pub const MAX_WINDOWS: usize = 1_000;
    /// Bytes of a client's `user_id`.
    pub const MAX_USER_ID_BYTES: usize = 256;
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
    load_text(path).map(|(_, sc)| sc)
}

/// Reads a scenario file's text, bounded: only a regular file (a FIFO would block, a device
/// never end), at most [`limits::MAX_FILE_BYTES`] however large it claims to be, UTF-8.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read as _;
    let whole = |message: String| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message,
    };
    let meta = fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(whole(
            "not a regular file (a folder, FIFO, socket or device): readysim reads only regular files"
                .into(),
        ));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(limits::MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| whole(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limits::MAX_FILE_BYTES {
        return Err(whole(format!(
            "the file has more than {0} bytes; at most {0} are allowed",
            limits::MAX_FILE_BYTES
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        // Where the first byte that is not UTF-8 is, as a line and column.
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let column = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        let utf16 =
            e.as_bytes().starts_with(&[0xff, 0xfe]) || e.as_bytes().starts_with(&[0xfe, 0xff]);
        ScenarioError {
            file: path.to_path_buf(),
            line,
            column,
            field: String::new(),
            message: if utf16 {
                "the file is UTF-16; scenario files are UTF-8".into()
            } else {
                "the file is not UTF-8 here (scenario files are UTF-8)".into()
            },
        }
    })
}

/// [`load`], also returning the text it parsed (for a rewrite that must not lose an edit).
pub fn load_text(path: &Path) -> Result<(String, Scenario), ScenarioError> {
    let src = match builtin::text_of(path) {
        Some(t) => t.to_string(),
        None => read_text(path)?,
    };
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return Err(ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message: "the file name is not valid UTF-8: rename it (the name must equal the stem)"
                .into(),
        });
    };
    let sc = parse(&src, path, Some(stem))?;
    Ok((src, sc))
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
    locate::precheck(src, file)?;
    let sc: Scenario = toml::from_str(src).map_err(|e| locate::toml_error(src, file, &e))?;
    let located = |e: FieldError| {
        let (line, column) = locate::locate(src, &e.field);
        ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            field: e.field,
            message: e.message,
        }
    };
    // A file reports its first error, located; `validate` gives every one.
    validate(&sc).map_err(|mut e| located(e.errors.swap_remove(0)))?;
    if let Some(stem) = stem {
        if sc.name != stem {
            return Err(located(FieldError {
                field: "name".into(),
                message: format!(
                    "the name `{}` differs from the file stem `{stem}`; they must be equal",
                    sc.name
                ),
            }));
        }
    }
    Ok(sc)
}

//! readysim: deterministic simulation of service-startup readiness races.
//!
//! A scenario file describes one deployment (Redis timing, the validator policy, startup
//! phases, clients). readysim builds the model of that system on a virtual-time engine, runs
//! it, has the judge read the trace, and compares the verdict with the file's `[expect]`.
//!
//! ```text
//! scenario file --load--> Scenario --run (model on an engine)--> trace
//!     --judge (trace + environment)--> violations --> replay / compare / explore
//! ```
//!
//! ```
//! let sc = readysim::load(std::path::Path::new("scenarios/incident-2025-09-09.toml"))?;
//! let report = readysim::replay(&sc, readysim::EngineKind::Fast)?;
//! assert!(report.matches, "the incident replays as its file says");
//! assert_eq!(report.elapsed_ms, Some(7508));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The facade: [`load`] or [`scenario::parse`] a scenario,
//! [`scenario::validate`] it (every error, not just the first), [`replay()`] or [`evaluate`] it
//! (both validate a scenario built in code first), [`explore`] for failures, [`bless`] a file's
//! `[expect]`, and the report types they return. The engine's [`Rt`] and [`Builder`] are
//! opaque. Option and report structs are `#[non_exhaustive]`: build them with their
//! constructors and setters.
//!
//! Cargo features: `cli` (default) builds the `readysim` binary and brings in `real`;
//! `real` is the real-services mode (a real Redis behind a fault proxy, real WebSocket
//! clients); `tokio-engine` is the second, tokio-based engine used to cross-check the fast
//! one. With `default-features = false` the library pulls in neither clap, indicatif, redis
//! nor tokio's `test-util`.

#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub(crate) mod bench;
pub mod bless;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod engine;
#[cfg(feature = "cli")]
pub(crate) mod explain;
pub mod picture;
pub(crate) mod printable;
#[cfg(feature = "real")]
pub mod real;
pub mod replay;
pub mod scenario;
pub mod search;
#[cfg(feature = "cli")]
pub(crate) mod seed_suite;
pub mod trace;

#[cfg(all(test, feature = "cli"))]
mod docs_tests;
mod gate;
pub(crate) mod judge;
pub(crate) mod model;
mod policy;
mod spec;
mod suggest;
mod sync;
mod vocab;

pub use engine::{Builder, EngineKind, Rt};
pub use gate::{Readiness, ReadinessGate};
pub use judge::coverage::{Counts as CoverageCounts, ORDERINGS};
pub use judge::{Contract, Env, Finding, Site};
pub use model::{RunOutput, DEFAULT_MAX_STEPS};
pub use policy::{Policy, PolicySpec, Preset};
pub use replay::{evaluate, replay, Report};
pub use scenario::{load, Scenario, ScenarioError};
pub use search::{explore, ExploreOptions, Summary};
pub use suggest::{close_names, did_you_mean, nearest, unknown_name};
pub use vocab::{
    Actor, Check, ConnectionCheck, ConstantsTable, EnvName, GraceMode, GuardMode, LogLevel,
    LoopShape, OnRedisError, Outcome, ProbeMode, Reason, Route, StartupOutcome, Token, UserIdCheck,
    Violation,
};

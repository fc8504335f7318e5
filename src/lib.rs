//! readysim: deterministic simulation of service-startup readiness races.
//!
//! A scenario file describes one deployment (Redis timing, the validator policy, startup
//! phases, clients). readysim builds the model of that system on a virtual-time engine, runs
//! it, applies the oracles to the trace, and compares the verdict with the file's `[expect]`.
//!
//! ```text
//! scenario file --load--> Scenario --run--> trace --oracles--> verdict --> replay / search
//! ```
//!
//! The CLI (`readysim replay`, `compare`, `list`, `explore`) and the tests call the same
//! functions: [`scenario::load`], [`replay::replay`], [`replay::evaluate`].

pub mod bench;
pub mod engine;
pub mod gate;
pub mod model;
pub mod oracle;
pub mod replay;
pub mod scenario;
pub mod search;
mod sync;
pub mod trace;

pub use engine::EngineKind;
pub use oracle::Violation;
pub use replay::{evaluate, replay, Report};
pub use scenario::{load, Scenario, ScenarioError};

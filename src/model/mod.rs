//! The simulated system: one module per actor (server, manager, startup, validator, gateway),
//! the shared state they meet in (`world`), and the run entry that wires them (`run`).

pub mod gateway;
pub mod manager;
pub mod probe;
pub mod run;
pub mod server;
pub mod startup;
pub mod validator;
pub mod watch;
pub mod world;

pub use run::{run, RunOutput, DEFAULT_MAX_STEPS};

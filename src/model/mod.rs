//! The simulated system, one module per actor, wired by [`world`].

pub mod gateway;
pub mod manager;
pub mod policy;
pub mod probe;
pub mod server;
pub mod startup;
pub mod validator;
pub mod watch;
pub mod world;

pub use policy::Policy;
pub use world::{run, RunOutput, StartupOutcome};

//! The simulated system: one module per actor (server, manager, startup, validator, gateway,
//! route, auth, registry, keepalive, clients), the seam to real sockets (`wire`),
//! the shared state they meet in (`world`), and the run entry that wires them (`run`).

pub mod auth;
pub mod clients;
pub mod gateway;
pub mod keepalive;
pub mod manager;
pub mod probe;
pub mod registry;
pub mod route;
pub mod run;
pub mod server;
pub mod startup;
pub mod user_id;
pub mod validator;
pub mod watch;
pub mod wire;
pub mod world;

pub use run::{run, run_hashed, RunOutput, DEFAULT_MAX_STEPS};

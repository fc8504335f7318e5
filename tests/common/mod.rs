//! Helpers shared by the integration tests.

use readysim::scenario::{self, Scenario};

/// A scenario from the body of a file (everything after `format`, `name` and `summary`).
pub fn scenario(body: &str) -> Scenario {
    let src = format!("format = 1\nname = \"t\"\nsummary = \"t\"\n{body}");
    scenario::parse(&src, std::path::Path::new("t.toml"), None).expect("valid test scenario")
}

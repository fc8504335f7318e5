//! A failure's identity: what failed where, in which code. Two runs with one signature are the
//! same finding, whatever their timings; search records one file per signature and counts a
//! failure as known when a file with its signature exists.
//!
//! ```text
//! signature = (code under test, what-if or not, property, place)
//! place     = run                              (hang)
//!           | actor                            (the validator, startup, ...)
//!           | client outcome [close reason]    (ws-1011, lost-connection: what the client saw)
//!           | client                           (any other property at a client attempt)
//! ```
//!
//! The place is read from the judge's findings: a finding at an actor names the actor. At a
//! client attempt, the properties that are about what the client saw (a 1011, a connection
//! that never got an answer) name the attempt's outcome and close reason; the others (the
//! guard admitting while not ready, a message lost) are what the server did, whatever the
//! attempt ended with later, so they name only "a client attempt". Never which client or
//! when: a storm of 45 users and one of 60 are the same place.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::judge::Site;
use crate::replay::Evaluation;
use crate::scenario::code::{code_of, CodeId};
use crate::scenario::Scenario;
use crate::vocab::{Actor, Outcome, Reason, Violation};

/// Where a violation happened, as a signature names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "at")]
pub enum Place {
    /// The run as a whole (`hang`).
    Run,
    /// An actor of the system (not a client).
    Actor {
        /// Which.
        #[serde(serialize_with = "actor_name")]
        actor: Actor,
    },
    /// A client attempt, whatever it ended with.
    Clients,
    /// A client attempt, by what it ended with.
    Client {
        /// Its outcome (none: the run ended first).
        outcome: Option<Outcome>,
        /// The close reason of a 1011 or 1008.
        reason: Option<Reason>,
    },
}

fn actor_name<S: serde::Serializer>(a: &Actor, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

impl Place {
    /// `keepalive`, `validator`, `handshake-failed`, `closed-1008-auth-failed`: the place in a
    /// file name (a 1011's reason alone: that is what a 1011 signature is about).
    pub fn slug(&self) -> String {
        match self {
            Place::Run => "run".into(),
            Place::Actor { actor } => actor.to_string(),
            Place::Clients => "client".into(),
            Place::Client {
                outcome: Some(Outcome::Closed1011),
                reason: Some(r),
            } => r.name().into(),
            Place::Client { outcome, reason } => {
                let o = outcome.map_or("unfinished", |o| o.name());
                match reason {
                    Some(r) => format!("{o}-{r}"),
                    None => o.into(),
                }
            }
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Run => f.write_str("the run"),
            Place::Actor { actor } => write!(f, "the {actor}"),
            Place::Clients => f.write_str("a client attempt"),
            Place::Client { outcome, reason } => {
                let o = outcome.map_or("no outcome", |o| o.name());
                match reason {
                    Some(r) => write!(f, "a client attempt {o} ({r})"),
                    None => write!(f, "a client attempt {o}"),
                }
            }
        }
    }
}

/// What failed where, in which code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Signature {
    /// The code under test (`p6+route=f3`).
    pub code: CodeId,
    /// Whether the failure needs the code changed (a what-if), not only the environment.
    pub what_if: bool,
    /// The property violated.
    pub property: Violation,
    /// Where.
    pub place: Place,
}

impl Signature {
    /// `p6.route.f3-ws-1011-auth-failed` (what-ifs: `p6-what-if-...`): a file's name before its
    /// hash.
    pub fn stem(&self) -> String {
        format!(
            "{}{}-{}-{}",
            self.code.slug(),
            if self.what_if { "-what-if" } else { "" },
            self.property,
            self.place.slug()
        )
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {} under {}{}",
            self.property,
            self.place,
            self.code,
            if self.what_if { " (what-if)" } else { "" }
        )
    }
}

/// Whether a property at a client attempt is about what the client saw (its outcome and
/// close reason name the place).
pub fn about_the_client(v: Violation) -> bool {
    matches!(v, Violation::Ws1011 | Violation::LostConnection)
}

/// The place of `violation` at a site in a run.
pub fn place(ev: &Evaluation, violation: Violation, site: Site) -> Place {
    match site {
        Site::Run => Place::Run,
        Site::Actor(actor) => Place::Actor { actor },
        Site::Client { .. } if !about_the_client(violation) => Place::Clients,
        Site::Client { index, attempt } => {
            let r = &ev.output.results;
            match r.attempt_position(index, attempt) {
                Some(i) => Place::Client {
                    outcome: r.clients[i],
                    reason: r.reasons[i],
                },
                None => Place::Client {
                    outcome: None,
                    reason: None,
                },
            }
        }
    }
}

/// The (property, place) pairs of a run, for the properties in `properties`, in order.
pub fn places(ev: &Evaluation, properties: &BTreeSet<Violation>) -> Vec<(Violation, Place)> {
    let set: BTreeSet<(Violation, Place)> = ev
        .findings
        .keys()
        .filter(|f| properties.contains(&f.violation))
        .map(|f| (f.violation, place(ev, f.violation, f.site)))
        .collect();
    set.into_iter().collect()
}

/// Every signature of a run of `sc` (its code from the file, what-ifs aside), for
/// `properties`.
pub fn of_run(
    sc: &Scenario,
    ev: &Evaluation,
    properties: &BTreeSet<Violation>,
) -> BTreeSet<Signature> {
    let code = code_of(sc);
    let what_if = !sc.what_if.is_empty();
    places(ev, properties)
        .into_iter()
        .map(|(property, place)| Signature {
            code: code.clone(),
            what_if,
            property,
            place,
        })
        .collect()
}

/// Every property but `nondeterminism` (which needs a second run): what a file's signatures
/// are taken over when deciding what is known.
pub fn all_properties() -> BTreeSet<Violation> {
    Violation::ALL
        .into_iter()
        .filter(|v| *v != Violation::Nondeterminism)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    fn signatures(name: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(format!("{name}.toml"));
        let sc = crate::scenario::load(&path).expect("a shipped scenario");
        let ev = crate::replay::evaluate_valid(&sc, EngineKind::Fast);
        of_run(&sc, &ev, &all_properties())
            .iter()
            .map(Signature::stem)
            .collect()
    }

    #[test]
    fn the_shipped_1011s_are_named_by_their_reason_and_code() {
        let k = signatures("keepalive-stall-1011");
        assert!(
            k.contains(&"p6.probe.faithful-ws-1011-keepalive".to_string()),
            "{k:?}"
        );
        let a = signatures("auth-breaker-1011");
        assert!(
            a.contains(&"p6.probe.faithful.route.f3-ws-1011-auth-failed".to_string()),
            "{a:?}"
        );
        let i = signatures("incident-2025-09-09");
        assert!(
            i.contains(&"p0-spurious-failure-validator".to_string()),
            "{i:?}"
        );
    }
}

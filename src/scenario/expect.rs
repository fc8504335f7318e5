//! `[expect]` and `[classification]`: what a replay must produce, and how search classified a
//! recorded failure. Typed with the shared vocabulary, so a misspelt name fails to load.

use serde::{Deserialize, Serialize};

use crate::vocab::{names, Check, Outcome, Reason, StartupOutcome, Violation};

/// `[expect]`: every field given must match on replay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How startup ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupOutcome>,
    /// When the validator's verdict was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict_at_ms: Option<u64>,
    /// From the validator's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// Failed critical services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_services: Option<Vec<Check>>,
    /// The startup error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One outcome per client attempt: clients in order, each followed by its reconnects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<Outcome>>,
    /// Each attempt's close reason (`none` where it has none), in the order of `clients`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "reason_list")]
    pub client_reasons: Option<Vec<Option<Reason>>>,
    /// Messages lost in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_messages: Option<u64>,
    /// The exact set of oracles violated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
    /// Hash of the rendered trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
}

names! {
    /// Race or fault.
    pub enum Class {
        /// A small perturbation of timing or order removes the failure.
        Race => "race",
        /// The failure survives every perturbation tried: a fault.
        Deterministic => "deterministic",
    }
}

/// `[classification]`: race or fault, as found by `readysim classify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// `race` or `deterministic`.
    pub class: Class,
    /// The parameters whose perturbation made the failure go away.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// `client_reasons` in files: TOML has no null, so an attempt without a reason is `"none"`.
mod reason_list {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::vocab::Reason;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Item {
        Reason(Reason),
        Word(String),
    }

    pub fn serialize<S: Serializer>(
        v: &Option<Vec<Option<Reason>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let items: Option<Vec<Item>> = v.as_ref().map(|l| {
            l.iter()
                .map(|r| r.map_or(Item::Word("none".into()), Item::Reason))
                .collect()
        });
        items.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<Option<Reason>>>, D::Error> {
        let words: Option<Vec<String>> = Option::deserialize(d)?;
        let Some(words) = words else { return Ok(None) };
        let mut out = Vec::with_capacity(words.len());
        for w in words {
            if w == "none" {
                out.push(None);
            } else {
                match Reason::from_name(&w) {
                    Some(r) => out.push(Some(r)),
                    None => {
                        return Err(serde::de::Error::unknown_variant(
                            &w,
                            &crate::scenario::fields::REASON_NAMES,
                        ))
                    }
                }
            }
        }
        Ok(Some(out))
    }
}

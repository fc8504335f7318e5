//! "Did you mean": the nearest names to a typo, by edit distance (strsim's Levenshtein over
//! chars), for unknown fields, values, properties, presets and scenario names alike.

use strsim::levenshtein;

/// The candidate closest to `word` by edit distance, if it is plausibly a typo of it.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` when a candidate is plausibly what `word` was meant to be, else "".
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

/// "unknown KIND `v` (did you mean ...); allowed: a, b, c".
pub fn unknown_name(kind: &str, v: &str, allowed: &[&str]) -> String {
    let hint = did_you_mean(v, allowed.iter().copied());
    format!(
        "unknown {kind} `{v}`{hint}; allowed: {}",
        allowed.join(", ")
    )
}

/// Up to three of `names` that `query` plausibly meant, closest first. A typo in the first
/// words of a long name ("incidnet" for "incident-2025-09-09") is as telling as a typo in a
/// short one, and a name containing the query counts too.
pub fn close_names<'a>(query: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let q = query.chars().count();
    let mut scored: Vec<(usize, String)> = names
        .into_iter()
        .filter_map(|s| {
            let full = levenshtein(query, s);
            let head = (q.saturating_sub(1)..=q + 1)
                .map(|n| s.chars().take(n).collect::<String>())
                .map(|prefix| levenshtein(query, &prefix))
                .min()
                .unwrap_or(full);
            let close = full <= (s.chars().count().max(q) / 3).max(2)
                || head <= (q / 4).max(1)
                || s.contains(query);
            close.then(|| (full.min(head), s.to_string()))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_names_and_strangers_find_none() {
        assert_eq!(
            nearest("horizn_ms", ["horizon_ms", "max_steps"]),
            Some("horizon_ms")
        );
        assert_eq!(nearest("zzz", ["horizon_ms"]), None);
        assert_eq!(
            close_names("incidnet", ["incident-2025-09-09", "slow-redis"]),
            vec!["incident-2025-09-09".to_string()]
        );
        assert!(unknown_name("preset", "p3", &["p0", "p4"]).contains("did you mean `p0`?"));
    }
}

//! T2, the route's user-ID format check: each version's predicate over a client's id.
//!
//! An id is stripped of surrounding whitespace, then accepted when the predicate says so; the
//! same id always gives the same answer (a deterministic fault, not a race).

use std::sync::OnceLock;

use regex::Regex;

use crate::vocab::UserIdCheck;

/// The patterns every version accepts in full (list A of the incident-time code).
const LIST_A: [&str; 15] = [
    r"test-user-\d+",
    r"test-connection-\d+",
    r"test-session-[A-Za-z0-9-]+",
    r"mock-[A-Za-z]+-\w+",
    r"concurrent_user_\d+",
    r"user_\d+",
    r"[A-Za-z]+-[A-Za-z]+-\d+",
    r"[A-Za-z]+_\d+",
    r"[A-Za-z]+_[A-Za-z]+_\d+",
    r"non_existent_\w+",
    r"invalid_\w+",
    r"fake_\w+",
    r"dummy_\w+",
    r"sample_\w+",
    r"ssot-[A-Za-z]+-\w+",
];

/// A full match of any of `patterns`, compiled once per process.
fn full(patterns: &[&str]) -> Regex {
    let alt = patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&format!(r"\A(?:{alt})\z")).expect("the predicates' patterns compile")
}

fn list_a() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| full(&LIST_A))
}

fn e2e() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| full(&[r"e2e-[A-Za-z0-9_-]+"]))
}

fn e2e_narrow() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| full(&[r"e2e-[A-Za-z]+_[A-Za-z]+(_\d+|-v\w+)?"]))
}

fn numeric() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| full(&[r"\d{15,21}"]))
}

/// What Python's `uuid.UUID(id)` accepts: `urn:` and `uuid:` removed, braces stripped from
/// both ends, hyphens removed, then exactly 32 characters that `int(_, 16)` parses.
pub fn is_uuid(id: &str) -> bool {
    let s = id.replace("urn:", "").replace("uuid:", "");
    let s = s.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    s.chars().count() == 32 && python_hex_int(&s)
}

/// Python's `int(s, 16)`: optional surrounding whitespace, an optional sign, an optional `0x`
/// prefix, hex digits with single underscores between them (or right after the prefix).
fn python_hex_int(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (s, prefixed) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let s = if prefixed {
        s.strip_prefix('_').unwrap_or(s)
    } else {
        s
    };
    !s.is_empty()
        && !s.ends_with('_')
        && !s.starts_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '_')
}

/// The structured form: split on `_`, at least 3 parts, the last 8 hex digits, the
/// second-last digits, the first `user`.
fn is_structured(id: &str) -> bool {
    let parts: Vec<&str> = id.split('_').collect();
    parts.len() >= 3
        && parts[0] == "user"
        && parts[parts.len() - 1].len() == 8
        && parts[parts.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit())
        && !parts[parts.len() - 2].is_empty()
        && parts[parts.len() - 2].chars().all(char::is_numeric)
}

fn v0(id: &str) -> bool {
    is_uuid(id) || list_a().is_match(id) || is_structured(id)
}

/// Whether the route's check of version `check` accepts `user_id`.
pub fn accepts(check: UserIdCheck, user_id: &str) -> bool {
    let id = user_id.trim();
    match check {
        UserIdCheck::V0 => v0(id),
        UserIdCheck::E2e => v0(id) || e2e().is_match(id),
        UserIdCheck::E2eNarrow => v0(id) || e2e_narrow().is_match(id),
        UserIdCheck::Numeric => v0(id) || e2e().is_match(id) || numeric().is_match(id),
        UserIdCheck::None => !id.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserIdCheck::*;

    #[test]
    fn the_staging_e2e_id_fails_v0_and_passes_e2e() {
        assert!(!accepts(V0, "e2e-staging_pipeline"));
        assert!(accepts(E2e, "e2e-staging_pipeline"));
        assert!(accepts(E2eNarrow, "e2e-staging_pipeline"));
        assert!(!accepts(E2eNarrow, "e2e-deployment-test"));
        assert!(accepts(E2e, "e2e-deployment-test"));
        assert!(!accepts(Numeric, "staging-e2e-user-001"));
        assert!(accepts(None, "staging-e2e-user-001"));
        assert!(!accepts(None, "  "));
    }

    #[test]
    fn numeric_ids_need_15_to_21_digits_and_p6() {
        let n21 = "123456789012345678901";
        assert!(accepts(Numeric, n21));
        assert!(!accepts(Numeric, "1234567890123456789012"));
        assert!(accepts(Numeric, "123456789012345"));
        assert!(!accepts(Numeric, "12345678901234"));
        assert!(!accepts(E2e, n21));
    }

    #[test]
    fn v0_accepts_uuids_list_a_and_the_structured_form() {
        for id in [
            "123e4567-e89b-12d3-a456-426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            "123e4567e89b12d3a456426614174000",
            "user_1",
            " user_7 ",
            "test-user-12",
            "mock-ws-abc_1",
            "alpha-beta-3",
            "ssot-user-x",
            "user_thread_42_deadbeef",
            "user_1_0badcafe",
        ] {
            assert!(accepts(V0, id), "{id}");
        }
        for id in [
            "",
            "user",
            "user_",
            "user-1",
            "e2e-staging_pipeline",
            "session_x_42_deadbeef",
            "user_x_4a_deadbeef",
            "123e4567-e89b-12d3-a456-42661417400",
            "bob",
        ] {
            assert!(!accepts(V0, id), "{id}");
        }
    }
}

//! Text made safe for a terminal: control characters from scenario files shown, not obeyed.

use std::borrow::Cow;
use std::fmt::Write as _;

/// [`printable`], except that colour sequences (`ESC [ digits-and-semicolons m`, SGR) are
/// kept: they can only change the colour of what follows, not move the cursor, retitle or
/// clear the terminal. For output that readysim itself coloured.
#[cfg(feature = "cli")]
pub fn printable_keeping_colour(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{1b}') {
        return printable(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&printable(&rest[..i]));
        let tail = &rest[i + 1..];
        let params = tail.strip_prefix('[').map(|t| {
            t.len()
                - t.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';')
                    .len()
        });
        match params {
            Some(n) if tail[1 + n..].starts_with('m') => {
                out.push_str(&rest[i..i + 1 + 1 + n + 1]);
                rest = &rest[i + 1 + 1 + n + 1..];
            }
            _ => {
                out.push_str("\\u001b");
                rest = tail;
            }
        }
    }
    out.push_str(&printable(rest));
    Cow::Owned(out)
}

/// `s` with every control character but newline and tab written as `\uXXXX`: a scenario's
/// summary, a key or a file name holding `\u001b]0;...` would otherwise retitle or clear the
/// terminal it is printed on. C1 controls (U+0080..U+009F) count, since some terminals obey
/// them too, and so do the bidirectional overrides that can make printed text read backwards.
/// The form is JSON's own escape (every character escaped is in the BMP), so JSON output that
/// passes through here stays valid JSON and still means the same text.
pub fn printable(s: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    // A carriage return that ends a line (CRLF files) only ends the line.
    let crlf = |i: usize, c: char| c == '\r' && s.as_bytes().get(i + 1) == Some(&b'\n');
    if !s.char_indices().any(|(i, c)| bad(c) && !crlf(i, c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for (i, c) in s.char_indices() {
        if bad(c) && !crlf(i, c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[cfg(feature = "cli")]
    #[test]
    fn colour_is_kept_and_every_other_control_escaped() {
        use super::printable_keeping_colour;
        let red = "\u{1b}[1;31mFAILED\u{1b}[0m";
        assert_eq!(printable_keeping_colour(red), red);
        assert_eq!(
            printable_keeping_colour("\u{1b}[2Jx\u{1b}]0;t\u{7}\u{1b}[31m"),
            "\\u001b[2Jx\\u001b]0;t\\u0007\u{1b}[31m"
        );
        assert_eq!(printable_keeping_colour("\u{1b}"), "\\u001b");
        assert_eq!(printable_keeping_colour("a\u{1b}[3"), "a\\u001b[3");
    }

    #[test]
    fn controls_are_escaped_and_plain_text_is_kept() {
        assert_eq!(printable("a\tb\nc"), "a\tb\nc");
        assert_eq!(
            printable("x\u{1b}]0;pwned\u{7}y"),
            "x\\u001b]0;pwned\\u0007y"
        );
        assert_eq!(printable("\u{9b}2J"), "\\u009b2J");
        assert_eq!(printable("\r"), "\\u000d");
        assert_eq!(printable("a\r\nb"), "a\r\nb");
        assert_eq!(printable("abc\u{202e}def"), "abc\\u202edef");
        assert_eq!(printable("élan 1011"), "élan 1011");
    }

    #[test]
    fn escaped_json_is_still_json_with_the_same_text() {
        let text = "t \u{9b}2J \u{202e} \u{1b}[2J";
        let json = serde_json::to_string(&serde_json::json!({ "summary": text })).unwrap();
        let safe = printable(&json);
        assert!(!safe.chars().any(|c| c.is_control() || c == '\u{202e}'));
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back["summary"], text);
    }
}

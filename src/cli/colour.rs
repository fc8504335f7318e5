//! Colour on standard output: when it is on, and the few tones readysim uses.
//!
//! On when standard output is a terminal, or when `CLICOLOR_FORCE` is set to anything but
//! `0` (a CI log that renders ANSI); off whenever `NO_COLOR` is set to a non-empty value
//! (<https://no-color.org>), which wins over both. Piped output, files and JSON never carry
//! escape codes unless forced.

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Effects, Style};

/// What a piece of text says, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Matched, agreed, passed.
    Good,
    /// Differed, failed, new.
    Bad,
    /// Worth a look, not a failure (no expectations, only counted).
    Warn,
    /// Known already: context, not news.
    Dim,
}

/// Whether standard output gets colour (read once: the environment does not change).
pub fn on() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        let forced =
            set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE") != Some("0".into());
        !set("NO_COLOR") && (forced || std::io::stdout().is_terminal())
    })
}

fn style(t: Tone) -> Style {
    match t {
        Tone::Good => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Tone::Bad => Style::new()
            .fg_color(Some(AnsiColor::Red.into()))
            .effects(Effects::BOLD),
        Tone::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Tone::Dim => Style::new().effects(Effects::DIMMED),
    }
}

/// `s` in the tone's colour when colour is on, as it is otherwise.
pub fn paint(s: &str, t: Tone) -> String {
    if on() {
        let st = style(t);
        format!("{}{s}{}", st.render(), st.render_reset())
    } else {
        s.to_string()
    }
}

/// A table cell in the tone's colour (comfy-table lays the text out before it styles it, so
/// widths are those of the text).
pub fn cell(s: impl Into<String>, t: Tone) -> comfy_table::Cell {
    use comfy_table::{Attribute, Cell, Color};
    let c = Cell::new(s.into());
    match t {
        Tone::Good => c.fg(Color::Green),
        Tone::Bad => c.fg(Color::Red).add_attribute(Attribute::Bold),
        Tone::Warn => c.fg(Color::Yellow),
        Tone::Dim => c.add_attribute(Attribute::Dim),
    }
}

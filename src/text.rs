//! Text from the wire or a file, made safe to show on one line: the first line only, control characters
//! replaced (an `ESC` in a server's answer must not reach a terminal), trimmed, and cut with `…`; and any
//! text made printable whole, for the renderers.

use std::fmt::Write as _;

/// The first line of `s` (up to CR or LF), each control character as `.`, trimmed, at most `max`
/// characters (then `…`).
pub fn one_line(s: &str, max: usize) -> String {
    let first = s.split(['\r', '\n']).next().unwrap_or("");
    let clean: String = first
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '.',
            c => c,
        })
        .collect();
    let clean = clean.trim();
    match clean.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean.to_string(),
    }
}

/// `1 certificate`, `3 certificates`.
pub fn certificates(n: usize) -> String {
    if n == 1 {
        "1 certificate".to_string()
    } else {
        format!("{n} certificates")
    }
}

/// [`one_line`] of bytes that may not be UTF-8 (a server's first bytes): invalid sequences become `.`.
pub fn one_line_bytes(bytes: &[u8], max: usize) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c == char::REPLACEMENT_CHARACTER {
                '.'
            } else {
                c
            }
        })
        .collect();
    one_line(&text, max)
}

/// `s` with every control character and every Unicode bidirectional override or isolate as a visible escape,
/// so that text a server or a file controls can neither drive a terminal (retitle it, clear the screen, hide
/// text) nor reorder what is shown: LF, CR and TAB as `\n`, `\r`, `\t`; the other control characters (C0,
/// DEL, C1) as `\xHH`; U+202A..U+202E and U+2066..U+2069 as `\u{202e}`. Everything else is kept as is.
pub fn printable(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A control character, or a bidirectional embedding, override or isolate (which can hide or reorder text).
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_printable_line() {
        assert_eq!(
            one_line("HTTP/1.1 400 Bad Request\r\nServer: x", 60),
            "HTTP/1.1 400 Bad Request"
        );
        assert_eq!(one_line("  a\u{1b}[2Jb\tc  ", 60), "a.[2Jb c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("", 3), "");
        assert_eq!(one_line_bytes(&[0x41, 0x00, 0x42, 0xff], 60), "A.B.");
        assert_eq!(certificates(1), "1 certificate");
        assert_eq!(certificates(2), "2 certificates");
    }

    #[test]
    fn printable_escapes_what_drives_a_terminal() {
        assert_eq!(
            printable("CN=cvp1.example.com, O=Arista"),
            "CN=cvp1.example.com, O=Arista"
        );
        assert_eq!(printable(""), "");
        // An OSC title change and a screen clear, both visible and inert.
        assert_eq!(
            printable("\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(printable("a\nb\r\nc\td"), "a\\nb\\r\\nc\\td");
        assert_eq!(printable("nul\0 del\u{7f}"), "nul\\x00 del\\x7f");
        // C1 controls (U+009B is a one-character CSI on some terminals).
        assert_eq!(printable("\u{9b}2J \u{80} \u{9f}"), "\\x9b2J \\x80 \\x9f");
        // Bidirectional embeddings, overrides and isolates.
        assert_eq!(printable("file\u{202e}txt.exe"), "file\\u{202e}txt.exe");
        assert_eq!(
            printable("\u{202a}\u{202b}\u{202c}\u{202d}\u{2066}\u{2067}\u{2068}\u{2069}"),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{2066}\\u{2067}\\u{2068}\\u{2069}"
        );
        // Printable non-ASCII is kept: names, arrows, the table's own characters; the neighbours of the
        // bidirectional ranges too.
        assert_eq!(printable("Zürich → 東京 · ┆ …"), "Zürich → 東京 · ┆ …");
        assert_eq!(
            printable("\u{2029}\u{206a}\u{a0}"),
            "\u{2029}\u{206a}\u{a0}"
        );
        // A backslash is kept as is.
        assert_eq!(printable("a\\b"), "a\\b");
    }

    #[test]
    fn printable_escapes_every_control_character() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let shown = printable(&c.to_string());
            if c.is_control() {
                assert!(shown.starts_with('\\'), "{c:?} -> {shown}");
                assert!(!shown.chars().any(char::is_control), "{c:?} -> {shown}");
                assert!(shown.is_ascii(), "{c:?} -> {shown}");
            }
        }
    }
}

/// `s` wrapped at spaces to lines of at most `width` characters (a word longer than that stays whole), the
/// lines after the first indented by `indent` spaces.
pub fn wrap(s: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in s.split(' ') {
        let len = word.chars().count();
        if line > 0 && line + 1 + len > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line = indent;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += len;
    }
    out
}

#[cfg(test)]
mod wrap_tests {
    #[test]
    fn wraps_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(super::wrap("a bb ccc dddd", 6, 2), "a bb\n  ccc\n  dddd");
        assert_eq!(
            super::wrap("averyverylongword x", 5, 0),
            "averyverylongword\nx"
        );
        assert_eq!(super::wrap("short", 80, 2), "short");
    }
}

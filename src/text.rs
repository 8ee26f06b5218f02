//! Text from the wire or a file, made safe to show on one line: the first line only, control characters
//! replaced (an `ESC` in a server's answer must not reach a terminal), trimmed, and cut with `…`.

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
    }
}

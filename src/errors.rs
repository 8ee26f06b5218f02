//! Library errors in words: an error and its causes, joined (`error sending request: connection refused`),
//! for summaries; an I/O error without its `(os error N)`. Never a library's `Debug`.

/// `e` and each of its sources, `: `-joined.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An I/O error in words, without Rust's `(os error N)` suffix: `No such file or directory`.
pub fn io_words(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_joined() {
        let e = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            super::chain(&e),
            "error sending request: connection refused"
        );
    }

    #[test]
    fn io_errors_in_words() {
        let e = std::io::Error::from_raw_os_error(2);
        assert!(e.to_string().contains("os error"));
        assert_eq!(super::io_words(&e), "No such file or directory");
    }
}

//! Secrets (passwords, tokens): a type whose `Debug` and `Display` print `(redacted)`, so a secret cannot
//! reach a report, a log or an error by accident. Reading the value is explicit: `expose()`.

use secrecy::{ExposeSecret, SecretString};

/// A password or token.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(SecretString::from(value.into()))
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(redacted)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(redacted)")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("(redacted)")
    }
}

/// `https://user:pass@host/x` → `https://***@host/x`: the credentials in a URL, removed. Textual on
/// purpose, so that it also redacts what no URL parser accepts (a bad port, a space, a `/` or `#` in an
/// unencoded password): everything up to the last `@` is user information. (An `@` in a path redacts too
/// much, never too little.)
pub fn redact_url_credentials(value: &str) -> String {
    let (scheme, rest) = match value.find("://") {
        Some(i) => value.split_at(i + 3),
        None => ("", value),
    };
    match rest.rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => value.to_string(),
    }
}

/// The user information of a URL, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub user: String,
    pub password: Option<String>,
}

/// The user information of a URL (a proxy setting, a target), read by the `url` crate; a URL without a
/// scheme is read as `http://`. `None` when there is none, or the URL does not parse.
pub fn url_userinfo(value: &str) -> Option<UserInfo> {
    let value = value.trim();
    let parsed = if value.contains("://") {
        url::Url::parse(value)
    } else {
        url::Url::parse(&format!("http://{value}"))
    }
    .ok()?;
    if parsed.username().is_empty() && parsed.password().is_none() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some(UserInfo {
        user: decode(parsed.username()),
        password: parsed.password().map(decode),
    })
}

/// The password (or lone user info) in a URL such as a proxy setting, to be kept out of every output.
pub fn url_password(value: &str) -> Option<String> {
    let info = url_userinfo(value)?;
    let password = info.password.unwrap_or(info.user);
    (!password.is_empty()).then_some(password)
}

/// Every way a server may write one character of a secret: as itself; percent-encoded (each UTF-8 byte as
/// `%XX` or `%xx`, a space also as `+`), whatever set of characters the encoder leaves alone; JSON-escaped
/// (`\"`, `\\`, `\/`, `\n`, `\uXXXX` in either case, surrogate pairs past U+FFFF); HTML-escaped (`&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#NN;`, `&#xHH;`).
fn encodings(c: char) -> Vec<String> {
    let mut v = vec![c.to_string()];
    let mut buf = [0u8; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    v.push(bytes.iter().map(|b| format!("%{b:02X}")).collect());
    v.push(bytes.iter().map(|b| format!("%{b:02x}")).collect());
    let mut units = [0u16; 2];
    let units = c.encode_utf16(&mut units);
    v.push(units.iter().map(|u| format!("\\u{u:04x}")).collect());
    v.push(units.iter().map(|u| format!("\\u{u:04X}")).collect());
    let code = u32::from(c);
    v.push(format!("&#{code};"));
    v.push(format!("&#x{code:x};"));
    v.push(format!("&#x{code:X};"));
    v.push(format!("&#X{code:x};"));
    let named: &[&str] = match c {
        ' ' => &["+"],
        '"' => &["\\\"", "&quot;"],
        '\\' => &["\\\\"],
        '/' => &["\\/"],
        '\n' => &["\\n"],
        '\r' => &["\\r"],
        '\t' => &["\\t"],
        '&' => &["&amp;"],
        '<' => &["&lt;"],
        '>' => &["&gt;"],
        '\'' => &["&apos;"],
        _ => &[],
    };
    v.extend(named.iter().map(|n| n.to_string()));
    v.sort();
    v.dedup();
    v
}

/// One secret as a pattern: for each of its characters, every way it may be written (see [`encodings`]);
/// an occurrence may mix them. A base64 form is a pattern of its own, written one way.
struct Pattern {
    chars: Vec<Vec<String>>,
}

impl Pattern {
    fn encoded(secret: &str) -> Pattern {
        Pattern {
            chars: secret.chars().map(encodings).collect(),
        }
    }

    fn literal(form: &str) -> Pattern {
        Pattern {
            chars: form.chars().map(|c| vec![c.to_string()]).collect(),
        }
    }

    /// Where an occurrence starting at byte `start` of `text` ends (the longest), if one does.
    fn match_at(&self, text: &[u8], start: usize) -> Option<usize> {
        let first = self.chars.first()?;
        if !first
            .iter()
            .any(|a| text[start..].starts_with(a.as_bytes()))
        {
            return None;
        }
        let mut at = vec![start];
        for alternatives in &self.chars {
            let mut next: Vec<usize> = Vec::new();
            for &p in &at {
                for alt in alternatives {
                    if text[p..].starts_with(alt.as_bytes()) && !next.contains(&(p + alt.len())) {
                        next.push(p + alt.len());
                    }
                }
            }
            if next.is_empty() {
                return None;
            }
            at = next;
        }
        at.into_iter().max()
    }
}

/// A secret's patterns: every character's encodings, and its base64 (padded, unpadded, URL-safe).
fn patterns(secret: &str) -> Vec<Pattern> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let mut b64: Vec<String> = [STANDARD, STANDARD_NO_PAD]
        .iter()
        .map(|e| e.encode(secret))
        .chain(std::iter::once(URL_SAFE_NO_PAD.encode(secret)))
        .collect();
    b64.sort_by_key(|f| std::cmp::Reverse(f.len()));
    b64.dedup();
    std::iter::once(Pattern::encoded(secret))
        .chain(b64.iter().map(|f| Pattern::literal(f)))
        .collect()
}

/// Secrets shorter than this are not replaced inside a text (they would cut ordinary words apart): a text
/// from the wire that holds one, in any form, is withheld whole instead.
const SHORT: usize = 4;

/// What a text from the wire becomes when it holds a short secret.
pub const WITHHELD: &str = "(withheld: the server's text contains a form of a secret)";

/// The patterns of a set of secrets: the long ones replaced, the short ones withholding the whole text.
#[derive(Default)]
struct Forms {
    long: Vec<Pattern>,
    short: Vec<Pattern>,
}

impl Forms {
    fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        if secret.chars().count() >= SHORT {
            self.long.extend(patterns(secret));
        } else {
            self.short.extend(patterns(secret));
        }
    }

    /// The longest occurrence of any of `patterns` at byte `i`, if any.
    fn longest(patterns: &[Pattern], text: &[u8], i: usize) -> Option<usize> {
        patterns.iter().filter_map(|p| p.match_at(text, i)).max()
    }

    fn apply(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let starts = || text.char_indices().map(|(i, _)| i);
        if starts().any(|i| Forms::longest(&self.short, bytes, i).is_some()) {
            return WITHHELD.to_string();
        }
        if self.long.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(c) = text[i..].chars().next() {
            match Forms::longest(&self.long, bytes, i) {
                Some(end) if end > i => {
                    out.push_str("(redacted)");
                    i = end;
                }
                _ => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out
    }
}

/// The secrets of one run, in every form a server may write them ([`encodings`], base64): those the user gave (passwords, `user:password`,
/// tokens, proxy credentials) and those servers issue (session ids, tokens, cookies), learned the moment they
/// arrive. Every text from the wire passes through [`Redactor::wire`] before it enters a check, so the report
/// holds no secret and no renderer needs to scrub (which would break JSON, and say the password, when the
/// password is a word such as `null` or `pass`). Clones share what is learned.
#[derive(Clone, Default)]
pub struct Redactor {
    forms: std::sync::Arc<std::sync::RwLock<Forms>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    pub fn new(secrets: &[String]) -> Redactor {
        let r = Redactor::default();
        for s in secrets {
            r.learn(s);
        }
        r
    }

    /// A secret that arrived (a session id, a token, a cookie value): from now on it is redacted too.
    pub fn learn(&self, secret: &str) {
        if let Ok(mut forms) = self.forms.write() {
            forms.add(secret);
        }
    }

    /// `text` (from a server, a proxy or a file) with every form of every secret replaced by `(redacted)`;
    /// [`WITHHELD`] when it holds a secret too short to replace inside it.
    pub fn wire(&self, text: &str) -> String {
        match self.forms.read() {
            Ok(forms) => forms.apply(text),
            // A poisoned lock: say nothing rather than risk a secret.
            Err(_) => WITHHELD.to_string(),
        }
    }

    /// The first line of a text from the wire, redacted (before it is cut, so no part of a secret survives
    /// the cut), control characters replaced, at most `max` characters.
    pub fn excerpt(&self, text: &str, max: usize) -> String {
        crate::text::one_line(&self.wire(text), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials() {
        assert_eq!(
            redact_url_credentials("http://user:s3cret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(
            redact_url_credentials("http://proxy:3128/"),
            "http://proxy:3128/"
        );
        assert_eq!(redact_url_credentials("user:pw@proxy"), "***@proxy");
        assert_eq!(
            url_password("http://user:s3cret@proxy:3128"),
            Some("s3cret".into())
        );
        assert_eq!(url_password("http://token@proxy"), Some("token".into()));
        assert_eq!(url_password("http://proxy:3128"), None);
        assert_eq!(url_password("user:p%40ss@proxy:3128"), Some("p@ss".into()));
        assert_eq!(
            url_userinfo("http://u%20x:@proxy"),
            Some(UserInfo {
                user: "u x".into(),
                password: None
            })
        );
        assert_eq!(
            redact_url_credentials("http://u:p@ss@proxy:99999"),
            "http://***@proxy:99999"
        );
        for raw in ["http://u:pa/ss@proxy:3128", "http://u:p?w#x@proxy:3128/"] {
            let shown = redact_url_credentials(raw);
            assert!(shown.starts_with("http://***@proxy:3128"), "{shown}");
        }
        assert_eq!(
            Redactor::new(&["s3cret".into()]).wire("a s3cret b"),
            "a (redacted) b"
        );
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2-canary");
        assert_eq!(format!("{s}"), "(redacted)");
        assert_eq!(format!("{s:?}"), "(redacted)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some((redacted))");
        assert_eq!(serde_json::to_string(&s).expect("json"), "\"(redacted)\"");
        assert_eq!(s.expose(), "hunter2-canary");
    }

    #[test]
    fn every_form_of_a_secret_is_scrubbed() {
        let secret = "p@ss w/\"<rd>'&x";
        let r = Redactor::new(&[secret.to_string()]);
        // Each form named in the issue, written by hand.
        for written in [
            r#"p@ss w/\"<rd>'&x"#,
            "p%40ss%20w%2F%22%3Crd%3E%27%26x",
            "p%40ss+w%2F%22%3Crd%3E%27%26x",
            "p%40ss%20w%2f%22%3crd%3e%27%26x",
            "p@ss w/&quot;&lt;rd&gt;&#39;&amp;x",
            "p@ss w/&quot;&lt;rd&gt;&#x27;&amp;x",
            // Encoders that leave other characters alone (`@`, `/`, `'`), and mixed escapes.
            "p@ss%20w/%22%3Crd%3E'%26x",
            r#"p\u0040ss w\/\"<rd>\u0027&x"#,
            "p&#64;ss&#32;w/&#34;&lt;rd&gt;&apos;&#x26;x",
        ] {
            assert_eq!(
                r.wire(&format!("a {written} b")),
                "a (redacted) b",
                "{written}"
            );
        }
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert_eq!(r.wire(&b64), "(redacted)");
    }

    #[test]
    fn short_secrets_withhold_the_text_and_learned_ones_join() {
        let r = Redactor::new(&["ab1".into()]);
        assert_eq!(r.wire("the password ab1 is wrong"), WITHHELD);
        assert_eq!(r.wire("nothing secret here"), "nothing secret here");
        // A clone shares what is learned: a session id the login returned is redacted in later answers.
        let later = r.clone();
        r.learn("session-4f2a9c");
        assert_eq!(later.wire("bad session-4f2a9c"), "bad (redacted)");
        // Cut after redaction: no part of a secret survives an excerpt.
        assert_eq!(later.excerpt("xx session-4f2a9c yy", 6), "xx (re…");
    }

    #[test]
    fn unicode_escaped_json_is_a_form() {
        let r = Redactor::new(&["pässwörd".into()]);
        assert_eq!(
            r.wire(r#"{"p":"p\u00e4ssw\u00f6rd"}"#),
            r#"{"p":"(redacted)"}"#
        );
        assert_eq!(r.wire(r#"p\u00E4ssw\u00F6rd"#), "(redacted)");
    }
}

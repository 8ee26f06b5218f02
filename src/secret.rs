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

/// The forms a secret takes in text a server or a renderer writes: raw, JSON-escaped, percent-encoded (both
/// `%20` and `+` for spaces), HTML-escaped, and base64.
pub fn forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or(secret)
        .to_string();
    let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let html = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let mut all = vec![
        secret.to_string(),
        json,
        percent.replace("%20", "+"),
        percent.to_lowercase_escapes(),
        percent,
        html.replace("&#39;", "&#x27;"),
        html,
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    ];
    all.sort();
    all.dedup();
    all
}

/// `%2F` → `%2f`: percent escapes in lower case, as some servers write them.
trait LowerEscapes {
    fn to_lowercase_escapes(&self) -> String;
}

impl LowerEscapes for String {
    fn to_lowercase_escapes(&self) -> String {
        let mut out = String::with_capacity(self.len());
        let mut left = 0usize;
        for ch in self.chars() {
            if ch == '%' {
                left = 2;
                out.push(ch);
            } else if left > 0 {
                left -= 1;
                out.push(ch.to_ascii_lowercase());
            } else {
                out.push(ch);
            }
        }
        out
    }
}

/// Every form of every known secret, longest first, ready to replace in many texts.
pub struct Scrubber {
    forms: Vec<String>,
}

impl Scrubber {
    /// Secrets under 4 characters are not scrubbed: they would cut ordinary words apart.
    pub fn new(secrets: &[String]) -> Scrubber {
        let mut forms: Vec<String> = secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .flat_map(|s| forms(s))
            .filter(|f| f.len() >= 4)
            .collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Scrubber { forms }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every form replaced by `(redacted)`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for f in &self.forms {
            if out.contains(f.as_str()) {
                out = out.replace(f.as_str(), "(redacted)");
            }
        }
        out
    }
}

/// Replaces every known secret value, in every form [`forms`] lists, in `text` with `(redacted)`: the last
/// line of defence before output. Longer forms go first, so a form that contains another is replaced whole.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    Scrubber::new(secrets).apply(text)
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
        assert_eq!(scrub("a s3cret b", &["s3cret".into()]), "a (redacted) b");
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
        let secrets = vec![secret.to_string()];
        for form in forms(secret) {
            let text = format!("before {form} after");
            let out = scrub(&text, &secrets);
            assert_eq!(out, "before (redacted) after", "{form}");
        }
        // Each form named in the issue, written by hand.
        for written in [
            r#"p@ss w/\"<rd>'&x"#,
            "p%40ss%20w%2F%22%3Crd%3E%27%26x",
            "p%40ss+w%2F%22%3Crd%3E%27%26x",
            "p%40ss%20w%2f%22%3crd%3e%27%26x",
            "p@ss w/&quot;&lt;rd&gt;&#39;&amp;x",
            "p@ss w/&quot;&lt;rd&gt;&#x27;&amp;x",
        ] {
            assert!(!scrub(written, &secrets).contains("ss"), "{written}");
        }
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert_eq!(scrub(&b64, &secrets), "(redacted)");
    }
}

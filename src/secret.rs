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

/// `https://user:pass@host/x` → `https://***@host/x`: the credentials in a URL, removed.
pub fn redact_url_credentials(value: &str) -> String {
    let (scheme, rest) = match value.find("://") {
        Some(i) => value.split_at(i + 3),
        None => ("", value),
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => value.to_string(),
    }
}

/// The password (or lone user info) in a URL such as a proxy setting, to be kept out of every output.
pub fn url_password(value: &str) -> Option<String> {
    let rest = value.split_once("://").map(|(_, r)| r).unwrap_or(value);
    let userinfo = rest.split('/').next()?.rsplit_once('@')?.0;
    let password = userinfo.split_once(':').map(|(_, p)| p).unwrap_or(userinfo);
    (!password.is_empty()).then(|| password.to_string())
}

/// Replaces every known secret value in `text` with `(redacted)`: the last line of defence before output.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "(redacted)");
    }
    out
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
}

//! Reading a JWT's claims without verifying its signature: only to say when a token expires, whose it is and
//! where it belongs (`exp`, `iat`, `dsn`, `dst`, `sub`, CloudVision's tenant `ogi`/`ogn`, and the host an
//! `iss` or `aud` names). A token that is not a JWT (an opaque session id) is simply not read.

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The claims worth reporting. Never includes the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Claims {
    pub alg: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    /// CloudVision: the account's or user's name.
    pub dsn: Option<String>,
    /// CloudVision: what the token is, [`DST_ACCOUNT`] (a service account's) or [`DST_USER`] (a login session).
    pub dst: Option<String>,
    /// CloudVision as a Service: the tenant's (organisation's) id and name, in newer tokens.
    pub ogi: Option<String>,
    pub ogn: Option<String>,
    pub sub: Option<String>,
    /// The issuer and the audiences, as written (a string or a list of them).
    pub iss: Option<String>,
    pub aud: Vec<String>,
}

/// `dst` of a CloudVision service-account token.
pub const DST_ACCOUNT: &str = "account";
/// `dst` of a CloudVision login session (about 24 hours).
pub const DST_USER: &str = "user";

/// Reads the claims of `token` when it is a JWT (three base64url parts, JSON header and payload).
pub fn claims(token: &str) -> Option<Claims> {
    let mut parts = token.trim().split('.');
    let (header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p.trim_end_matches('='))
            .ok()
    };
    let header: serde_json::Value = serde_json::from_slice(&decode(header)?).ok()?;
    let payload: serde_json::Value = serde_json::from_slice(&decode(payload)?).ok()?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    // A time outside what a date can hold (`-1e300`, found by fuzzing) is no time at all: it would
    // overflow every subtraction that follows.
    let num = |k: &str| {
        payload
            .get(k)
            .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
            .filter(|t| OffsetDateTime::from_unix_timestamp(*t).is_ok())
    };
    // An id may be a number or a string.
    let id = |k: &str| match payload.get(k) {
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let aud = match payload.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Some(Claims {
        alg: text(&header, "alg"),
        exp: num("exp"),
        iat: num("iat"),
        dsn: text(&payload, "dsn"),
        dst: text(&payload, "dst"),
        ogi: id("ogi"),
        ogn: text(&payload, "ogn"),
        sub: text(&payload, "sub"),
        iss: text(&payload, "iss"),
        aud,
    })
}

/// The cluster a CloudVision as a Service host belongs to: the name without its `www.` (the APIs) or
/// `apiserver.` (device streaming) label, lower case, without a final dot (`www.cv-prod-uk-1.arista.io` →
/// `cv-prod-uk-1.arista.io`, `www.arista.io` → `arista.io`).
pub fn cluster_of(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    for label in ["www.", "apiserver."] {
        if let Some(rest) = host.strip_prefix(label) {
            return rest.to_string();
        }
    }
    host
}

/// The host in `value`: a URL's (`https://www.arista.io/cvpservice`) or a bare name (`www.arista.io`); a
/// value without a dot (`twistlock`, an account) names none.
fn host_in(value: &str) -> Option<String> {
    let v = value.trim();
    let rest = v.split_once("://").map_or(v, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let ok = host.contains('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    ok.then(|| host.to_ascii_lowercase())
}

impl Claims {
    /// The CloudVision as a Service cluster the token names, when its `iss` or an `aud` is an `arista.io`
    /// host or URL (which claim real tokens use is not confirmed; both are read).
    pub fn cluster(&self) -> Option<String> {
        self.iss
            .iter()
            .chain(self.aud.iter())
            .filter_map(|v| host_in(v))
            .find(|h| h == "arista.io" || h.ends_with(".arista.io"))
            .map(|h| cluster_of(&h))
    }

    /// A service account's token (`dst` is `account`).
    pub fn is_account(&self) -> bool {
        self.dst.as_deref() == Some(DST_ACCOUNT)
    }

    /// A user's login session (`dst` is `user`): it lasts about 24 hours.
    pub fn is_user_session(&self) -> bool {
        self.dst.as_deref() == Some(DST_USER)
    }

    /// Seconds until `exp` at `now` (negative once expired).
    pub fn seconds_left(&self, now: OffsetDateTime) -> Option<i64> {
        self.exp.map(|e| e.saturating_sub(now.unix_timestamp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn reads_claims_without_verifying() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(r#"{"did":1,"dsn":"ansible-sa","exp":1780272000,"iat":1780000000}"#),
            b64("not-a-signature")
        );
        let c = claims(&token).expect("jwt");
        assert_eq!(c.alg.as_deref(), Some("RS256"));
        assert_eq!(c.dsn.as_deref(), Some("ansible-sa"));
        assert_eq!(c.exp, Some(1780272000));
        let at = OffsetDateTime::from_unix_timestamp(1780271000).expect("time");
        assert_eq!(c.seconds_left(at), Some(1000));
    }

    #[test]
    fn cloudvision_kind_tenant_and_cluster() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"ES256"}"#),
            b64(
                r#"{"dsn":"ci","dst":"account","ogi":4711,"ogn":"acme","iss":"https://www.cv-prod-euwest-2.arista.io/","exp":1}"#
            ),
            b64("sig")
        );
        let c = claims(&token).expect("jwt");
        assert!(c.is_account() && !c.is_user_session());
        assert_eq!(c.ogi.as_deref(), Some("4711"));
        assert_eq!(c.ogn.as_deref(), Some("acme"));
        assert_eq!(c.cluster().as_deref(), Some("cv-prod-euwest-2.arista.io"));
        let user = format!(
            "{}.{}.x",
            b64(r#"{"alg":"RS256"}"#),
            b64(
                r#"{"dst":"user","ogi":"7","iss":"twistlock","aud":["x","apiserver.arista.io:443"]}"#
            )
        );
        let c = claims(&user).expect("jwt");
        assert!(c.is_user_session());
        assert_eq!(c.ogi.as_deref(), Some("7"));
        assert_eq!(c.cluster().as_deref(), Some("arista.io"));
        let none = format!(
            "{}.{}.x",
            b64(r#"{"alg":"HS256"}"#),
            b64(r#"{"iss":"twistlock","aud":"https://cvp.example.com"}"#)
        );
        assert_eq!(claims(&none).expect("jwt").cluster(), None);
    }

    #[test]
    fn clusters_of_hosts() {
        assert_eq!(cluster_of("www.arista.io"), "arista.io");
        assert_eq!(
            cluster_of("APIserver.cv-prod-uk-1.arista.io."),
            "cv-prod-uk-1.arista.io"
        );
        assert_eq!(
            cluster_of("cv-prod-us-4.arista.io"),
            "cv-prod-us-4.arista.io"
        );
        assert_eq!(
            host_in("user@Host.Example:8443/x").as_deref(),
            Some("host.example")
        );
        assert_eq!(host_in("account"), None);
    }

    #[test]
    fn opaque_tokens_are_not_jwts() {
        assert_eq!(claims("6f1c2e0a9b"), None);
        assert_eq!(claims("a.b.c"), None);
        assert_eq!(claims("a.b.c.d"), None);
        assert_eq!(claims(""), None);
    }

    #[test]
    fn times_no_date_can_hold_are_ignored() {
        let t = format!(
            "{}.{}.x",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"exp":-1e300,"iat":1e300}"#)
        );
        let c = claims(&t).expect("a JWT");
        assert_eq!((c.exp, c.iat), (None, None));
        assert_eq!(c.seconds_left(OffsetDateTime::UNIX_EPOCH), None);
    }
}

//! Reading a JWT's claims without verifying its signature: only to say when a token expires and whose it
//! is (`exp`, `iat`, `dsn`, `sub`). A token that is not a JWT (an opaque session id) is simply not read.

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The claims worth reporting. Never includes the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Claims {
    pub alg: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    /// CloudVision service accounts: the account name.
    pub dsn: Option<String>,
    pub sub: Option<String>,
}

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
    Some(Claims {
        alg: text(&header, "alg"),
        exp: num("exp"),
        iat: num("iat"),
        dsn: text(&payload, "dsn"),
        sub: text(&payload, "sub"),
    })
}

impl Claims {
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

//! Tokens the lab issues and accepts: JWTs shaped like the products' own.
//!
//! CloudVision service-account tokens and session ids: header `{"alg":"RS256","typ":"JWT"}`, claims `did, dsn
//! (account name), dst, exp, iat, sid`. Prisma Cloud Compute: header `{"alg":"HS256","typ":"JWT"}`, claims
//! `user, role, iss, iat, exp` (30 minutes self-hosted, 60 on SaaS). Every signature is an HMAC-SHA256 with
//! [`LAB_SECRET`] (clients never verify it; the lab checks it and `exp` against the real clock). The secret is
//! fixed and public, so a test can mint a token the lab accepts with any lifetime: [`cvp_token`],
//! [`prisma_token`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use time::OffsetDateTime;

/// The key every lab token is signed with. Public on purpose: this is a lab.
pub const LAB_SECRET: &[u8] = b"preflight lab signing key: public, for the lab only";

/// `dst` of a service-account token.
pub const DST_ACCOUNT: &str = "account";
/// `dst` of a session token from a password login.
pub const DST_USER: &str = "user";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac(input: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, LAB_SECRET);
    ring::hmac::sign(&key, input).as_ref().to_vec()
}

/// A JWT with this header algorithm and these claims, signed with [`LAB_SECRET`].
pub fn encode(alg: &str, claims: &Value) -> String {
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = hmac(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// A number from the name and time, as CloudVision's `did` and `sid` look: stable for the same inputs.
fn digest(name: &str, iat: i64) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, format!("{name}@{iat}").as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A CloudVision token (RS256 header) for `dsn`: a service account (`dst` = [`DST_ACCOUNT`]) or a user
/// session ([`DST_USER`]), issued at `iat` and expiring at `exp` (Unix seconds).
pub fn cvp_token(dsn: &str, dst: &str, iat: i64, exp: i64) -> String {
    let d = digest(dsn, iat);
    // Below 2^53, so that every JSON reader keeps it exact.
    let did = u64::from_be_bytes([0, d[1] & 0x1f, d[2], d[3], d[4], d[5], d[6], d[7]]);
    let sid: String = d[8..24].iter().map(|b| format!("{b:02x}")).collect();
    encode(
        "RS256",
        &json!({"did": did, "dsn": dsn, "dst": dst, "exp": exp, "iat": iat, "sid": sid}),
    )
}

/// A Prisma Cloud Compute token (HS256) for `user` with `role`, expiring at `exp`. Like the Console's, it
/// carries no `iat`: its lifetime (30 minutes, 60 on SaaS) cannot be read from it.
pub fn prisma_token(user: &str, role: &str, exp: i64) -> String {
    encode(
        "HS256",
        &json!({"user": user, "role": role, "iss": "twistlock", "exp": exp}),
    )
}

/// Why the lab refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a JWT, not ours, or signed with another key.
    Invalid,
    /// Ours, but `exp` has passed.
    Expired,
}

/// The claims of a token the lab issued (header `alg` as given), checked against [`LAB_SECRET`] and `exp` at
/// `now`.
pub fn verify(token: &str, alg: &str, now: OffsetDateTime) -> Result<Value, Refused> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refused::Invalid);
    };
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Refused::Invalid)?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, LAB_SECRET);
    ring::hmac::verify(&key, format!("{header}.{payload}").as_bytes(), &sig)
        .map_err(|_| Refused::Invalid)?;
    let decode = |p: &str| -> Result<Value, Refused> {
        let bytes = URL_SAFE_NO_PAD.decode(p).map_err(|_| Refused::Invalid)?;
        serde_json::from_slice(&bytes).map_err(|_| Refused::Invalid)
    };
    if decode(header)?.get("alg").and_then(Value::as_str) != Some(alg) {
        return Err(Refused::Invalid);
    }
    let claims = decode(payload)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(Refused::Invalid)?;
    if exp <= now.unix_timestamp() {
        return Err(Refused::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvp_tokens_carry_the_claims_clients_read() {
        let t = cvp_token("svc", DST_ACCOUNT, 1_780_000_000, 1_780_086_400);
        let c = crate::jwt::claims(&t).expect("a JWT");
        assert_eq!(c.alg.as_deref(), Some("RS256"));
        assert_eq!(c.dsn.as_deref(), Some("svc"));
        assert_eq!(c.exp, Some(1_780_086_400));
        let now = OffsetDateTime::from_unix_timestamp(1_780_000_100).expect("time");
        let claims = verify(&t, "RS256", now).expect("accepted");
        for k in ["did", "dsn", "dst", "exp", "iat", "sid"] {
            assert!(claims.get(k).is_some(), "{k} in {claims}");
        }
        assert_eq!(verify(&t, "HS256", now), Err(Refused::Invalid));
        let later = OffsetDateTime::from_unix_timestamp(1_780_086_400).expect("time");
        assert_eq!(verify(&t, "RS256", later), Err(Refused::Expired));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let now = OffsetDateTime::from_unix_timestamp(1_780_000_100).expect("time");
        let t = prisma_token("admin", "admin", 1_780_001_800);
        assert!(verify(&t, "HS256", now).is_ok());
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64(br#"{"user":"admin","role":"admin","exp":9999999999}"#);
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), "HS256", now),
            Err(Refused::Invalid)
        );
        assert_eq!(verify("opaque", "HS256", now), Err(Refused::Invalid));
        assert_eq!(verify("a.b.c", "HS256", now), Err(Refused::Invalid));
    }
}

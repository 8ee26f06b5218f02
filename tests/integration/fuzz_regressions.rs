//! Inputs the fuzz targets (fuzz/) showed to panic, fed through the same code path: each must return.
//! See fuzz/README.md. These fail until the bug they name is fixed.

use preflight::checks::auth::token_facts;
use preflight::jwt;
use preflight::report::Check;
use preflight::secret::Secret;
use time::macros::datetime;

/// `fuzz/regressions/responses-1.bin`: a JWT whose payload is `{"exp":-1e300}` (a server may hand out any
/// token). `jwt::claims` saturates the float to `i64::MIN`; `Claims::seconds_left` (src/jwt.rs) and
/// `token_facts` (src/checks/auth/mod.rs) then compute `exp - now` and overflow.
const RESPONSES_1: &[u8] = include_bytes!("../../fuzz/regressions/responses-1.bin");

#[test]
fn responses_1_seconds_left_does_not_overflow() {
    let token = String::from_utf8_lossy(RESPONSES_1).into_owned();
    let at = datetime!(2026-06-01 00:00:00 UTC);
    let r = std::panic::catch_unwind(|| jwt::claims(&token).map(|c| c.seconds_left(at)));
    assert!(
        r.is_ok(),
        "jwt::claims + Claims::seconds_left panicked on responses-1.bin"
    );
}

#[test]
fn responses_1_token_facts_does_not_overflow() {
    let token = Secret::new(String::from_utf8_lossy(RESPONSES_1).into_owned());
    let at = datetime!(2026-06-01 00:00:00 UTC);
    let r = std::panic::catch_unwind(|| {
        token_facts(Check::pass("auth.token-file", "accepted"), &token, at)
    });
    assert!(r.is_ok(), "token_facts panicked on responses-1.bin");
}

//! What a server offers, enumerated the way testssl.sh does it: for each protocol version, a ClientHello
//! with a broad list of cipher suites; the server picks one; offer the rest again until it refuses. Then the
//! key-exchange groups, one at a time. Only ClientHellos and the first answer: no handshake is completed,
//! so suites no library here implements (3DES, RC4, NULL, EXPORT) are found all the same.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::hello::{exchange_bytes, hello_record, Answer, TLS10, TLS11, TLS12, TLS13};
use super::route::Route;

/// How a suite agrees on keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kx {
    /// TLS 1.3: always ephemeral (EC)DHE.
    Tls13,
    Ecdhe,
    Dhe,
    /// The client encrypts the secret to the server's RSA key: no forward secrecy.
    Rsa,
    /// No authentication at all (anonymous Diffie-Hellman).
    Anonymous,
}

/// How a suite encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-GCM or ChaCha20-Poly1305.
    Aead,
    Cbc,
    /// 3DES, RC4, NULL or an EXPORT cipher: broken or no encryption.
    Broken,
}

/// One cipher suite: its IANA number, name, key exchange and cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    pub name: &'static str,
    pub kx: Kx,
    pub cipher: Cipher,
}

const fn s(id: u16, name: &'static str, kx: Kx, cipher: Cipher) -> Suite {
    Suite {
        id,
        name,
        kx,
        cipher,
    }
}

use Cipher::{Aead, Broken, Cbc};
use Kx::{Anonymous, Dhe, Ecdhe, Rsa, Tls13};

/// The suites of TLS 1.3.
pub const TLS13_SUITES: [Suite; 3] = [
    s(0x1301, "TLS_AES_128_GCM_SHA256", Tls13, Aead),
    s(0x1302, "TLS_AES_256_GCM_SHA384", Tls13, Aead),
    s(0x1303, "TLS_CHACHA20_POLY1305_SHA256", Tls13, Aead),
];

/// The suites offered at TLS 1.0 to 1.2: the modern ones, the CBC ones, and the weak ones a scanner must
/// find (3DES, RC4, NULL, EXPORT, anonymous).
pub const SUITES: [Suite; 40] = [
    s(
        0xC02B,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Ecdhe,
        Aead,
    ),
    s(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Ecdhe, Aead),
    s(
        0xC02C,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Ecdhe,
        Aead,
    ),
    s(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Ecdhe, Aead),
    s(
        0xCCA9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Ecdhe,
        Aead,
    ),
    s(
        0xCCA8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Ecdhe,
        Aead,
    ),
    s(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Ecdhe, Cbc),
    s(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Ecdhe, Cbc),
    s(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Ecdhe, Cbc),
    s(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Ecdhe, Cbc),
    s(
        0xC023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        Ecdhe,
        Cbc,
    ),
    s(
        0xC024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        Ecdhe,
        Cbc,
    ),
    s(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Ecdhe, Cbc),
    s(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Ecdhe, Cbc),
    s(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Dhe, Aead),
    s(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Dhe, Aead),
    s(
        0xCCAA,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Dhe,
        Aead,
    ),
    s(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Dhe, Cbc),
    s(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Dhe, Cbc),
    s(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Dhe, Cbc),
    s(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Dhe, Cbc),
    s(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", Rsa, Aead),
    s(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", Rsa, Aead),
    s(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", Rsa, Cbc),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Rsa, Cbc),
    s(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", Rsa, Cbc),
    s(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", Rsa, Cbc),
    s(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Ecdhe, Broken),
    s(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", Dhe, Broken),
    s(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Rsa, Broken),
    s(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Ecdhe, Broken),
    s(0x0005, "TLS_RSA_WITH_RC4_128_SHA", Rsa, Broken),
    s(0x0004, "TLS_RSA_WITH_RC4_128_MD5", Rsa, Broken),
    s(0x0001, "TLS_RSA_WITH_NULL_MD5", Rsa, Broken),
    s(0x0002, "TLS_RSA_WITH_NULL_SHA", Rsa, Broken),
    s(0x003B, "TLS_RSA_WITH_NULL_SHA256", Rsa, Broken),
    s(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Rsa, Broken),
    s(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Rsa, Broken),
    s(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Anonymous, Cbc),
    s(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Anonymous, Cbc),
];

/// A suite by number, from either list.
pub fn suite(id: u16) -> Option<Suite> {
    TLS13_SUITES
        .iter()
        .chain(SUITES.iter())
        .copied()
        .find(|s| s.id == id)
}

/// Whether TLS 1.0 and 1.1 can carry the suite (no AEAD, no SHA-256/384 MAC: those came with TLS 1.2).
fn before_tls12(s: &Suite) -> bool {
    s.cipher != Aead && !s.name.ends_with("SHA256") && !s.name.ends_with("SHA384")
}

/// The key-exchange groups probed one at a time: x25519, P-256, P-384, P-521, x448, ffdhe2048, ffdhe3072.
pub const GROUPS: [(u16, &str); 7] = [
    (0x001D, "x25519"),
    (0x0017, "secp256r1"),
    (0x0018, "secp384r1"),
    (0x0019, "secp521r1"),
    (0x001E, "x448"),
    (0x0100, "ffdhe2048"),
    (0x0101, "ffdhe3072"),
];

/// The most ClientHellos one version's enumeration sends (a server accepts at most this many suites here).
const PER_VERSION: usize = 45;

/// What the server accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enumeration {
    /// Each version, newest first, with the suites it accepted in the order the server picked them (an empty
    /// list: the version is refused).
    pub versions: Vec<(u16, Vec<Suite>)>,
    /// The groups accepted for ECDHE (at the newest version that has ECDHE).
    pub groups: Vec<&'static str>,
    /// ClientHellos sent.
    pub connections: usize,
    /// Some ClientHello had no answer (a timeout, a closed connection): the lists may be short.
    pub incomplete: bool,
    /// The versions whose first ClientHello had no answer at all: neither accepted nor refused.
    pub unanswered: Vec<u16>,
}

impl Enumeration {
    /// The suites accepted at `version`.
    pub fn at(&self, version: u16) -> &[Suite] {
        self.versions
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, s)| s.as_slice())
            .unwrap_or(&[])
    }

    /// Every suite accepted at any version, each once.
    pub fn all(&self) -> Vec<Suite> {
        let mut out: Vec<Suite> = Vec::new();
        for (_, suites) in &self.versions {
            for s in suites {
                if !out.contains(s) {
                    out.push(*s);
                }
            }
        }
        out
    }
}

/// One ClientHello on a connection of its own; `None` when there was no TLS answer.
async fn ask<S, F, Fut>(
    open: &F,
    version: u16,
    suites: &[u16],
    groups: &[u16],
    sni: Option<&str>,
    timeout: Duration,
) -> Option<Answer>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let start = tokio::time::Instant::now();
    let stream = tokio::time::timeout(timeout, open()).await.ok()?.ok()?;
    let left = timeout.saturating_sub(start.elapsed());
    let hello = hello_record(version, suites, groups, sni);
    match exchange_bytes(stream, hello, left, false).await.0 {
        a @ (Answer::Accepted { .. } | Answer::Refused { .. }) => Some(a),
        _ => None,
    }
}

/// One version: offer what is left until the server refuses. (suites, hellos sent, complete)
async fn version<S, F, Fut>(
    open: &F,
    v: u16,
    sni: Option<&str>,
    timeout: Duration,
) -> (Vec<Suite>, usize, bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut left: Vec<Suite> = match v {
        TLS13 => TLS13_SUITES.to_vec(),
        TLS12 => SUITES.to_vec(),
        _ => SUITES.iter().copied().filter(before_tls12).collect(),
    };
    let groups: Vec<u16> = GROUPS.iter().map(|(g, _)| *g).collect();
    let mut found = Vec::new();
    let mut sent = 0;
    while !left.is_empty() && sent < PER_VERSION {
        let ids: Vec<u16> = left.iter().map(|s| s.id).collect();
        sent += 1;
        match ask(open, v, &ids, &groups, sni, timeout).await {
            Some(Answer::Accepted { version, suite }) if version == v => {
                let Some(pos) = left.iter().position(|s| s.id == suite) else {
                    break; // a suite not offered: no client would go on
                };
                found.push(left.remove(pos));
            }
            Some(_) => break,
            None => return (found, sent, false),
        }
    }
    (found, sent, true)
}

/// The groups accepted: one ClientHello per group, at `v` with its ECDHE (or TLS 1.3) suites.
async fn groups<S, F, Fut>(
    open: &F,
    v: u16,
    sni: Option<&str>,
    timeout: Duration,
) -> (Vec<&'static str>, usize, bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    // At TLS 1.2 a group is chosen only with an ECDHE suite, and a DHE server picks its own parameters
    // whatever the client lists: the elliptic curves alone, with the ECDHE suites alone.
    let suites: Vec<u16> = match v {
        TLS13 => TLS13_SUITES.iter().map(|s| s.id).collect(),
        _ => SUITES
            .iter()
            .filter(|s| s.kx == Ecdhe)
            .map(|s| s.id)
            .collect(),
    };
    let probed: Vec<&(u16, &'static str)> = GROUPS
        .iter()
        .filter(|(g, _)| v == TLS13 || *g < 0x0100)
        .collect();
    let asks = probed.iter().map(|(g, name)| {
        let suites = &suites;
        async move {
            let answer = ask(open, v, suites, &[*g], sni, timeout).await;
            (name, answer)
        }
    });
    let answers = futures_util::future::join_all(asks).await;
    let complete = answers.iter().all(|(_, a)| a.is_some());
    let accepted = answers
        .iter()
        .filter(|(_, a)| matches!(a, Some(Answer::Accepted { version, .. }) if *version == v))
        .map(|(n, _)| **n)
        .collect();
    (accepted, probed.len(), complete)
}

/// Enumerates versions (1.3 to 1.0, at the same time), then the groups of the newest version accepted.
/// Each ClientHello (its connection included) has `timeout`.
pub async fn enumerate<S, F, Fut>(open: F, sni: Option<&str>, timeout: Duration) -> Enumeration
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let order = [TLS13, TLS12, TLS11, TLS10];
    let runs = order.map(|v| version(&open, v, sni, timeout));
    let results = futures_util::future::join_all(runs).await;
    let mut e = Enumeration::default();
    for (v, (suites, sent, complete)) in order.into_iter().zip(results) {
        e.connections += sent;
        e.incomplete |= !complete;
        if !complete && suites.is_empty() {
            e.unanswered.push(v);
        }
        e.versions.push((v, suites));
    }
    let newest = order.into_iter().find(|v| !e.at(*v).is_empty());
    if let Some(v) = newest {
        let (accepted, sent, complete) = groups(&open, v, sni, timeout).await;
        e.groups = accepted;
        e.connections += sent;
        e.incomplete |= !complete;
    }
    e
}

/// [`enumerate`] over `route` (straight, or through the proxy's CONNECT).
pub async fn enumerate_route(route: &Route, sni: Option<&str>, timeout: Duration) -> Enumeration {
    enumerate(
        || async {
            route
                .open(timeout)
                .await
                .map_err(|e| io::Error::other(e.describe()))
        },
        sni,
        timeout,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_is_listed_once_and_named() {
        let all: Vec<Suite> = TLS13_SUITES.iter().chain(SUITES.iter()).copied().collect();
        for (i, a) in all.iter().enumerate() {
            assert!(a.name.starts_with("TLS_"), "{a:?}");
            assert!(all[i + 1..].iter().all(|b| b.id != a.id), "{a:?} twice");
        }
        assert_eq!(suite(0xC02F).map(|s| s.kx), Some(Kx::Ecdhe));
        assert!(!before_tls12(&suite(0xC027).unwrap()));
        assert!(before_tls12(&suite(0xC013).unwrap()));
    }
}

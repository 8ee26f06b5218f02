//! A raw TLS ClientHello prober: what a server accepts when rustls cannot agree with it. rustls offers neither
//! DHE nor static-RSA key exchange nor TLS 1.0/1.1, so when its handshake fails this module writes ClientHellos
//! by hand (one per [`Probe`], each on a fresh connection) and reads only as far as the server's ServerHello or
//! alert. `checks` turns the [`Offer`] into which clients connect: OpenSSL accepts DHE and static RSA; Go,
//! rustls and grpcio do not; nobody modern accepts TLS 1.0/1.1.
//!
//! The parsing is bounded: at most [`READ_CAP`] bytes are read, every length is checked, nothing panics.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::net::route::{OpenError, Route};
use crate::net::tcp::TcpError;

/// The most bytes one probe reads from the server: a ServerHello needs under 100, in any number of records.
pub const READ_CAP: usize = 4096;

pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;

/// One ClientHello: the version it offers (`client_version`) and the cipher suites, in preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// A short name for traces and tests: `ecdhe_tls12`, `dhe`, `static_rsa`, `legacy`.
    pub name: &'static str,
    pub version: u16,
    pub suites: &'static [u16],
}

impl Probe {
    /// TLS 1.2 with ECDHE (ECDSA and RSA) and an AEAD cipher: what every modern client offers.
    pub const ECDHE_12: Probe = Probe {
        name: "ecdhe_tls12",
        version: TLS12,
        suites: &[0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8],
    };
    /// TLS 1.2 with ECDHE and CBC ciphers with SHA-1 MACs: OpenSSL's defaults (curl) and Go take them;
    /// Python's default ciphers (no SHA-1 MACs), grpcio and rustls (AEAD only) do not.
    pub const ECDHE_CBC: Probe = Probe {
        name: "ecdhe_cbc",
        version: TLS12,
        suites: &[0xC013, 0xC014, 0xC009, 0xC00A],
    };
    /// TLS 1.2 with ECDHE and CBC ciphers with SHA-2 MACs: curl and Python take them; Go leaves them out
    /// of its defaults; grpcio and rustls do not have them.
    pub const ECDHE_CBC_SHA2: Probe = Probe {
        name: "ecdhe_cbc_sha2",
        version: TLS12,
        suites: &[0xC027, 0xC028, 0xC023, 0xC024],
    };
    /// TLS 1.2 with finite-field Diffie-Hellman: OpenSSL clients offer it; Go, rustls and grpcio do not.
    pub const DHE: Probe = Probe {
        name: "dhe",
        version: TLS12,
        suites: &[0x009E, 0x009F, 0xCCAA, 0x0033, 0x0039],
    };
    /// TLS 1.2 with static RSA key exchange (no forward secrecy): OpenSSL clients only.
    pub const RSA: Probe = Probe {
        name: "static_rsa",
        version: TLS12,
        suites: &[0x009C, 0x009D, 0x002F, 0x0035, 0x003C],
    };
    /// TLS 1.0 with the suites TLS 1.0 servers choose: no modern client connects.
    pub const LEGACY: Probe = Probe {
        name: "legacy",
        version: TLS10,
        suites: &[0xC013, 0xC014, 0xC009, 0xC00A, 0x002F, 0x0035],
    };
    /// The probes [`what_it_accepts`] runs, in order.
    pub const ALL: [Probe; 6] = [
        Probe::ECDHE_12,
        Probe::ECDHE_CBC,
        Probe::ECDHE_CBC_SHA2,
        Probe::DHE,
        Probe::RSA,
        Probe::LEGACY,
    ];
}

/// How the server answered one ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version and cipher suite the server chose.
    Accepted { version: u16, suite: u16 },
    /// A TLS alert (its description: 40 `handshake_failure`, 70 `protocol_version`, ...).
    Refused { alert: u8 },
    /// The connection closed (or was reset) before the server decided.
    Closed,
    /// No decision within the deadline.
    Timeout,
    /// Not a TLS answer, or a TLS answer too malformed (or too long) to read a ServerHello from.
    NotTls,
}

/// What the server accepts, from the four probes of [`what_it_accepts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Offer {
    /// An ECDHE suite with an AEAD cipher (AES-GCM, ChaCha20) at TLS 1.2.
    pub ecdhe_tls12: bool,
    /// An ECDHE suite with a CBC cipher and a SHA-1 MAC at TLS 1.2.
    pub ecdhe_cbc: bool,
    /// An ECDHE suite with a CBC cipher and a SHA-256/384 MAC at TLS 1.2.
    pub ecdhe_cbc_sha2: bool,
    /// A DHE suite at TLS 1.2.
    pub dhe: bool,
    /// A static-RSA suite at TLS 1.2.
    pub static_rsa: bool,
    /// The version the TLS 1.0 ClientHello was accepted at, whatever else the server accepts.
    pub legacy_version: Option<u16>,
    /// [`Offer::legacy_version`], when no probe was accepted at TLS 1.2: the server speaks TLS 1.0/1.1 only.
    pub legacy_only_version: Option<u16>,
    /// The IANA names of the suites the server chose, in probe order, each once.
    pub suites: Vec<&'static str>,
    /// Each probe and its answer, or why no connection was opened for it.
    pub answers: Vec<(Probe, Result<Answer, io::ErrorKind>)>,
    /// The certificate chain the server sent, leaf first, read from a TLS 1.2 handshake it accepted (its
    /// Certificate message is in the clear): the chain is judged even when rustls cannot negotiate.
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// The IANA name of a cipher suite this module offers (`unknown` for any other), from the one catalogue
/// ([`crate::net::offer::SUITES`]).
pub fn suite_name(suite: u16) -> &'static str {
    super::offer::suite(suite).map_or("unknown", |s| s.name)
}

/// `TLS 1.2` for 0x0303; `unknown` for what is no SSL/TLS version.
pub fn version_name(version: u16) -> &'static str {
    match version {
        0x0300 => "SSL 3.0",
        TLS10 => "TLS 1.0",
        TLS11 => "TLS 1.1",
        TLS12 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "unknown",
    }
}

// ---- the ClientHello ----

/// x25519, secp256r1, secp384r1, ffdhe2048, ffdhe3072, ffdhe4096 (the FFDHE groups as OpenSSL 3 lists them:
/// a server following RFC 7919 refuses DHE to a client that lists only groups it lacks).
const GROUPS: [u16; 6] = [0x001D, 0x0017, 0x0018, 0x0100, 0x0101, 0x0102];

/// ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384, rsa_pss_rsae_sha256/384/512, rsa_pkcs1_sha256/384/512,
/// ecdsa_sha1, rsa_pkcs1_sha1.
const SIGNATURE_ALGORITHMS: [u16; 11] = [
    0x0403, 0x0503, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201, 0x0603,
];

/// Appends `body` with a big-endian length prefix of `width` bytes (2 or 3), the TLS vector encoding.
/// Lengths here are all small (a bounded SNI, fixed lists), far from overflowing their prefix.
fn vector(out: &mut Vec<u8>, width: usize, body: &[u8]) {
    let len = body.len().to_be_bytes();
    out.extend_from_slice(&len[len.len() - width..]);
    out.extend_from_slice(body);
}

fn u16s(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    vector(out, 2, body);
}

/// A name SNI may carry: a DNS name of at most 253 characters; never an address.
fn sni_name(sni: Option<&str>) -> Option<&str> {
    sni.map(|s| s.trim_end_matches('.'))
        .filter(|s| !s.is_empty() && s.len() <= 253 && s.parse::<std::net::IpAddr>().is_err())
}

fn extensions(version: u16, groups: &[u16], sni: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = sni_name(sni) {
        let mut entry = vec![0u8];
        vector(&mut entry, 2, name.as_bytes());
        let mut list = Vec::new();
        vector(&mut list, 2, &entry);
        extension(&mut ext, 0x0000, &list);
    }
    let mut list = Vec::new();
    vector(&mut list, 2, &u16s(groups));
    extension(&mut ext, 0x000A, &list);
    extension(&mut ext, 0x000B, &[1, 0]);
    // RFC 5246: signature_algorithms is not offered with versions before TLS 1.2.
    if version >= TLS12 {
        let mut algorithms = Vec::new();
        vector(&mut algorithms, 2, &u16s(&SIGNATURE_ALGORITHMS));
        extension(&mut ext, 0x000D, &algorithms);
    }
    if version >= TLS13 {
        // supported_versions: TLS 1.3 only; key_share: none, so the server answers with a HelloRetryRequest
        // naming its group (a ServerHello with its suite): enough to know, and no key to make.
        extension(&mut ext, 0x002B, &[2, 0x03, 0x04]);
        extension(&mut ext, 0x0033, &[0, 0]);
    } else {
        extension(&mut ext, 0xFF01, &[0]);
    }
    ext
}

fn random() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut bytes = [0x5Au8; 32];
    // A fixed pattern is fine for a probe that never completes a handshake.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes
}

/// The ClientHello record for `probe`. The record layer says TLS 1.0, as OpenSSL and browsers do (old
/// servers refuse a higher record version); `client_version` is the probe's.
pub fn client_hello(probe: &Probe, sni: Option<&str>) -> Vec<u8> {
    hello_record(probe.version, probe.suites, &GROUPS, sni)
}

/// A ClientHello record offering `version` (TLS 1.3 through supported_versions, its legacy field TLS 1.2),
/// `suites` in this order and the key-exchange `groups`.
pub fn hello_record(version: u16, suites: &[u16], groups: &[u16], sni: Option<&str>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.min(TLS12).to_be_bytes());
    body.extend_from_slice(&random());
    // TLS 1.3 servers expect a legacy session id (middlebox compatibility); an empty one elsewhere.
    if version >= TLS13 {
        body.push(32);
        body.extend_from_slice(&random());
    } else {
        body.push(0);
    }
    vector(&mut body, 2, &u16s(suites));
    body.extend_from_slice(&[1, 0]); // compression: null
    vector(&mut body, 2, &extensions(version, groups, sni));
    let mut handshake = vec![1u8]; // client_hello
    vector(&mut handshake, 3, &body);
    let mut record = vec![0x16];
    record.extend_from_slice(&TLS10.to_be_bytes());
    vector(&mut record, 2, &handshake);
    record
}

// ---- the answer ----

/// How far the server's bytes so far decide the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    /// Undecided: read more.
    More,
    Done(Answer),
}

/// The largest record TLS allows (2^14 plus expansion).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// Reads the server's first bytes (any prefix of them) as far as a ServerHello or an alert. Never panics.
pub fn parse(bytes: &[u8]) -> Parse {
    let mut handshake: Vec<u8> = Vec::new();
    let mut rest = bytes;
    loop {
        let Some((&kind, after)) = rest.split_first() else {
            return Parse::More;
        };
        if !(0x14..=0x18).contains(&kind) || after.first().is_some_and(|major| *major != 3) {
            return Parse::Done(Answer::NotTls);
        }
        let Some(header) = rest.get(..5) else {
            return Parse::More;
        };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > MAX_RECORD {
            return Parse::Done(Answer::NotTls);
        }
        let body = &rest[5..];
        let have = &body[..body.len().min(len)];
        match kind {
            0x15 => return alert(have, len),
            0x16 => {
                handshake.extend_from_slice(have);
                if let Parse::Done(answer) = server_hello(&handshake) {
                    return Parse::Done(answer);
                }
            }
            _ => return Parse::Done(Answer::NotTls),
        }
        if have.len() < len {
            return Parse::More;
        }
        rest = &body[len..];
    }
}

/// An alert record's description, from the `have` bytes of its `len`.
fn alert(have: &[u8], len: usize) -> Parse {
    match have {
        [_level, description, ..] => Parse::Done(Answer::Refused {
            alert: *description,
        }),
        _ if have.len() == len => Parse::Done(Answer::NotTls),
        _ => Parse::More,
    }
}

/// The ServerHello's version and cipher suite, from the handshake bytes so far (records reassembled).
fn server_hello(hs: &[u8]) -> Parse {
    let Some((&kind, _)) = hs.split_first() else {
        return Parse::More;
    };
    if kind != 2 {
        return Parse::Done(Answer::NotTls);
    }
    let Some(len) = hs.get(1..4) else {
        return Parse::More;
    };
    let declared = (usize::from(len[0]) << 16) | (usize::from(len[1]) << 8) | usize::from(len[2]);
    // header(4) version(2) random(32) session_id_len(1)
    let Some(&sid_len) = hs.get(38) else {
        return Parse::More;
    };
    let sid_len = usize::from(sid_len);
    let needed = 2 + 32 + 1 + sid_len + 2;
    if sid_len > 32 || declared < needed {
        return Parse::Done(Answer::NotTls);
    }
    let at = 4 + needed - 2;
    let Some(suite) = hs.get(at..at + 2) else {
        return Parse::More;
    };
    let legacy = u16::from_be_bytes([hs[4], hs[5]]);
    let suite = u16::from_be_bytes([suite[0], suite[1]]);
    // TLS 1.3 says TLS 1.2 in the legacy field and the truth in supported_versions: read the whole message.
    if legacy != TLS12 {
        return Parse::Done(Answer::Accepted {
            version: legacy,
            suite,
        });
    }
    let Some(message) = hs.get(4..4 + declared) else {
        return Parse::More;
    };
    let extensions = message.get(needed + 1..).unwrap_or(&[]);
    Parse::Done(Answer::Accepted {
        version: selected_version(extensions).unwrap_or(legacy),
        suite,
    })
}

/// The version a ServerHello's supported_versions extension selects, from its extensions block.
fn selected_version(block: &[u8]) -> Option<u16> {
    let [a, b, rest @ ..] = block else {
        return None;
    };
    let mut rest = rest.get(..usize::from(u16::from_be_bytes([*a, *b])))?;
    while let [t1, t2, l1, l2, body @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l1, *l2]));
        let value = body.get(..len)?;
        if [*t1, *t2] == [0x00, 0x2B] {
            return match value {
                [x, y] => Some(u16::from_be_bytes([*x, *y])),
                _ => None,
            };
        }
        rest = &body[len..];
    }
    None
}

// ---- the probes ----

/// Sends `probe`'s ClientHello over `stream` and reads the answer, all within `timeout`. `sni` is sent when it
/// is a DNS name (an address is not).
pub async fn offer<S>(stream: S, sni: Option<&str>, probe: Probe, timeout: Duration) -> Answer
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    exchange(stream, sni, probe, timeout, false).await.0
}

/// [`offer`], and when the server accepts and `chain` is asked for, its Certificate message read on the same
/// connection (TLS 1.0 to 1.2 send it in the clear, right after the ServerHello): one connection for both.
pub async fn exchange<S>(
    stream: S,
    sni: Option<&str>,
    probe: Probe,
    timeout: Duration,
    chain: bool,
) -> (Answer, Vec<rustls::pki_types::CertificateDer<'static>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    exchange_bytes(stream, client_hello(&probe, sni), timeout, chain).await
}

/// Sends `hello` (a ClientHello record) and reads the answer within `timeout`; with `chain`, the Certificate
/// message after an accepting ServerHello too.
pub async fn exchange_bytes<S>(
    mut stream: S,
    hello: Vec<u8>,
    timeout: Duration,
    chain: bool,
) -> (Answer, Vec<rustls::pki_types::CertificateDer<'static>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut answer: Option<Answer> = None;
    let mut certificates = Vec::new();
    let work = async {
        if stream.write_all(&hello).await.is_err() || stream.flush().await.is_err() {
            answer = Some(Answer::Closed);
            return;
        }
        let (mut seen, mut raw, mut handshake) = (Vec::new(), Vec::new(), Vec::new());
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(n) if n > 0 => n,
                _ => {
                    answer.get_or_insert(Answer::Closed);
                    return;
                }
            };
            if answer.is_none() {
                seen.extend_from_slice(&buf[..n]);
                match parse(&seen) {
                    Parse::Done(a) => answer = Some(a),
                    // READ_CAP bytes and still no ServerHello: nothing a client would accept.
                    Parse::More if seen.len() >= READ_CAP => answer = Some(Answer::NotTls),
                    Parse::More => {}
                }
            }
            match &answer {
                Some(Answer::Accepted { .. }) if chain => {}
                Some(_) => return,
                None => {}
            }
            raw.extend_from_slice(&buf[..n]);
            // Whole records move into the handshake bytes; anything but a handshake record ends it.
            while let [kind, _, _, hi, lo, ..] = raw[..] {
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if kind != 0x16 || len > MAX_RECORD {
                    return;
                }
                let Some(body) = raw.get(5..5 + len) else {
                    break;
                };
                handshake.extend_from_slice(body);
                raw.drain(..5 + len);
            }
            if let Some(found) = certificates_in(&handshake) {
                certificates = found;
                return;
            }
            if handshake.len() + raw.len() > CHAIN_CAP {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, work).await;
    (answer.unwrap_or(Answer::Timeout), certificates)
}

/// Runs the four probes ([`Probe::ALL`]: ECDHE at TLS 1.2, DHE, static RSA, TLS 1.0), one after the other,
/// each on a connection of its own from `open`. Each probe (opening included) has `timeout`.
pub async fn what_it_accepts<S, F, Fut>(open: F, sni: Option<&str>, timeout: Duration) -> Offer
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut answers = Vec::new();
    let mut chain = Vec::new();
    for probe in Probe::ALL {
        let start = Instant::now();
        let answer = match tokio::time::timeout(timeout, open()).await {
            Err(_) => Err(io::ErrorKind::TimedOut),
            Ok(Err(e)) => Err(e.kind()),
            Ok(Ok(stream)) => {
                let left = timeout.saturating_sub(start.elapsed());
                // Until a chain is read, the probe that is accepted reads it too, on its own connection.
                let (answer, certificates) =
                    exchange(stream, sni, probe, left, chain.is_empty()).await;
                if chain.is_empty() {
                    chain = certificates;
                }
                Ok(answer)
            }
        };
        answers.push((probe, answer));
    }
    Offer {
        chain,
        ..summarize(answers)
    }
}

/// The most a Certificate message may take (chains over 64 KB exist; Go accepts them).
pub const CHAIN_CAP: usize = 256 * 1024;

/// The certificates of a TLS 1.2 Certificate message in `handshake` (the handshake bytes, records
/// reassembled): `Some` once the message is whole, `None` while more is needed or when there is none.
fn certificates_in(handshake: &[u8]) -> Option<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let mut rest = handshake;
    while let [kind, a, b, c, body @ ..] = rest {
        let len = (usize::from(*a) << 16) | (usize::from(*b) << 8) | usize::from(*c);
        let message = body.get(..len)?;
        if *kind == 11 {
            let [x, y, z, list @ ..] = message else {
                return None;
            };
            let mut list: &[u8] = list;
            let total = (usize::from(*x) << 16) | (usize::from(*y) << 8) | usize::from(*z);
            if total != list.len() {
                return None;
            }
            let mut chain = Vec::new();
            while let [x, y, z, more @ ..] = list {
                let n = (usize::from(*x) << 16) | (usize::from(*y) << 8) | usize::from(*z);
                let der = more.get(..n)?;
                chain.push(rustls::pki_types::CertificateDer::from(der.to_vec()));
                list = &more[n..];
            }
            return Some(chain);
        }
        rest = &body[len..];
    }
    None
}

/// [`what_it_accepts`] over `route` (straight, or through the proxy's CONNECT, as every connection of a check).
pub async fn what_route_accepts(route: &Route, sni: Option<&str>, timeout: Duration) -> Offer {
    what_it_accepts(
        || async { route.open(timeout).await.map_err(open_error) },
        sni,
        timeout,
    )
    .await
}

fn open_error(e: OpenError) -> io::Error {
    let kind = match &e {
        OpenError::Tcp(_, TcpError::Refused, _) => io::ErrorKind::ConnectionRefused,
        OpenError::Tcp(_, TcpError::Timeout, _) => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.describe())
}

/// The [`Offer`] the answers make: a kind of key exchange counts when the server chose one of the probe's
/// suites at TLS 1.2 (a TLS 1.0 answer to a TLS 1.2 offer is a legacy server).
pub fn summarize(answers: Vec<(Probe, Result<Answer, io::ErrorKind>)>) -> Offer {
    let mut offer = Offer::default();
    for (probe, answer) in &answers {
        let Ok(Answer::Accepted { version, suite }) = answer else {
            continue;
        };
        if !probe.suites.contains(suite) {
            continue; // a suite we did not offer: no client would go on
        }
        let name = suite_name(*suite);
        if !offer.suites.contains(&name) {
            offer.suites.push(name);
        }
        let at_12 = *version == TLS12;
        match probe.name {
            "ecdhe_tls12" => offer.ecdhe_tls12 |= at_12,
            "ecdhe_cbc" => offer.ecdhe_cbc |= at_12,
            "ecdhe_cbc_sha2" => offer.ecdhe_cbc_sha2 |= at_12,
            "dhe" => offer.dhe |= at_12,
            "static_rsa" => offer.static_rsa |= at_12,
            _ if probe.version < TLS12 => offer.legacy_version = Some(*version),
            _ => {}
        }
    }
    let any_12 = answers
        .iter()
        .any(|(_, a)| matches!(a, Ok(Answer::Accepted { version: TLS12, .. })));
    if !any_12 {
        offer.legacy_only_version = offer.legacy_version;
    }
    offer.answers = answers;
    offer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_certificate_message_after_the_server_hello() {
        // ServerHello (type 2, 3 bytes of body), then Certificate (type 11) with two certificates.
        let mut hs = vec![2, 0, 0, 3, 1, 2, 3];
        let list = [vec![0, 0, 2, 0xAA, 0xBB], vec![0, 0, 1, 0xCC]].concat();
        let mut cert = vec![11, 0, 0, (list.len() + 3) as u8, 0, 0, list.len() as u8];
        cert.extend_from_slice(&list);
        hs.extend_from_slice(&cert);
        let chain = certificates_in(&hs).expect("whole");
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].as_ref(), &[0xAA, 0xBB]);
        // Any prefix: more is needed, never a panic.
        for n in 0..hs.len() {
            assert!(certificates_in(&hs[..n]).is_none());
        }
        // A list whose length disagrees is refused.
        let mut bad = hs.clone();
        bad[10] = 0x7F;
        assert!(certificates_in(&bad).is_none());
    }

    /// A ServerHello record: version, suite, a session id of `sid` bytes, then an extensions block.
    fn server_hello_record(version: u16, suite: u16, sid: usize) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.push(sid as u8);
        body.extend(std::iter::repeat_n(9, sid));
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        vector(&mut body, 2, &[0xFF, 0x01, 0, 1, 0]);
        let mut hs = vec![2u8];
        vector(&mut hs, 3, &body);
        let mut record = vec![0x16, 3, 3];
        vector(&mut record, 2, &hs);
        record
    }

    #[test]
    fn reads_a_server_hello_at_any_split() {
        let record = server_hello_record(TLS12, 0x009E, 32);
        let done = Parse::Done(Answer::Accepted {
            version: TLS12,
            suite: 0x009E,
        });
        assert_eq!(parse(&record), done);
        // Every prefix that stops before the whole message is undecided, never wrong (at TLS 1.2 the version
        // is in the extensions when it is TLS 1.3).
        for cut in 0..record.len() {
            assert_eq!(parse(&record[..cut]), Parse::More, "cut at {cut}");
        }
        // TLS 1.3: supported_versions says so.
        let mut body = TLS12.to_be_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&0x1301u16.to_be_bytes());
        body.push(0);
        vector(&mut body, 2, &[0x00, 0x2B, 0, 2, 3, 4]);
        let mut hs = vec![2u8];
        vector(&mut hs, 3, &body);
        let mut tls13 = vec![0x16, 3, 3];
        vector(&mut tls13, 2, &hs);
        assert_eq!(
            parse(&tls13),
            Parse::Done(Answer::Accepted {
                version: 0x0304,
                suite: 0x1301
            })
        );
    }

    #[test]
    fn reassembles_a_server_hello_split_over_records() {
        let record = server_hello_record(TLS10, 0xC013, 0);
        let hs = &record[5..];
        let mut split = Vec::new();
        for chunk in hs.chunks(7) {
            split.extend_from_slice(&[0x16, 3, 1]);
            vector(&mut split, 2, chunk);
        }
        assert_eq!(
            parse(&split),
            Parse::Done(Answer::Accepted {
                version: TLS10,
                suite: 0xC013
            })
        );
    }

    #[test]
    fn reads_alerts_and_refuses_what_is_not_tls() {
        assert_eq!(
            parse(&[0x15, 3, 3, 0, 2, 2, 40]),
            Parse::Done(Answer::Refused { alert: 40 })
        );
        assert_eq!(parse(&[0x15, 3, 1, 0, 2, 2]), Parse::More);
        assert_eq!(parse(&[0x15, 3, 1, 0, 1, 2]), Parse::Done(Answer::NotTls));
        assert_eq!(parse(b"HTTP/1.1 400"), Parse::Done(Answer::NotTls));
        assert_eq!(parse(b"SSH-2.0"), Parse::Done(Answer::NotTls));
        assert_eq!(parse(&[0x16, 4]), Parse::Done(Answer::NotTls));
        assert_eq!(parse(&[0x16, 3, 3, 0, 0]), Parse::Done(Answer::NotTls));
        assert_eq!(parse(&[0x17, 3, 3, 0, 1, 0]), Parse::Done(Answer::NotTls));
        // A ServerHello that claims a session id over 32 bytes, or is shorter than its fields.
        let mut long_sid = server_hello_record(TLS12, 0x009C, 0);
        long_sid[5 + 38] = 33;
        assert_eq!(parse(&long_sid), Parse::Done(Answer::NotTls));
        let mut short = server_hello_record(TLS12, 0x009C, 0);
        short[8] = 10;
        assert_eq!(parse(&short), Parse::Done(Answer::NotTls));
        // A certificate message first.
        assert_eq!(
            parse(&[0x16, 3, 3, 0, 4, 11, 0, 0, 0]),
            Parse::Done(Answer::NotTls)
        );
    }

    /// xorshift64: deterministic noise, no dependency.
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_truncated_and_mutated_input_never_panics() {
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        let seeds = [
            server_hello_record(TLS12, 0xC02F, 32),
            server_hello_record(TLS10, 0x002F, 0),
            vec![0x15, 3, 3, 0, 2, 2, 70],
        ];
        for round in 0..20_000 {
            let mut bytes = if round % 4 == 0 {
                (0..noise.below(300)).map(|_| noise.next() as u8).collect()
            } else {
                seeds[round % seeds.len()].clone()
            };
            for _ in 0..noise.below(4) {
                if !bytes.is_empty() {
                    let at = noise.below(bytes.len());
                    bytes[at] = noise.next() as u8;
                }
            }
            if round % 3 == 0 {
                bytes.extend((0..noise.below(64)).map(|_| noise.next() as u8));
            }
            let cut = noise.below(bytes.len() + 1);
            let _ = parse(&bytes[..cut]);
            let _ = parse(&bytes);
        }
    }

    /// Walks a ClientHello record the way a server reads it; returns (client_version, suites, extension ids).
    fn read_client_hello(record: &[u8]) -> (u16, Vec<u16>, Vec<u16>) {
        let be = |b: &[u8]| usize::from(u16::from_be_bytes([b[0], b[1]]));
        assert_eq!(&record[..3], &[0x16, 3, 1]);
        assert_eq!(be(&record[3..5]), record.len() - 5);
        let hs = &record[5..];
        assert_eq!(hs[0], 1);
        let body = &hs[4..];
        assert_eq!(usize::from(hs[3]) | (usize::from(hs[2]) << 8), body.len());
        let version = be(&body[..2]) as u16;
        assert_eq!(body[34], 0, "empty session id");
        let suites_len = be(&body[35..37]);
        let suites = body[37..37 + suites_len]
            .chunks(2)
            .map(|c| be(c) as u16)
            .collect();
        let mut at = 37 + suites_len;
        assert_eq!(&body[at..at + 2], &[1, 0]);
        at += 2;
        assert_eq!(be(&body[at..at + 2]), body.len() - at - 2);
        at += 2;
        let mut ids = Vec::new();
        while at < body.len() {
            ids.push(be(&body[at..at + 2]) as u16);
            at += 4 + be(&body[at + 2..at + 4]);
        }
        assert_eq!(at, body.len());
        (version, suites, ids)
    }

    #[test]
    fn client_hellos_are_well_formed() {
        let (v, suites, ids) = read_client_hello(&client_hello(&Probe::DHE, Some("cvp.test")));
        assert_eq!((v, suites.as_slice()), (TLS12, Probe::DHE.suites));
        assert_eq!(ids, [0x0000, 0x000A, 0x000B, 0x000D, 0xFF01]);
        // No SNI for an address; no signature_algorithms before TLS 1.2.
        let (v, _, ids) = read_client_hello(&client_hello(&Probe::LEGACY, Some("10.0.0.1")));
        assert_eq!((v, ids.as_slice()), (TLS10, &[0x000A, 0x000B, 0xFF01][..]));
        let too_long = "a".repeat(300);
        let (_, _, ids) = read_client_hello(&client_hello(&Probe::RSA, Some(&too_long)));
        assert_eq!(ids[0], 0x000A);
    }

    #[test]
    fn names() {
        for probe in Probe::ALL {
            for suite in probe.suites {
                assert_ne!(suite_name(*suite), "unknown", "{suite:#06x}");
            }
        }
        assert_eq!(suite_name(0x009E), "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(version_name(TLS11), "TLS 1.1");
        assert_eq!(version_name(0x7F1C), "unknown");
    }

    #[tokio::test]
    async fn offer_reads_the_answer_and_keeps_its_deadline() {
        let (client, mut server) = tokio::io::duplex(8192);
        let serve = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = server.read(&mut buf).await;
            let _ = server
                .write_all(&server_hello_record(TLS12, 0xC02F, 0))
                .await;
            server
        });
        let answer = offer(client, None, Probe::ECDHE_12, Duration::from_secs(5)).await;
        assert_eq!(
            answer,
            Answer::Accepted {
                version: TLS12,
                suite: 0xC02F
            }
        );
        drop(serve.await);

        let (client, silent) = tokio::io::duplex(8192);
        let start = Instant::now();
        let answer = offer(client, None, Probe::DHE, Duration::from_millis(100)).await;
        assert_eq!(answer, Answer::Timeout);
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(silent);

        let (client, closed) = tokio::io::duplex(8192);
        drop(closed);
        assert_eq!(
            offer(client, None, Probe::RSA, Duration::from_secs(5)).await,
            Answer::Closed
        );
    }

    #[test]
    fn summary_counts_tls12_only_and_names_legacy() {
        let ok = |version, suite| Ok(Answer::Accepted { version, suite });
        let legacy_server = summarize(vec![
            (Probe::ECDHE_12, ok(TLS10, 0xC013)),
            (Probe::DHE, ok(TLS10, 0x0033)),
            (Probe::RSA, ok(TLS10, 0x002F)),
            (Probe::LEGACY, ok(TLS10, 0xC013)),
        ]);
        assert!(!legacy_server.ecdhe_tls12 && !legacy_server.dhe && !legacy_server.static_rsa);
        assert_eq!(legacy_server.legacy_only_version, Some(TLS10));
        assert_eq!(legacy_server.suites.len(), 3);
        let both = summarize(vec![
            (Probe::ECDHE_12, ok(TLS12, 0xC02F)),
            (Probe::DHE, Ok(Answer::Refused { alert: 40 })),
            (Probe::RSA, Err(io::ErrorKind::ConnectionRefused)),
            (Probe::LEGACY, ok(TLS10, 0xC013)),
        ]);
        assert!(both.ecdhe_tls12 && !both.dhe && !both.static_rsa);
        assert_eq!(
            (both.legacy_version, both.legacy_only_version),
            (Some(TLS10), None)
        );
        // A suite that was not offered counts for nothing.
        let odd = summarize(vec![(Probe::DHE, ok(TLS12, 0xC02F))]);
        assert!(!odd.dhe && !odd.ecdhe_tls12 && odd.suites.is_empty());
    }
}

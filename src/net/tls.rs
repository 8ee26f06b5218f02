//! One TLS handshake (tokio-rustls) with the recording verifier, over a stream already open: what it
//! negotiated, or why it failed, named from the alert, the server's first bytes and what was captured.
//! Typed outcomes only; `checks::handshake` writes the sentences.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::version::{TLS12, TLS13};
use rustls::{AlertDescription, ClientConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::codes::Code;
use crate::pki::recorder::{Captured, RecordingClientCert, RecordingVerifier, Slot};

/// ALPN protocols offered, in preference order.
pub const ALPN_OFFERED: [&str; 2] = ["h2", "http/1.1"];

/// How many of the server's first bytes are kept to name what answered.
const TAP_BYTES: usize = 256;

/// What a successful handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    pub protocol: String,
    pub cipher_suite: String,
    pub key_exchange: Option<String>,
    pub alpn: Option<String>,
}

/// Why a handshake did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    Timeout,
    /// The server's first bytes, made printable.
    NotTls(String),
    /// The legacy version the server chose, when it said.
    LegacyOnly(Option<String>),
    ClientCertRequired,
    /// The server closed the connection without a TLS answer.
    Closed,
    Alert(AlertDescription),
    EmptyChain,
    /// A certificate the server sent is not valid DER.
    BadCertificate,
    /// The server's certificate parses as DER, but webpki cannot use it: the code for the cause (an unknown
    /// critical extension, an extension twice or malformed, not v3), decided from webpki's typed error and
    /// the certificate, and why in words.
    MalformedCertificate {
        code: Code,
        why: String,
    },
    /// The server's RSA key is too small for the handshake signature to be accepted (bits).
    WeakKey(u32),
    /// A handshake message over rustls's 64 KB limit (a certificate chain that large).
    MessageTooLarge,
    Other(String),
}

impl TlsFailure {
    pub fn code(&self) -> Code {
        match self {
            TlsFailure::Timeout => Code::TlsTimeout,
            TlsFailure::NotTls(_) => Code::NotTls,
            TlsFailure::LegacyOnly(_) => Code::LegacyTlsOnly,
            TlsFailure::ClientCertRequired => Code::ClientCertRequired,
            TlsFailure::EmptyChain => Code::EmptyChain,
            TlsFailure::WeakKey(_) => Code::WeakKey,
            TlsFailure::BadCertificate => Code::CertUnparsable,
            TlsFailure::MalformedCertificate { code, .. } => *code,
            TlsFailure::MessageTooLarge => Code::CertificateTooLarge,
            TlsFailure::Closed | TlsFailure::Alert(_) | TlsFailure::Other(_) => {
                Code::TlsHandshakeFailed
            }
        }
    }

    /// A short phrase for per-port summaries.
    pub fn describe(&self) -> String {
        match self {
            TlsFailure::Timeout => "no TLS answer".into(),
            TlsFailure::NotTls(first) => format!("answers in plain text (`{first}`)"),
            TlsFailure::LegacyOnly(v) => format!("only {}", v.as_deref().unwrap_or("TLS 1.0/1.1")),
            TlsFailure::ClientCertRequired => "TLS, but demands a client certificate".into(),
            TlsFailure::Closed => "closed the connection at the ClientHello".into(),
            TlsFailure::Alert(a) => format!("TLS alert {}", alert_name(*a)),
            TlsFailure::EmptyChain => "TLS without a certificate".into(),
            TlsFailure::WeakKey(bits) => format!("TLS with an RSA-{bits} key clients refuse"),
            TlsFailure::BadCertificate => "TLS with a certificate that is not valid DER".into(),
            TlsFailure::MalformedCertificate { why, .. } => {
                format!("TLS with a malformed certificate ({why})")
            }
            TlsFailure::MessageTooLarge => {
                "a handshake message over 64 KB (rustls refuses it)".into()
            }
            TlsFailure::Other(why) => why.clone(),
        }
    }
}

/// Everything one handshake produced, success or not.
pub struct Handshake {
    pub outcome: Result<TlsFacts, TlsFailure>,
    pub captured: Captured,
    pub elapsed: Duration,
    /// The name sent in SNI, if any (none when connecting to an address).
    pub sni: Option<String>,
    /// The open connection after a successful handshake, for a follow-up request (the server's clock).
    pub stream: Option<Stream>,
    /// What the server accepts, read with raw ClientHellos when rustls could not negotiate (and the chain
    /// they received, now in `captured`).
    pub offer: Option<crate::net::hello::Offer>,
}

/// A TLS connection made by [`handshake`].
pub type Stream = tokio_rustls::client::TlsStream<Tap<TcpStream>>;

/// Records the first bytes the server sends, to name what answered when it is not TLS.
pub struct Tap<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let room = TAP_BYTES.saturating_sub(seen.len());
            let new = &buf.filled()[before..];
            seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn client_config(
    slot: &Slot,
    identity: Option<Arc<rustls::sign::CertifiedKey>>,
) -> Result<ClientConfig, rustls::Error> {
    let provider = crate::pki::provider::provider();
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&TLS13, &TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier::new(slot.clone(), provider)))
        .with_client_cert_resolver(Arc::new(RecordingClientCert::with_key(
            slot.clone(),
            identity,
        )));
    config.alpn_protocols = ALPN_OFFERED.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

/// `MessageTooShort(..)` → `message too short`: a library's enum names (rustls', webpki's) in words.
pub fn snake(camel: &str) -> String {
    let name = camel.split(['(', ' ', '{']).next().unwrap_or(camel);
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// `HandshakeFailure` → `handshake_failure (40)`.
pub fn alert_name(a: AlertDescription) -> String {
    let camel = a
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| "unknown".to_string());
    let mut snake = String::new();
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(ch.to_ascii_lowercase());
        } else {
            snake.push(ch);
        }
    }
    format!("{snake} ({})", u8::from(a))
}

/// The server's first bytes, as one printable line.
fn printable(bytes: &[u8]) -> String {
    crate::text::one_line_bytes(bytes, 60)
}

fn legacy_version(seen: &[u8]) -> Option<String> {
    // A ServerHello record: 0x16, version(2), length(2), type 0x02, length(3), server_version(2).
    let v = if seen.len() >= 11 && seen[0] == 0x16 && seen[5] == 0x02 {
        (seen[9], seen[10])
    } else if seen.len() >= 3 && seen[0] == 0x15 {
        (seen[1], seen[2])
    } else {
        return None;
    };
    match v {
        (3, 0) => Some("SSL 3.0".into()),
        (3, 1) => Some("TLS 1.0".into()),
        (3, 2) => Some("TLS 1.1".into()),
        _ => None,
    }
}

fn looks_like_tls(seen: &[u8]) -> bool {
    match seen {
        [] => true,
        [ct, rest @ ..] => (0x14..=0x18).contains(ct) && rest.first().is_none_or(|v| *v == 3),
    }
}

fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn classify(e: &io::Error, seen: &[u8], captured: &Captured) -> TlsFailure {
    if !looks_like_tls(seen) {
        return TlsFailure::NotTls(printable(seen));
    }
    match rustls_error(e) {
        Some(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
        ))
        | Some(rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)) => {
            TlsFailure::LegacyOnly(legacy_version(seen))
        }
        Some(rustls::Error::AlertReceived(AlertDescription::CertificateRequired)) => {
            TlsFailure::ClientCertRequired
        }
        Some(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError,
        )) if captured.client_cert_requested => TlsFailure::ClientCertRequired,
        Some(rustls::Error::AlertReceived(a)) => TlsFailure::Alert(*a),
        Some(rustls::Error::NoCertificatesPresented) => TlsFailure::EmptyChain,
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)) => {
            bad_signature(captured)
        }
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge)) => {
            TlsFailure::MessageTooLarge
        }
        Some(rustls::Error::InvalidMessage(m)) => TlsFailure::Other(format!(
            "the server sent a malformed TLS message ({})",
            snake(&format!("{m:?}"))
        )),
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)) => {
            bad_encoding(captured)
        }
        // webpki could not use the certificate to check the handshake signature: its Debug name, in words.
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))) => {
            malformed(o, captured)
        }
        Some(other) => TlsFailure::Other(format!("{other}")),
        None => io_failure(e, seen),
    }
}

/// The server's certificate is not DER webpki reads: a malformed extension when one is to be seen.
fn bad_encoding(captured: &Captured) -> TlsFailure {
    use crate::pki::shape;
    let leaf = captured.chain.first().map(|d| d.as_ref()).unwrap_or(&[]);
    let mut why = shape::san_defects(leaf)
        .into_iter()
        .map(|d| format!("its subjectAltName is malformed ({d})"))
        .collect::<Vec<_>>();
    why.extend(
        shape::malformed_extensions(leaf)
            .into_iter()
            .map(|e| format!("its {e} extension is malformed")),
    );
    if why.is_empty() {
        return TlsFailure::BadCertificate;
    }
    TlsFailure::MalformedCertificate {
        code: Code::MalformedExtension,
        why: why.join("; "),
    }
}

/// webpki refused to parse the server's certificate: its typed error, and the certificate, name the cause.
fn malformed(o: &rustls::OtherError, captured: &Captured) -> TlsFailure {
    use crate::pki::shape;
    let leaf = captured.chain.first().map(|d| d.as_ref()).unwrap_or(&[]);
    let (code, why) = match o.0.downcast_ref::<webpki::Error>() {
        Some(webpki::Error::UnsupportedCriticalExtension) => {
            let oids = crate::pki::sources::unknown_critical(leaf);
            (
                Code::UnknownCriticalExtension,
                format!(
                    "it carries the extension {}, marked critical, which clients do not know",
                    if oids.is_empty() {
                        "(unknown)".to_string()
                    } else {
                        oids.join(", ")
                    }
                ),
            )
        }
        Some(webpki::Error::MalformedExtensions | webpki::Error::ExtensionValueInvalid) => {
            let twice = shape::duplicate_extensions(leaf);
            let bad = shape::malformed_extensions(leaf);
            if !twice.is_empty() {
                (
                    Code::DuplicateExtension,
                    format!("it carries the extension {} twice", twice.join(", ")),
                )
            } else if !bad.is_empty() {
                (
                    Code::MalformedExtension,
                    format!("its {} extension is malformed", bad.join(", ")),
                )
            } else {
                (
                    Code::MalformedExtension,
                    "an extension is malformed".to_string(),
                )
            }
        }
        Some(webpki::Error::UnsupportedCertVersion) => {
            (Code::NotV3, "it is not an X.509 v3 certificate".to_string())
        }
        _ => (Code::CertUnparsable, snake(&o.to_string())),
    };
    TlsFailure::MalformedCertificate { code, why }
}

/// The handshake signature failed: with a small RSA key, ring refuses to verify at all.
fn bad_signature(captured: &Captured) -> TlsFailure {
    let leaf = captured
        .chain
        .first()
        .map(|d| crate::pki::facts::inspect(0, d.as_ref(), time::OffsetDateTime::UNIX_EPOCH));
    match leaf {
        Some(f) if f.key_type == "RSA" && f.key_bits > 0 && f.key_bits < 2048 => {
            TlsFailure::WeakKey(f.key_bits)
        }
        _ => TlsFailure::Other(
            "the server's handshake signature does not verify with the key in its certificate"
                .into(),
        ),
    }
}

/// An I/O error that is not rustls': a close before any answer, or in the middle of the handshake.
fn io_failure(e: &io::Error, seen: &[u8]) -> TlsFailure {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
            if seen.is_empty() =>
        {
            TlsFailure::Closed
        }
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => TlsFailure::Other(
            "the server closed the connection in the middle of the handshake".into(),
        ),
        _ => TlsFailure::Other(e.to_string()),
    }
}

/// Runs one handshake over `stream`, bounded by `timeout`. `server_name` is what SNI carries (an address
/// sends none).
pub async fn handshake(
    stream: TcpStream,
    server_name: ServerName<'static>,
    timeout: Duration,
) -> Handshake {
    handshake_as(stream, server_name, timeout, None).await
}

/// [`handshake`], presenting a client certificate when the server asks for one.
pub async fn handshake_as(
    stream: TcpStream,
    server_name: ServerName<'static>,
    timeout: Duration,
    identity: Option<Arc<rustls::sign::CertifiedKey>>,
) -> Handshake {
    let presents = identity.is_some();
    let slot: Slot = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sni = match &server_name {
        ServerName::DnsName(d) => Some(d.as_ref().to_string()),
        _ => None,
    };
    let start = Instant::now();
    let (outcome, open) = match client_config(&slot, identity) {
        Err(e) => (
            Err(TlsFailure::Other(format!(
                "could not build the TLS client: {e}"
            ))),
            None,
        ),
        Ok(config) => {
            let tap = Tap {
                inner: stream,
                seen: seen.clone(),
            };
            let attempt = Attempt {
                slot: &slot,
                seen: &seen,
                timeout,
                presents,
            };
            attempt.run(config, server_name, tap).await
        }
    };
    let elapsed = start.elapsed();
    let captured = snapshot(&slot);
    Handshake {
        outcome: plain_text_timeout(outcome, &seen),
        captured,
        elapsed,
        sni,
        stream: open,
        offer: None,
    }
}

/// A handshake over a configuration built elsewhere: the one that presents the client certificate, after a
/// trust source accepted the chain (`pki::channel`). Its verifier is the trust source's, so a server that
/// sends another chain this time fails before the certificate is sent. Nothing is recorded (`captured` is
/// empty): the chain was captured by the first handshake.
pub async fn handshake_with(
    stream: TcpStream,
    server_name: ServerName<'static>,
    timeout: Duration,
    config: &ClientConfig,
) -> Handshake {
    let slot: Slot = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sni = match &server_name {
        ServerName::DnsName(d) => Some(d.as_ref().to_string()),
        _ => None,
    };
    let start = Instant::now();
    let tap = Tap {
        inner: stream,
        seen: seen.clone(),
    };
    let attempt = Attempt {
        slot: &slot,
        seen: &seen,
        timeout,
        presents: true,
    };
    let (outcome, open) = attempt.run(config.clone(), server_name, tap).await;
    Handshake {
        outcome: plain_text_timeout(outcome, &seen),
        captured: snapshot(&slot),
        elapsed: start.elapsed(),
        sni,
        stream: open,
        offer: None,
    }
}

/// A copy of what a shared recorder holds (a poisoned lock still holds our data).
fn snapshot<T: Clone>(shared: &Mutex<T>) -> T {
    shared.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// One handshake attempt: what it records into, its deadline, and whether we present a certificate.
struct Attempt<'a> {
    slot: &'a Slot,
    seen: &'a Mutex<Vec<u8>>,
    timeout: Duration,
    presents: bool,
}

impl Attempt<'_> {
    /// Connects within the deadline: the facts and the open stream, or the failure classified.
    async fn run(
        &self,
        config: ClientConfig,
        server_name: ServerName<'static>,
        tap: Tap<TcpStream>,
    ) -> (Result<TlsFacts, TlsFailure>, Option<Stream>) {
        let connector = TlsConnector::from(Arc::new(config));
        let attempt = async {
            let mut tls = connector.connect(server_name, tap).await?;
            let requested = self
                .slot
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .client_cert_requested;
            if requested && !self.presents {
                client_cert_verdict(&mut tls, self.timeout).await?;
            }
            let (_, conn) = tls.get_ref();
            Ok::<_, io::Error>((negotiated(conn), tls))
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Err(_) => (Err(TlsFailure::Timeout), None),
            Ok(Ok((facts, tls))) => (Ok(facts), Some(tls)),
            Ok(Err(e)) => {
                let seen = snapshot(self.seen);
                let captured = snapshot(self.slot);
                (Err(classify(&e, &seen, &captured)), None)
            }
        }
    }
}

/// TLS 1.3 servers judge the client's (empty) certificate after the handshake: listen briefly for their
/// verdict. A close is the server's refusal; silence or data is acceptance.
async fn client_cert_verdict(tls: &mut Stream, timeout: Duration) -> io::Result<()> {
    let mut buf = [0u8; 1];
    match tokio::time::timeout(timeout.min(Duration::from_secs(1)), tls.read(&mut buf)).await {
        Ok(Err(e)) => Err(e),
        Ok(Ok(0)) => Err(io::Error::other(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ))),
        _ => Ok(()),
    }
}

/// What the connection negotiated: protocol, cipher suite, key exchange group, ALPN.
fn negotiated(conn: &rustls::ClientConnection) -> TlsFacts {
    TlsFacts {
        protocol: conn
            .protocol_version()
            .map(|v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
                rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
                other => other.as_str().unwrap_or("unknown").to_string(),
            })
            .unwrap_or_default(),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown")
            .to_string(),
        key_exchange: conn
            .negotiated_key_exchange_group()
            .and_then(|g| g.name().as_str())
            .map(str::to_string),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// A timeout after nothing but plain text still means "not TLS".
fn plain_text_timeout(
    outcome: Result<TlsFacts, TlsFailure>,
    seen: &Mutex<Vec<u8>>,
) -> Result<TlsFacts, TlsFailure> {
    match outcome {
        Err(TlsFailure::Timeout) => {
            let seen = snapshot(seen);
            if looks_like_tls(&seen) {
                Err(TlsFailure::Timeout)
            } else {
                Err(TlsFailure::NotTls(printable(&seen)))
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_are_snake_case_with_number() {
        assert_eq!(
            alert_name(AlertDescription::HandshakeFailure),
            "handshake_failure (40)"
        );
        assert_eq!(
            alert_name(AlertDescription::CertificateRequired),
            "certificate_required (116)"
        );
    }

    #[test]
    fn plain_text_is_not_tls() {
        assert!(!looks_like_tls(b"HTTP/1.1 400 Bad Request\r\n"));
        assert!(!looks_like_tls(b"SSH-2.0-OpenSSH_9.2"));
        assert!(looks_like_tls(&[0x16, 0x03, 0x03]));
        assert!(looks_like_tls(&[0x15, 0x03, 0x01, 0, 2, 2, 70]));
        assert_eq!(
            printable(b"HTTP/1.1 400 Bad Request\r\nServer: x"),
            "HTTP/1.1 400 Bad Request"
        );
        assert_eq!(printable(&[0x41, 0x00, 0x42]), "A.B");
    }

    #[test]
    fn legacy_versions_read_from_server_hello_or_alert() {
        let hello = [0x16, 3, 1, 0, 50, 0x02, 0, 0, 46, 3, 1];
        assert_eq!(legacy_version(&hello).as_deref(), Some("TLS 1.0"));
        assert_eq!(
            legacy_version(&[0x15, 3, 2, 0, 2, 2, 70]).as_deref(),
            Some("TLS 1.1")
        );
        assert_eq!(legacy_version(&[0x15, 3, 3, 0, 2, 2, 70]), None);
    }
}

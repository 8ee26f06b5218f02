//! `tls.handshake` and `tls.alpn`: a handshake's outcome ([`crate::net::tls`]) turned into checks, with
//! the failures named: plain text on the port, legacy TLS only, a client certificate demanded, silence.

use std::time::Duration;

use crate::codes::Code;
use crate::duration::human;
use rustls::AlertDescription;

use crate::net::tls::{alert_name, Handshake, TlsFacts, TlsFailure, ALPN_OFFERED};
use crate::report::{Check, Status};
use crate::target::Product;

pub const ID: &str = "tls.handshake";
pub const ALPN_ID: &str = "tls.alpn";

/// Context for writing fixes.
pub struct Where<'a> {
    /// How the connection went: straight to an address, or through a proxy.
    pub route: &'a crate::net::route::Route,
    pub host: &'a str,
    pub port: u16,
    pub product: Product,
    pub timeout: Duration,
}

/// Turns a handshake into the `tls.handshake` check.
pub fn check(h: &Handshake, at: &Where<'_>) -> Check {
    let sni_text = h
        .sni
        .clone()
        .unwrap_or_else(|| "(none: connecting to an address)".into());
    let connect = match at.route.proxy() {
        None => at.route.first_hop().to_string(),
        Some(p) => format!("{} -proxy {}", at.route.authority(), p.authority()),
    };
    let s_client = format!(
        "openssl s_client -connect {}{}",
        connect,
        h.sni
            .as_ref()
            .map(|s| format!(" -servername {s}"))
            .unwrap_or_default()
    );
    let check = match &h.outcome {
        Ok(f) => {
            let mut parts = vec![f.protocol.clone(), f.cipher_suite.clone()];
            parts.extend(f.key_exchange.clone());
            parts.push(match &f.alpn {
                Some(p) => format!("ALPN {p}"),
                None => "no ALPN".into(),
            });
            let mut summary = format!("{} in {}", parts.join(", "), human(h.elapsed));
            if h.captured.client_cert_requested {
                summary.push_str("; the server asks for an optional client certificate");
            }
            Check::pass(ID, summary)
                .with_fact("protocol", f.protocol.clone())
                .with_fact("cipher_suite", f.cipher_suite.clone())
                .with_fact("key_exchange", f.key_exchange.clone())
                .with_fact("alpn", f.alpn.clone())
        }
        Err(failure) => match offer_failure(failure, h) {
            Some((code, summary, fix)) => Check::fail(ID, code, summary, fix),
            None => {
                let (summary, fix) = failure_text(failure, h, at, &s_client);
                Check::fail(ID, failure.code(), summary, fix)
            }
        },
    };
    let issuers = crate::pki::facts::distinguished_names(&h.captured.acceptable_issuers);
    check
        .with_fact("address", at.route.describe())
        .with_fact("sni", h.sni.clone())
        .with_fact("sni_text", sni_text)
        .with_fact("alpn_offered", ALPN_OFFERED.to_vec())
        .with_fact("client_cert_requested", h.captured.client_cert_requested)
        .with_fact("client_cert_issuers", issuers)
        .with_elapsed(h.elapsed)
}

/// A handshake rustls could not negotiate, named by what the raw ClientHellos found the server accepts:
/// which suites, of which kind, and which clients connect all the same.
fn offer_failure(failure: &TlsFailure, h: &Handshake) -> Option<(Code, String, String)> {
    let offer = h.offer.as_ref()?;
    if !matches!(failure, TlsFailure::Alert(_) | TlsFailure::Closed) {
        return None;
    }
    let n = crate::checks::clients::Negotiation::of(offer);
    if n.ecdhe {
        return None;
    }
    let code = n.code();
    if code == Code::TlsHandshakeFailed {
        return None; // no TLS answer to any ClientHello: the failure says what happened
    }
    let suites = offer.suites.join(", ");
    let what = match code {
        Code::LegacyTlsOnly => return None,
        Code::CbcOnly => format!("{suites} (ECDHE with CBC ciphers, no AES-GCM or ChaCha20)"),
        Code::DheOnly => format!("{suites} (finite-field DHE key exchange)"),
        Code::StaticRsaOnly => format!("{suites} (RSA key exchange, no forward secrecy)"),
        _ => String::new(),
    };
    let who = match code {
        Code::CbcOnly if n.ecdhe_cbc && n.ecdhe_cbc_sha2 => "curl, Python and Go connect; rustls and grpcio cannot",
        Code::CbcOnly if n.ecdhe_cbc => "curl and Go connect; Python (its default ciphers have no SHA-1 MACs), rustls and grpcio cannot",
        Code::CbcOnly => "curl and Python connect; Go (SHA-256 CBC suites are not in its defaults), rustls and grpcio cannot",
        Code::DheOnly => "OpenSSL clients (curl, Python) connect; Go, rustls and grpcio cannot",
        Code::StaticRsaOnly => "curl connects; Python (its default ciphers), Go (since 1.22), rustls and grpcio cannot",
        _ => "no current client connects",
    };
    let summary = if what.is_empty() {
        format!("the server accepted none of the suites of {} ClientHellos (ECDHE with AES-GCM, ChaCha20 or CBC, DHE and RSA key exchange at TLS 1.2, TLS 1.0; {}): {who}", offer.answers.len(), failure.describe())
    } else {
        format!("no cipher suite in common with rustls: the server offers only {what} at TLS 1.2; {who}")
    };
    Some((code, summary, code.typical_fix().to_string()))
}

fn failure_text(
    failure: &TlsFailure,
    h: &Handshake,
    at: &Where<'_>,
    s_client: &str,
) -> (String, String) {
    let port = at.port;
    match failure {
        TlsFailure::Timeout => (
            format!("{} accepted the TCP connection but sent no TLS answer within {}", at.route.describe(), human(at.timeout)),
            format!("Something holds port {port} without speaking TLS: check that {port} is the TLS port and any proxy or load balancer in between; compare with `{s_client}`"),
        ),
        TlsFailure::NotTls(first) => not_tls(first, at),
        TlsFailure::LegacyOnly(v) => (
            format!(
                "the server only speaks {} and refused TLS 1.2 and 1.3; current clients (OpenSSL 3, Python, Go, rustls) refuse it too",
                v.as_deref().unwrap_or("TLS 1.0/1.1")
            ),
            "Enable TLS 1.2 and 1.3 on the server or load balancer (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`)".to_string(),
        ),
        TlsFailure::ClientCertRequired => client_cert_required(h, at),
        TlsFailure::Closed => (
            format!("{} closed the connection without answering the TLS ClientHello (SNI: {})", at.route.describe(), h.sni.as_deref().unwrap_or("none")),
            format!("The server may refuse this SNI name or this client's address: try `--sni` with the name the server serves, and compare with `{s_client}`"),
        ),
        TlsFailure::Alert(a) => alert(*a, h, s_client),
        TlsFailure::WeakKey(bits) => (
            format!("the server signs the handshake with an RSA key of {bits} bits; rustls, and OpenSSL at security level 2 (the Debian and Ubuntu default), refuse RSA keys under 2048 bits"),
            "Replace the server's key and certificate with RSA 2048+ or ECDSA P-256 (openssl: `-newkey rsa:3072` or `-newkey ec -pkeyopt ec_paramgen_curve:P-256`)".to_string(),
        ),
        TlsFailure::MalformedCertificate { why, .. } => (
            format!("the server's certificate cannot be used: {why}; rustls, Go and other strict clients refuse it before any trust decision (the trust checks below name the certificate)"),
            "Reissue the certificate as the trust checks' fix says (`openssl x509 -in FILE -noout -text` shows its extensions) and restart the server".to_string(),
        ),
        TlsFailure::BadCertificate => (
            "the server's certificate is not valid DER: no client can read it".to_string(),
            "Re-export the server's certificate file (`openssl x509 -in FILE -noout -text` must read it) and restart the server".to_string(),
        ),
        TlsFailure::EmptyChain => (
            "the server sent an empty certificate list".to_string(),
            "Configure a certificate on the server (nginx: `ssl_certificate` and `ssl_certificate_key`)".to_string(),
        ),
        TlsFailure::MessageTooLarge => (
            "the TLS handshake failed: the server's certificate message is over 64 KB, more than rustls accepts (OpenSSL, Go and BoringSSL clients take it: see Which clients will work)".to_string(),
            "Send a smaller chain: drop certificates the clients do not need (a root, cross-signed copies) and large extensions from the server certificate".to_string(),
        ),
        TlsFailure::Other(why) => (
            format!("the TLS handshake failed: {why}"),
            format!("Compare with `{s_client}` and read the server's TLS error log"),
        ),
    }
}

/// Plain text on the port: which kind of server answered, and the product's TLS port.
fn not_tls(first: &str, at: &Where<'_>) -> (String, String) {
    let port = at.port;
    let tls_port_hint = match at.product {
        Product::Generic | Product::Auto => "the port that serves HTTPS (often 443)".to_string(),
        p => format!(
            "the {} TLS port ({})",
            p.display_name(),
            p.known_ports()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    let what = if first.starts_with("HTTP/") {
        "a plain HTTP server".to_string()
    } else if first.starts_with("SSH-") {
        "an SSH server".to_string()
    } else {
        "a service that is not TLS".to_string()
    };
    (
        format!("port {port} answers in plain text, not TLS: {what} replied `{first}`"),
        format!(
            "Use {tls_port_hint}; port {port} serves plain text (try http://{}:{port}/ to see it)",
            at.host
        ),
    )
}

/// The server demands a client certificate: which issuers it accepts, and how to present one.
fn client_cert_required(h: &Handshake, at: &Where<'_>) -> (String, String) {
    let port = at.port;
    let issuers = crate::pki::facts::distinguished_names(&h.captured.acceptable_issuers);
    let accepted = if issuers.is_empty() {
        "the server did not say which issuers it accepts".to_string()
    } else {
        format!("it accepts certificates issued by: {}", issuers.join("; "))
    };
    let fix = match at.product {
        Product::Prisma => format!("This listener requires mutual TLS ({accepted}): present a client certificate from a CA uploaded to the Console (`curl --cert client.pem --key client.key https://{}:{port}/api/v1/authenticate-client`), or use the Console port that does not require one", at.host),
        _ => format!("Present a client certificate ({accepted}): `curl --cert client.pem --key client.key https://{}:{port}/`, or use the listener that does not require one", at.host),
    };
    (
        "the server demands a client certificate (mutual TLS) and ends the handshake without one"
            .to_string(),
        fix,
    )
}

/// The server ended the handshake with an alert: the fix for that alert.
fn alert(a: AlertDescription, h: &Handshake, s_client: &str) -> (String, String) {
    let fix = match a {
        AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => "No cipher suite or curve in common: the server must offer TLS 1.3, or TLS 1.2 with ECDHE and AES-GCM or ChaCha20 (nginx: `ssl_ciphers HIGH:!aNULL:!MD5;`)".to_string(),
        AlertDescription::UnrecognisedName => format!("The server does not serve the name `{}` sent in SNI: use `--sni` with a name it serves, or add that name to its configuration", h.sni.as_deref().unwrap_or("")),
        AlertDescription::InternalError => "The server failed internally during the handshake: read its TLS error log".to_string(),
        _ => format!("Read the server's TLS error log for this alert; compare with `{s_client}`"),
    };
    (
        format!(
            "the server ended the handshake with the alert {}",
            alert_name(a)
        ),
        fix,
    )
}

/// `tls.alpn`: gRPC needs HTTP/2 negotiated by ALPN. Only for products that serve gRPC.
pub fn alpn_check(facts: &TlsFacts, product: Product, port: u16) -> Option<Check> {
    if !matches!(product, Product::Cvp | Product::Cvaas) {
        return None;
    }
    let check = match facts.alpn.as_deref() {
        Some("h2") => Check::pass(ALPN_ID, "the server negotiates ALPN h2, which gRPC needs"),
        other => {
            let got = other
                .map(|p| format!("`{p}`"))
                .unwrap_or_else(|| "no protocol".into());
            Check::new(
                ALPN_ID,
                Status::Fail,
                Code::AlpnH2Missing,
                format!("the server negotiated {got} instead of h2: every gRPC client fails here (\"missing selected ALPN property\")"),
            )
            .with_fix(format!("Whatever terminates TLS on port {port} must pass HTTP/2: nginx 1.25.1 and later: `http2 on;` in the server block (older nginx: `listen {port} ssl http2;`), or enable HTTP/2 on the load balancer or proxy in front"))
        }
    };
    Some(check.with_fact("alpn", facts.alpn.clone()))
}

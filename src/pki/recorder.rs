//! The recording verifier: captures the chain whatever it is, so it can be judged offline later.
//!
//! rustls gives no peer certificates after a failed verification, so the handshake accepts any chain here and
//! records it (the handshake signature is still checked: the server proves it holds the key). Trust is judged
//! afterwards, from the captured chain, against every trust source. It also records the OCSP response the
//! server stapled, whether the server asked for a client certificate, and which issuers it said it accepts.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What one handshake revealed, filled in by the verifier and the client-certificate resolver.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    /// The chain as sent, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The server sent a CertificateRequest.
    pub client_cert_requested: bool,
    /// DER-encoded distinguished names of the CAs the server accepts client certificates from.
    pub acceptable_issuers: Vec<Vec<u8>>,
    /// The OCSP response the server stapled (DER; empty when it sent none).
    pub ocsp_response: Vec<u8>,
}

/// Shared between the verifier, the resolver and the caller of one handshake.
pub type Slot = Arc<Mutex<Captured>>;

fn with_slot(slot: &Slot, f: impl FnOnce(&mut Captured)) {
    // A poisoned lock only means another thread panicked mid-write; the data is still ours to use.
    let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard);
}

/// Handshake signature checks with the provider's algorithms: the part of verification every custom
/// verifier here keeps (the server must prove it holds the key in its certificate).
#[derive(Debug, Clone)]
pub struct Signatures(pub Arc<CryptoProvider>);

impl Signatures {
    pub fn tls12(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    pub fn tls13(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    pub fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Accepts any chain and records it; checks handshake signatures with the provider's algorithms.
#[derive(Debug)]
pub struct RecordingVerifier {
    slot: Slot,
    signatures: Signatures,
}

impl RecordingVerifier {
    pub fn new(slot: Slot, provider: Arc<CryptoProvider>) -> Self {
        RecordingVerifier {
            slot,
            signatures: Signatures(provider),
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        with_slot(&self.slot, |c| {
            c.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|d| d.clone().into_owned())
                .collect();
            c.ocsp_response = ocsp_response.to_vec();
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Presents the user's client certificate when there is one (`--cert`/`--key`), and records that one was
/// asked for, and from which issuers.
#[derive(Debug)]
pub struct RecordingClientCert {
    slot: Slot,
    key: Option<Arc<rustls::sign::CertifiedKey>>,
}

impl RecordingClientCert {
    pub fn new(slot: Slot) -> Self {
        RecordingClientCert { slot, key: None }
    }

    pub fn with_key(slot: Slot, key: Option<Arc<rustls::sign::CertifiedKey>>) -> Self {
        RecordingClientCert { slot, key }
    }
}

impl ResolvesClientCert for RecordingClientCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        with_slot(&self.slot, |c| {
            c.client_cert_requested = true;
            c.acceptable_issuers = root_hint_subjects.iter().map(|s| s.to_vec()).collect();
        });
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        // Claiming certificates makes rustls call `resolve` when the server asks, so we learn of the request.
        true
    }
}

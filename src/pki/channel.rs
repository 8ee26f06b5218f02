//! The connection credentials may travel over: built from the trust source that accepted the server's
//! chain (webpki with that source's anchors, or the pin), or, only with `--insecure`, from no trust at all.
//! Every credential-bearing request uses one of these; there is no other way to get a client.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::pki::recorder::{RecordingVerifier, Signatures, Slot};
use crate::pki::sources::{SourceKind, TrustSource};

/// Why credentials may (or may not) be sent.
#[derive(Debug, Clone)]
pub enum Channel {
    /// A trust source accepted the chain; connections verify against it.
    Trusted {
        source: SourceKind,
        config: Arc<ClientConfig>,
    },
    /// `--insecure`: no verification. The report flags every check that used it.
    Insecure { config: Arc<ClientConfig> },
    /// No trust source accepted the chain and `--insecure` was not given: nothing is sent.
    Untrusted,
}

impl Channel {
    pub fn config(&self) -> Option<Arc<ClientConfig>> {
        match self {
            Channel::Trusted { config, .. } | Channel::Insecure { config } => Some(config.clone()),
            Channel::Untrusted => None,
        }
    }

    pub fn insecure(&self) -> bool {
        matches!(self, Channel::Insecure { .. })
    }
}

/// A client certificate to present (mutual TLS).
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// The certificate and a signing key, as rustls presents them.
    pub fn certified_key(&self) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let provider = crate::pki::provider::provider();
        let signing = provider
            .key_provider
            .load_private_key(self.key.clone_key())
            .ok()?;
        Some(Arc::new(rustls::sign::CertifiedKey::new(
            self.chain.clone(),
            signing,
        )))
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Accepts the chain when one of its certificates has a pinned fingerprint; still checks the handshake
/// signature, so the server proves it holds the key.
#[derive(Debug)]
struct PinVerifier {
    pins: Vec<String>,
    signatures: Signatures,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The pin must vouch for the key that signs this handshake: the leaf, or a certificate sent on a
        // verified path from it; a pinned certificate merely included in the chain is not enough.
        let chain: Vec<CertificateDer<'_>> = std::iter::once(end_entity)
            .chain(intermediates)
            .cloned()
            .collect();
        let at = time::OffsetDateTime::from_unix_timestamp(now.as_secs() as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let matched = crate::pki::judge::pin_match(&chain, &self.pins, at);
        let hit = matches!(
            matched,
            crate::pki::judge::PinMatch::Leaf | crate::pki::judge::PinMatch::Issuer(_)
        );
        if hit {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls12(m, c, d)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

fn finish(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
    identity: Option<&Identity>,
    alpn: &[&str],
) -> Result<ClientConfig, rustls::Error> {
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

/// The client configuration for `source` (which accepted the chain), or for `--insecure`.
pub fn config_for(
    source: Option<&TrustSource>,
    identity: Option<&Identity>,
    alpn: &[&str],
) -> Result<ClientConfig, rustls::Error> {
    let provider = crate::pki::provider::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    match source {
        Some(s) if s.kind == SourceKind::Pin => {
            let verifier = PinVerifier {
                pins: s.pins.clone(),
                signatures: Signatures(provider),
            };
            finish(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier)),
                identity,
                alpn,
            )
        }
        Some(s) => {
            let roots = Arc::new(RootCertStore {
                roots: s.anchors.clone(),
            });
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| rustls::Error::General(format!("no usable trust anchors: {e}")))?;
            finish(builder.with_webpki_verifier(verifier), identity, alpn)
        }
        None => {
            // --insecure: accept any chain (the handshake signature is still checked).
            let verifier = RecordingVerifier::new(Slot::default(), provider);
            finish(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier)),
                identity,
                alpn,
            )
        }
    }
}

/// Chooses the channel: the first source (in report order: yours first) whose check accepted the chain.
pub fn choose(
    accepted: Option<&TrustSource>,
    insecure: bool,
    identity: Option<&Identity>,
    alpn: &[&str],
) -> Result<Channel, rustls::Error> {
    Ok(match (accepted, insecure) {
        (Some(source), _) => Channel::Trusted {
            source: source.kind,
            config: Arc::new(config_for(Some(source), identity, alpn)?),
        },
        (None, true) => Channel::Insecure {
            config: Arc::new(config_for(None, identity, alpn)?),
        },
        (None, false) => Channel::Untrusted,
    })
}

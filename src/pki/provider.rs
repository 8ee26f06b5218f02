//! The one crypto provider every TLS connection and every signature check uses: ring.

use std::sync::Arc;

/// The crypto provider every TLS connection uses: ring.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

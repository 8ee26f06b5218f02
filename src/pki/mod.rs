//! Certificates only: facts parsed with x509-parser, the recording verifier that captures whatever chain a
//! server sends, the trust sources, webpki's verdict, the one crypto provider, and the channel credentials
//! may travel over.

pub mod channel;
pub mod facts;
pub mod judge;
pub mod provider;
pub mod recorder;
pub mod revocation;
pub mod shape;
pub mod sources;

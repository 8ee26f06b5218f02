//! Certificates: facts parsed with x509-parser, and the recording verifier that captures whatever chain a
//! server sends.

pub mod channel;
pub mod facts;
pub mod provider;
pub mod recorder;
pub mod sources;
pub mod verify;

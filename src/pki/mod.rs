//! Certificates: facts parsed with x509-parser, and the recording verifier that captures whatever chain a
//! server sends.

pub mod facts;
pub mod recorder;
pub mod sources;
pub mod verify;

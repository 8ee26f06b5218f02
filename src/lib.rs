//! preflight: one run from DNS to the certificate chain, a report where every failure carries its fix.
//!
//! The pipeline (`checks`) feeds one report model (`report::model`); renderers only render.

pub mod app;
pub mod bundle;
pub mod checks;
pub mod cli;
pub mod codes;
pub mod config;
pub mod credentials;
pub mod duration;
pub mod errors;
pub mod jwt;
pub mod lab;
pub mod local;
pub mod net;
pub mod pki;
pub mod report;
pub mod scan;
pub mod secret;
pub mod target;
pub mod text;
pub mod trace;

#[cfg(test)]
mod layers;

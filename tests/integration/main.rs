//! The integration tests, one binary: each module drives the built tool, the lab or the library against
//! real servers and clients on loopback. One binary links once (a library edit relinks this, not thirteen).
#![allow(clippy::unwrap_used)]

mod common;

mod auth;
mod cli;
mod client_predictions;
mod control_chars;
mod deadlines;
mod dns;
mod fuzz_regressions;
mod hello;
mod hostile;
mod lab;
mod lab_products;
mod local_input;
mod openssl;
mod output;
mod products_cvp;
mod products_prisma;
mod properties;
mod proxy;
mod real_clients;
mod revocation;
mod scan;
mod scan_end;
mod secrets;
mod trust;

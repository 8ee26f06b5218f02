//! The network: every connection preflight makes, each under a deadline, returning typed outcomes. Nothing
//! here builds a `Check` or writes a fix; `checks` does.

pub mod clock;
pub mod dns;
pub mod grpc;
pub mod hello;
pub mod http;
pub mod offer;
pub mod proxy;
pub mod revocation;
pub mod route;
pub mod tcp;
pub mod tls;

/// The `User-Agent` of every request preflight makes (REST, gRPC, CONNECT, the clock's HEAD).
pub const USER_AGENT: &str = concat!("preflight/", env!("CARGO_PKG_VERSION"));

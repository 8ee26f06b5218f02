//! The product's other known ports, probed at the same time as the chosen one: when the chosen port
//! refuses or stays silent, the report says which port answers TLS instead.

use rustls::pki_types::ServerName;
use serde_json::{json, Value};

use crate::config::Timeouts;
use crate::net::route::OpenError;
use crate::net::tcp::TcpError;
use crate::net::tls::{handshake, TlsFailure};

/// What one other port did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortAnswer {
    /// TLS answered, with this protocol.
    Tls(String),
    /// TCP connected but TLS did not work.
    NotTls(TlsFailure),
    Closed(TcpError),
    /// The proxy opened no tunnel to the port.
    NoTunnel(crate::net::proxy::TunnelError),
}

/// Connect (through the proxy, when there is one) and handshake on the route's port, under the same
/// deadlines as the main check.
pub async fn probe(
    route: crate::net::route::Route,
    name: ServerName<'static>,
    timeouts: Timeouts,
) -> (u16, PortAnswer) {
    let port = route.port;
    let answer = match route.open(timeouts.connect).await {
        Err(OpenError::Tcp(_, e, _)) => PortAnswer::Closed(e),
        Err(OpenError::Tunnel(_, e)) => PortAnswer::NoTunnel(e),
        Ok(stream) => match handshake(stream, name, timeouts.tls).await.outcome {
            Ok(f) => PortAnswer::Tls(f.protocol),
            // A server that demands a client certificate still answers TLS.
            Err(TlsFailure::ClientCertRequired) => {
                PortAnswer::Tls("TLS (client certificate required)".into())
            }
            Err(f) => PortAnswer::NotTls(f),
        },
    };
    (port, answer)
}

/// Facts for the report: one object per port.
pub fn facts(answers: &[(u16, PortAnswer)], timeouts: Timeouts) -> Value {
    Value::Array(
        answers
            .iter()
            .map(|(port, a)| {
                let (result, detail) = match a {
                    PortAnswer::Tls(v) => ("tls", v.clone()),
                    PortAnswer::NotTls(f) => (f.code().as_str(), f.describe()),
                    PortAnswer::Closed(e) => (e.code().as_str(), e.describe(timeouts.connect)),
                    PortAnswer::NoTunnel(e) => (e.code().as_str(), e.describe()),
                };
                json!({"port": port, "result": result, "detail": detail})
            })
            .collect(),
    )
}

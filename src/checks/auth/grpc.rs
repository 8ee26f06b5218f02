//! gRPC over HTTP/2 (hyper's h2) on the channel trust chose: one unary call, the status read from the
//! trailers or, for a Trailers-Only answer, from the headers. Used to prove gRPC is served (`grpc.<port>`)
//! and that a token is accepted there, without pulling inventory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::secret::Secret;

/// `/arista.inventory.v1.DeviceService/GetOne` for device id "X": unknown, so NOT_FOUND proves the token
/// was accepted without returning any inventory.
pub const GET_ONE: &str = "/arista.inventory.v1.DeviceService/GetOne";
const GET_ONE_X: [u8; 7] = [0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x58];

/// What a gRPC call came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A gRPC status (0 OK, 5 NOT_FOUND, 7 PERMISSION_DENIED, 12 UNIMPLEMENTED, 16 UNAUTHENTICATED, ...).
    Status(u32, String),
    /// HTTP/2 answered, but not with gRPC (a proxy's 401/403/404 page, say).
    Http(u16),
    /// The server did not negotiate h2: gRPC cannot work.
    NoH2(Option<String>),
    Failed(String),
}

pub fn status_name(code: u32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        16 => "UNAUTHENTICATED",
        _ => "other",
    }
}

/// One unary GetOne call with an optional bearer token.
pub async fn get_one(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    authority: &str,
    addr: SocketAddr,
    token: Option<&Secret>,
    timeout: Duration,
) -> Outcome {
    let work = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let tls = match TlsConnector::from(config).connect(name, tcp).await {
            Ok(t) => t,
            Err(e) => {
                let alert = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                if let Some(rustls::Error::AlertReceived(
                    rustls::AlertDescription::NoApplicationProtocol,
                )) = alert
                {
                    // Offered only h2, and the server refused it: the classic gRPC failure.
                    return Ok(Outcome::NoH2(None));
                }
                return Err(format!("TLS failed: {e}"));
            }
        };
        let alpn = tls
            .get_ref()
            .1
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        if alpn.as_deref() != Some("h2") {
            return Ok(Outcome::NoH2(alpn));
        }
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP/2 failed: {e}"))?;
        tokio::spawn(conn);
        let mut body = vec![0u8, 0, 0, 0, GET_ONE_X.len() as u8];
        body.extend_from_slice(&GET_ONE_X);
        let mut req = Request::post(format!("https://{authority}{GET_ONE}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header(
                "user-agent",
                concat!("preflight/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {}", t.expose()));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("the gRPC call failed: {e}"))?;
        let status = resp.status().as_u16();
        let header = |h: &hyper::HeaderMap, k: &str| {
            h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let is_grpc = header(resp.headers(), "content-type")
            .is_some_and(|c| c.starts_with("application/grpc"));
        // Trailers-Only: the status is in the headers.
        if let Some(code) = header(resp.headers(), "grpc-status") {
            let msg = header(resp.headers(), "grpc-message").unwrap_or_default();
            return Ok(Outcome::Status(code.parse().unwrap_or(2), msg));
        }
        if !is_grpc {
            return Ok(Outcome::Http(status));
        }
        let collected = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the gRPC answer failed: {e}"))?;
        match collected.trailers() {
            Some(t) => {
                let code = header(t, "grpc-status")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(2);
                Ok(Outcome::Status(
                    code,
                    header(t, "grpc-message").unwrap_or_default(),
                ))
            }
            None => Ok(Outcome::Failed(
                "the gRPC answer ended without a grpc-status".into(),
            )),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => Outcome::Failed(e),
        Err(_) => Outcome::Failed(format!(
            "no gRPC answer within {}",
            crate::duration::human(timeout)
        )),
    }
}

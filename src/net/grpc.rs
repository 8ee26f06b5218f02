//! gRPC over HTTP/2 (hyper's h2) on the channel trust chose: one unary call, the status read from the
//! trailers or, for a Trailers-Only answer, from the headers. Used to prove gRPC is served (`grpc.<port>`)
//! and that a token is accepted there, without pulling inventory.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
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

/// The most of a gRPC answer read: GetOne's is a few bytes.
const MAX_ANSWER: usize = 64 * 1024;

/// A `grpc-status` value: a decimal number, nothing else.
fn grpc_status(v: &str) -> Option<u32> {
    (!v.is_empty() && v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
}

fn not_a_status(v: &str) -> Outcome {
    let shown: String = v.chars().take(40).collect();
    Outcome::Failed(format!(
        "the server sent grpc-status `{shown}`, which is not a gRPC status code"
    ))
}

/// An error's causes, `: `-joined, without hyper's own "http2 error" when there is a cause, and with the
/// debug text of a GOAWAY (h2 shows it as `(b"...")`) as plain text.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        let text = match text.split_once(" (b\"") {
            Some((what, debug)) => format!("{what}: {}", debug.trim_end_matches("\")")),
            None => text,
        };
        parts.push(text);
        cause = c.source();
    }
    if parts.len() > 1 {
        parts.remove(0);
    }
    parts.join(": ")
}

/// One unary GetOne call with an optional bearer token.
pub async fn get_one(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    authority: &str,
    route: &crate::net::route::Route,
    token: Option<&Secret>,
    timeout: Duration,
) -> Outcome {
    let work = async {
        let tcp = route.open(timeout).await.map_err(|e| e.describe())?;
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
            .header("user-agent", crate::net::USER_AGENT);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {}", t.expose()));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("the server broke off the HTTP/2 exchange ({})", chain(&e)))?;
        let status = resp.status().as_u16();
        let header = |h: &hyper::HeaderMap, k: &str| {
            h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let is_grpc = header(resp.headers(), "content-type")
            .is_some_and(|c| c.starts_with("application/grpc"));
        // Trailers-Only: the status is in the headers.
        if let Some(code) = header(resp.headers(), "grpc-status") {
            let msg = header(resp.headers(), "grpc-message").unwrap_or_default();
            return Ok(match grpc_status(&code) {
                Some(c) => Outcome::Status(c, msg),
                None => not_a_status(&code),
            });
        }
        if !is_grpc {
            return Ok(Outcome::Http(status));
        }
        // Read frame by frame, up to MAX_ANSWER: GetOne's answer is a few bytes, and a server that streams
        // forever must not fill memory until the deadline.
        let mut body = resp.into_body();
        let mut read = 0usize;
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("the gRPC answer broke off ({})", chain(&e)))?;
            match frame.into_data() {
                Ok(data) => {
                    read += data.len();
                    if read > MAX_ANSWER {
                        return Ok(Outcome::Failed(format!(
                            "the gRPC answer went on past {} KiB without a grpc-status",
                            MAX_ANSWER / 1024
                        )));
                    }
                }
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        match trailers
            .as_ref()
            .and_then(|t| header(t, "grpc-status").map(|c| (t, c)))
        {
            Some((t, code)) => Ok(match grpc_status(&code) {
                Some(c) => Outcome::Status(c, header(t, "grpc-message").unwrap_or_default()),
                None => not_a_status(&code),
            }),
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

//! gRPC over HTTP/2 (hyper's h2) on the channel trust chose: one unary call, the status read from the
//! trailers or, for a Trailers-Only answer, from the headers. Used to prove gRPC is served (`grpc.<port>`)
//! and that a token is accepted there, without pulling inventory.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::secret::Secret;

pub mod wire;

pub use wire::{status_name, GET_ONE};

/// GetOne's request for device id "X": unknown, so NOT_FOUND proves the token was accepted without
/// returning any inventory.
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

/// The most of a gRPC answer read: GetOne's is a few bytes.
const MAX_ANSWER: usize = 64 * 1024;

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

/// A step of the call: what comes next, or the outcome already settled (a failure, or no h2).
type Step<T> = Result<T, Outcome>;

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
        let mut sender = open_h2(config, name, route, timeout).await?;
        let resp = sender
            .send_request(get_one_request(authority, token)?)
            .await
            .map_err(|e| {
                Outcome::Failed(format!(
                    "the server broke off the HTTP/2 exchange ({})",
                    chain(&e)
                ))
            })?;
        Ok::<_, Outcome>(read_status(resp).await)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(o) | Err(o)) => o,
        Err(_) => Outcome::Failed(format!(
            "no gRPC answer within {}",
            crate::duration::human(timeout)
        )),
    }
}

/// TLS over the route, offering what `config` offers (h2), then HTTP/2, whose connection runs on its own
/// task.
async fn open_h2(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    route: &crate::net::route::Route,
    timeout: Duration,
) -> Step<SendRequest<Full<Bytes>>> {
    let tcp = route
        .open(timeout)
        .await
        .map_err(|e| Outcome::Failed(e.describe()))?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| tls_failure(&e))?;
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    if alpn.as_deref() != Some("h2") {
        return Err(Outcome::NoH2(alpn));
    }
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .map_err(|e| Outcome::Failed(format!("HTTP/2 failed: {e}")))?;
    tokio::spawn(conn);
    Ok(sender)
}

/// A failed handshake: offered only h2 and refused it, the classic gRPC failure, or another.
fn tls_failure(e: &std::io::Error) -> Outcome {
    let alert = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match alert {
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)) => {
            Outcome::NoH2(None)
        }
        _ => Outcome::Failed(format!("TLS failed: {e}")),
    }
}

/// The GetOne POST: one framed message, with the bearer token when there is one.
fn get_one_request(authority: &str, token: Option<&Secret>) -> Step<Request<Full<Bytes>>> {
    let mut req = Request::post(format!("https://{authority}{GET_ONE}"))
        .header("content-type", wire::CONTENT_TYPE)
        .header("te", wire::TE_TRAILERS)
        .header("user-agent", crate::net::USER_AGENT);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {}", t.expose()));
    }
    req.body(Full::new(Bytes::from(wire::frame(&GET_ONE_X))))
        .map_err(|e| Outcome::Failed(e.to_string()))
}

/// The call's outcome from the answer: its headers (Trailers-Only, or not gRPC at all), else its trailers.
async fn read_status(resp: Response<Incoming>) -> Outcome {
    // Trailers-Only: the status is in the headers.
    if let Some(status) = status_in(resp.headers()) {
        return status;
    }
    if !wire::is_grpc(resp.headers()) {
        return Outcome::Http(resp.status().as_u16());
    }
    match read_trailers(resp.into_body()).await {
        Ok(trailers) => trailers.as_ref().and_then(status_in).unwrap_or_else(|| {
            Outcome::Failed("the gRPC answer ended without a grpc-status".into())
        }),
        Err(failed) => failed,
    }
}

/// The status `grpc-status` and `grpc-message` carry, when they are there.
fn status_in(headers: &HeaderMap) -> Option<Outcome> {
    let text = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let code = text(wire::STATUS_HEADER)?;
    Some(match wire::parse_status(&code) {
        Some(c) => Outcome::Status(c, text(wire::MESSAGE_HEADER).unwrap_or_default()),
        None => not_a_status(&code),
    })
}

/// The body read frame by frame, up to MAX_ANSWER, for its trailers: GetOne's answer is a few bytes, and a
/// server that streams forever must not fill memory until the deadline.
async fn read_trailers(mut body: Incoming) -> Step<Option<HeaderMap>> {
    let mut read = 0usize;
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| Outcome::Failed(format!("the gRPC answer broke off ({})", chain(&e))))?;
        match frame.into_data() {
            Ok(data) => {
                read += data.len();
                if read > MAX_ANSWER {
                    return Err(Outcome::Failed(format!(
                        "the gRPC answer went on past {} KiB without a grpc-status",
                        MAX_ANSWER / 1024
                    )));
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    Ok(trailers)
}

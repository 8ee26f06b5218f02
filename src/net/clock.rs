//! The server's clock, read from the `Date` header of one HEAD request over the connection already open:
//! when a certificate is not yet valid or expired, it tells a wrong local clock from a wrong certificate.
//! Optional, so the caller gives it a short deadline; the connection is closed when it returns, answered or
//! not, so a server that serves one connection at a time is free for the next step.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use time::OffsetDateTime;

use crate::net::tls::Stream;

/// Asks `HEAD /` over `stream` (HTTP/2 when ALPN chose h2, else HTTP/1.1) and returns the server's `Date`,
/// within `timeout`. Any failure, or no `Date`, is `None`: the clock comparison is then simply not made.
pub async fn server_date(
    stream: Stream,
    host: &str,
    h2: bool,
    timeout: Duration,
) -> Option<OffsetDateTime> {
    let io = TokioIo::new(stream);
    let request = Request::head("/")
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, crate::net::USER_AGENT)
        .body(Empty::<Bytes>::new())
        .ok()?;
    let ask = async {
        // The connection's task ends with this read (dropped on the deadline too): the connection closes.
        let _conn: Aborting;
        let response = if h2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .ok()?;
            _conn = Aborting(tokio::spawn(async move {
                let _ = conn.await;
            }));
            let mut req = request;
            *req.uri_mut() = format!("https://{host}/").parse().ok()?;
            sender.send_request(req).await.ok()?
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.ok()?;
            _conn = Aborting(tokio::spawn(async move {
                let _ = conn.await;
            }));
            sender.send_request(request).await.ok()?
        };
        let date = response.headers().get(hyper::header::DATE)?.to_str().ok()?;
        let system = httpdate::parse_http_date(date).ok()?;
        Some(OffsetDateTime::from(system))
    };
    tokio::time::timeout(timeout, ask).await.ok().flatten()
}

/// A spawned task aborted when this is dropped.
struct Aborting(tokio::task::JoinHandle<()>);

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

//! HTTP CONNECT proxies for the lab, the way corporate proxies behave: an open one, one that wants a Basic
//! proxy account (407), one whose policy refuses the lab's ports (403), and one that inspects TLS (it
//! answers the ClientHello itself with a certificate its own CA minted for the name asked, and talks to the
//! server on the client's behalf).
//!
//! They reach the lab only: loopback addresses, `localhost` and `*.preflight.lab` names (which the proxy
//! resolves to the lab's address, so a check through it needs no local DNS). Anything else is 403.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};

use super::certs::Ca;

/// The proxy account `proxy-auth` accepts.
pub const PROXY_USER: &str = "proxyuser";
pub const PROXY_PASSWORD: &str = "proxy-password";

/// What a lab proxy does with a CONNECT.
#[derive(Clone)]
pub enum Kind {
    Open,
    /// Wants `Proxy-Authorization: Basic` with [`PROXY_USER`] / [`PROXY_PASSWORD`].
    Auth,
    /// Allows CONNECT to port 443 only (the lab has none): 403 for the lab's ports.
    Deny,
    /// TLS inspection with this CA; certificates are minted as of the lab's issue time (valid a year).
    Intercept(Arc<Ca>, time::OffsetDateTime),
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

/// Serves CONNECT on `listener`; `lab` is the address `*.preflight.lab` names resolve to.
pub async fn serve(listener: TcpListener, kind: Kind, lab: IpAddr) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let kind = kind.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let kind = kind.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, kind, lab).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = tokio::time::timeout(Duration::from_secs(600), conn).await;
        });
    }
}

fn authorized(req: &Request<Incoming>) -> bool {
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{PROXY_PASSWORD}"))
    );
    req.headers()
        .get(hyper::header::PROXY_AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(want.as_str())
}

/// Where the proxy connects for `host`: the lab's own names and loopback only.
fn destination(host: &str, port: u16, lab: IpAddr) -> Option<SocketAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() || ip == lab => Some(SocketAddr::new(ip, port)),
        Ok(_) => None,
        Err(_) => {
            let h = host.to_ascii_lowercase();
            (h == "localhost" || h.ends_with(".preflight.lab"))
                .then_some(SocketAddr::new(lab, port))
        }
    }
}

/// One CONNECT: checked against the proxy's rules, the upstream connection opened, and the tunnel relayed on
/// its own task once the client has the 200.
async fn handle(req: Request<Incoming>, kind: Kind, lab: IpAddr) -> Response<Body> {
    let (host, port) = match connect_to(&req) {
        Ok(to) => to,
        Err((status, text)) => return reply(status, text),
    };
    if let Some(refused) = policy(&req, &kind, port) {
        return refused;
    }
    let Some(dest) = destination(&host, port, lab) else {
        return reply(
            StatusCode::FORBIDDEN,
            "the preflight lab proxy reaches the lab only (loopback, localhost, *.preflight.lab)",
        );
    };
    let upstream = match open_upstream(dest).await {
        Ok(s) => s,
        Err((status, text)) => return reply(status, &text),
    };
    tokio::spawn(relay(req, kind, upstream, host));
    Response::new(Full::new(Bytes::new()))
}

/// The `host` and `port` a CONNECT asks for (443 when it names none); other methods are 405.
fn connect_to(req: &Request<Incoming>) -> Result<(String, u16), (StatusCode, &'static str)> {
    if req.method() != Method::CONNECT {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "preflight lab proxy: CONNECT only",
        ));
    }
    let Some(authority) = req.uri().authority() else {
        return Err((StatusCode::BAD_REQUEST, "CONNECT needs host:port"));
    };
    Ok((
        authority.host().to_string(),
        authority.port_u16().unwrap_or(443),
    ))
}

/// The proxy's rules: the account (407 without it) and the ports it allows (403).
fn policy(req: &Request<Incoming>, kind: &Kind, port: u16) -> Option<Response<Body>> {
    if matches!(kind, Kind::Auth) && !authorized(req) {
        let mut r = reply(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "proxy authentication required",
        );
        r.headers_mut().insert(
            hyper::header::PROXY_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"preflight lab proxy\""),
        );
        return Some(r);
    }
    if matches!(kind, Kind::Deny) && port != 443 {
        return Some(reply(
            StatusCode::FORBIDDEN,
            "Forbidden by policy: CONNECT is allowed to port 443 only",
        ));
    }
    None
}

/// The connection to the destination, or the 502 / 504 to answer (status and text).
async fn open_upstream(dest: SocketAddr) -> Result<TcpStream, (StatusCode, String)> {
    match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(dest)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err((
            StatusCode::BAD_GATEWAY,
            format!("cannot connect to {dest}: {e}"),
        )),
        Err(_) => Err((
            StatusCode::GATEWAY_TIMEOUT,
            format!("no answer from {dest}"),
        )),
    }
}

/// Once the client has its 200: bytes relayed both ways, or TLS inspected.
async fn relay(req: Request<Incoming>, kind: Kind, upstream: TcpStream, host: String) {
    let Ok(upgraded) = hyper::upgrade::on(req).await else {
        return;
    };
    let client = TokioIo::new(upgraded);
    match kind {
        Kind::Intercept(ca, at) => {
            let _ = inspect(client, upstream, &host, &ca, at).await;
        }
        _ => {
            let (mut c, mut u) = (client, upstream);
            let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
        }
    }
}

/// TLS inspection: read the ClientHello, connect to the server with the same ALPN offers, then finish the
/// client's handshake with a certificate minted for the name it asked, and relay the plaintext. `None` when a
/// step fails: the client sees its connection end, as behind a real inspecting proxy.
async fn inspect(
    client: TokioIo<hyper::upgrade::Upgraded>,
    upstream: TcpStream,
    host: &str,
    ca: &Ca,
    at: time::OffsetDateTime,
) -> Option<()> {
    let deadline = Duration::from_secs(10);
    let start = tokio::time::timeout(
        deadline,
        LazyConfigAcceptor::new(rustls::server::Acceptor::default(), client),
    )
    .await
    .ok()?
    .ok()?;
    let hello = start.client_hello();
    let name = hello.server_name().map(str::to_string).unwrap_or_else(|| {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    });
    let offered: Vec<String> = hello
        .alpn()
        .map(|it| {
            it.map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let offered_refs: Vec<&str> = offered.iter().map(String::as_str).collect();
    // The server side: an inspecting proxy does not verify much either; the lab's servers are self-signed.
    let client_config = crate::pki::channel::config_for(None, None, &offered_refs).ok()?;
    let server_name = rustls::pki_types::ServerName::try_from(name.clone()).ok()?;
    let up = tokio::time::timeout(
        deadline,
        TlsConnector::from(Arc::new(client_config)).connect(server_name, upstream),
    )
    .await
    .ok()?
    .ok()?;
    let chosen = up.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let forged = ca.server_for(&name, at, 365).ok()?;
    let alpn: Vec<&[u8]> = chosen.as_deref().into_iter().collect();
    let config = super::tls_config(
        vec![forged.der.clone(), ca.cert.der.clone()],
        &forged,
        None,
        &alpn,
    )
    .ok()?;
    let mut down = tokio::time::timeout(deadline, start.into_stream(config))
        .await
        .ok()?
        .ok()?;
    let mut up = up;
    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_the_lab_only() {
        let lab: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!(destination("cvp.preflight.lab", 1, lab).is_some());
        assert!(destination("localhost", 1, lab).is_some());
        assert!(destination("[::1]", 1, lab).is_some());
        assert!(destination("127.0.0.5", 1, lab).is_some());
        assert!(destination("example.com", 443, lab).is_none());
        assert!(destination("10.0.0.1", 443, lab).is_none());
    }
}

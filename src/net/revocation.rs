//! The CA's revocation services over HTTP: an OCSP request POSTed to a responder
//! (`application/ocsp-request`), a CRL fetched from its distribution point. Straight to the service (its
//! name resolved by the run's resolver) or through the check's proxy; each under one deadline, the body
//! capped. Typed outcomes; `checks::revocation` words them.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::net::dns::{DnsError, Resolver};
use crate::net::proxy::Proxy;

/// The most of an OCSP response that is read.
pub const OCSP_CAP: usize = 1024 * 1024;
/// The most of a CRL that is read.
pub const CRL_CAP: usize = 10 * 1024 * 1024;

/// What to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// POST this DER OCSPRequest.
    Ocsp(Vec<u8>),
    /// GET the CRL.
    Crl,
}

impl Ask {
    /// The most of the answer that is read.
    pub fn cap(&self) -> usize {
        match self {
            Ask::Ocsp(_) => OCSP_CAP,
            Ask::Crl => CRL_CAP,
        }
    }
}

/// An answer: the body (at most the cap), its HTTP status and type, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not `http://` or `https://` (an `ldap://` distribution point): not fetched.
    #[error("not an HTTP URL ({0}), not fetched")]
    Unsupported(String),
    #[error("`{0}` is not a URL")]
    BadUrl(String),
    #[error("the name {0} did not resolve ({1})")]
    Resolve(String, String),
    #[error("no answer within {}", crate::duration::human(*.0))]
    Timeout(Duration),
    #[error("the answer is larger than the {} cap, not read further", size(*.0))]
    TooLarge(usize),
    /// In words (never a library's `Debug`).
    #[error("{0}")]
    Failed(String),
}

/// `1 MiB`, `64 KiB`: a cap, in words.
pub fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// How a request reaches the service: straight, with names resolved by `resolver`, or through `proxy`
/// (at `proxy_addr` when the check already connected to it).
pub struct Way<'a> {
    pub resolver: &'a dyn Resolver,
    pub proxy: Option<&'a Proxy>,
    pub proxy_addr: Option<SocketAddr>,
}

/// Asks `url` within `deadline` (name resolution, connection, request and body together).
pub async fn fetch(
    url: &str,
    ask: &Ask,
    way: &Way<'_>,
    deadline: Duration,
) -> Result<Fetched, FetchError> {
    let parsed = url::Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::Unsupported(parsed.scheme().to_string()));
    }
    let start = Instant::now();
    let work = async {
        let client = client(&parsed, way, deadline).await?;
        let req = match ask {
            Ask::Ocsp(body) => client
                .post(parsed.as_str())
                .header(reqwest::header::CONTENT_TYPE, "application/ocsp-request")
                .body(body.clone()),
            Ask::Crl => client.get(parsed.as_str()),
        };
        read(req, ask.cap(), start, deadline).await
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(deadline)),
    }
}

/// A client for `url`: pinned to the address the run's resolver gives, or through the proxy.
async fn client(
    url: &url::Url,
    way: &Way<'_>,
    deadline: Duration,
) -> Result<reqwest::Client, FetchError> {
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config())
        .connect_timeout(deadline)
        .timeout(deadline)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(crate::net::USER_AGENT);
    let builder = match way.proxy {
        Some(proxy) => builder.proxy(through(proxy, way.proxy_addr)?),
        None => {
            let host = url.host_str().unwrap_or_default();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let ip = match bare.parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => resolve(way.resolver, bare).await?,
            };
            let port = url.port_or_known_default().unwrap_or(80);
            builder.resolve(bare, SocketAddr::new(ip, port)).no_proxy()
        }
    };
    builder
        .build()
        .map_err(|e| FetchError::Failed(format!("cannot build the HTTP client: {e}")))
}

/// The first address of `host`.
async fn resolve(resolver: &dyn Resolver, host: &str) -> Result<IpAddr, FetchError> {
    let words = |e: DnsError| match e {
        DnsError::NxDomain => "no such name".to_string(),
        DnsError::NoRecords => "no address".to_string(),
        DnsError::Timeout => "the DNS server did not answer".to_string(),
        DnsError::Other(w) => w,
    };
    let addrs = resolver
        .lookup(host)
        .await
        .map_err(|e| FetchError::Resolve(host.to_string(), words(e)))?;
    addrs
        .first()
        .copied()
        .ok_or_else(|| FetchError::Resolve(host.to_string(), "no address".into()))
}

/// reqwest's proxy for `proxy` (at the address the check used, when it did), with its credentials.
fn through(proxy: &Proxy, addr: Option<SocketAddr>) -> Result<reqwest::Proxy, FetchError> {
    let at = addr.map_or_else(|| proxy.authority(), |a| a.to_string());
    let mut p = reqwest::Proxy::all(format!("http://{at}"))
        .map_err(|e| FetchError::Failed(format!("cannot use the proxy {}: {e}", proxy.shown)))?;
    if let Some(auth) = &proxy.authorization {
        let mut value = reqwest::header::HeaderValue::from_str(auth.expose()).map_err(|_| {
            FetchError::Failed("the proxy credentials are not valid in a header".into())
        })?;
        value.set_sensitive(true);
        p = p.custom_http_auth(value);
    }
    Ok(p)
}

/// TLS for an `https://` service: the Mozilla roots, ring.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(crate::pki::provider::provider())
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
}

/// Sends `req` and reads at most `cap` bytes of the body (a declared length over it is refused unread).
async fn read(
    req: reqwest::RequestBuilder,
    cap: usize,
    start: Instant,
    deadline: Duration,
) -> Result<Fetched, FetchError> {
    let words = |e: reqwest::Error| match e.is_timeout() {
        true => FetchError::Timeout(deadline),
        false => FetchError::Failed(crate::errors::chain(&e)),
    };
    let mut resp = req.send().await.map_err(words)?;
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(FetchError::TooLarge(cap));
    }
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| crate::text::one_line_bytes(v.as_bytes(), 80));
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(words)? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        status,
        content_type,
        body,
        elapsed: start.elapsed(),
    })
}

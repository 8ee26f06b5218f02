//! HTTP requests for product and authentication checks: reqwest over the chosen channel, pinned to the
//! address the TCP check used, with a deadline and a cap on how much of a body is read (a server that
//! sends gigabytes, or never ends, costs nothing).

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, COOKIE};

use crate::net::route::Hop;
use crate::secret::{Redactor, Secret};

/// The most of a response body that is read.
pub const BODY_CAP: usize = 64 * 1024;

/// How a request authenticates.
pub enum Auth<'a> {
    None,
    Basic(&'a str, &'a Secret),
    Bearer(&'a Secret),
    Cookie(&'a str, &'a Secret),
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most [`BODY_CAP`] bytes, as text.
    pub body: String,
    pub elapsed: Duration,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Why no reply came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("no answer in time")]
    Timeout,
    /// In words (never a library's `Debug`).
    #[error("{0}")]
    Failed(String),
}

/// Why no client could be built for a server.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot use the proxy {proxy}: {why}")]
    Proxy { proxy: String, why: String },
    #[error("the proxy credentials are not valid in a header")]
    ProxyCredentials,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A client bound to one server: `https://HOST:PORT[/path]`, reached at `addr`.
pub struct Http {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
    /// The run's secrets: cookies a server sets join them on arrival; text from a reply leaves through it.
    redactor: Redactor,
}

fn words(e: &reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout;
    }
    // reqwest's Display chains sources ("error sending request ... : ..."): keep it, it is prose.
    let text = crate::errors::chain(e);
    if text.ends_with("Invalid Server Name") && text.contains("://[") {
        // reqwest 0.13 passes `[v6]` with its brackets to rustls after a proxy's CONNECT.
        return HttpError::Failed(
            "REST through a proxy to an IPv6 address is not possible here (reqwest cannot verify an IPv6 address after CONNECT): use the server's name, or reach it without the proxy (--noproxy)".into(),
        );
    }
    HttpError::Failed(text)
}

impl Http {
    pub fn new(
        config: std::sync::Arc<rustls::ClientConfig>,
        route: &crate::net::route::Route,
        path_prefix: Option<&str>,
        timeout: Duration,
        redactor: &Redactor,
    ) -> Result<Http, SetupError> {
        let config = (*config).clone();
        let builder = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(crate::net::USER_AGENT);
        // Pinned to the address (or the proxy) the TCP check used: no second lookup that could differ.
        let builder = match &route.hop {
            Hop::Direct(ip) => builder
                .resolve(&route.host, SocketAddr::new(*ip, route.port))
                .no_proxy(),
            Hop::Proxy { proxy, addr } => {
                let mut p = reqwest::Proxy::all(format!("http://{addr}")).map_err(|e| {
                    SetupError::Proxy {
                        proxy: proxy.shown.clone(),
                        why: e.to_string(),
                    }
                })?;
                if let Some(auth) = &proxy.authorization {
                    let mut value = reqwest::header::HeaderValue::from_str(auth.expose())
                        .map_err(|_| SetupError::ProxyCredentials)?;
                    value.set_sensitive(true);
                    p = p.custom_http_auth(value);
                }
                builder.proxy(p)
            }
        };
        let client = builder
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        Ok(Http {
            client,
            base: format!("https://{}{}", route.authority(), path_prefix.unwrap_or("")),
            timeout,
            redactor: redactor.clone(),
        })
    }

    /// Text from a reply (a body, a header, a message), redacted of every secret in every form: the only
    /// way such text reaches a check.
    pub fn wire(&self, text: &str) -> String {
        self.redactor.wire(text)
    }

    /// The first line of a reply's text, redacted, at most `max` characters.
    pub fn excerpt(&self, text: &str, max: usize) -> String {
        self.redactor.excerpt(text, max)
    }

    /// A secret the server issued (a session id, a token): redacted from every later text.
    pub fn learn(&self, secret: &Secret) {
        self.redactor.learn(secret.expose());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder, auth: Auth<'_>) -> Result<Reply, HttpError> {
        let req = match auth {
            Auth::None => req,
            Auth::Basic(user, pass) => req.basic_auth(user, Some(pass.expose())),
            Auth::Bearer(token) => req.header(AUTHORIZATION, format!("Bearer {}", token.expose())),
            Auth::Cookie(name, value) => req.header(COOKIE, format!("{name}={}", value.expose())),
        };
        let start = std::time::Instant::now();
        let work = async {
            let mut resp = req.send().await.map_err(|e| words(&e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            // A cookie the server sets is a credential from the moment it arrives.
            for v in headers.get_all(reqwest::header::SET_COOKIE) {
                let v = String::from_utf8_lossy(v.as_bytes());
                let pair = v.split(';').next().unwrap_or("");
                if let Some((_, value)) = pair.split_once('=') {
                    self.redactor.learn(value.trim().trim_matches('"'));
                }
            }
            let mut body = Vec::new();
            while body.len() < BODY_CAP {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        body.extend_from_slice(&chunk[..chunk.len().min(BODY_CAP - body.len())])
                    }
                    Ok(None) => break,
                    Err(e) => return Err(words(&e)),
                }
            }
            Ok(Reply {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                elapsed: start.elapsed(),
            })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> Result<Reply, HttpError> {
        self.send(self.client.get(self.url(path)), auth).await
    }

    /// POSTs a JSON body. The body may hold a secret: it goes on the wire only, never into a report.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        auth: Auth<'_>,
    ) -> Result<Reply, HttpError> {
        let req = self
            .client
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(req, auth).await
    }

    pub async fn post_empty(&self, path: &str, auth: Auth<'_>) -> Result<Reply, HttpError> {
        self.send(self.client.post(self.url(path)), auth).await
    }
}

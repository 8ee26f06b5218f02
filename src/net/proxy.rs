//! HTTP proxies, as curl reads them: `--proxy URL` / `--noproxy LIST`, else `https_proxy`/`HTTPS_PROXY`,
//! `all_proxy`/`ALL_PROXY` and `no_proxy`/`NO_PROXY`, the lower-case name first (every connection preflight makes is https, so
//! `HTTP_PROXY` does not apply; the report says so when it is the only one set). Connections go through
//! the proxy with `CONNECT host:port` (hyper's HTTP/1.1 client and its upgrade), credentials from the URL
//! as `Proxy-Authorization: Basic`; they are never shown.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::secret::Secret;

/// curl's port for a proxy URL that names none.
/// The proxy variables curl reads, upper and lower case.
pub const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub const DEFAULT_PORT: u16 = 1080;

/// A proxy to tunnel through.
#[derive(Clone)]
pub struct Proxy {
    /// `http://host:port`: what reports show (never the credentials).
    pub shown: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// `Basic …` for `Proxy-Authorization`, when the URL carries credentials.
    pub authorization: Option<Secret>,
    /// Where the setting came from: `--proxy`, `HTTPS_PROXY`, `all_proxy`, ...
    pub source: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (from {})", self.shown, self.source)
    }
}

impl Proxy {
    /// `http://proxy:3128 (from HTTPS_PROXY)`.
    pub fn describe(&self) -> String {
        format!("{} (from {})", self.shown, self.source)
    }

    /// `host:port`, bracketed for IPv6.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses a proxy URL: `http://[user:password@]host[:port][/]`, or the same without `http://`.
    /// Everything up to the last `@` is user information (as the redaction reads it), so no part of a
    /// password that holds `/`, `?` or `#` is taken for the host or port, or quoted in an error.
    pub fn parse(url: &str, source: &str) -> Result<Proxy, ProxyError> {
        let bad = |why: &str| ProxyError {
            origin: source.to_string(),
            shown: crate::secret::redact_url_credentials(url.trim()),
            why: why.to_string(),
        };
        let url = url.trim();
        let rest = without_scheme(url, &bad)?;
        let (userinfo, after) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let hostport = after.split(['/', '?', '#']).next().unwrap_or("");
        if hostport.is_empty() {
            return Err(bad("no host; write http://host:port"));
        }
        let (host, port) = host_and_port(hostport, &bad)?;
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("no usable host"));
        }
        let port = match port {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        let authorization = match userinfo {
            None => None,
            Some(_) => Some(basic_authorization(url, &bad)?),
        };
        let mut p = Proxy {
            shown: String::new(),
            host,
            port,
            authorization,
            source: source.to_string(),
        };
        p.shown = format!("http://{}", p.authority());
        Ok(p)
    }
}

/// The URL after `http://` (or the whole of it without a scheme); other schemes are refused with why.
fn without_scheme<'a>(
    url: &'a str,
    bad: &dyn Fn(&str) -> ProxyError,
) -> Result<&'a str, ProxyError> {
    match url.split_once("://") {
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" => Ok(rest),
            "https" => Err(bad("HTTPS proxies (TLS to the proxy) are not supported; use the proxy's http:// address")),
            s if s.starts_with("socks") => Err(bad("SOCKS proxies are not supported; use an HTTP proxy (http://host:port) or bypass it with --noproxy '*'")),
            other => Err(bad(&format!("`{other}://` is not a proxy scheme; write http://host:port"))),
        },
        None => Ok(url),
    }
}

/// `host[:port]` or `[v6][:port]`: the host (without brackets) and the port as written, if any.
fn host_and_port<'a>(
    hostport: &'a str,
    bad: &dyn Fn(&str) -> ProxyError,
) -> Result<(String, Option<&'a str>), ProxyError> {
    if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("an IPv6 address needs its closing `]`"))?;
        match after.strip_prefix(':') {
            Some(p) => Ok((h.to_string(), Some(p))),
            None if after.is_empty() => Ok((h.to_string(), None)),
            None => Err(bad("unexpected text after the IPv6 address")),
        }
    } else {
        Ok(match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        })
    }
}

/// `Basic base64(user:password)` from the URL's (percent-decoded) user information.
fn basic_authorization(url: &str, bad: &dyn Fn(&str) -> ProxyError) -> Result<Secret, ProxyError> {
    let info = crate::secret::url_userinfo(url).ok_or_else(|| {
        bad("its user information cannot be read: percent-encode `@`, `:` and spaces in the user and password")
    })?;
    use base64::Engine;
    let pair = format!("{}:{}", info.user, info.password.unwrap_or_default());
    Ok(Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )))
}

/// A proxy URL that cannot be used: names the flag or variable it came from, shows the URL with its
/// credentials redacted, and says why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{origin} `{shown}`: {why}")]
pub struct ProxyError {
    /// `--proxy`, `HTTPS_PROXY`, ...
    pub origin: String,
    pub shown: String,
    pub why: String,
}

/// What proxy settings say for this run.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// The proxy for https connections, if any.
    pub proxy: Option<Proxy>,
    /// The bypass list (curl's rules: `*`, domains and their subdomains, addresses, CIDR ranges).
    pub no_proxy: String,
    /// Where the bypass list came from (`--noproxy`, `NO_PROXY`, `no_proxy`).
    pub no_proxy_source: Option<String>,
    /// A proxy variable that is set but does not apply (`HTTP_PROXY` without `HTTPS_PROXY`), to mention.
    pub unused: Option<String>,
}

impl ProxySettings {
    /// The proxy's credentials in the forms a proxy may echo: the `Basic` value, `user:password`, and the
    /// password.
    pub fn secret_values(&self) -> Vec<String> {
        use base64::Engine;
        let Some(auth) = self.proxy.as_ref().and_then(|p| p.authorization.as_ref()) else {
            return Vec::new();
        };
        let value = auth.expose().trim_start_matches("Basic ").to_string();
        let mut out = vec![value.clone()];
        if let Ok(pair) = base64::engine::general_purpose::STANDARD.decode(&value) {
            let pair = String::from_utf8_lossy(&pair).into_owned();
            if let Some((_, password)) = pair.split_once(':') {
                out.push(password.to_string());
            }
            out.push(pair);
        }
        out
    }
}

/// The URL's user information has a `user:password` pair (a user alone is no secret).
fn userinfo_has_password(url: &str) -> bool {
    crate::secret::url_userinfo(url).is_some_and(|u| u.password.is_some())
}

fn first_env(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        env(n)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (n.to_string(), v))
    })
}

impl ProxySettings {
    /// From the flags, else the environment (`env` reads a variable; tests pass their own).
    /// `--proxy ""` and `--noproxy '*'` turn proxies off, as in curl.
    pub fn from_flags_and_env(
        flag_proxy: Option<&str>,
        flag_noproxy: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ProxySettings, ProxyError> {
        let mut s = ProxySettings::default();
        let chosen = match flag_proxy {
            Some(p) if p.trim().is_empty() => None,
            Some(p) => Some(("--proxy".to_string(), p.to_string())),
            // curl's order: the lower-case name first, then the upper-case one.
            None => first_env(
                env,
                &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
            ),
        };
        match flag_noproxy {
            Some(list) => {
                s.no_proxy = list.to_string();
                s.no_proxy_source = Some("--noproxy".into());
            }
            None => {
                if let Some((name, list)) = first_env(env, &["no_proxy", "NO_PROXY"]) {
                    s.no_proxy = list;
                    s.no_proxy_source = Some(name);
                }
            }
        }
        if let Some((source, url)) = chosen {
            let proxy = Proxy::parse(&url, &source)?;
            // As with --password: a password in an argument shows in `ps` and in shell history.
            if source == "--proxy" && userinfo_has_password(&url) {
                return Err(ProxyError {
                    origin: source,
                    shown: crate::secret::redact_url_credentials(&url),
                    why: format!("a password on the command line shows in `ps` and in shell history; put the URL in the environment instead: export HTTPS_PROXY='http://USER:PASSWORD@{}'", proxy.authority()),
                });
            }
            s.proxy = Some(proxy);
        } else if flag_proxy.is_none() {
            if let Some((name, _)) = first_env(env, &["http_proxy", "HTTP_PROXY"]) {
                s.unused = Some(name);
            }
        }
        Ok(s)
    }

    /// The proxy to use for `host` (a name, or an address without brackets), or `None` when there is
    /// none or the bypass list matches it.
    pub fn for_host(&self, host: &str) -> Option<&Proxy> {
        let proxy = self.proxy.as_ref()?;
        if self.bypassed(host) {
            None
        } else {
            Some(proxy)
        }
    }

    /// The bypass list matches `host` (curl's rules, through hyper-util's matcher).
    pub fn bypassed(&self, host: &str) -> bool {
        if self.no_proxy.trim().is_empty() {
            return false;
        }
        // curl: `*` alone matches every host (hyper-util's matcher applies it to names only).
        if self.no_proxy.split(',').any(|e| e.trim() == "*") {
            return true;
        }
        let authority = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let Ok(uri) = format!("https://{authority}/").parse::<hyper::Uri>() else {
            return false;
        };
        let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
            .https("http://proxy.invalid:1")
            .no(self.no_proxy.clone())
            .build();
        matcher.intercept(&uri).is_none()
    }
}

/// Why the proxy did not open a tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelError {
    /// 407: the proxy wants (other) credentials; the schemes it offers.
    AuthRequired { offered: Vec<String>, sent: bool },
    /// Another 4xx (403 mostly): the proxy's policy refuses this destination. `said`: the proxy's own
    /// explanation (Squid's `X-Squid-Error`, a page title, a line of text), when it gave one.
    Refused {
        status: u16,
        reason: String,
        said: Option<String>,
    },
    /// 5xx: the proxy could not reach the destination (502, 503, 504).
    Upstream {
        status: u16,
        reason: String,
        said: Option<String>,
    },
    /// Any other answer (1xx, 3xx).
    Unexpected {
        status: u16,
        reason: String,
        said: Option<String>,
    },
    /// No answer to CONNECT within the deadline.
    Timeout,
    /// The proxy did not speak HTTP, or closed the connection.
    NotHttp(String),
}

impl TunnelError {
    /// The same error with every text the proxy wrote redacted (a proxy may echo Proxy-Authorization).
    pub fn redacted(mut self, r: &crate::secret::Redactor) -> TunnelError {
        match &mut self {
            TunnelError::Refused { reason, said, .. }
            | TunnelError::Upstream { reason, said, .. }
            | TunnelError::Unexpected { reason, said, .. } => {
                *reason = r.excerpt(reason, 80);
                *said = said.as_deref().map(|s| r.excerpt(s, 160));
            }
            TunnelError::NotHttp(w) => *w = r.excerpt(w, 160),
            TunnelError::AuthRequired { offered, .. } => {
                offered.iter_mut().for_each(|o| *o = r.excerpt(o, 40));
            }
            TunnelError::Timeout => {}
        }
        self
    }
}

/// Opens a tunnel to `authority` (`host:port`) over `stream`, a connection to the proxy.
pub async fn connect(
    stream: TcpStream,
    authority: &str,
    proxy: &Proxy,
    timeout: Duration,
) -> Result<TcpStream, TunnelError> {
    match tokio::time::timeout(timeout, tunnel(stream, authority, proxy)).await {
        Ok(r) => r,
        Err(_) => Err(TunnelError::Timeout),
    }
}

/// `CONNECT authority` over hyper's HTTP/1.1 client; on a 2xx, the upgraded TCP stream.
async fn tunnel(
    stream: TcpStream,
    authority: &str,
    proxy: &Proxy,
) -> Result<TcpStream, TunnelError> {
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(16 * 1024)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| TunnelError::NotHttp(e.to_string()))?;
    // The connection task owns the socket: it must not outlive this call when the deadline fires (a
    // silent proxy would otherwise keep it, and its task, for good).
    let driver = AbortOnDrop(tokio::spawn(conn.with_upgrades()));
    let req = connect_request(authority, proxy)?;
    let resp = match sender.send_request(req).await {
        Ok(r) => r,
        Err(e) => {
            driver.0.abort();
            return Err(TunnelError::NotHttp(http_words(&e)));
        }
    };
    if !resp.status().is_success() {
        let refused = refusal(resp, proxy).await;
        driver.0.abort();
        return Err(refused);
    }
    upgraded_stream(resp).await
}

/// The CONNECT request: `Host`, our user agent, and the proxy credentials (a sensitive header) if any.
fn connect_request(authority: &str, proxy: &Proxy) -> Result<Request<Empty<Bytes>>, TunnelError> {
    let mut req = Request::connect(authority)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, crate::net::USER_AGENT);
    if let Some(auth) = &proxy.authorization {
        let mut value = hyper::header::HeaderValue::from_str(auth.expose()).map_err(|_| {
            TunnelError::NotHttp("the proxy credentials are not valid in a header".into())
        })?;
        value.set_sensitive(true);
        req = req.header(hyper::header::PROXY_AUTHORIZATION, value);
    }
    req.body(Empty::<Bytes>::new())
        .map_err(|e| TunnelError::NotHttp(e.to_string()))
}

/// A non-2xx answer to CONNECT, by status class: the schemes a 407 offers, what a refusal said.
async fn refusal(resp: hyper::Response<hyper::body::Incoming>, proxy: &Proxy) -> TunnelError {
    let status = resp.status();
    let reason = status.canonical_reason().unwrap_or("").to_string();
    let code = status.as_u16();
    let offered: Vec<String> = resp
        .headers()
        .get_all(hyper::header::PROXY_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_whitespace().next())
        .map(|s| s.to_string())
        .collect();
    let said = explanation(resp).await;
    match status {
        StatusCode::PROXY_AUTHENTICATION_REQUIRED => TunnelError::AuthRequired {
            offered,
            sent: proxy.authorization.is_some(),
        },
        s if s.is_client_error() => TunnelError::Refused {
            status: code,
            reason,
            said,
        },
        s if s.is_server_error() => TunnelError::Upstream {
            status: code,
            reason,
            said,
        },
        _ => TunnelError::Unexpected {
            status: code,
            reason,
            said,
        },
    }
}

/// The tunnel after a 2xx: the TCP stream back from hyper's upgrade, with nothing read ahead of the server.
async fn upgraded_stream(
    resp: hyper::Response<hyper::body::Incoming>,
) -> Result<TcpStream, TunnelError> {
    let upgraded = hyper::upgrade::on(resp)
        .await
        .map_err(|e| TunnelError::NotHttp(http_words(&e)))?;
    let parts = upgraded
        .downcast::<TokioIo<TcpStream>>()
        .map_err(|_| TunnelError::NotHttp("the tunnel is not a TCP stream".into()))?;
    if !parts.read_buf.is_empty() {
        return Err(TunnelError::NotHttp(format!(
            "the proxy sent {} bytes after its 200, before the server could speak",
            parts.read_buf.len()
        )));
    }
    Ok(parts.io.into_inner())
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a refusing proxy said about it, in one short line: Squid's `X-Squid-Error`, else the title of an
/// HTML page, else the first line of text (at most 4 KB of the body is read).
async fn explanation(resp: hyper::Response<hyper::body::Incoming>) -> Option<String> {
    use http_body_util::BodyExt;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Some(e) = header("x-squid-error") {
        return Some(crate::text::one_line(&e, 160));
    }
    let html = header("content-type").is_some_and(|c| c.contains("html"));
    let body = http_body_util::Limited::new(resp.into_body(), 4096)
        .collect()
        .await
        .ok()?
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    let line = if html {
        let lower = text.to_ascii_lowercase();
        let start = lower.find("<title>")? + "<title>".len();
        let end = lower[start..].find("</title>")? + start;
        text[start..end].to_string()
    } else {
        text.lines().find(|l| !l.trim().is_empty())?.to_string()
    };
    let line = crate::text::one_line(&line, 160);
    (!line.is_empty()).then_some(line)
}

fn http_words(e: &hyper::Error) -> String {
    if e.is_incomplete_message() || e.is_canceled() {
        return "the proxy closed the connection without an HTTP answer".into();
    }
    if e.is_parse() || e.is_parse_status() {
        return "the proxy's answer is not HTTP (is this an HTTP proxy port?)".into();
    }
    crate::errors::chain(e)
}

impl TunnelError {
    pub fn code(&self) -> crate::codes::Code {
        use crate::codes::Code;
        match self {
            TunnelError::AuthRequired { .. } => Code::ProxyAuthRequired,
            TunnelError::Refused { .. } => Code::ProxyRefused,
            TunnelError::Upstream { .. } => Code::ProxyUpstreamFailed,
            TunnelError::Timeout => Code::ProxyTimeout,
            TunnelError::Unexpected { .. } | TunnelError::NotHttp(_) => Code::ProxyFailed,
        }
    }

    /// In words, for a summary.
    pub fn describe(&self) -> String {
        match self {
            TunnelError::AuthRequired { offered, sent } => format!(
                "HTTP 407 Proxy Authentication Required ({}; it offers {})",
                if *sent {
                    "the credentials sent were refused"
                } else {
                    "no credentials were sent"
                },
                if offered.is_empty() {
                    "no scheme".to_string()
                } else {
                    offered.join(", ")
                }
            ),
            TunnelError::Refused {
                status,
                reason,
                said,
            }
            | TunnelError::Upstream {
                status,
                reason,
                said,
            }
            | TunnelError::Unexpected {
                status,
                reason,
                said,
            } => {
                let head = format!("HTTP {status} {reason}").trim_end().to_string();
                match said {
                    Some(s) => format!("{head} (\"{s}\")"),
                    None => head,
                }
            }
            TunnelError::Timeout => "no answer to CONNECT in time".into(),
            TunnelError::NotHttp(w) => w.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn urls() {
        let p = Proxy::parse("http://u%40corp:p%3Ass@proxy.corp:3128/", "--proxy").expect("parse");
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert_eq!(p.shown, "http://proxy.corp:3128");
        use base64::Engine;
        let want = base64::engine::general_purpose::STANDARD.encode("u@corp:p:ss");
        assert_eq!(
            p.authorization.expect("auth").expose(),
            format!("Basic {want}")
        );
        let p = Proxy::parse("proxy.corp", "HTTPS_PROXY").expect("parse");
        assert_eq!((p.port, p.authorization.is_none()), (1080, true));
        let p = Proxy::parse("http://[::1]:8080", "x").expect("parse");
        assert_eq!(
            (p.host.as_str(), p.authority().as_str()),
            ("::1", "[::1]:8080")
        );
        for (bad, want) in [
            ("https://proxy:443", "HTTPS proxies"),
            ("socks5://proxy:1080", "SOCKS"),
            ("ftp://proxy", "not a proxy scheme"),
            ("http://proxy:x", "the port is not a number"),
            ("http://:3128", "no usable host"),
            ("http://u:secretpw@proxy:99999", "the port is not a number"),
            // Unencoded `/`, `?`, `#` in a password: user information up to the last `@`, never a port.
            ("http://u:secretpw/x@proxy:8080", "percent-encode"),
            ("http://u:secretpw?x@proxy:8080", "percent-encode"),
            ("http://u:secretpw#x@proxy", "percent-encode"),
        ] {
            let e = Proxy::parse(bad, "--proxy").expect_err(bad).to_string();
            assert!(e.contains(want), "{bad}: {e}");
            assert!(!e.contains("secretpw"), "{e}");
        }
    }

    #[test]
    fn settings_follow_curl() {
        which_variable_applies();
        the_bypass_list_reads_like_curl();
        passwords_stay_out_of_arguments();
    }

    /// Lower case before upper case, `HTTPS_PROXY` before `ALL_PROXY`; `HTTP_PROXY` alone is only noted.
    fn which_variable_applies() {
        let s = ProxySettings::from_flags_and_env(
            None,
            None,
            &env_of(&[("https_proxy", "http://a:1"), ("ALL_PROXY", "http://b:2")]),
        )
        .expect("settings");
        assert_eq!(
            s.proxy.as_ref().map(|p| p.source.as_str()),
            Some("https_proxy")
        );
        // Both spellings: curl reads the lower-case one.
        let s = ProxySettings::from_flags_and_env(
            None,
            None,
            &env_of(&[
                ("HTTPS_PROXY", "http://upper:1"),
                ("https_proxy", "http://lower:2"),
            ]),
        )
        .expect("settings");
        assert_eq!(s.proxy.as_ref().map(|p| p.host.as_str()), Some("lower"));
        let s =
            ProxySettings::from_flags_and_env(None, None, &env_of(&[("HTTP_PROXY", "http://a:1")]))
                .expect("settings");
        assert!(s.proxy.is_none());
        assert_eq!(s.unused.as_deref(), Some("HTTP_PROXY"));
        let s = ProxySettings::from_flags_and_env(
            Some(""),
            None,
            &env_of(&[("HTTPS_PROXY", "http://a:1")]),
        )
        .expect("settings");
        assert!(s.proxy.is_none() && s.unused.is_none());
    }

    /// `NO_PROXY` entries: domains and subdomains, CIDR ranges, addresses; `--noproxy '*'` for all.
    fn the_bypass_list_reads_like_curl() {
        let s = ProxySettings::from_flags_and_env(
            Some("http://p:3128"),
            None,
            &env_of(&[("NO_PROXY", "corp.example, 10.0.0.0/8,::1")]),
        )
        .expect("settings");
        assert!(s.for_host("cvp.corp.example").is_none());
        assert!(s.for_host("corp.example").is_none());
        assert!(s.for_host("notcorp.example").is_some());
        assert!(s.for_host("10.1.2.3").is_none());
        assert!(s.for_host("11.1.2.3").is_some());
        assert!(s.for_host("::1").is_none());
        let s = ProxySettings::from_flags_and_env(
            None,
            Some("*"),
            &env_of(&[("HTTPS_PROXY", "http://a:1")]),
        )
        .expect("settings");
        assert!(s.for_host("anything").is_none());
        assert!(s.for_host("127.0.0.1").is_none());
        assert!(s.for_host("::1").is_none());
    }

    /// A password in `--proxy` is refused; no error quotes one.
    fn passwords_stay_out_of_arguments() {
        // A password in --proxy is refused like --password; a user alone is fine.
        let e =
            ProxySettings::from_flags_and_env(Some("http://u:hunter22@p:3128"), None, &env_of(&[]))
                .expect_err("password in an argument")
                .to_string();
        assert!(e.contains("HTTPS_PROXY") && !e.contains("hunter22"), "{e}");
        let s = ProxySettings::from_flags_and_env(Some("http://svc@p:3128"), None, &env_of(&[]))
            .expect("a user alone");
        assert!(s.proxy.expect("proxy").authorization.is_some());
        let e = ProxySettings::from_flags_and_env(
            None,
            None,
            &env_of(&[("HTTPS_PROXY", "socks5h://u:hunter22@p:1080")]),
        )
        .expect_err("socks")
        .to_string();
        assert!(e.starts_with("HTTPS_PROXY"), "{e}");
        assert!(!e.contains("hunter22"), "{e}");
    }
}

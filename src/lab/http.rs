//! What every emulated product shares: the response body (data frames and, for gRPC, trailers), what the
//! connection knows about the client, reading the request, and the ways credentials arrive.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use hyper::{Request, Response, StatusCode};

/// A response body: data frames, then trailers if any.
#[derive(Debug, Default)]
pub struct LabBody {
    frames: VecDeque<Frame<Bytes>>,
    /// The number of data bytes, when the body has no trailers (an exact size lets HTTP/1.1 send a length).
    exact: Option<u64>,
}

impl LabBody {
    pub fn empty() -> LabBody {
        LabBody {
            frames: VecDeque::new(),
            exact: Some(0),
        }
    }

    pub fn full(data: impl Into<Bytes>) -> LabBody {
        let data: Bytes = data.into();
        let exact = Some(data.len() as u64);
        let mut frames = VecDeque::new();
        if !data.is_empty() {
            frames.push_back(Frame::data(data));
        }
        LabBody { frames, exact }
    }

    /// Data frames followed by trailers (gRPC).
    pub fn with_trailers(data: Vec<Bytes>, trailers: HeaderMap) -> LabBody {
        let mut frames: VecDeque<Frame<Bytes>> = data.into_iter().map(Frame::data).collect();
        frames.push_back(Frame::trailers(trailers));
        LabBody {
            frames,
            exact: None,
        }
    }
}

impl Body for LabBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.frames.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// What the TLS connection tells about the client.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    /// The CN of the client certificate presented (and verified) in the handshake, if any.
    pub client_cn: Option<String>,
    /// Whether the client presented a certificate at all.
    pub client_cert: bool,
}

impl Conn {
    pub fn from_tls(conn: &rustls::ServerConnection) -> Conn {
        let Some(first) = conn.peer_certificates().and_then(|c| c.first()) else {
            return Conn::default();
        };
        let client_cn = x509_parser::parse_x509_certificate(first.as_ref())
            .ok()
            .and_then(|(_, cert)| {
                cert.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_string))
            });
        Conn {
            client_cn,
            client_cert: true,
        }
    }
}

/// The most a lab server reads of a request body.
const BODY_LIMIT: usize = 1 << 20;

/// The request's head and its body (at most 1 MiB; more, or a broken stream, is `None`).
pub async fn read(req: Request<Incoming>) -> (hyper::http::request::Parts, Option<Bytes>) {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, BODY_LIMIT)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes());
    (parts, body)
}

/// A response with a status, a content type and a body.
pub fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<LabBody> {
    let mut res = Response::new(LabBody::full(body));
    *res.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        res.headers_mut().insert(CONTENT_TYPE, v);
    }
    res
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<LabBody> {
    respond(status, "application/json", format!("{value}\n"))
}

/// How a request presents credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
    /// `Authorization` present but unreadable (another scheme, bad base64, no colon).
    Malformed,
}

/// The `Authorization` header: Basic or Bearer.
pub fn authorization(headers: &HeaderMap) -> Presented {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Presented::None;
    };
    let Ok(value) = value.to_str() else {
        return Presented::Malformed;
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Presented::Bearer(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            return Presented::Basic {
                user: user.to_string(),
                password: password.to_string(),
            };
        }
    }
    Presented::Malformed
}

/// The value of cookie `name`, from every `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether the request's content type is JSON.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(authorization(&h), Presented::None);
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic YWRtaW46cDpx"),
        );
        assert_eq!(
            authorization(&h),
            Presented::Basic {
                user: "admin".into(),
                password: "p:q".into()
            }
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(authorization(&h), Presented::Bearer("abc".into()));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert_eq!(authorization(&h), Presented::Malformed);
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; access_token=tok; b=2"),
        );
        assert_eq!(cookie(&h, "access_token").as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}

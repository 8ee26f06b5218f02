//! gRPC without codegen: HTTP/2 POSTs with `content-type: application/grpc`, length-prefixed messages, and the
//! status in the `grpc-status` / `grpc-message` trailers.

use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode, Version};

use super::http::{respond, LabBody};

/// The gRPC status codes the lab answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    NotFound = 5,
    PermissionDenied = 7,
    Unimplemented = 12,
    Internal = 13,
    Unauthenticated = 16,
}

/// Whether a request is a gRPC call (by its content type).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// An empty message: not compressed, length 0.
pub const EMPTY_MESSAGE: [u8; 5] = [0, 0, 0, 0, 0];

/// Splits a request body into its messages; `None` when the framing is broken.
pub fn messages(body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.len() < 5 || rest[0] > 1 {
            return None;
        }
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let end = 5usize.checked_add(len)?;
        if rest.len() < end {
            return None;
        }
        out.push(&rest[5..end]);
        rest = &rest[end..];
    }
    Some(out)
}

/// A gRPC response: HTTP 200, the messages, then the status in trailers.
pub fn reply(messages: Vec<Bytes>, code: Code, message: &str) -> Response<LabBody> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(u16::from(code as u8)));
    if !message.is_empty() {
        if let Ok(v) = HeaderValue::from_str(message) {
            trailers.insert("grpc-message", v);
        }
    }
    let mut res = Response::new(LabBody::with_trailers(messages, trailers));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    res
}

/// A status with no message.
pub fn status(code: Code, message: &str) -> Response<LabBody> {
    reply(Vec::new(), code, message)
}

/// What a gRPC call over HTTP/1.1 gets: an HTTP error, as from a front end that cannot carry gRPC.
pub fn needs_http2(version: Version) -> Option<Response<LabBody>> {
    (version != Version::HTTP_2).then(|| {
        respond(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "text/plain",
            "gRPC needs HTTP/2 (ALPN h2); this request came over HTTP/1.1\n",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_and_broken_framing_refused() {
        let body = [
            0, 0, 0, 0, 7, 0x0a, 5, 0x0a, 3, 0x0a, 1, 0x58, 0, 0, 0, 0, 0,
        ];
        let m = messages(&body).expect("two messages");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], &[0x0a, 5, 0x0a, 3, 0x0a, 1, 0x58]);
        assert!(m[1].is_empty());
        assert_eq!(messages(&[]).map(|m| m.len()), Some(0));
        assert!(messages(&[0, 0, 0, 0, 9, 1]).is_none());
        assert!(messages(&[0, 0]).is_none());
    }
}

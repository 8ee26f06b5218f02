//! gRPC without codegen: HTTP/2 POSTs with `content-type: application/grpc`, length-prefixed messages, and the
//! status in the `grpc-status` / `grpc-message` trailers. What is on the wire (framing, codes, header
//! names, method paths) is `net::grpc::wire`, shared with preflight's client; here are the lab's answers.

use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode, Version};

use super::http::{respond, LabBody};
use crate::net::grpc::wire::{self, Code};

/// A gRPC response: HTTP 200, the messages, then the status in trailers.
pub fn reply(messages: Vec<Bytes>, code: Code, message: &str) -> Response<LabBody> {
    let mut trailers = HeaderMap::new();
    trailers.insert(wire::STATUS_HEADER, HeaderValue::from(code.value()));
    if !message.is_empty() {
        if let Ok(v) = HeaderValue::from_str(message) {
            trailers.insert(wire::MESSAGE_HEADER, v);
        }
    }
    let mut res = Response::new(LabBody::with_trailers(messages, trailers));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(wire::CONTENT_TYPE));
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

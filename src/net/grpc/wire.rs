//! gRPC on the wire, as both ends of preflight's calls see it: the client in `net::grpc` and the lab's
//! emulated CloudVision. The content type and the header names, the 5-byte message prefix (a compressed
//! flag and a big-endian length), the status codes and their names, and the inventory methods the product
//! serves.

use hyper::header::{HeaderMap, CONTENT_TYPE as CONTENT_TYPE_HEADER};

/// The content type of a gRPC request and answer (`application/grpc`, or `application/grpc+proto` and
/// the like: see [`is_grpc`]).
pub const CONTENT_TYPE: &str = "application/grpc";
/// The trailer (or, for a Trailers-Only answer, the header) with the call's status code.
pub const STATUS_HEADER: &str = "grpc-status";
/// The trailer (or header) with the status message, when there is one.
pub const MESSAGE_HEADER: &str = "grpc-message";
/// What a client sends as `te`: it understands trailers, where gRPC puts the status.
pub const TE_TRAILERS: &str = "trailers";

/// Every path of CloudVision's gRPC services starts so (the lab answers any of them as gRPC).
pub const SERVICE_PREFIX: &str = "/arista.";
/// `/arista.inventory.v1.DeviceService/GetOne`: one device by id.
pub const GET_ONE: &str = "/arista.inventory.v1.DeviceService/GetOne";
/// `/arista.inventory.v1.DeviceService/GetAll`: every device, as a stream.
pub const GET_ALL: &str = "/arista.inventory.v1.DeviceService/GetAll";

/// Whether headers announce gRPC (by their content type).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CONTENT_TYPE))
}

/// The length of a message's prefix: the compressed flag and four bytes of length.
pub const PREFIX_LEN: usize = 5;

/// An empty message: not compressed, length 0.
pub const EMPTY_MESSAGE: [u8; PREFIX_LEN] = [0, 0, 0, 0, 0];

/// One uncompressed message with its prefix.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let len = u32::try_from(message.len()).expect("a gRPC message under 4 GiB");
    let mut out = Vec::with_capacity(PREFIX_LEN + message.len());
    out.push(0);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Splits a body into its messages; `None` when the framing is broken (a short prefix, a flag other than
/// 0 or 1, a length past the end).
pub fn messages(body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.len() < PREFIX_LEN || rest[0] > 1 {
            return None;
        }
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let end = PREFIX_LEN.checked_add(len)?;
        if rest.len() < end {
            return None;
        }
        out.push(&rest[PREFIX_LEN..end]);
        rest = &rest[end..];
    }
    Some(out)
}

/// The gRPC status codes preflight names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Code {
    pub const ALL: [Code; 12] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::Unauthenticated,
    ];

    /// The number sent as `grpc-status`.
    pub fn value(self) -> u32 {
        u32::from(self as u8)
    }

    pub fn from_value(value: u32) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.value() == value)
    }

    /// The name the gRPC documentation gives it: `NOT_FOUND`, `UNAUTHENTICATED`, ...
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

/// The name of a status code, `other` for one preflight does not name.
pub fn status_name(code: u32) -> &'static str {
    Code::from_value(code).map_or("other", Code::name)
}

/// A `grpc-status` value: a decimal number, nothing else.
pub fn parse_status(v: &str) -> Option<u32> {
    (!v.is_empty() && v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
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

    #[test]
    fn a_framed_message_reads_back() {
        let message = [0x0a, 5, 0x0a, 3, 0x0a, 1, 0x58];
        let framed = frame(&message);
        assert_eq!(&framed[..PREFIX_LEN], &[0, 0, 0, 0, 7]);
        assert_eq!(messages(&framed), Some(vec![&message[..]]));
        assert_eq!(frame(&[]), EMPTY_MESSAGE);
    }

    #[test]
    fn codes_have_their_names_and_values() {
        assert_eq!(status_name(16), "UNAUTHENTICATED");
        assert_eq!(status_name(6), "other");
        for c in Code::ALL {
            assert_eq!(Code::from_value(c.value()), Some(c));
        }
        assert_eq!(parse_status("7"), Some(7));
        assert_eq!(parse_status("7 "), None);
        assert_eq!(parse_status(""), None);
    }
}

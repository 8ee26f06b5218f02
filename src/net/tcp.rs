//! TCP: one connection attempt under a deadline, its failure told apart (refused, timed out, unreachable),
//! and the address family. `checks::connect` turns the attempts into the `tcp.connect` check.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::codes::Code;
use crate::duration::human;

/// `-4` / `-6`: the address family to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }

    pub fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
}

/// Why a TCP connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpError {
    Refused,
    Timeout,
    Unreachable(String),
    Other(String),
}

impl TcpError {
    pub fn code(&self) -> Code {
        match self {
            TcpError::Refused => Code::TcpRefused,
            TcpError::Timeout => Code::TcpTimeout,
            TcpError::Unreachable(_) => Code::TcpUnreachable,
            TcpError::Other(_) => Code::TcpFailed,
        }
    }

    /// A short phrase: `refused`, `no answer within 5 s`, ...
    pub fn describe(&self, timeout: Duration) -> String {
        match self {
            TcpError::Refused => "refused (nothing listens)".to_string(),
            TcpError::Timeout => format!("no answer within {} (filtered or down)", human(timeout)),
            TcpError::Unreachable(why) => format!("unreachable ({why})"),
            TcpError::Other(why) => format!("failed ({why})"),
        }
    }
}

fn classify(e: &io::Error) -> TcpError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => return TcpError::Refused,
        io::ErrorKind::TimedOut => return TcpError::Timeout,
        io::ErrorKind::HostUnreachable => return TcpError::Unreachable("no route to host".into()),
        io::ErrorKind::NetworkUnreachable => {
            return TcpError::Unreachable("network is unreachable".into())
        }
        io::ErrorKind::AddrNotAvailable => {
            return TcpError::Unreachable(
                "this machine has no address of that family (is IPv6 configured?)".into(),
            )
        }
        _ => {}
    }
    TcpError::Other(crate::errors::io_words(e))
}

/// One connection attempt under a deadline.
pub async fn connect_one(
    addr: SocketAddr,
    timeout: Duration,
) -> (Result<TcpStream, TcpError>, Duration) {
    let start = Instant::now();
    let result = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(classify(&e)),
        Err(_) => Err(TcpError::Timeout),
    };
    (result, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_apart() {
        let e = |kind| classify(&io::Error::from(kind));
        assert_eq!(e(io::ErrorKind::ConnectionRefused), TcpError::Refused);
        assert_eq!(e(io::ErrorKind::TimedOut), TcpError::Timeout);
        assert!(matches!(
            e(io::ErrorKind::HostUnreachable),
            TcpError::Unreachable(_)
        ));
        assert!(matches!(
            e(io::ErrorKind::NetworkUnreachable),
            TcpError::Unreachable(_)
        ));
        assert!(matches!(
            e(io::ErrorKind::AddrNotAvailable),
            TcpError::Unreachable(_)
        ));
        let other = classify(&io::Error::from_raw_os_error(24));
        match other {
            TcpError::Other(words) => assert!(!words.contains("os error"), "{words}"),
            x => panic!("{x:?}"),
        }
        assert_eq!(
            TcpError::Unreachable("x".into()).code(),
            Code::TcpUnreachable
        );
    }
}

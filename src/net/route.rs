//! How every connection of a check reaches the target: straight to one of its addresses, or through an
//! HTTP proxy's tunnel. One [`Route`] opens the alternative-port probes, product probes, REST and gRPC.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::net::proxy::{connect, Proxy, TunnelError};

/// How every connection of a check reaches the target: straight to an address, or through the proxy's
/// `CONNECT host:port`. The alternative-port probes, the product probes, REST and gRPC all open theirs here.
#[derive(Clone, Debug)]
pub struct Route {
    /// The target's host (a name, or an address without brackets), as CONNECT and URLs name it.
    pub host: String,
    pub port: u16,
    pub hop: Hop,
}

#[derive(Clone, Debug)]
pub enum Hop {
    /// Straight to this address of the target.
    Direct(std::net::IpAddr),
    /// Through this proxy, at this address.
    Proxy {
        proxy: std::sync::Arc<Proxy>,
        addr: SocketAddr,
    },
}

impl Route {
    /// The same way to the same host, on another port.
    pub fn with_port(&self, port: u16) -> Route {
        Route {
            port,
            ..self.clone()
        }
    }

    /// `host:port`, bracketed for IPv6.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn proxy(&self) -> Option<&Proxy> {
        match &self.hop {
            Hop::Proxy { proxy, .. } => Some(proxy),
            Hop::Direct(_) => None,
        }
    }

    /// Where the TCP connection goes: the target's address, or the proxy's.
    pub fn first_hop(&self) -> SocketAddr {
        match &self.hop {
            Hop::Direct(ip) => SocketAddr::new(*ip, self.port),
            Hop::Proxy { addr, .. } => *addr,
        }
    }

    /// `10.0.0.5:443`, or `cvp.example.com:443 through http://proxy:3128`: for messages.
    pub fn describe(&self) -> String {
        match &self.hop {
            Hop::Direct(ip) => SocketAddr::new(*ip, self.port).to_string(),
            Hop::Proxy { proxy, .. } => format!("{} through {}", self.authority(), proxy.shown),
        }
    }

    /// A new connection to the target (through the tunnel when there is a proxy), within `timeout`.
    pub async fn open(&self, timeout: Duration) -> Result<TcpStream, OpenError> {
        let start = std::time::Instant::now();
        let (tcp, _) = crate::net::tcp::connect_one(self.first_hop(), timeout).await;
        let tcp = tcp.map_err(|e| OpenError::Tcp(self.first_hop(), e, timeout))?;
        match &self.hop {
            Hop::Direct(_) => Ok(tcp),
            Hop::Proxy { proxy, .. } => {
                let left = timeout.saturating_sub(start.elapsed());
                connect(tcp, &self.authority(), proxy, left)
                    .await
                    .map_err(|e| OpenError::Tunnel(self.authority(), e))
            }
        }
    }
}

/// Why [`Route::open`] gave no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    Tcp(SocketAddr, crate::net::tcp::TcpError, Duration),
    Tunnel(String, TunnelError),
}

impl OpenError {
    pub fn describe(&self) -> String {
        match self {
            OpenError::Tcp(addr, e, timeout) => format!("TCP to {addr} {}", e.describe(*timeout)),
            OpenError::Tunnel(to, e) => {
                format!("the proxy opened no tunnel to {to}: {}", e.describe())
            }
        }
    }
}

//! The built-in lab: real rustls TLS servers on loopback that look like each product, and servers that
//! fail in the ways real deployments do. `preflight lab` runs it; `preflight demo` and the tests start it
//! in-process.

pub mod certs;
pub mod grpc;
pub mod http;
pub mod jwt;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::target::Product;
use certs::{Issued, LAB_SANS};

/// How long the lab gives a client to finish its handshake or send its request.
const CLIENT_DEADLINE: Duration = Duration::from_secs(10);

/// What a lab server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// CloudVision-like: a self-signed server certificate, ALPN h2 and http/1.1.
    Cvp,
    /// Prisma-like: a Console CA (O=Twistlock) signs the server certificate; the chain is sent.
    Prisma,
    /// Plain HTTP on the port: TLS clients get `HTTP/1.1 400 Bad Request`.
    Plaintext,
    /// Accepts TCP connections and never answers.
    Silent,
    /// TLS that demands a client certificate from the lab's client CA.
    Mtls,
    /// A self-signed certificate that becomes valid two days after the lab starts: the clock check.
    Future,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Cvp,
        Scenario::Prisma,
        Scenario::Plaintext,
        Scenario::Silent,
        Scenario::Mtls,
        Scenario::Future,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Cvp => "cvp",
            Scenario::Prisma => "prisma",
            Scenario::Plaintext => "plaintext",
            Scenario::Silent => "silent",
            Scenario::Mtls => "mtls",
            Scenario::Future => "future",
        }
    }

    /// The product a check of this server should name.
    pub fn product(self) -> Product {
        match self {
            Scenario::Cvp => Product::Cvp,
            Scenario::Prisma | Scenario::Mtls => Product::Prisma,
            Scenario::Plaintext | Scenario::Silent | Scenario::Future => Product::Generic,
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            Scenario::Cvp => {
                "CloudVision-like: self-signed certificate (like /etc/nginx/cvp.crt), ALPN h2"
            }
            Scenario::Prisma => {
                "Prisma-like: Console CA (O=Twistlock) signs the server certificate"
            }
            Scenario::Plaintext => "plain HTTP on the port (not TLS)",
            Scenario::Silent => "accepts TCP and never answers (a black hole after connect)",
            Scenario::Mtls => "TLS that demands a client certificate",
            Scenario::Future => "a certificate valid only from two days after start-up (not_yet_valid; the server's Date is compared)",
        }
    }
}

/// How to start the lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub scenarios: Vec<Scenario>,
    /// The first port; 0 lets the system choose each.
    pub port: u16,
    pub bind: IpAddr,
    /// Where certificate files go.
    pub dir: PathBuf,
    /// The time certificates are issued at.
    pub issued_at: OffsetDateTime,
}

impl LabOptions {
    pub fn new(dir: PathBuf, issued_at: OffsetDateTime) -> LabOptions {
        LabOptions {
            scenarios: Scenario::ALL.to_vec(),
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dir,
            issued_at,
        }
    }
}

/// One running server.
#[derive(Debug, Clone, Serialize)]
pub struct LabServer {
    pub scenario: Scenario,
    pub addr: SocketAddr,
    /// The file to pass as `--ca` to trust this server, when there is one.
    pub trust_file: Option<PathBuf>,
}

/// The running lab. Servers stop when it is dropped.
pub struct Lab {
    pub servers: Vec<LabServer>,
    pub dir: PathBuf,
    /// Lab client certificate and key (for the mTLS server).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Why the lab could not start.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot make lab certificates: {0}")]
    Certs(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot configure TLS: {0}")]
    Tls(String),
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, LabError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|source| LabError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn tls_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: &Issued,
    client_ca: Option<&Issued>,
) -> Result<Arc<ServerConfig>, LabError> {
    let provider = crate::checks::handshake::provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| LabError::Tls(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(ca.der.clone())
                .map_err(|e| LabError::Tls(e.to_string()))?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| LabError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key.key())
        .map_err(|e| LabError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Lab {
    /// Makes the certificates, writes them to `opts.dir`, and starts every server.
    pub async fn start(opts: &LabOptions) -> Result<Lab, LabError> {
        std::fs::create_dir_all(&opts.dir).map_err(|source| LabError::Write {
            path: opts.dir.clone(),
            source,
        })?;
        let at = opts.issued_at;
        let cvp = certs::self_signed_server("cvp.preflight.lab", at)?;
        let console_ca = certs::ca("Twistlock", "Twistlock", at, 3 * 365)?;
        let console = console_ca.server("console.preflight.lab", at, 730)?;
        let mtls_server = certs::self_signed_server("mtls.preflight.lab", at)?;
        let client_ca = certs::ca("preflight lab client CA", "preflight lab", at, 3650)?;
        let client = client_ca.client("lab-user", at, 365)?;
        let future =
            certs::self_signed_server("future.preflight.lab", at + time::Duration::days(3))?;

        let dir = &opts.dir;
        let cvp_file = write(dir, "cvp.crt", &cvp.cert_pem)?;
        let console_ca_file = write(dir, "prisma-console-ca.pem", &console_ca.cert.cert_pem)?;
        write(dir, "prisma-console.crt", &console.cert_pem)?;
        let mtls_file = write(dir, "mtls.crt", &mtls_server.cert_pem)?;
        let future_file = write(dir, "future.crt", &future.cert_pem)?;
        write(dir, "client-ca.pem", &client_ca.cert.cert_pem)?;
        let client_cert = write(dir, "client.crt", &client.cert_pem)?;
        let client_key = write(dir, "client.key", &client.key_pem)?;

        let mut servers = Vec::new();
        let mut tasks = Vec::new();
        for (i, scenario) in opts.scenarios.iter().enumerate() {
            let port = if opts.port == 0 {
                0
            } else {
                opts.port.saturating_add(i as u16)
            };
            let addr = SocketAddr::new(opts.bind, port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| LabError::Bind { addr, source })?;
            let addr = listener
                .local_addr()
                .map_err(|source| LabError::Bind { addr, source })?;
            let (task, trust_file) = match scenario {
                Scenario::Cvp => (
                    serve_tls(
                        listener,
                        tls_config(vec![cvp.der.clone()], &cvp, None)?,
                        "cvp",
                    ),
                    Some(cvp_file.clone()),
                ),
                Scenario::Prisma => (
                    serve_tls(
                        listener,
                        tls_config(
                            vec![console.der.clone(), console_ca.cert.der.clone()],
                            &console,
                            None,
                        )?,
                        "prisma",
                    ),
                    Some(console_ca_file.clone()),
                ),
                Scenario::Mtls => (
                    serve_tls(
                        listener,
                        tls_config(
                            vec![mtls_server.der.clone()],
                            &mtls_server,
                            Some(&client_ca.cert),
                        )?,
                        "mtls",
                    ),
                    Some(mtls_file.clone()),
                ),
                Scenario::Plaintext => (tokio::spawn(serve_plaintext(listener)), None),
                Scenario::Silent => (tokio::spawn(serve_silent(listener)), None),
                Scenario::Future => (
                    serve_tls(
                        listener,
                        tls_config(vec![future.der.clone()], &future, None)?,
                        "future",
                    ),
                    Some(future_file.clone()),
                ),
            };
            tasks.push(task);
            servers.push(LabServer {
                scenario: *scenario,
                addr,
                trust_file,
            });
        }
        let lab = Lab {
            servers,
            dir: dir.clone(),
            client_cert,
            client_key,
            tasks,
        };
        let index = serde_json::to_string_pretty(&lab.servers).unwrap_or_default();
        write(dir, "lab.json", &index)?;
        Ok(lab)
    }

    pub fn server(&self, scenario: Scenario) -> Option<&LabServer> {
        self.servers.iter().find(|s| s.scenario == scenario)
    }

    /// What `preflight lab` prints: each server, what it shows, and a command to check it.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "preflight lab: {} servers; certificates in {}\n\n",
            self.servers.len(),
            self.dir.display()
        );
        for s in &self.servers {
            out.push_str(&format!(
                "  {:<10} https://{}  {}\n",
                s.scenario.name(),
                s.addr,
                s.scenario.about()
            ));
            let mut cmd = format!(
                "preflight check {} --product {}",
                s.addr,
                s.scenario.product().as_str()
            );
            out.push_str(&format!("             {cmd}\n"));
            if let Some(f) = &s.trust_file {
                cmd.push_str(&format!(" --ca {}", f.display()));
                out.push_str(&format!("             {cmd}   (once --ca is supported)\n"));
            }
        }
        out.push_str(&format!(
            "\nServer certificates carry the names {}; the mTLS client certificate is {} (key {}).\nPress Ctrl-C to stop.\n",
            LAB_SANS.join(", "),
            self.client_cert.display(),
            self.client_key.display()
        ));
        out
    }
}

fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    name: &'static str,
) -> JoinHandle<()> {
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(tls)) =
                    tokio::time::timeout(CLIENT_DEADLINE, acceptor.accept(stream)).await
                else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: Request<hyper::body::Incoming>| async move {
                        let body = format!(
                            "{{\"lab\":\"{name}\",\"path\":\"{}\"}}\n",
                            req.uri().path().escape_default()
                        );
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                                .unwrap_or_default(),
                        )
                    },
                );
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = tokio::time::timeout(
                    Duration::from_secs(60),
                    builder.serve_connection(TokioIo::new(tls), service),
                )
                .await;
            });
        }
    })
}

async fn serve_plaintext(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(CLIENT_DEADLINE, stream.read(&mut buf)).await;
            let body =
                "<html><body>400 The plain HTTP request was sent to HTTPS port</body></html>\n";
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

async fn serve_silent(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(hold(stream));
    }
}

/// Keeps a connection open without a word until the client leaves (or a minute passes).
async fn hold(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

//! The built-in lab: real rustls TLS servers on loopback that emulate each product (CloudVision login, REST
//! and gRPC; the Prisma Cloud Compute API), and servers that fail in the ways real deployments do.
//! `preflight lab` runs it; `preflight demo` and the tests start it in-process.
//!
//! The credentials it accepts are [`Credentials`]; the tokens it hands out ready-made are [`LabTokens`]
//! (also written as files in the lab folder). What each product does on the wire is in `cvp.rs` and
//! `prisma.rs`.

pub mod certs;
pub mod cvp;
pub mod grpc;
pub mod http;
pub mod jwt;
pub mod prisma;
pub mod proxy;
pub mod revocation;
mod setup;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::target::Product;
use certs::{Issued, LAB_SANS};
use http::{Conn, LabBody};
use setup::{LabCerts, LabFiles};

/// How long the lab gives a client to finish its handshake or send its request.
const CLIENT_DEADLINE: Duration = Duration::from_secs(10);

/// What a lab server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// CloudVision 2024.3 on-prem: a self-signed server certificate, ALPN h2 and http/1.1, login, REST and
    /// gRPC.
    Cvp,
    /// An older CloudVision (2021.2): a bad password login is HTTP 401 "User is unauthorized".
    #[value(name = "cvp-legacy")]
    #[serde(rename = "cvp-legacy")]
    CvpLegacy,
    /// CloudVision 2026.1: `getCvpInfo.do` answers the bare text `2026.1.3`.
    #[value(name = "cvp-2026")]
    #[serde(rename = "cvp-2026")]
    Cvp2026,
    /// CloudVision behind a front end that refuses HTTP/2: ALPN offers only http/1.1, HTTP/1.1 only.
    #[value(name = "cvp-no-h2")]
    #[serde(rename = "cvp-no-h2")]
    CvpNoH2,
    /// CloudVision as a Service: service-account tokens only, `{"version":"CVaaS"}`, a CA-signed certificate.
    Cvaas,
    /// CloudVision 2020.2: a missing, expired or unknown session gets HTTP 200 and the `LOG OUT MESSAGE` page.
    #[value(name = "cvp-legacy-session-expired")]
    #[serde(rename = "cvp-legacy-session-expired")]
    CvpLegacySessionExpired,
    /// CloudVision 2020.2: a failed login is HTTP 200 `{"errorCode":"112498","errorMessage":"Unauthorized User"}`.
    #[value(name = "cvp-login-112498")]
    #[serde(rename = "cvp-login-112498")]
    CvpLogin112498,
    /// CloudVision whose service account lacks the inventory role: its token is accepted, the Resource API is
    /// 403 and gRPC `PERMISSION_DENIED`.
    #[value(name = "cvp-403")]
    #[serde(rename = "cvp-403")]
    Cvp403,
    /// CloudVision as a Service's `apiserver.<cluster>` (device streaming): REST 404, gRPC `UNKNOWN`.
    #[value(name = "cvaas-apiserver")]
    #[serde(rename = "cvaas-apiserver")]
    CvaasApiserver,
    /// CloudVision as a Service as a cluster under its real names (`*.arista.io`): the cluster its host name
    /// names, tenant `preflight-lab`; a token whose claims name another cluster or tenant is refused.
    #[value(name = "cvaas-cluster")]
    #[serde(rename = "cvaas-cluster")]
    CvaasCluster,
    /// Prisma-like: a Console CA (O=Twistlock) signs the server certificate; the chain is sent; the API.
    Prisma,
    /// Prisma Cloud Compute SaaS: the API under the tenant path `/us-1-123456789`; an access key logs in,
    /// console passwords are refused; 60-minute tokens.
    #[value(name = "prisma-saas")]
    #[serde(rename = "prisma-saas")]
    PrismaSaas,
    /// A Console whose admin disabled Basic auth: Basic is 401, tokens work.
    #[value(name = "prisma-basic-disabled")]
    #[serde(rename = "prisma-basic-disabled")]
    PrismaBasicDisabled,
    /// A rate-limited Console: every call but `_ping` is 429 with `Retry-After`.
    #[value(name = "prisma-rate-limited")]
    #[serde(rename = "prisma-rate-limited")]
    PrismaRateLimited,
    /// A failing Console: every call but `_ping` is 500.
    #[value(name = "prisma-error")]
    #[serde(rename = "prisma-error")]
    PrismaError,
    /// The Prisma Cloud (CSPM) API, given where the Compute Console belongs: `POST /login` with an access
    /// key; every other call 401 with an `x-redlock-status` header, `/api/v1/_ping` included.
    #[value(name = "prisma-cspm")]
    #[serde(rename = "prisma-cspm")]
    PrismaCspm,
    /// A central Console with projects: `?project=lab-project` serves the admin, refuses the auditor (not
    /// assigned) and any unknown project.
    #[value(name = "prisma-projects")]
    #[serde(rename = "prisma-projects")]
    PrismaProjects,
    /// Plain HTTP on the port: TLS clients get `HTTP/1.1 400 Bad Request`.
    Plaintext,
    /// Accepts TCP connections and never answers.
    Silent,
    /// TLS that demands a client certificate from the lab's client CA; behind it, the Prisma API
    /// (`authenticate-client` answers with a token for the certificate's CN).
    Mtls,
    /// A self-signed certificate that becomes valid two days after the lab starts: the clock check.
    Future,
    /// An HTTP proxy (CONNECT) to the lab's servers; `*.preflight.lab` names resolve there.
    Proxy,
    /// An HTTP proxy that wants a Basic proxy account (407 without it).
    #[value(name = "proxy-auth")]
    #[serde(rename = "proxy-auth")]
    ProxyAuth,
    /// An HTTP proxy whose policy allows CONNECT to port 443 only (403 for the lab's ports).
    #[value(name = "proxy-deny")]
    #[serde(rename = "proxy-deny")]
    ProxyDeny,
    /// An HTTP proxy that inspects TLS: it answers with certificates its own CA mints.
    #[value(name = "proxy-intercept")]
    #[serde(rename = "proxy-intercept")]
    ProxyIntercept,
    /// A certificate from the lab's revocation CA, with a stapled OCSP response: good.
    #[value(name = "ocsp-good")]
    #[serde(rename = "ocsp-good")]
    OcspGood,
    /// A revoked certificate (keyCompromise) with the stapled OCSP response saying so; the lab's
    /// responder and CRL say so too. The Prisma API behind it, to show no credential goes.
    Revoked,
    /// A revoked certificate without a stapled response: only `--revocation` (OCSP, CRL) finds it.
    #[value(name = "revoked-unstapled")]
    #[serde(rename = "revoked-unstapled")]
    RevokedUnstapled,
    /// A stapled OCSP response whose nextUpdate has passed.
    #[value(name = "ocsp-stale")]
    #[serde(rename = "ocsp-stale")]
    OcspStale,
    /// A certificate whose OCSP responder and CRL distribution point never answer.
    #[value(name = "revocation-silent")]
    #[serde(rename = "revocation-silent")]
    RevocationSilent,
}

impl Scenario {
    /// Every server, in the order `preflight lab` starts them.
    pub const ALL: [Scenario; 30] = [
        Scenario::Cvp,
        Scenario::CvpLegacy,
        Scenario::Cvp2026,
        Scenario::CvpNoH2,
        Scenario::Cvaas,
        Scenario::CvpLegacySessionExpired,
        Scenario::CvpLogin112498,
        Scenario::Cvp403,
        Scenario::CvaasApiserver,
        Scenario::CvaasCluster,
        Scenario::Prisma,
        Scenario::PrismaSaas,
        Scenario::PrismaBasicDisabled,
        Scenario::PrismaRateLimited,
        Scenario::PrismaError,
        Scenario::PrismaCspm,
        Scenario::PrismaProjects,
        Scenario::Plaintext,
        Scenario::Silent,
        Scenario::Mtls,
        Scenario::Future,
        Scenario::Proxy,
        Scenario::ProxyAuth,
        Scenario::ProxyDeny,
        Scenario::ProxyIntercept,
        Scenario::OcspGood,
        Scenario::Revoked,
        Scenario::RevokedUnstapled,
        Scenario::OcspStale,
        Scenario::RevocationSilent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Cvp => "cvp",
            Scenario::CvpLegacy => "cvp-legacy",
            Scenario::Cvp2026 => "cvp-2026",
            Scenario::CvpNoH2 => "cvp-no-h2",
            Scenario::Cvaas => "cvaas",
            Scenario::CvpLegacySessionExpired => "cvp-legacy-session-expired",
            Scenario::CvpLogin112498 => "cvp-login-112498",
            Scenario::Cvp403 => "cvp-403",
            Scenario::CvaasApiserver => "cvaas-apiserver",
            Scenario::CvaasCluster => "cvaas-cluster",
            Scenario::Prisma => "prisma",
            Scenario::PrismaSaas => "prisma-saas",
            Scenario::PrismaBasicDisabled => "prisma-basic-disabled",
            Scenario::PrismaRateLimited => "prisma-rate-limited",
            Scenario::PrismaError => "prisma-error",
            Scenario::PrismaCspm => "prisma-cspm",
            Scenario::PrismaProjects => "prisma-projects",
            Scenario::Plaintext => "plaintext",
            Scenario::Silent => "silent",
            Scenario::Mtls => "mtls",
            Scenario::Future => "future",
            Scenario::Proxy => "proxy",
            Scenario::ProxyAuth => "proxy-auth",
            Scenario::ProxyDeny => "proxy-deny",
            Scenario::ProxyIntercept => "proxy-intercept",
            Scenario::OcspGood => "ocsp-good",
            Scenario::Revoked => "revoked",
            Scenario::RevokedUnstapled => "revoked-unstapled",
            Scenario::OcspStale => "ocsp-stale",
            Scenario::RevocationSilent => "revocation-silent",
        }
    }

    /// The product a check of this server should name.
    pub fn product(self) -> Product {
        match self {
            Scenario::Cvp
            | Scenario::CvpLegacy
            | Scenario::Cvp2026
            | Scenario::CvpNoH2
            | Scenario::CvpLegacySessionExpired
            | Scenario::CvpLogin112498
            | Scenario::Cvp403 => Product::Cvp,
            Scenario::Cvaas | Scenario::CvaasApiserver | Scenario::CvaasCluster => Product::Cvaas,
            Scenario::Prisma
            | Scenario::PrismaSaas
            | Scenario::PrismaBasicDisabled
            | Scenario::PrismaRateLimited
            | Scenario::PrismaError
            | Scenario::PrismaCspm
            | Scenario::PrismaProjects
            | Scenario::Mtls
            | Scenario::Revoked => Product::Prisma,
            Scenario::Plaintext
            | Scenario::Silent
            | Scenario::Future
            | Scenario::Proxy
            | Scenario::ProxyAuth
            | Scenario::ProxyDeny
            | Scenario::ProxyIntercept
            | Scenario::OcspGood
            | Scenario::RevokedUnstapled
            | Scenario::OcspStale
            | Scenario::RevocationSilent => Product::Generic,
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            Scenario::Cvp => {
                "CloudVision-like: self-signed certificate (like /etc/nginx/cvp.crt), ALPN h2; CVP 2024.3 login, REST, gRPC"
            }
            Scenario::CvpLegacy => {
                "CloudVision 2021.2: login by HTTP Basic only (a JSON body is 415); a bad login is HTTP 401 \"User is unauthorized\""
            }
            Scenario::Cvp2026 => "CloudVision 2026.1: getCvpInfo.do answers the bare text 2026.1.3",
            Scenario::CvpNoH2 => {
                "CloudVision behind a front end that refuses HTTP/2 (ALPN http/1.1 only): gRPC cannot work"
            }
            Scenario::Cvaas => {
                "CloudVision as a Service: service-account tokens only (no password login), version \"CVaaS\""
            }
            Scenario::CvpLegacySessionExpired => {
                "CloudVision 2020.2: a missing, expired or unknown session gets HTTP 200 with the LOG OUT MESSAGE page"
            }
            Scenario::CvpLogin112498 => {
                "CloudVision 2020.2: a failed login is HTTP 200 {\"errorCode\":\"112498\",\"errorMessage\":\"Unauthorized User\"}"
            }
            Scenario::Cvp403 => {
                "CloudVision whose service account preflight-lab lacks the inventory role: Resource API 403, gRPC PERMISSION_DENIED"
            }
            Scenario::CvaasApiserver => {
                "CloudVision as a Service's apiserver.arista.io (device streaming, *.arista.io certificate): REST 404, gRPC UNKNOWN"
            }
            Scenario::CvaasCluster => {
                "CloudVision as a Service cluster www.arista.io (*.arista.io certificate), tenant preflight-lab: another cluster's or tenant's token is refused"
            }
            Scenario::Prisma => {
                "Prisma-like: Console CA (O=Twistlock) signs the server certificate; the Console API"
            }
            Scenario::PrismaSaas => {
                "Prisma SaaS: the API under the tenant path /us-1-123456789 (404 without it); access keys only; 60-minute tokens"
            }
            Scenario::PrismaBasicDisabled => "Prisma Console with Basic auth disabled: Basic is 401, tokens work",
            Scenario::PrismaRateLimited => "Prisma Console that rate-limits: every call but _ping is 429 (Retry-After)",
            Scenario::PrismaError => "Prisma Console that fails: every call but _ping is 500",
            Scenario::PrismaCspm => {
                "the Prisma Cloud (CSPM) API where a Compute Console is expected: POST /login, 401 with x-redlock-status elsewhere"
            }
            Scenario::PrismaProjects => {
                "Prisma central Console with the project lab-project (admin only); other projects refused"
            }
            Scenario::Plaintext => "plain HTTP on the port (not TLS)",
            Scenario::Silent => "accepts TCP and never answers (a black hole after connect)",
            Scenario::Mtls => {
                "TLS that demands a client certificate; the Prisma API behind it (authenticate-client)"
            }
            Scenario::Future => "a certificate valid only from two days after start-up (not_yet_valid; the server's Date is compared)",
            Scenario::Proxy => "HTTP proxy (CONNECT) to the lab; it resolves *.preflight.lab names itself",
            Scenario::ProxyAuth => "HTTP proxy that wants a proxy account (407 without it)",
            Scenario::ProxyDeny => "HTTP proxy whose policy allows CONNECT to port 443 only (403 here)",
            Scenario::ProxyIntercept => "HTTP proxy that inspects TLS: certificates minted by its own CA",
            Scenario::OcspGood => "a certificate with a stapled OCSP response: good (the lab's responder and CRL agree)",
            Scenario::Revoked => "a revoked certificate (keyCompromise), the stapled OCSP response says so; the Prisma API behind it",
            Scenario::RevokedUnstapled => "a revoked certificate, nothing stapled: --revocation asks the lab's OCSP responder and CRL",
            Scenario::OcspStale => "a stapled OCSP response whose nextUpdate has passed (stale)",
            Scenario::RevocationSilent => "a certificate whose OCSP responder and CRL never answer (--revocation waits its deadline)",
        }
    }

    /// The path under which the server's API lives (`""` but for Prisma SaaS's tenant path).
    pub fn is_proxy(self) -> bool {
        matches!(
            self,
            Scenario::Proxy | Scenario::ProxyAuth | Scenario::ProxyDeny | Scenario::ProxyIntercept
        )
    }

    /// Served with a certificate of the lab's revocation CA (the lab then runs its OCSP responder and CRL).
    pub fn is_revocation(self) -> bool {
        matches!(
            self,
            Scenario::OcspGood
                | Scenario::Revoked
                | Scenario::RevokedUnstapled
                | Scenario::OcspStale
                | Scenario::RevocationSilent
        )
    }

    /// The name a check should use for this server (resolved to it with `--resolve`), when its address
    /// would not show what it emulates: CloudVision as a Service's real host names.
    pub fn host_name(self) -> Option<&'static str> {
        match self {
            Scenario::CvaasApiserver => Some("apiserver.arista.io"),
            Scenario::CvaasCluster => Some("www.arista.io"),
            _ => None,
        }
    }

    pub fn base_path(self) -> &'static str {
        match self {
            Scenario::PrismaSaas => "/us-1-123456789",
            _ => "",
        }
    }
}

/// The credentials the lab accepts. Fixed, so that a user can type them and a test can use them.
#[derive(Debug, Clone, Copy)]
pub struct Credentials;

impl Credentials {
    /// CloudVision on-prem: the administrator (login and every call).
    pub const CVP_USER: &'static str = "cvpadmin";
    pub const CVP_PASSWORD: &'static str = "lab-password";
    /// CloudVision on-prem: a read-only user; its token is accepted but lacks the inventory role
    /// (gRPC PERMISSION_DENIED, REST inventory 403).
    pub const CVP_VIEWER_USER: &'static str = "viewer";
    pub const CVP_VIEWER_PASSWORD: &'static str = "lab-viewer";
    /// The CloudVision service account (`dsn`) of [`LabTokens::cvp_valid`]: every call.
    pub const CVP_SERVICE_ACCOUNT: &'static str = "preflight-lab";
    /// Prisma Cloud Compute: the administrator.
    pub const PRISMA_USER: &'static str = "admin";
    pub const PRISMA_PASSWORD: &'static str = "lab-password";
    /// Prisma Cloud Compute: a low-privilege user (`version` works, runtime policies are 403).
    pub const PRISMA_AUDITOR_USER: &'static str = "auditor";
    pub const PRISMA_AUDITOR_PASSWORD: &'static str = "lab-auditor";
    /// The CN of the lab's client certificate: the user `authenticate-client` logs in.
    pub const CLIENT_CERT_USER: &'static str = "lab-user";
    /// The tenant segment of the Prisma SaaS server's URL.
    pub const PRISMA_SAAS_TENANT: &'static str = "us-1-123456789";
    /// Prisma SaaS (and the CSPM API): an access key, its ID as the user name and its secret as the
    /// password. SaaS refuses console passwords.
    pub const PRISMA_ACCESS_KEY_ID: &'static str = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f";
    pub const PRISMA_ACCESS_KEY_SECRET: &'static str = "lab-access-key-secret";
    /// The project of the central Console (`prisma-projects`) the admin is assigned to; the auditor is not.
    pub const PRISMA_PROJECT: &'static str = "lab-project";
}

/// Ready-made tokens, issued when the lab starts at the real time (the lab judges `exp` by the real clock).
/// Also written in the lab folder: see [`LabTokens::files`].
#[derive(Debug, Clone, Serialize)]
pub struct LabTokens {
    /// CloudVision service-account token (RS256 JWT, `dsn` = [`Credentials::CVP_SERVICE_ACCOUNT`]), valid a
    /// year: accepted everywhere, on-prem and CVaaS. File `cvp-token.txt`.
    pub cvp_valid: String,
    /// The same account's token, expired an hour ago: 401 / UNAUTHENTICATED. File `cvp-token-expired.txt`.
    pub cvp_expired: String,
    /// A session token of the read-only user: accepted, but gRPC says PERMISSION_DENIED and the REST
    /// inventory 403. File `cvp-token-viewer.txt`.
    pub cvp_viewer: String,
    /// The service account's token expiring in one hour: works, and should be warned about.
    /// File `cvp-token-expiring.txt`.
    pub cvp_expiring: String,
    /// Prisma token of `admin` (HS256 JWT, 30 minutes). File `prisma-token.txt`.
    pub prisma_valid: String,
    /// Prisma token of `admin` that expired a minute ago. File `prisma-token-expired.txt`.
    pub prisma_expired: String,
    /// Prisma token of `auditor`: `version` works, runtime policies are 403. File `prisma-token-auditor.txt`.
    pub prisma_auditor: String,
}

impl LabTokens {
    /// The tokens issued at `now`.
    pub fn issue(now: OffsetDateTime) -> LabTokens {
        let t = now.unix_timestamp();
        let account = Credentials::CVP_SERVICE_ACCOUNT;
        let (admin, auditor) = (Credentials::PRISMA_USER, Credentials::PRISMA_AUDITOR_USER);
        LabTokens {
            cvp_valid: jwt::cvp_token(account, jwt::DST_ACCOUNT, t, t + 365 * 86400),
            cvp_expired: jwt::cvp_token(account, jwt::DST_ACCOUNT, t - 31 * 86400, t - 3600),
            cvp_viewer: jwt::cvp_token(Credentials::CVP_VIEWER_USER, jwt::DST_USER, t, t + 86400),
            cvp_expiring: jwt::cvp_token(account, jwt::DST_ACCOUNT, t - 86400, t + 3600),
            prisma_valid: jwt::prisma_token(admin, "admin", t + 1800),
            prisma_expired: jwt::prisma_token(admin, "admin", t - 60),
            prisma_auditor: jwt::prisma_token(auditor, "auditor", t + 1800),
        }
    }

    /// Each token with the name of the file it is written to in the lab folder.
    pub fn files(&self) -> [(&'static str, &str); 7] {
        [
            ("cvp-token.txt", &self.cvp_valid),
            ("cvp-token-expired.txt", &self.cvp_expired),
            ("cvp-token-viewer.txt", &self.cvp_viewer),
            ("cvp-token-expiring.txt", &self.cvp_expiring),
            ("prisma-token.txt", &self.prisma_valid),
            ("prisma-token-expired.txt", &self.prisma_expired),
            ("prisma-token-auditor.txt", &self.prisma_auditor),
        ]
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
    /// The URL a client uses: `https://ADDR` plus the server's base path (Prisma SaaS's tenant).
    pub url: String,
}

/// The running lab. Servers stop when it is dropped.
pub struct Lab {
    pub servers: Vec<LabServer>,
    pub dir: PathBuf,
    /// Lab client certificate and key (for the mTLS server).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Ready-made tokens (also files in `dir`).
    pub tokens: LabTokens,
    /// The revocation CA's OCSP responder and CRL (`http://ADDR/ocsp`, `/crl`), when a revocation scenario
    /// runs.
    pub revocation: Option<SocketAddr>,
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

/// ALPN h2 and http/1.1, or http/1.1 only (a front end that refuses HTTP/2).
const ALPN_BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];
const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

fn tls_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: &Issued,
    client_ca: Option<&Issued>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, LabError> {
    let provider = crate::pki::provider::provider();
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
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// What answers HTTP requests on a TLS server.
#[derive(Debug, Clone)]
enum App {
    /// Echoes the path as JSON (servers that show a TLS property, not a product).
    Echo(&'static str),
    Cvp(cvp::Flavor),
    Prisma(prisma::Console),
}

impl App {
    async fn handle(&self, conn: &Conn, req: Request<Incoming>) -> Response<LabBody> {
        match self {
            App::Echo(name) => http::json(
                StatusCode::OK,
                &json!({"lab": name, "path": req.uri().path()}),
            ),
            App::Cvp(flavor) => cvp::handle(*flavor, req).await,
            App::Prisma(console) => prisma::handle(console, conn, req).await,
        }
    }
}

/// One TLS server to start: its certificate configuration and what answers behind it.
struct TlsServer {
    config: Arc<ServerConfig>,
    app: App,
    http1_only: bool,
}

impl Lab {
    /// Makes the certificates, writes them to `opts.dir`, and starts every server.
    pub async fn start(opts: &LabOptions) -> Result<Lab, LabError> {
        std::fs::create_dir_all(&opts.dir).map_err(|source| LabError::Write {
            path: opts.dir.clone(),
            source,
        })?;
        // The revocation CA's certificates name the responder: it listens before they are issued.
        let responder = match opts.scenarios.iter().any(|s| s.is_revocation()) {
            true => Some(setup::listen(opts, opts.scenarios.len()).await?),
            false => None,
        };
        let certs = LabCerts::issue(opts.issued_at, responder.as_ref().map(|(_, a)| *a))?;
        let files = LabFiles::write(&opts.dir, &certs)?;
        let tokens = LabTokens::issue(OffsetDateTime::now_utc());
        for (name, token) in tokens.files() {
            write(&opts.dir, name, &format!("{token}\n"))?;
        }
        let mut servers = Vec::new();
        let mut tasks = Vec::new();
        for (i, scenario) in opts.scenarios.iter().enumerate() {
            let (listener, addr) = setup::listen(opts, i).await?;
            tasks.push(certs.served(*scenario)?.spawn(listener, opts.bind));
            servers.push(LabServer::new(*scenario, addr, files.trust(*scenario)));
        }
        let revocation = certs.serve_revocation(responder, &mut tasks);
        let lab = Lab {
            servers,
            dir: opts.dir.clone(),
            client_cert: files.client_cert,
            client_key: files.client_key,
            tokens,
            revocation,
            tasks,
        };
        let index = serde_json::to_string_pretty(&lab.servers).unwrap_or_default();
        write(&opts.dir, "lab.json", &index)?;
        Ok(lab)
    }

    pub fn server(&self, scenario: Scenario) -> Option<&LabServer> {
        self.servers.iter().find(|s| s.scenario == scenario)
    }

    /// The credentials the lab accepts.
    pub fn credentials(&self) -> Credentials {
        Credentials
    }

    /// What `preflight lab` prints: each server, what it shows, a command to check it, and the credentials.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "preflight lab: {} {}; certificates and tokens in {}\n\n",
            self.servers.len(),
            if self.servers.len() == 1 {
                "server"
            } else {
                "servers"
            },
            self.dir.display()
        );
        for s in &self.servers {
            out.push_str(&format!(
                "  {:<26} {}  {}\n",
                s.scenario.name(),
                s.url,
                s.scenario.about()
            ));
            out.push_str(&format!("{:<29}{}\n", "", self.command(s)));
        }
        if let Some(addr) = self.revocation {
            out.push_str(&format!(
                "\nThe revocation CA's OCSP responder is http://{addr}/ocsp and its CRL http://{addr}/crl (named in its certificates; add --revocation to ask them).\n"
            ));
        }
        out.push_str(&format!(
            "\nServer certificates carry the names {}; the mTLS client certificate is {} (key {}, CN {}).\n",
            LAB_SANS.join(", "),
            self.client_cert.display(),
            self.client_key.display(),
            Credentials::CLIENT_CERT_USER,
        ));
        out.push_str(&credentials_text());
        for ((name, _), about) in self.tokens.files().iter().zip(TOKEN_ABOUT) {
            out.push_str(&format!(
                "  {:<48} {about}\n",
                self.dir.join(name).display()
            ));
        }
        out.push_str("Press Ctrl-C to stop.\n");
        out
    }

    /// The command that checks server `s`, with `--ca` when a file trusts it.
    fn command(&self, s: &LabServer) -> String {
        let mut cmd = if s.scenario.is_proxy() {
            self.proxy_command(s)
        } else {
            let target = match s.scenario.host_name() {
                Some(name) => format!(
                    "{name}:{port} --resolve {name}:{port}:{ip}",
                    port = s.addr.port(),
                    ip = s.addr.ip()
                ),
                None if s.scenario.base_path().is_empty() => s.addr.to_string(),
                None => s.url.clone(),
            };
            format!(
                "preflight check {target} --product {}",
                s.scenario.product().as_str()
            )
        };
        if let Some(f) = &s.trust_file {
            cmd.push_str(&format!(" --ca {}", f.display()));
        }
        if s.scenario.is_revocation() {
            cmd.push_str(" --revocation");
        }
        match self.login(s.scenario) {
            // A password goes in the environment, never in an argument (as preflight asks).
            Some(Login::Password(user, password, extra)) => format!(
                "LAB_PASSWORD='{password}' {cmd} --user {user} --password-env LAB_PASSWORD{extra}"
            ),
            Some(Login::Token(file)) => {
                format!("{cmd} --token-file {}", self.dir.join(file).display())
            }
            Some(Login::Certificate) => format!(
                "{cmd} --cert {} --key {}",
                self.client_cert.display(),
                self.client_key.display()
            ),
            None => cmd,
        }
    }

    /// What a scenario's check logs in with, so the command shows the scenario's code.
    fn login(&self, scenario: Scenario) -> Option<Login> {
        use Scenario as S;
        let cvp = Login::Password(Credentials::CVP_USER, Credentials::CVP_PASSWORD, "");
        let prisma = Login::Password(Credentials::PRISMA_USER, Credentials::PRISMA_PASSWORD, "");
        Some(match scenario {
            S::Cvp | S::Cvp2026 | S::CvpNoH2 => cvp,
            // A wrong password: these show how the release answers one.
            S::CvpLegacy | S::CvpLogin112498 => {
                Login::Password(Credentials::CVP_USER, "not-the-password", "")
            }
            // An expired session: this release answers it with the LOG OUT page.
            S::CvpLegacySessionExpired => Login::Token("cvp-token-expired.txt"),
            S::Cvaas | S::CvaasApiserver | S::CvaasCluster | S::Cvp403 => {
                Login::Token("cvp-token.txt")
            }
            S::Prisma | S::PrismaBasicDisabled | S::PrismaRateLimited | S::PrismaError => prisma,
            S::PrismaSaas | S::PrismaCspm => Login::Password(
                Credentials::PRISMA_ACCESS_KEY_ID,
                Credentials::PRISMA_ACCESS_KEY_SECRET,
                "",
            ),
            S::PrismaProjects => Login::Password(
                Credentials::PRISMA_AUDITOR_USER,
                Credentials::PRISMA_AUDITOR_PASSWORD,
                " --project lab-project",
            ),
            S::Mtls => Login::Certificate,
            _ => return None,
        })
    }

    /// Through proxy `s` to the CloudVision server, by its lab name (the proxy resolves it). A proxy
    /// password goes in the environment, never in an argument.
    fn proxy_command(&self, s: &LabServer) -> String {
        let to = self
            .server(Scenario::Cvp)
            .map(|c| {
                format!(
                    "cvp.preflight.lab:{} --product cvp --ca {}",
                    c.addr.port(),
                    c.trust_file
                        .as_ref()
                        .map(|f| f.display().to_string())
                        .unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "cvp.preflight.lab:PORT --product cvp".into());
        if s.scenario == Scenario::ProxyAuth {
            format!(
                "HTTPS_PROXY=http://{}:{}@{} preflight check {to}",
                proxy::PROXY_USER,
                proxy::PROXY_PASSWORD,
                s.addr
            )
        } else {
            format!("preflight check {to} --proxy http://{}", s.addr)
        }
    }
}

/// How a printed check command logs in.
enum Login {
    /// User, password (put in `LAB_PASSWORD`), and more options.
    Password(&'static str, &'static str, &'static str),
    /// A token file in the lab's folder.
    Token(&'static str),
    /// The lab's client certificate.
    Certificate,
}

/// What each of [`LabTokens::files`] is, in their order.
const TOKEN_ABOUT: [&str; 7] = [
    "CloudVision service account, valid a year",
    "CloudVision service account, expired",
    "CloudVision read-only user's session",
    "CloudVision service account, expires in an hour",
    "Prisma admin, 30 minutes",
    "Prisma admin, expired",
    "Prisma auditor, 30 minutes",
];

/// The accounts the lab accepts, and the heading of the token files' list.
fn credentials_text() -> String {
    format!(
        "\nCredentials the lab accepts:\n  \
         CloudVision  {} / {} (network-admin), {} / {} (read-only: gRPC PERMISSION_DENIED)\n  \
         Prisma       {} / {} (admin), {} / {} (auditor: runtime policies are 403)\n  \
         Prisma SaaS  access key {} / {} (console passwords are refused)\n  \
         Proxy        {} / {} (proxy-auth)\n\
         Tokens (issued now; the lab checks exp against the real clock):\n",
        Credentials::CVP_USER,
        Credentials::CVP_PASSWORD,
        Credentials::CVP_VIEWER_USER,
        Credentials::CVP_VIEWER_PASSWORD,
        Credentials::PRISMA_USER,
        Credentials::PRISMA_PASSWORD,
        Credentials::PRISMA_AUDITOR_USER,
        Credentials::PRISMA_AUDITOR_PASSWORD,
        Credentials::PRISMA_ACCESS_KEY_ID,
        Credentials::PRISMA_ACCESS_KEY_SECRET,
        proxy::PROXY_USER,
        proxy::PROXY_PASSWORD,
    )
}

impl LabServer {
    fn new(scenario: Scenario, addr: SocketAddr, trust_file: Option<PathBuf>) -> LabServer {
        LabServer {
            scenario,
            addr,
            trust_file,
            url: if scenario.is_proxy() || scenario == Scenario::Plaintext {
                format!("http://{addr}")
            } else if scenario == Scenario::Silent {
                format!("tcp://{addr}")
            } else {
                format!("https://{addr}{}", scenario.base_path())
            },
        }
    }
}

fn serve_tls(listener: TcpListener, server: TlsServer) -> JoinHandle<()> {
    let acceptor = TlsAcceptor::from(server.config);
    let app = Arc::new(server.app);
    let http1_only = server.http1_only;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(Ok(tls)) =
                    tokio::time::timeout(CLIENT_DEADLINE, acceptor.accept(stream)).await
                else {
                    return;
                };
                let conn = Arc::new(Conn::from_tls(tls.get_ref().1));
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let app = app.clone();
                    let conn = conn.clone();
                    async move { Ok::<_, std::convert::Infallible>(app.handle(&conn, req).await) }
                });
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if http1_only {
                    builder = builder.http1_only();
                }
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

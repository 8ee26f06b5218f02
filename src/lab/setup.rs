//! What `Lab::start` makes before it listens: every certificate, issued at one time; the files written
//! to the lab folder; and, for each scenario, what serves it and which file trusts it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::certs::{self, Ca, Issued};
use super::revocation::RevocationCerts;
use super::{cvp, prisma, proxy, tls_config, write, App, Credentials, LabError, LabOptions};
use super::{Scenario, TlsServer, ALPN_BOTH, ALPN_HTTP1};

/// Every certificate the lab's servers present or trust.
pub(super) struct LabCerts {
    /// When they were issued (the inspecting proxy mints its own as of this time too).
    at: OffsetDateTime,
    cvp: Issued,
    cvaas_ca: Ca,
    cvaas: Issued,
    /// CloudVision as a Service under its real names (`*.arista.io`), from the public-like CA.
    arista: Issued,
    console_ca: Ca,
    console: Issued,
    /// A SaaS Console's certificate, for its region's name (from the Console CA, so one `--ca` trusts both).
    saas: Issued,
    /// The Prisma Cloud (CSPM) API's certificate, from the public-like CA.
    cspm: Issued,
    mtls_server: Issued,
    client_ca: Ca,
    client: Issued,
    future: Issued,
    inspection_ca: Arc<Ca>,
    /// The revocation CA's certificates, naming its responder (when a revocation scenario runs).
    revocation: Option<Arc<RevocationCerts>>,
}

impl LabCerts {
    /// The certificates as of `at` (the future server's valid from three days later); the revocation CA's
    /// when its responder listens at `responder`.
    pub(super) fn issue(
        at: OffsetDateTime,
        responder: Option<SocketAddr>,
    ) -> Result<LabCerts, LabError> {
        let cvp = certs::self_signed_server("cvp.preflight.lab", at)?;
        let cvaas_ca = certs::ca("preflight lab public CA", "preflight lab", at, 3650)?;
        let cvaas = cvaas_ca.server("www.cvaas.preflight.lab", at, 365)?;
        let arista = cvaas_ca.server("*.arista.io", at, 365)?;
        let console_ca = certs::ca("Twistlock", "Twistlock", at, 3 * 365)?;
        let console = console_ca.server("console.preflight.lab", at, 730)?;
        let saas = console_ca.server(prisma::SAAS_HOST, at, 365)?;
        let cspm = cvaas_ca.server(prisma::CSPM_HOST, at, 365)?;
        let mtls_server = certs::self_signed_server("mtls.preflight.lab", at)?;
        let client_ca = certs::ca("preflight lab client CA", "preflight lab", at, 3650)?;
        let client = client_ca.client(Credentials::CLIENT_CERT_USER, at, 365)?;
        let future =
            certs::self_signed_server("future.preflight.lab", at + time::Duration::days(3))?;
        let inspection_ca = Arc::new(certs::ca(
            "preflight lab TLS Inspection CA",
            "preflight lab corporate proxy",
            at,
            3650,
        )?);
        let revocation = responder
            .map(|a| RevocationCerts::issue(at, &super::revocation::base(a)).map(Arc::new))
            .transpose()?;
        Ok(LabCerts {
            at,
            cvp,
            cvaas_ca,
            cvaas,
            arista,
            console_ca,
            console,
            saas,
            cspm,
            mtls_server,
            client_ca,
            client,
            future,
            inspection_ca,
            revocation,
        })
    }

    /// Starts the revocation CA's responder on `responder` (when there are both): its address.
    pub(super) fn serve_revocation(
        &self,
        responder: Option<(TcpListener, SocketAddr)>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Option<SocketAddr> {
        let ((listener, addr), certs) = responder.zip(self.revocation.clone())?;
        tasks.push(tokio::spawn(super::revocation::serve(listener, certs)));
        Some(addr)
    }

    /// A revocation scenario's server: its certificate, its staple, what answers behind it.
    fn revocation_server(&self, scenario: Scenario) -> Result<TlsServer, LabError> {
        let r = self
            .revocation
            .as_ref()
            .ok_or_else(|| LabError::Tls("the revocation CA was not issued".into()))?;
        let (config, app) = match scenario {
            Scenario::Revoked => {
                let console = prisma::Console {
                    flavor: prisma::Flavor::Console,
                    ca_pem: None,
                };
                let staple = r.fresh(&r.revoked)?;
                (
                    r.tls(&r.revoked, Some(staple), ALPN_BOTH)?,
                    App::Prisma(console),
                )
            }
            Scenario::OcspStale => {
                let staple = r.stale_staple()?;
                (
                    r.tls(&r.stale, Some(staple), ALPN_BOTH)?,
                    App::Echo("ocsp-stale"),
                )
            }
            Scenario::RevokedUnstapled => (
                r.tls(&r.unstapled, None, ALPN_BOTH)?,
                App::Echo("revoked-unstapled"),
            ),
            Scenario::RevocationSilent => (
                r.tls(&r.silent, None, ALPN_BOTH)?,
                App::Echo("revocation-silent"),
            ),
            _ => (
                r.tls(&r.good, Some(r.fresh(&r.good)?), ALPN_BOTH)?,
                App::Echo("ocsp-good"),
            ),
        };
        Ok(TlsServer {
            config,
            app,
            http1_only: false,
        })
    }

    /// What serves `scenario`.
    pub(super) fn served(&self, scenario: Scenario) -> Result<Served, LabError> {
        use prisma::Flavor as Console;
        Ok(match scenario {
            Scenario::Cvp => Served::Tls(self.cvp_server(cvp::Flavor::Modern, ALPN_BOTH)?),
            Scenario::CvpLegacy => Served::Tls(self.cvp_server(cvp::Flavor::Legacy, ALPN_BOTH)?),
            Scenario::Cvp2026 => Served::Tls(self.cvp_server(cvp::Flavor::V2026, ALPN_BOTH)?),
            Scenario::CvpNoH2 => Served::Tls(self.cvp_server(cvp::Flavor::Modern, ALPN_HTTP1)?),
            Scenario::Cvaas => Served::Tls(self.cvaas_server(cvp::Flavor::Cvaas, &self.cvaas)?),
            Scenario::CvpLegacySessionExpired => {
                Served::Tls(self.cvp_server(cvp::Flavor::LogoutPage, ALPN_BOTH)?)
            }
            Scenario::CvpLogin112498 => {
                Served::Tls(self.cvp_server(cvp::Flavor::Login112498, ALPN_BOTH)?)
            }
            Scenario::Cvp403 => Served::Tls(self.cvp_server(cvp::Flavor::Forbidden, ALPN_BOTH)?),
            Scenario::CvaasApiserver => {
                Served::Tls(self.cvaas_server(cvp::Flavor::CvaasApiserver, &self.arista)?)
            }
            Scenario::CvaasCluster => {
                Served::Tls(self.cvaas_server(cvp::Flavor::CvaasCluster, &self.arista)?)
            }
            Scenario::Prisma => Served::Tls(self.prisma_server(Console::Console)?),
            Scenario::PrismaSaas => Served::Tls(self.prisma_server(Console::Saas)?),
            Scenario::PrismaBasicDisabled => {
                Served::Tls(self.prisma_server(Console::BasicDisabled)?)
            }
            Scenario::PrismaRateLimited => Served::Tls(self.prisma_server(Console::RateLimited)?),
            Scenario::PrismaError => Served::Tls(self.prisma_server(Console::ServerError)?),
            Scenario::PrismaCspm => Served::Tls(self.prisma_server(Console::Cspm)?),
            Scenario::PrismaProjects => Served::Tls(self.prisma_server(Console::Projects)?),
            Scenario::Mtls => Served::Tls(self.mtls_server()?),
            Scenario::Future => Served::Tls(self.future_server()?),
            Scenario::Plaintext => Served::Plaintext,
            Scenario::Silent => Served::Silent,
            Scenario::Proxy => Served::Proxy(proxy::Kind::Open),
            Scenario::ProxyAuth => Served::Proxy(proxy::Kind::Auth),
            Scenario::ProxyDeny => Served::Proxy(proxy::Kind::Deny),
            Scenario::ProxyIntercept => {
                Served::Proxy(proxy::Kind::Intercept(self.inspection_ca.clone(), self.at))
            }
            Scenario::OcspGood
            | Scenario::Revoked
            | Scenario::RevokedUnstapled
            | Scenario::OcspStale
            | Scenario::RevocationSilent => Served::Tls(self.revocation_server(scenario)?),
        })
    }

    /// CloudVision on-prem: the self-signed certificate, h2 offered or not.
    fn cvp_server(&self, flavor: cvp::Flavor, alpn: &[&[u8]]) -> Result<TlsServer, LabError> {
        Ok(TlsServer {
            config: tls_config(vec![self.cvp.der.clone()], &self.cvp, None, alpn)?,
            app: App::Cvp(flavor),
            http1_only: alpn == ALPN_HTTP1,
        })
    }

    /// CVaaS: a certificate from the public-like CA (`leaf`), sent with it.
    fn cvaas_server(&self, flavor: cvp::Flavor, leaf: &Issued) -> Result<TlsServer, LabError> {
        let chain = vec![leaf.der.clone(), self.cvaas_ca.cert.der.clone()];
        Ok(TlsServer {
            config: tls_config(chain, leaf, None, ALPN_BOTH)?,
            app: App::Cvp(flavor),
            http1_only: false,
        })
    }

    /// A Prisma Console: the Console CA's certificate (SaaS: for its region's name), sent with the CA; the
    /// CA also served by the API. The CSPM API: the public-like CA's.
    fn prisma_server(&self, flavor: prisma::Flavor) -> Result<TlsServer, LabError> {
        let (leaf, ca) = match flavor {
            prisma::Flavor::Saas => (&self.saas, &self.console_ca),
            prisma::Flavor::Cspm => (&self.cspm, &self.cvaas_ca),
            _ => (&self.console, &self.console_ca),
        };
        let chain = vec![leaf.der.clone(), ca.cert.der.clone()];
        Ok(TlsServer {
            config: tls_config(chain, leaf, None, ALPN_BOTH)?,
            app: App::Prisma(prisma::Console {
                flavor,
                ca_pem: Some(self.console_ca.cert.cert_pem.clone()),
            }),
            http1_only: false,
        })
    }

    /// Mutual TLS: a client certificate from the lab's client CA demanded; the Prisma API behind it.
    fn mtls_server(&self) -> Result<TlsServer, LabError> {
        let config = tls_config(
            vec![self.mtls_server.der.clone()],
            &self.mtls_server,
            Some(&self.client_ca.cert),
            ALPN_BOTH,
        )?;
        Ok(TlsServer {
            config,
            app: App::Prisma(prisma::Console {
                flavor: prisma::Flavor::Console,
                ca_pem: None,
            }),
            http1_only: false,
        })
    }

    /// The certificate not valid yet; the echo behind it.
    fn future_server(&self) -> Result<TlsServer, LabError> {
        Ok(TlsServer {
            config: tls_config(vec![self.future.der.clone()], &self.future, None, ALPN_BOTH)?,
            app: App::Echo("future"),
            http1_only: false,
        })
    }
}

/// The files written to the lab folder that the lab keeps naming: what a client passes as `--ca` for
/// each server, and the mTLS client's certificate and key.
pub(super) struct LabFiles {
    cvp: PathBuf,
    cvaas_ca: PathBuf,
    console_ca: PathBuf,
    mtls: PathBuf,
    future: PathBuf,
    inspection_ca: PathBuf,
    revocation_ca: Option<PathBuf>,
    pub(super) client_cert: PathBuf,
    pub(super) client_key: PathBuf,
}

impl LabFiles {
    /// Writes every certificate (and the client's key) to `dir`.
    pub(super) fn write(dir: &Path, certs: &LabCerts) -> Result<LabFiles, LabError> {
        let cvp = write(dir, "cvp.crt", &certs.cvp.cert_pem)?;
        let cvaas_ca = write(dir, "cvaas-ca.pem", &certs.cvaas_ca.cert.cert_pem)?;
        let console_ca = write(
            dir,
            "prisma-console-ca.pem",
            &certs.console_ca.cert.cert_pem,
        )?;
        write(dir, "prisma-console.crt", &certs.console.cert_pem)?;
        let mtls = write(dir, "mtls.crt", &certs.mtls_server.cert_pem)?;
        let future = write(dir, "future.crt", &certs.future.cert_pem)?;
        let inspection_ca = write(
            dir,
            "proxy-inspection-ca.pem",
            &certs.inspection_ca.cert.cert_pem,
        )?;
        write(dir, "client-ca.pem", &certs.client_ca.cert.cert_pem)?;
        let revocation_ca = match &certs.revocation {
            Some(r) => Some(write(dir, "revocation-ca.pem", &r.ca.cert.cert_pem)?),
            None => None,
        };
        Ok(LabFiles {
            cvp,
            cvaas_ca,
            console_ca,
            mtls,
            future,
            inspection_ca,
            revocation_ca,
            client_cert: write(dir, "client.crt", &certs.client.cert_pem)?,
            client_key: write(dir, "client.key", &certs.client.key_pem)?,
        })
    }

    /// The file that trusts `scenario`'s server, when there is one.
    pub(super) fn trust(&self, scenario: Scenario) -> Option<PathBuf> {
        let file = match scenario {
            Scenario::Cvp
            | Scenario::CvpLegacy
            | Scenario::Cvp2026
            | Scenario::CvpNoH2
            | Scenario::CvpLegacySessionExpired
            | Scenario::CvpLogin112498
            | Scenario::Cvp403 => &self.cvp,
            Scenario::Cvaas
            | Scenario::CvaasApiserver
            | Scenario::CvaasCluster
            | Scenario::PrismaCspm => &self.cvaas_ca,
            Scenario::Prisma
            | Scenario::PrismaSaas
            | Scenario::PrismaBasicDisabled
            | Scenario::PrismaRateLimited
            | Scenario::PrismaError
            | Scenario::PrismaProjects => &self.console_ca,
            Scenario::Mtls => &self.mtls,
            Scenario::Future => &self.future,
            Scenario::ProxyIntercept => &self.inspection_ca,
            Scenario::OcspGood
            | Scenario::Revoked
            | Scenario::RevokedUnstapled
            | Scenario::OcspStale
            | Scenario::RevocationSilent => return self.revocation_ca.clone(),
            Scenario::Plaintext
            | Scenario::Silent
            | Scenario::Proxy
            | Scenario::ProxyAuth
            | Scenario::ProxyDeny => return None,
        };
        Some(file.clone())
    }
}

/// What listens on one port.
pub(super) enum Served {
    /// TLS with an app behind it.
    Tls(TlsServer),
    /// Plain HTTP: a 400 page for every TLS client.
    Plaintext,
    /// Accepts and never answers.
    Silent,
    /// An HTTP CONNECT proxy to the lab.
    Proxy(proxy::Kind),
}

impl Served {
    /// Serves `listener` on a task; `lab` is where the proxies send `*.preflight.lab` names.
    pub(super) fn spawn(self, listener: TcpListener, lab: IpAddr) -> JoinHandle<()> {
        match self {
            Served::Tls(server) => super::serve_tls(listener, server),
            Served::Plaintext => tokio::spawn(super::serve_plaintext(listener)),
            Served::Silent => tokio::spawn(super::serve_silent(listener)),
            Served::Proxy(kind) => tokio::spawn(proxy::serve(listener, kind, lab)),
        }
    }
}

/// The listener of the `i`th server: on `opts.port + i`, or on a port the system chooses when `opts.port`
/// is 0; with the address it really listens on.
pub(super) async fn listen(
    opts: &LabOptions,
    i: usize,
) -> Result<(TcpListener, SocketAddr), LabError> {
    let port = if opts.port == 0 {
        0
    } else {
        opts.port.saturating_add(i as u16)
    };
    let addr = SocketAddr::new(opts.bind, port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| LabError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| LabError::Bind { addr, source })?;
    Ok((listener, bound))
}

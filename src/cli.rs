//! The command line (stage 1: what the user typed), and its translation into a validated `CheckConfig`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::{CheckConfig, ResolveOverride, Timeouts};
use crate::lab::Scenario;
use crate::report::Format;
use crate::target::{Product, Target};

#[derive(Debug, Parser)]
#[command(
    name = "preflight",
    version,
    about = "Checks a TLS API console end to end (DNS, TCP, TLS, certificate chain) and says how to fix what fails.",
    after_help = "Exit codes: 0 no check failed, 1 a check failed, 2 bad usage or unreadable input, nothing contacted (scan: or\na bad line in the list; the worst result wins), 3 the tool could not work (a report could not be written: it\nwent to stdout instead); scan: 130 or 143 when SIGINT or SIGTERM stopped it (the output keeps what completed).\nCodes and their fixes: preflight codes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Trace each step to stderr (-v), with details (-vv). Secrets are never shown.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check one target: resolve, connect, handshake, read the chain, judge it against every trust source.
    Check(CheckArgs),
    /// Print (and save) the certificate chain a server sends, with fingerprints to compare on the server.
    Chain(ChainArgs),
    /// Judge a chain file offline, with the same checks, codes and exit codes as `check`.
    Verify(VerifyArgs),
    /// Check a target and write a support bundle to attach to a ticket (`check --bundle FILE`).
    Bundle(BundleArgs),
    /// Check many targets at once, from a file with one target per line: streamed as JSON lines, or a
    /// summary table at the end.
    Scan(ScanArgs),
    /// Run the built-in lab: real TLS servers on loopback that look like each product, and broken ones.
    Lab(LabArgs),
    /// Start the lab in-process and check each of its servers: the whole tool in a few seconds.
    Demo(DemoArgs),
    /// List every code the tool can emit, with its meaning and usual fix (Markdown); or one code.
    Codes(CodesArgs),
    /// Print a shell completion script: `preflight completions bash > /etc/bash_completion.d/preflight`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `preflight man > /usr/local/share/man/man1/preflight.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct CodesArgs {
    /// One code to explain (`expired`); without it, every code.
    pub code: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Colour in the table: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Write the chosen format to this file (the table still goes to the terminal when stdout is one).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write a support bundle (.tar.gz): the report as JSON, Markdown and text, the chain, the
    /// environment, timings; secrets removed.
    #[arg(long, value_name = "FILE.tar.gz")]
    pub bundle: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// host, host:port, [v6]:port, an address, or https://host:port/path.
    pub target: String,
    /// The product behind the target: decides the default port, the other ports tried, and product checks.
    /// `auto` recognises CloudVision or Prisma Cloud Compute from answers that need no credential.
    #[arg(long, value_enum, default_value_t = Product::Auto)]
    pub product: Product,
    #[command(flatten)]
    pub net: NetArgs,
}

/// How to reach a target: shared by `check`, `chain` and `scan` (where they apply to every target).
#[derive(Debug, Args)]
pub struct NetArgs {
    /// HOST:PORT:ADDR[,ADDR]: use these addresses for HOST (as curl); the name still goes in SNI.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Server name to send in SNI instead of the target's host.
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Deadline for every network phase (2s, 500ms).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub timeout: Option<Duration>,
    /// Deadline for the DNS lookup [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub dns_timeout: Option<Duration>,
    /// Deadline for each TCP connection [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub connect_timeout: Option<Duration>,
    /// Deadline for the TLS handshake [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub tls_timeout: Option<Duration>,
    /// Budget for the whole check (in a scan, for each target), on top of the phase deadlines; what did
    /// not finish is reported as cut off [default: 30s, or DNS + TCP + TLS deadlines when longer].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub max_time: Option<Duration>,
    /// Other ports to probe when the target's port does not answer [default: the product's other ports].
    #[arg(
        long,
        value_name = "PORT,...",
        value_delimiter = ',',
        conflicts_with = "no_alt_ports"
    )]
    pub alt_ports: Option<Vec<u16>>,
    /// Probe no other port.
    #[arg(long)]
    pub no_alt_ports: bool,
    /// Also list what the server offers, as testssl.sh does: TLS 1.0 to 1.3, the cipher suites of each
    /// (weak ones too) and the key-exchange groups, from about 20 ClientHellos (`tls.offer`).
    #[arg(long)]
    pub offer: bool,
    /// Use only IPv4 addresses (of the target, or of the proxy).
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use only IPv6 addresses (of the target, or of the proxy).
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Connect through this HTTP proxy (http://[USER@]HOST[:PORT]; curl's default port 1080) instead of
    /// HTTPS_PROXY/ALL_PROXY; `--proxy ''` connects directly. A proxy password goes in HTTPS_PROXY.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Hosts to reach without the proxy (comma-separated names, domains, addresses, CIDR ranges; `*` for
    /// all), instead of NO_PROXY.
    #[arg(long, value_name = "LIST")]
    pub noproxy: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Trust these CA certificates too: a PEM bundle, a DER file or a folder; a self-signed server
    /// certificate (a copy of /etc/nginx/cvp.crt) works as well. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// Trust a chain that contains a certificate with this SHA-256 fingerprint (hex; colons allowed). Repeatable.
    #[arg(long = "pin-sha256", value_name = "HEX")]
    pub pin_sha256: Vec<String>,
    /// Warn when a certificate on the path expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: u32,
    /// Judge certificate dates at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub at: Option<OffsetDateTime>,
    /// Also ask the OCSP responder and fetch the CRL the server's certificate names (through the same
    /// proxy, within --max-time); the stapled OCSP response is judged without it.
    #[arg(long)]
    pub revocation: bool,
    /// A default store that must trust the chain itself, even when your --ca or pin does: then it fails
    /// rather than being information (for clients you cannot give a CA file). Repeatable.
    #[arg(long = "require-store", value_name = "STORE", value_enum)]
    pub require_store: Vec<StoreName>,
}

/// A default trust store, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreName {
    /// The Mozilla roots (certifi, grpcio, webpki-roots).
    Mozilla,
    /// The system store (curl, OpenSSL, Go; `SSL_CERT_FILE`, `SSL_CERT_DIR`).
    System,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub auth: crate::credentials::AuthArgs,
    /// Prisma Cloud Compute: name this project in every call (`?project=NAME`, on the central Console).
    #[arg(long, value_name = "NAME", value_parser = parse_project)]
    pub project: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The targets, one per line: `host[:port] [product]` (any TARGET form `check` takes, then an optional
    /// product); `#` starts a comment; blank lines are ignored. `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub targets: PathBuf,
    /// The product of lines that name none.
    #[arg(long, value_enum, default_value_t = Product::Generic)]
    pub product: Product,
    /// How many targets are checked at the same time; each keeps its own deadlines.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub concurrency: u32,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub auth: crate::credentials::AuthArgs,
    /// Prisma Cloud Compute: name this project in every call to a Prisma target (`?project=NAME`).
    #[arg(long, value_name = "NAME", value_parser = parse_project)]
    pub project: Option<String>,
    #[command(flatten)]
    pub output: ScanOutputArgs,
}

#[derive(Debug, Args)]
pub struct ScanOutputArgs {
    /// Output format: `jsonl` streams one report per line as each target finishes; `table` prints a summary
    /// at the end; `json`, `markdown` and `junit` print every report at the end.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Colour in the table: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Write the chosen format to this file (the summary table still goes to the terminal when stdout is one).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    #[command(flatten)]
    pub check: CheckArgs,
    /// The bundle to write.
    #[arg(short = 'o', long = "out", value_name = "FILE.tar.gz")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ChainArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Write the chain as sent (PEM, leaf first) to this file.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The chain to judge: PEM (leaf first), or DER for a single certificate.
    #[arg(long, value_name = "FILE")]
    pub chain: PathBuf,
    /// The name or address clients will ask for (checked against the SANs); without it, names are not checked.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The product the chain belongs to, for product-specific fixes.
    #[arg(long, value_enum, default_value_t = Product::Generic)]
    pub product: Product,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Only these servers (repeatable) [default: all].
    #[arg(long, value_enum)]
    pub scenario: Vec<Scenario>,
    /// Only the servers of this product.
    #[arg(long, value_enum)]
    pub product: Option<Product>,
    /// First port; the servers take consecutive ports [default: any free port].
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Folder for the certificates [default: a new folder under the system's temporary folder].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output format (the demo prints to stdout only: it has no --output or --bundle).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Colour in the table: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// A `--at` value that is not an RFC 3339 time.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 time; write it like 2026-06-01T00:00:00Z")]
pub struct TimeError(String);

/// Parses an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, TimeError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimeError(s.to_string()))
}

/// A `--project` value that cannot name a project.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ProjectError(&'static str);

/// A Prisma Cloud Compute project name: not blank, no control characters, at most 255 bytes.
pub fn parse_project(s: &str) -> Result<String, ProjectError> {
    if s.trim().is_empty() {
        return Err(ProjectError("the project name is empty"));
    }
    if s.chars().any(char::is_control) {
        return Err(ProjectError("a project name has no control characters"));
    }
    if s.len() > 255 {
        return Err(ProjectError("the project name is longer than 255 bytes"));
    }
    Ok(s.to_string())
}

/// A usage problem found after clap: reported with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl From<crate::credentials::CredentialError> for UsageError {
    fn from(e: crate::credentials::CredentialError) -> UsageError {
        UsageError(e.to_string())
    }
}

impl ConnectArgs {
    /// Stage 2: a validated configuration (trust options at their defaults).
    pub fn to_config(&self) -> Result<CheckConfig, UsageError> {
        let target = Target::parse(&self.target).map_err(|e| UsageError(e.to_string()))?;
        let mut cfg = CheckConfig::new(target, self.product);
        self.net.apply(&mut cfg)?;
        Ok(cfg)
    }
}

impl NetArgs {
    /// Applies the connection options to a target's configuration. Errors do not depend on the target, so
    /// a scan finds them before it reads its list (see `ScanArgs::check_options`).
    pub fn apply(&self, cfg: &mut CheckConfig) -> Result<(), UsageError> {
        cfg.resolve = self
            .resolve
            .iter()
            .map(|r| ResolveOverride::parse(r))
            .collect::<Result<_, _>>()
            .map_err(|e| UsageError(e.to_string()))?;
        if let Some(sni) = &self.sni {
            match rustls::pki_types::ServerName::try_from(sni.as_str()) {
                Ok(rustls::pki_types::ServerName::DnsName(_)) => cfg.sni = Some(sni.to_ascii_lowercase()),
                _ => {
                    return Err(UsageError(format!(
                        "--sni `{sni}` is not a DNS name; SNI carries names only (an address sends no SNI)"
                    )))
                }
            }
        }
        cfg.timeouts = self.timeouts();
        cfg.offer = self.offer;
        if self.no_alt_ports {
            cfg.alt_ports.clear();
        } else if let Some(ports) = &self.alt_ports {
            if ports.contains(&0) {
                return Err(UsageError("--alt-ports: 0 is not a port".into()));
            }
            cfg.alt_ports = ports.iter().copied().filter(|p| *p != cfg.port).collect();
            cfg.alt_ports_chosen = true;
        }
        cfg.family = match (self.ipv4, self.ipv6) {
            (true, _) => Some(crate::config::Family::V4),
            (_, true) => Some(crate::config::Family::V6),
            _ => None,
        };
        // A proxy variable that is not UTF-8 is refused, not taken as unset (the run would silently go direct).
        for var in crate::net::proxy::PROXY_VARS {
            if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(var) {
                return Err(UsageError(format!(
                    "{var} is set but is not UTF-8 text: set it to a proxy URL (http://proxy.corp:3128) or unset it"
                )));
            }
        }
        cfg.proxy = crate::net::proxy::ProxySettings::from_flags_and_env(
            self.proxy.as_deref(),
            self.noproxy.as_deref(),
            &|k| std::env::var(k).ok(),
        )
        .map_err(|e| UsageError(e.to_string()))?;
        Ok(())
    }
}

impl NetArgs {
    /// `--timeout`, then each phase's own flag, then `--max-time` (by default 30 s, or the three phase
    /// deadlines together when longer).
    fn timeouts(&self) -> Timeouts {
        let base = match self.timeout {
            Some(t) => Timeouts::with_phases(t, t, t),
            None => Timeouts::default(),
        };
        let phases = Timeouts::with_phases(
            self.dns_timeout.unwrap_or(base.dns),
            self.connect_timeout.unwrap_or(base.connect),
            self.tls_timeout.unwrap_or(base.tls),
        );
        Timeouts {
            max_time: self.max_time.unwrap_or(phases.max_time),
            ..phases
        }
    }
}

impl TrustArgs {
    /// The judging options of a configuration: `--at`, `--warn-days`, `--revocation`.
    pub fn apply(&self, cfg: &mut CheckConfig) {
        cfg.at = self.at;
        cfg.warn_days = i64::from(self.warn_days);
        cfg.revocation = self.revocation;
        cfg.required_stores = self.required_stores();
    }

    /// `--require-store`, as the trust sources it names.
    pub fn required_stores(&self) -> Vec<crate::pki::sources::SourceKind> {
        self.require_store
            .iter()
            .map(|s| match s {
                StoreName::Mozilla => crate::pki::sources::SourceKind::Mozilla,
                StoreName::System => crate::pki::sources::SourceKind::System,
            })
            .collect()
    }
}

impl ScanArgs {
    /// The credentials of every product in the list, read once each. The password (from the variable, the
    /// file or the prompt) is read once, with the first product; the others take it from there.
    pub fn credentials(
        &self,
        products: &[Product],
    ) -> Result<Vec<(Product, crate::credentials::Credentials)>, UsageError> {
        let mut loaded: Vec<(Product, crate::credentials::Credentials)> = Vec::new();
        for &product in products {
            if loaded.iter().any(|(p, _)| *p == product) {
                continue;
            }
            let creds = match loaded.first() {
                None => self.auth.load(product).map_err(UsageError::from)?,
                Some((_, first)) => {
                    let rest = crate::credentials::AuthArgs {
                        user: None,
                        password_env: None,
                        password_file: None,
                        ..self.auth.clone()
                    };
                    let mut c = rest.load(product).map_err(UsageError::from)?;
                    c.user = first.user.clone();
                    c.password = first.password.clone();
                    c
                }
            };
            loaded.push((product, creds));
        }
        Ok(loaded)
    }

    /// The configuration of one line of the list: its target, its product (or `--product`), every option
    /// but the credentials (see `credentials`).
    pub fn config(
        &self,
        target: Target,
        product: Option<Product>,
    ) -> Result<CheckConfig, UsageError> {
        let mut cfg = CheckConfig::new(target, product.unwrap_or(self.product));
        self.net.apply(&mut cfg)?;
        self.trust.apply(&mut cfg);
        cfg.project = self.project.clone();
        Ok(cfg)
    }

    /// The options alone, checked before the list is read: a bad `--resolve` or `--sni` is exit code 2
    /// before anything runs.
    pub fn check_options(&self) -> Result<(), UsageError> {
        let probe = Target::parse("localhost").map_err(|e| UsageError(e.to_string()))?;
        self.config(probe, None).map(|_| ())
    }
}

impl CheckArgs {
    pub fn to_config(&self) -> Result<CheckConfig, UsageError> {
        let mut cfg = self.connect.to_config()?;
        self.trust.apply(&mut cfg);
        if self.project.is_some() && !matches!(cfg.product, Product::Prisma | Product::Auto) {
            return Err(UsageError(format!(
                "--project names a Prisma Cloud Compute project: it needs --product prisma (or auto), not {}",
                cfg.product.as_str()
            )));
        }
        cfg.project = self.project.clone();
        cfg.credentials = self.auth.load(cfg.product).map_err(UsageError::from)?;
        Ok(cfg)
    }
}

impl LabArgs {
    pub fn scenarios(&self) -> Vec<Scenario> {
        let mut list: Vec<Scenario> = if self.scenario.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            self.scenario.clone()
        };
        if let Some(p) = self.product {
            list.retain(|s| s.product() == p);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_args(args: &[&str]) -> Result<CheckConfig, String> {
        let mut argv = vec!["preflight", "check"];
        argv.extend(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Check(c) => c.to_config().map_err(|e| e.0),
            _ => Err("not check".into()),
        }
    }

    #[test]
    fn timeouts_compose() {
        let c = check_args(&["h", "--timeout", "2s", "--tls-timeout", "500ms"]).expect("ok");
        assert_eq!(c.timeouts.dns, Duration::from_secs(2));
        assert_eq!(c.timeouts.connect, Duration::from_secs(2));
        assert_eq!(c.timeouts.tls, Duration::from_millis(500));
        assert_eq!(c.timeouts.max_time, Duration::from_secs(30));
        let c = check_args(&["h"]).expect("ok");
        assert_eq!(c.timeouts, Timeouts::default());
        let c = check_args(&["h", "--max-time", "1500ms"]).expect("ok");
        assert_eq!(c.timeouts.max_time, Duration::from_millis(1500));
        assert_eq!(c.timeouts.tls, Duration::from_secs(10));
        // A raised phase deadline raises the default budget with it; --max-time still wins.
        let c = check_args(&["h", "--timeout", "20s"]).expect("ok");
        assert_eq!(c.timeouts.max_time, Duration::from_secs(60));
        let c = check_args(&["h", "--timeout", "20s", "--max-time", "5s"]).expect("ok");
        assert_eq!(c.timeouts.max_time, Duration::from_secs(5));
    }

    #[test]
    fn deadlines_under_10ms_are_refused_naming_the_flag() {
        for flag in [
            "--timeout",
            "--dns-timeout",
            "--connect-timeout",
            "--tls-timeout",
            "--max-time",
        ] {
            for value in ["1ns", "5ms"] {
                let e = check_args(&["h", flag, value]).unwrap_err();
                assert!(
                    e.contains(flag) && e.contains("10ms or more"),
                    "{flag} {value}: {e}"
                );
            }
            assert!(check_args(&["h", flag, "10ms"]).is_ok(), "{flag} 10ms");
        }
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(check_args(&["h", "--timeout", "soon"])
            .unwrap_err()
            .contains("like 2s"));
        assert!(check_args(&["h", "--sni", "10.0.0.1"])
            .unwrap_err()
            .contains("not a DNS name"));
        assert!(check_args(&["h", "--resolve", "x"])
            .unwrap_err()
            .contains("HOST:PORT:ADDR"));
        assert!(check_args(&["h", "--at", "yesterday"])
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(check_args(&["h:99999"])
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn scan_shares_the_options_of_check() {
        let cli = Cli::try_parse_from([
            "preflight",
            "scan",
            "--targets",
            "-",
            "--product",
            "cvp",
            "--timeout",
            "2s",
            "--at",
            "2026-06-01T00:00:00Z",
            "--warn-days",
            "60",
        ])
        .expect("parse");
        let Command::Scan(args) = cli.command else {
            panic!("not scan")
        };
        assert_eq!(args.concurrency, 64);
        assert_eq!(args.output.format, Format::Table);
        args.check_options().expect("options");
        let line = |t: &str, p| {
            args.config(Target::parse(t).expect("target"), p)
                .expect("ok")
        };
        let c = line("cvp1", None);
        assert_eq!(
            (c.product, c.port, c.alt_ports.clone()),
            (Product::Cvp, 443, vec![8443])
        );
        assert_eq!(c.timeouts.connect, Duration::from_secs(2));
        assert_eq!(c.warn_days, 60);
        assert!(c.at.is_some());
        let c = line("console", Some(Product::Prisma));
        assert_eq!((c.product, c.port), (Product::Prisma, 8083));

        let bad = Cli::try_parse_from(["preflight", "scan", "--targets", "-", "--sni", "10.0.0.1"])
            .expect("parse");
        let Command::Scan(args) = bad.command else {
            panic!("not scan")
        };
        assert!(args
            .check_options()
            .unwrap_err()
            .0
            .contains("not a DNS name"));
        assert!(
            Cli::try_parse_from(["preflight", "scan", "--targets", "-", "--concurrency", "0"])
                .is_err()
        );
    }

    #[test]
    fn alt_ports() {
        let c = check_args(&["h:8443", "--product", "cvp"]).expect("ok");
        assert_eq!(c.alt_ports, vec![443]);
        let c = check_args(&["h:8443", "--product", "cvp", "--no-alt-ports"]).expect("ok");
        assert!(c.alt_ports.is_empty());
        let c = check_args(&["h:1", "--alt-ports", "1,2,3"]).expect("ok");
        assert_eq!(c.alt_ports, vec![2, 3]);
    }
}

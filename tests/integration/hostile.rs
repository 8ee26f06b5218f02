//! Broken and hostile servers: each ends in a clear code within its deadline, never a panic or a hang.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use preflight::lab::Scenario;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback server whose every connection is handled by `handler`; stops when dropped.
struct Server {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn serve<F, Fut>(handler: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            let handler = Arc::new(handler);
            let accept = async {
                loop {
                    let (s, _) = listener.accept().await.unwrap();
                    let h = handler.clone();
                    tokio::spawn(async move { h(s).await });
                }
            };
            tokio::select! { _ = accept => {}, _ = stop_rx => {} }
        });
    });
    Server {
        port: rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        stop: Some(stop_tx),
    }
}

/// Runs a check with a short deadline; asserts it ended cleanly in time and returns the report.
fn check_quickly(port: u16, extra: &[&str]) -> serde_json::Value {
    let start = Instant::now();
    let mut args = vec![format!("127.0.0.1:{port}"), "--timeout".into(), "1s".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, r) = check_json(&refs);
    let took = start.elapsed();
    assert_eq!(
        code, 1,
        "a hostile server fails the run, it does not crash it: {r:#}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    r
}

async fn read_some(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
}

#[test]
fn random_bytes_are_not_tls() {
    let server = serve(|mut s| async move {
        read_some(&mut s).await;
        let mut x: u32 = 0x9e37_79b9;
        let junk: Vec<u8> = std::iter::once(0xFF)
            .chain((0..4095).map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x & 0xff) as u8
            }))
            .collect();
        let _ = s.write_all(&junk).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    });
    let r = check_quickly(server.port, &[]);
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "not_tls".into())
    );
}

/// Forwards a lab server's bytes to the client through `shape`.
fn proxy_to(
    upstream: u16,
    shape: fn(Vec<u8>) -> Vec<Vec<u8>>,
    delay: Duration,
    close_after: Option<usize>,
) -> Server {
    serve(move |mut client| async move {
        let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await else {
            return;
        };
        let mut from_client = vec![0u8; 16 * 1024];
        let mut from_server = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            tokio::select! {
                n = client.read(&mut from_client) => {
                    let Ok(n) = n else { return };
                    if n == 0 || up.write_all(&from_client[..n]).await.is_err() { return; }
                }
                n = up.read(&mut from_server) => {
                    let Ok(n) = n else { return };
                    if n == 0 { return; }
                    for piece in shape(from_server[..n].to_vec()) {
                        if let Some(limit) = close_after {
                            if sent + piece.len() > limit {
                                let _ = client.write_all(&piece[..limit - sent]).await;
                                return;
                            }
                        }
                        sent += piece.len();
                        if client.write_all(&piece).await.is_err() { return; }
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
    })
}

#[test]
fn tls_one_byte_at_a_time_hits_the_deadline() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let slow = proxy_to(
        lab.addr(Scenario::Cvp).port(),
        |b| b.into_iter().map(|x| vec![x]).collect(),
        Duration::from_millis(25),
        None,
    );
    let r = check_quickly(slow.port, &[]);
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "tls_timeout".into())
    );
}

#[test]
fn closed_in_the_middle_of_the_handshake() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let cut = proxy_to(
        lab.addr(Scenario::Cvp).port(),
        |b| vec![b],
        Duration::ZERO,
        Some(60),
    );
    let r = check_quickly(cut.port, &[]);
    let (status, code) = outcome(&r, "tls.handshake");
    assert_eq!(
        (status.as_str(), code.as_str()),
        ("fail", "tls_handshake_failed"),
        "{r:#}"
    );
    assert!(
        check(&r, "tls.handshake")["summary"]
            .as_str()
            .unwrap()
            .contains("closed the connection in the middle"),
        "{r:#}"
    );
}

#[test]
fn reset_at_the_client_hello() {
    let server = serve(|mut s| async move {
        read_some(&mut s).await;
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        drop(s);
    });
    let r = check_quickly(server.port, &[]);
    let hs = check(&r, "tls.handshake");
    assert_eq!(hs["code"], "tls_handshake_failed", "{r:#}");
    assert!(
        hs["summary"]
            .as_str()
            .unwrap()
            .contains("closed the connection without answering"),
        "{r:#}"
    );
}

/// A TLS 1.2 server flight (ECDHE-ECDSA-AES128-GCM) whose Certificate message holds no certificate.
fn empty_certificate_flight() -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend([0x42u8; 32]); // server random
    hello.push(0); // no session id
    hello.extend([0xC0, 0x2B]); // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    hello.push(0); // no compression
    hello.extend([0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00]); // renegotiation_info, empty
    let mut msgs = vec![0x02, 0, 0, hello.len() as u8];
    msgs.extend(hello);
    msgs.extend([0x0b, 0, 0, 3, 0, 0, 0]); // Certificate: certificate_list of length 0
                                           // ServerKeyExchange (x25519 share, a signature that will never be checked), then ServerHelloDone: the
                                           // client judges the certificate list when the server's flight is complete.
    let mut kx = vec![0x03, 0x00, 0x1d, 0x20];
    kx.extend([0x09u8; 32]);
    kx.extend([0x04, 0x03, 0x00, 0x40]);
    kx.extend([0x07u8; 64]);
    msgs.extend([0x0c, 0, 0, kx.len() as u8]);
    msgs.extend(kx);
    msgs.extend([0x0e, 0, 0, 0]);
    let mut record = vec![0x16, 0x03, 0x03, (msgs.len() >> 8) as u8, msgs.len() as u8];
    record.extend(msgs);
    record
}

#[test]
fn empty_certificate_list() {
    let server = serve(|mut s| async move {
        read_some(&mut s).await;
        let _ = s.write_all(&empty_certificate_flight()).await;
        read_some(&mut s).await;
    });
    let r = check_quickly(server.port, &[]);
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "empty_chain".into()),
        "{r:#}"
    );
    assert_eq!(outcome(&r, "cert.chain"), ("skip".into(), "skipped".into()));
}

/// A rustls server that sends `chain` (whatever it holds) with a valid key for the first certificate.
fn tls_server(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, signing));
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve(move |s| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(Ok(mut tls)) =
                tokio::time::timeout(Duration::from_secs(3), acceptor.accept(s)).await
            {
                let mut buf = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buf)).await;
            }
        }
    })
}

#[test]
fn fifty_certificates() {
    let leaf = preflight::lab::certs::self_signed_server("many.preflight.test", ISSUED_AT).unwrap();
    let mut chain = vec![leaf.der.clone()];
    for i in 0..49 {
        chain.push(
            preflight::lab::certs::self_signed_server(
                &format!("extra{i}.preflight.test"),
                ISSUED_AT,
            )
            .unwrap()
            .der,
        );
    }
    let server = tls_server(chain, leaf.key());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("leaf.pem");
    std::fs::write(&ca, &leaf.cert_pem).unwrap();
    let (code, r) = check_json(&[
        &format!("127.0.0.1:{}", server.port),
        "--ca",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["certificates"].as_array().unwrap().len(), 50);
    assert_eq!(
        outcome(&r, "trust.custom"),
        ("warn".into(), "unrelated_certificate".into())
    );
}

#[test]
fn a_chain_of_200_kilobytes() {
    let leaf = preflight::lab::certs::self_signed_server("huge.preflight.test", ISSUED_AT).unwrap();
    let filler = preflight::lab::certs::self_signed_server("filler.preflight.test", ISSUED_AT)
        .unwrap()
        .der;
    let mut chain = vec![leaf.der.clone()];
    while chain.iter().map(|c| c.len()).sum::<usize>() < 200 * 1024 {
        chain.push(filler.clone());
    }
    let server = tls_server(chain, leaf.key());
    let r = check_quickly(server.port, &[]);
    // rustls refuses a handshake message that large: a clean failure, named.
    let hs = check(&r, "tls.handshake");
    assert_eq!(hs["status"], "fail", "{r:#}");
    assert_eq!(hs["code"], "certificate_too_large", "{r:#}");
    assert!(
        hs["summary"].as_str().unwrap().contains("over 64 KB"),
        "{r:#}"
    );
}

#[test]
fn certificates_that_are_not_der() {
    let leaf =
        preflight::lab::certs::self_signed_server("garbage.preflight.test", ISSUED_AT).unwrap();
    let garbage = rustls::pki_types::CertificateDer::from(
        b"\x30\x82\x01\x00this is not a certificate".to_vec(),
    );
    let server = tls_server(vec![garbage], leaf.key());
    let r = check_quickly(server.port, &[]);
    assert_eq!(
        outcome(&r, "tls.handshake"),
        ("fail".into(), "cert_unparsable".into()),
        "{r:#}"
    );
    assert_eq!(
        outcome(&r, "cert.chain"),
        ("fail".into(), "cert_unparsable".into()),
        "{r:#}"
    );
    assert!(r["certificates"][0]["parse_error"].is_string());
}

// Issue 7: a TLS server that negotiates h2 and answers the CloudVision gRPC probe with garbage. Each case must
// end `grpc.<port>` with a clear code and sentence within the deadline: no panic, no hang, no unbounded buffer.

/// The deadline the gRPC cases run with (`--timeout`), and how long a run may take at most: the gRPC deadline,
/// then the login probe's (also capped at the same value), and slack for a loaded 2-core machine.
const GRPC_DEADLINE: &str = "3s";
const GRPC_RUN_LIMIT: Duration = Duration::from_secs(9);
/// A garbage answer is an answer: those runs end before any deadline (3 s) fires.
const ANSWERED_AT_ONCE: Duration = Duration::from_secs(3);

/// A TLS server that negotiates only h2 (on a self-signed certificate for the lab's loopback names) and hands
/// each decrypted connection to `handler`. Returns the server and the certificate's PEM file, for `--ca`.
fn h2_tls_server<F, Fut>(handler: F) -> (Server, tempfile::TempDir, std::path::PathBuf)
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    alpn_tls_server(b"h2", handler)
}

/// [`h2_tls_server`] for any one ALPN protocol.
fn alpn_tls_server<F, Fut>(
    alpn: &[u8],
    handler: F,
) -> (Server, tempfile::TempDir, std::path::PathBuf)
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let issued =
        preflight::lab::certs::self_signed_server("grpc.preflight.test", ISSUED_AT).unwrap();
    let config = server_config(vec![issued.der.clone()], issued.key(), &[alpn]);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let handler = Arc::new(handler);
    let server = serve(move |s| {
        let (acceptor, handler) = (acceptor.clone(), handler.clone());
        async move {
            if let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(3), acceptor.accept(s)).await
            {
                handler(tls).await;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("grpc.pem");
    std::fs::write(&ca, &issued.cert_pem).unwrap();
    (server, dir, ca)
}

type AnyBody =
    http_body_util::combinators::UnsyncBoxBody<hyper::body::Bytes, std::convert::Infallible>;

/// A valid HTTP/2 server (hyper) over `h2_tls_server`: the gRPC GetOne call gets `answer()`, anything else
/// (the login probe) a plain 405, as CloudVision answers a GET on its login endpoint.
fn grpc_server(
    answer: impl Fn() -> hyper::Response<AnyBody> + Send + Sync + 'static,
) -> (Server, tempfile::TempDir, std::path::PathBuf) {
    use http_body_util::BodyExt;
    let answer = Arc::new(answer);
    h2_tls_server(move |tls| {
        let answer = answer.clone();
        async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let res = if req.uri().path() == preflight::net::grpc::GET_ONE {
                        answer()
                    } else {
                        let mut r =
                            hyper::Response::new(http_body_util::Empty::new().boxed_unsync());
                        *r.status_mut() = hyper::StatusCode::METHOD_NOT_ALLOWED;
                        r
                    };
                    async move { Ok::<_, std::convert::Infallible>(res) }
                });
            let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        }
    })
}

/// HTTP 200 with `content-type: application/grpc` and `body`.
fn grpc_response(body: AnyBody) -> hyper::Response<AnyBody> {
    let mut r = hyper::Response::new(body);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/grpc"),
    );
    r
}

/// Runs `preflight check 127.0.0.1:PORT --product cvp --ca CA --timeout 3s` (JSON, then the table), killed if
/// it outlives GRPC_RUN_LIMIT; asserts no panic and the exit code. Returns the report, the table and the time
/// the JSON run took.
fn grpc_probe(port: u16, ca: &std::path::Path, exit: i32) -> (serde_json::Value, String, Duration) {
    let target = format!("127.0.0.1:{port}");
    let args = [
        "check",
        &target,
        "--product",
        "cvp",
        "--ca",
        ca.to_str().unwrap(),
        "--timeout",
        GRPC_DEADLINE,
        "--at",
        JUDGE_AT,
    ];
    let start = Instant::now();
    let out = output_within(
        preflight().args(args).args(["--format", "json"]),
        None,
        GRPC_RUN_LIMIT,
    );
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(out.status.code(), Some(exit), "{report:#}\n{stderr}");
    let table = output_within(preflight().args(args), None, GRPC_RUN_LIMIT);
    let text = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(!String::from_utf8_lossy(&table.stderr).contains("panicked"));
    assert!(text.contains(&format!("grpc.{port}")), "{text}");
    (report, text, took)
}

/// The `grpc.<port>` check: asserts its status and code, that its sentence names the port and shows no Rust
/// internals, and that it ended within the deadline. Returns the summary.
fn assert_grpc(report: &serde_json::Value, port: u16, status: &str, code: &str) -> String {
    let id = format!("grpc.{port}");
    let c = check(report, &id);
    assert_eq!(
        (c["status"].as_str().unwrap(), c["code"].as_str().unwrap()),
        (status, code),
        "{c:#}"
    );
    let summary = c["summary"].as_str().unwrap().to_string();
    assert!(summary.contains(&port.to_string()), "{summary}");
    for internal in [
        "panicked", "Error {", "Kind(", "hyper::", "h2::", "Some(", "\"", "\\",
    ] {
        assert!(!summary.contains(internal), "{internal} in {summary:?}");
    }
    if let Some(ms) = c["elapsed_ms"].as_u64() {
        assert!(ms < 4_000, "{id} took {ms} ms with a 3 s deadline");
    }
    summary
}

/// xorshift bytes: the same garbage every run.
fn garbage(n: usize, mut x: u32) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

#[test]
fn grpc_garbage_instead_of_the_http2_preface() {
    let (server, _dir, ca) = h2_tls_server(|mut tls| async move {
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buf)).await;
        let _ = tls.write_all(&garbage(4096, 0x9e37_79b9)).await;
        let _ = tls.flush().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let (r, table, took) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    eprintln!("garbage preface: {took:?}: {summary}\n{table}");
    assert!(took < ANSWERED_AT_ONCE, "took {took:?}");
}

#[test]
fn grpc_answer_that_is_not_a_grpc_message() {
    // HTTP 200, application/grpc, a message header that claims 4 GiB followed by a few random bytes, and no
    // trailers at all.
    let (server, _dir, ca) = grpc_server(|| {
        use http_body_util::BodyExt;
        let mut body = vec![0u8, 0xff, 0xff, 0xff, 0xff];
        body.extend(garbage(27, 0x1234_5678));
        grpc_response(http_body_util::Full::new(body.into()).boxed_unsync())
    });
    let (r, table, took) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    eprintln!("not a gRPC message: {took:?}: {summary}\n{table}");
    assert!(took < ANSWERED_AT_ONCE, "took {took:?}");
    assert!(summary.contains("grpc-status"), "{summary}");
}

#[test]
fn grpc_status_that_is_not_a_number() {
    let (server, _dir, ca) = grpc_server(|| {
        use http_body_util::BodyExt;
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert(
            "grpc-status",
            hyper::header::HeaderValue::from_static("banana"),
        );
        grpc_response(
            preflight::lab::http::LabBody::with_trailers(Vec::new(), trailers).boxed_unsync(),
        )
    });
    let (r, table, took) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    eprintln!("grpc-status banana: {took:?}: {summary}\n{table}");
    assert!(summary.contains("not a gRPC status code"), "{summary}");
    assert!(took < ANSWERED_AT_ONCE, "took {took:?}");
}

/// A gRPC server whose GetOne answer is well-framed 16 KiB messages, one after another, forever, and never a
/// trailer. Also returns how many bytes hyper has taken from the body (what the client let it send, plus a frame).
fn endless_grpc_server() -> (
    Server,
    tempfile::TempDir,
    std::path::PathBuf,
    Arc<std::sync::atomic::AtomicU64>,
) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let (server, dir, ca) = grpc_server(move || {
        use http_body_util::BodyExt;
        let mut chunk = vec![0u8; 16 * 1024];
        chunk[1..5].copy_from_slice(&((16 * 1024 - 5) as u32).to_be_bytes());
        let chunk = hyper::body::Bytes::from(chunk);
        let counter = counter.clone();
        let frames = futures_util::stream::repeat_with(move || {
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Ok(hyper::body::Frame::data(chunk.clone()))
        });
        grpc_response(http_body_util::StreamBody::new(frames).boxed_unsync())
    });
    (server, dir, ca, sent)
}

#[test]
fn grpc_data_that_never_ends() {
    let (server, _dir, ca, sent) = endless_grpc_server();
    let (r, table, took) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    let mib = sent.load(std::sync::atomic::Ordering::Relaxed) >> 20;
    eprintln!("endless DATA: {took:?}, {mib} MiB sent: {summary}\n{table}");
    // The gRPC deadline (3 s) stops it; the login probe that follows is answered at once.
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

#[test]
fn grpc_data_that_never_ends_is_not_buffered() {
    let (server, _dir, ca, sent) = endless_grpc_server();
    let (r, _, _) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    // HTTP/2 flow control: the server can send only what the client reads, plus its window (a few MiB).
    let mib = sent.load(std::sync::atomic::Ordering::Relaxed) >> 20;
    assert!(
        mib < 16,
        "the probe read {mib} MiB of an endless answer: {summary}"
    );
}

/// A hand-made HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend(stream.to_be_bytes());
    f.extend(payload);
    f
}

/// A minimal HTTP/2 server by hand: SETTINGS, SETTINGS ACKs, and `on_headers(stream)` written as soon as the
/// client's HEADERS frame arrives; then it keeps the connection open a while.
async fn h2_by_hand(
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    on_headers: fn(u32) -> Vec<u8>,
) {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let _ = tls.write_all(&h2_frame(0x4, 0, 0, &[])).await;
    let mut seen = Vec::new();
    let mut preface_done = false;
    let mut buf = [0u8; 16 * 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        if !preface_done {
            if seen.len() < PREFACE.len() {
                continue;
            }
            if !seen.starts_with(PREFACE) {
                return;
            }
            seen.drain(..PREFACE.len());
            preface_done = true;
        }
        while seen.len() >= 9 {
            let len =
                (usize::from(seen[0]) << 16) | (usize::from(seen[1]) << 8) | usize::from(seen[2]);
            if seen.len() < 9 + len {
                break;
            }
            let (kind, flags) = (seen[3], seen[4]);
            let stream = u32::from_be_bytes([seen[5], seen[6], seen[7], seen[8]]) & 0x7fff_ffff;
            seen.drain(..9 + len);
            let reply = match kind {
                0x4 if flags & 0x1 == 0 => h2_frame(0x4, 0x1, 0, &[]),
                0x1 => on_headers(stream),
                _ => continue,
            };
            if tls.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

#[test]
fn grpc_stream_reset_after_the_request_headers() {
    // RST_STREAM with INTERNAL_ERROR (2) on the call's stream.
    let (server, _dir, ca) = h2_tls_server(|tls| {
        h2_by_hand(tls, |stream| h2_frame(0x3, 0, stream, &2u32.to_be_bytes()))
    });
    let (r, table, took) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    eprintln!("RST_STREAM: {took:?}: {summary}\n{table}");
    assert!(took < ANSWERED_AT_ONCE, "took {took:?}");
}

#[test]
fn grpc_goaway_after_the_request_headers() {
    // GOAWAY: last stream 0 (the call was not processed), ENHANCE_YOUR_CALM (0xb), with a debug text.
    let (server, _dir, ca) = h2_tls_server(|tls| {
        h2_by_hand(tls, |_| {
            let mut payload = 0u32.to_be_bytes().to_vec();
            payload.extend(0xbu32.to_be_bytes());
            payload.extend(b"too many requests");
            h2_frame(0x7, 0, 0, &payload)
        })
    });
    let (r, table, took) = grpc_probe(server.port, &ca, 1);
    let summary = assert_grpc(&r, server.port, "fail", "http_failed");
    eprintln!("GOAWAY: {took:?}: {summary}\n{table}");
    assert!(took < ANSWERED_AT_ONCE, "took {took:?}");
}

// HTTP answers that never end: a TLS server (ALPN http/1.1) whose every request gets `head` and then `body`
// chunks for as long as the client reads. The Prisma probe (`product.ping`) must read at most its cap and
// finish within its deadline; `sent` counts what the server got to write.

fn http_forever(
    head: &'static str,
    chunk: &'static [u8],
) -> (
    Server,
    tempfile::TempDir,
    std::path::PathBuf,
    Arc<std::sync::atomic::AtomicU64>,
) {
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let (server, dir, pem) = alpn_tls_server(b"http/1.1", move |mut tls| {
        let counter = counter.clone();
        async move {
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(3), tls.read(&mut buf)).await;
            if tls.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    if chunk.is_empty() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    if tls.write_all(chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            })
            .await;
        }
    });
    (server, dir, pem, sent)
}

fn ping_forever(head: &'static str, chunk: &'static [u8]) -> (serde_json::Value, Duration, u64) {
    let (server, _dir, pem, sent) = http_forever(head, chunk);
    let start = Instant::now();
    let out = output_within(
        preflight().args([
            "check",
            &format!("127.0.0.1:{}", server.port),
            "--product",
            "prisma",
            "--ca",
            pem.to_str().unwrap(),
            "--timeout",
            "2s",
            "--format",
            "json",
            "--at",
            JUDGE_AT,
        ]),
        None,
        Duration::from_secs(10),
    );
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        r,
        took,
        sent.load(std::sync::atomic::Ordering::Relaxed) >> 20,
    )
}

static MIB: [u8; 1 << 20] = [b'x'; 1 << 20];

#[test]
fn http_body_of_five_gigabytes_is_read_to_its_cap() {
    let (r, took, mib) = ping_forever(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000000000\r\n\r\n",
        &MIB,
    );
    // The 200 is the answer; the body is read to the 64 KB cap and dropped.
    assert_eq!(
        outcome(&r, "product.ping"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(mib < 64, "the server got to send {mib} MiB");
}

#[test]
fn http_chunked_body_that_never_ends_is_read_to_its_cap() {
    static CHUNK: &[u8] = b"4000\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    // A chunk header claiming 16 KiB, then the bytes, forever (hyper sees one endless chunked body).
    let (r, took, mib) = ping_forever(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        CHUNK,
    );
    let (status, _) = outcome(&r, "product.ping");
    assert_ne!(status, "error", "{r:#}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(mib < 64, "the server got to send {mib} MiB");
}

#[test]
fn http_body_that_stalls_ends_at_the_deadline() {
    let (r, took, _) = ping_forever(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial",
        b"",
    );
    let c = check(&r, "product.ping");
    assert_ne!(c["status"], "pass", "{r:#}");
    assert!(
        c["summary"].as_str().unwrap().contains("in time")
            || c["summary"].as_str().unwrap().contains("within"),
        "{c:#}"
    );
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

#[test]
fn certificates_with_malformed_extensions() {
    // Valid DER around extensions that are not: a SAN whose value is not GeneralNames, and an unknown
    // critical extension. Judged, explained, never a crash.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["ext.preflight.test".to_string()]).unwrap();
    p.not_before = ISSUED_AT - time::Duration::days(1);
    p.not_after = ISSUED_AT + time::Duration::days(365);
    p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 17],
        b"\x30\x05\x82\x03\xff\xfe".to_vec(),
    )];
    let mut critical =
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
    critical.set_criticality(true);
    p.custom_extensions.push(critical);
    let cert = p.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ext.pem");
    std::fs::write(&pem, cert.pem()).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let server = tls_server(vec![cert.der().clone()], der);
    let r = check_quickly(server.port, &[]);
    // rustls cannot use it even to check the handshake signature (rcgen wrote a SAN of its own, so the
    // extension is there twice, which webpki sees first): said in words, with the code of that cause; the
    // chain is still shown and judged.
    let hs = check(&r, "tls.handshake");
    assert_eq!(hs["code"], "duplicate_extension", "{r:#}");
    assert!(
        hs["summary"]
            .as_str()
            .unwrap()
            .contains("the extension subjectAltName twice"),
        "{hs:#}"
    );
    assert!(
        !hs["summary"].as_str().unwrap().contains("Other("),
        "{hs:#}"
    );
    assert_eq!(r["certificates"].as_array().unwrap().len(), 1);
    let mozilla = check(&r, "trust.mozilla");
    assert_eq!(mozilla["status"], "fail");
    assert!(
        mozilla["summary"]
            .as_str()
            .unwrap()
            .contains("subjectAltName twice"),
        "{mozilla:#}"
    );
    assert!(!check(&r, "product.detect")["summary"]
        .as_str()
        .unwrap()
        .contains("ALPN"));
    // As a trust anchor it is refused in words, naming the certificate (exit 2, a bad local file).
    let out = preflight()
        .args([
            "check",
            &format!("127.0.0.1:{}", server.port),
            "--ca",
            pem.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot be used as a trust anchor"),
        "{stderr}"
    );
}

//! Broken and hostile servers: each ends in a clear code within its deadline, never a panic or a hang.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
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
    assert!(
        hs["summary"].as_str().unwrap().contains("too large"),
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

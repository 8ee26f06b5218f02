//! The lab as a product emulator, driven by real clients: reqwest (rustls with ring) for REST, hyper's
//! HTTP/2 client for gRPC (the status read from the trailers), and rustls alone for ALPN. Each endpoint ×
//! each outcome, with the lab's credentials and ready-made tokens.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use preflight::lab::{jwt, Credentials, Lab, LabOptions, Scenario};
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;

/// A lab with these servers, in this test's runtime. Keep the guard: the folder goes with it.
async fn lab(scenarios: &[Scenario]) -> (Lab, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = LabOptions::new(dir.path().to_path_buf(), datetime!(2026-01-15 00:00:00 UTC));
    opts.scenarios = scenarios.to_vec();
    (Lab::start(&opts).await.unwrap(), dir)
}

fn server(lab: &Lab, s: Scenario) -> (SocketAddr, String, std::path::PathBuf) {
    let srv = lab.server(s).unwrap();
    (srv.addr, srv.url.clone(), srv.trust_file.clone().unwrap())
}

/// A rustls client configuration (ring) trusting `ca`, offering `alpn`, presenting the lab's client
/// certificate when `client` is given.
fn tls(ca: &Path, alpn: &[&[u8]], client: Option<(&Path, &Path)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// reqwest over rustls (ring), trusting the server's CA.
fn client(ca: &Path) -> reqwest::Client {
    client_with(ca, None)
}

fn client_with(ca: &Path, identity: Option<(&Path, &Path)>) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls(ca, &[], identity))
        .build()
        .unwrap()
}

/// `https://localhost:PORT` + path: the name the lab certificates carry.
fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

fn claims(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    let decode = |p: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    (decode(parts[0]), decode(parts[1]))
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------------------------------------
// gRPC over hyper's HTTP/2 client.

/// The request for `GetOne` of device "X" (products.md).
const GET_ONE_X: [u8; 12] = [0, 0, 0, 0, 7, 0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x58];

#[derive(Debug)]
struct GrpcAnswer {
    http: u16,
    content_type: String,
    /// `grpc-status` from the trailers.
    status: Option<String>,
    message: Option<String>,
    data: Bytes,
}

async fn tls_connect(
    addr: SocketAddr,
    config: rustls::ClientConfig,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// One gRPC call over HTTP/2 (ALPN h2) with `authorization: Bearer token` when given.
async fn grpc_with(
    addr: SocketAddr,
    config: rustls::ClientConfig,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<GrpcAnswer, String> {
    let tls = tls_connect(addr, config).await.map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::post(format!("https://localhost:{}{path}", addr.port()))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let res = send.send_request(req).await.map_err(|e| e.to_string())?;
    let http = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let collected = res.into_body().collect().await.map_err(|e| e.to_string())?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let text = |k: &str| trailers.get(k).map(|v| v.to_str().unwrap().to_string());
    Ok(GrpcAnswer {
        http,
        content_type,
        status: text("grpc-status"),
        message: text("grpc-message"),
        data: collected.to_bytes(),
    })
}

async fn grpc(addr: SocketAddr, ca: &Path, path: &str, token: Option<&str>) -> GrpcAnswer {
    let body: &[u8] = if path.ends_with("GetOne") {
        &GET_ONE_X
    } else {
        &[0, 0, 0, 0, 0]
    };
    grpc_with(addr, tls(ca, &[b"h2"], None), path, token, body)
        .await
        .unwrap()
}

const GET_ONE: &str = "/arista.inventory.v1.DeviceService/GetOne";
const GET_ALL: &str = "/arista.inventory.v1.DeviceService/GetAll";

// ---------------------------------------------------------------------------------------------------------
// CloudVision

const LOGIN: &str = "/cvpservice/login/authenticate.do";
const INFO: &str = "/cvpservice/cvpInfo/getCvpInfo.do";

#[tokio::test]
async fn cvp_login_in_both_body_forms_sets_the_access_token_cookie() {
    let (lab, _dir) = lab(&[Scenario::Cvp]).await;
    let (addr, _, ca) = server(&lab, Scenario::Cvp);
    let http = client(&ca);
    let body = json!({"userId": Credentials::CVP_USER, "password": Credentials::CVP_PASSWORD});
    for path in [LOGIN, "/web/login/authenticate.do"] {
        let res = http.post(url(addr, path)).json(&body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
        let v: Value = res.json().await.unwrap();
        let token = v["sessionId"].as_str().unwrap();
        assert_eq!(
            cookie,
            format!("access_token={token}; Path=/; Secure; HttpOnly")
        );
        assert_eq!(v["username"], Credentials::CVP_USER);
        assert_eq!(v["roles"], json!(["network-admin"]));
        assert!(v["permissionList"]
            .as_array()
            .is_some_and(|p| !p.is_empty()));
        assert_eq!(v["user"]["userId"], Credentials::CVP_USER);
        let (header, c) = claims(token);
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
        assert_eq!(c["dsn"], Credentials::CVP_USER);
        let exp = c["exp"].as_i64().unwrap();
        assert!((exp - now() - 24 * 3600).abs() < 60, "a session lasts 24 h");
        // The session works, as a Bearer and as the cookie.
        let info = http
            .get(url(addr, INFO))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), StatusCode::OK);
        let info = http
            .get(url(addr, INFO))
            .header("cookie", format!("access_token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), StatusCode::OK);
    }
    // HTTP Basic, as the vendor page's example logs in.
    let res = http
        .post(url(addr, LOGIN))
        .basic_auth(Credentials::CVP_USER, Some(Credentials::CVP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("set-cookie"));
    let v: Value = res.json().await.unwrap();
    assert!(v["sessionId"].as_str().is_some());
    // The read-only user logs in too.
    let res = http
        .post(url(addr, LOGIN))
        .json(&json!({"userId": Credentials::CVP_VIEWER_USER, "password": Credentials::CVP_VIEWER_PASSWORD}))
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["roles"], json!(["viewer"]));
}

#[tokio::test]
async fn cvp_bad_login_is_200_with_an_error_code_and_legacy_401() {
    let (lab, _dir) = lab(&[Scenario::Cvp, Scenario::CvpLegacy]).await;
    let (addr, _, ca) = server(&lab, Scenario::Cvp);
    let http = client(&ca);
    let bad = json!({"userId": Credentials::CVP_USER, "password": "wrong"});
    let res = http.post(url(addr, LOGIN)).json(&bad).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "modern CVP: 200 even so");
    assert!(!res.headers().contains_key("set-cookie"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v,
        json!({"errorCode": "112498", "errorMessage": "Invalid credentials"})
    );
    let res = http
        .post(url(addr, LOGIN))
        .basic_auth("nobody", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["errorMessage"],
        "Invalid credentials"
    );
    // No credentials at all.
    let res = http.post(url(addr, LOGIN)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // GET is not a login.
    let res = http.get(url(addr, LOGIN)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    let (legacy, _, _) = server(&lab, Scenario::CvpLegacy);
    // The legacy release takes HTTP Basic only.
    let res = http
        .post(url(legacy, LOGIN))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = http
        .post(url(legacy, LOGIN))
        .basic_auth(Credentials::CVP_USER, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"errorMessage": "User is unauthorized"})
    );
    let res = http
        .post(url(legacy, LOGIN))
        .basic_auth(Credentials::CVP_USER, Some(Credentials::CVP_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let res = http
        .get(url(legacy, INFO))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"version": "2021.2.2", "appVersion": ""})
    );
}

#[tokio::test]
async fn cvp_info_in_its_three_forms_and_401_without_a_good_token() {
    let (lab, _dir) = lab(&[Scenario::Cvp, Scenario::Cvp2026, Scenario::Cvaas]).await;
    let t = &lab.tokens;
    let (addr, _, ca) = server(&lab, Scenario::Cvp);
    let http = client(&ca);
    let res = http
        .get(url(addr, INFO))
        .bearer_auth(&t.cvp_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"version": "2024.3.0", "appVersion": ""})
    );
    for token in [&t.cvp_viewer, &t.cvp_expiring] {
        let res = http
            .get(url(addr, INFO))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = http
        .get(url(addr, INFO))
        .header(
            "cookie",
            format!("theme=dark; access_token={}", t.cvp_valid),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let forged = jwt::encode(
        "RS256",
        &json!({"dsn": Credentials::CVP_SERVICE_ACCOUNT, "exp": now() + 60}),
    )
    .replace('.', ".x");
    let unknown_account = jwt::cvp_token("someone-else", jwt::DST_ACCOUNT, now(), now() + 60);
    let prisma_token = t.prisma_valid.clone();
    for (what, req) in [
        ("no token", http.get(url(addr, INFO))),
        (
            "expired",
            http.get(url(addr, INFO)).bearer_auth(&t.cvp_expired),
        ),
        (
            "opaque",
            http.get(url(addr, INFO)).bearer_auth("0123456789abcdef"),
        ),
        ("forged", http.get(url(addr, INFO)).bearer_auth(&forged)),
        (
            "unknown account",
            http.get(url(addr, INFO)).bearer_auth(&unknown_account),
        ),
        (
            "a Prisma token",
            http.get(url(addr, INFO)).bearer_auth(&prisma_token),
        ),
        (
            "expired cookie",
            http.get(url(addr, INFO))
                .header("cookie", format!("access_token={}", t.cvp_expired)),
        ),
        (
            "Basic",
            http.get(url(addr, INFO))
                .basic_auth(Credentials::CVP_USER, Some(Credentials::CVP_PASSWORD)),
        ),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
    }

    let (v2026, _, _) = server(&lab, Scenario::Cvp2026);
    let res = http
        .get(url(v2026, INFO))
        .bearer_auth(&t.cvp_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), "2026.1.3");

    let (cvaas, _, cvaas_ca) = server(&lab, Scenario::Cvaas);
    let http = client(&cvaas_ca);
    let res = http
        .get(url(cvaas, INFO))
        .bearer_auth(&t.cvp_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"version": "CVaaS"})
    );
    // CVaaS: service accounts only; an on-prem session and a password login are not for it.
    let res = http
        .get(url(cvaas, INFO))
        .bearer_auth(&t.cvp_viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = http
        .post(url(cvaas, LOGIN))
        .json(&json!({"userId": Credentials::CVP_USER, "password": Credentials::CVP_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cvp_rest_needs_a_valid_token_and_the_inventory_needs_the_role() {
    let (lab, _dir) = lab(&[Scenario::Cvp]).await;
    let t = &lab.tokens;
    let (addr, _, ca) = server(&lab, Scenario::Cvp);
    let http = client(&ca);
    let rest = url(addr, "/api/v1/rest/");
    let ok = http
        .get(&rest)
        .bearer_auth(&t.cvp_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let ok = http
        .get(&rest)
        .header("cookie", format!("access_token={}", t.cvp_valid))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    for req in [
        http.get(&rest),
        http.get(&rest).bearer_auth(&t.cvp_expired),
        http.get(&rest).bearer_auth("junk"),
    ] {
        assert_eq!(req.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let inventory = url(addr, "/cvpservice/inventory/devices");
    let res = http
        .get(&inventory)
        .bearer_auth(&t.cvp_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    let res = http
        .get(&inventory)
        .bearer_auth(&t.cvp_viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = http.get(&inventory).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The UI root and an unknown path.
    assert_eq!(
        http.get(url(addr, "/")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        http.get(url(addr, "/nothing/here"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn cvp_grpc_statuses_0_5_7_16_in_the_trailers() {
    let (lab, _dir) = lab(&[Scenario::Cvp, Scenario::Cvaas]).await;
    let t = &lab.tokens;
    let (addr, _, ca) = server(&lab, Scenario::Cvp);

    let a = grpc(addr, &ca, GET_ONE, Some(&t.cvp_valid)).await;
    assert_eq!((a.http, a.content_type.as_str()), (200, "application/grpc"));
    assert_eq!(
        a.status.as_deref(),
        Some("5"),
        "NOT_FOUND: the token was accepted"
    );
    assert!(a.data.is_empty());
    let a = grpc(addr, &ca, GET_ALL, Some(&t.cvp_valid)).await;
    assert_eq!(
        a.status.as_deref(),
        Some("0"),
        "GetAll: OK, an empty stream"
    );
    for path in [GET_ONE, GET_ALL] {
        let a = grpc(addr, &ca, path, Some(&t.cvp_viewer)).await;
        assert_eq!(
            a.status.as_deref(),
            Some("7"),
            "viewer: PERMISSION_DENIED on {path}"
        );
        for (what, token) in [
            ("missing", None),
            ("expired", Some(t.cvp_expired.as_str())),
            ("invalid", Some("not-a-token")),
            ("a Prisma token", Some(t.prisma_valid.as_str())),
        ] {
            let a = grpc(addr, &ca, path, token).await;
            assert_eq!(a.http, 200);
            assert_eq!(
                a.status.as_deref(),
                Some("16"),
                "{what}: UNAUTHENTICATED on {path}"
            );
            assert!(a.message.is_some_and(|m| !m.is_empty()));
        }
    }
    // A session from a password login is accepted on gRPC too.
    let res = client(&ca)
        .post(url(addr, LOGIN))
        .json(&json!({"userId": Credentials::CVP_USER, "password": Credentials::CVP_PASSWORD}))
        .send()
        .await
        .unwrap();
    let session = res.json::<Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        grpc(addr, &ca, GET_ONE, Some(&session))
            .await
            .status
            .as_deref(),
        Some("5")
    );
    // No reflection or health service; broken framing.
    let a = grpc(
        addr,
        &ca,
        "/grpc.health.v1.Health/Check",
        Some(&t.cvp_valid),
    )
    .await;
    assert_eq!(a.status.as_deref(), Some("12"));
    let a = grpc_with(
        addr,
        tls(&ca, &[b"h2"], None),
        GET_ONE,
        Some(&t.cvp_valid),
        &[0, 0, 0, 0, 9],
    )
    .await
    .unwrap();
    assert_eq!(a.status.as_deref(), Some("13"));

    let (cvaas, _, cvaas_ca) = server(&lab, Scenario::Cvaas);
    let a = grpc(cvaas, &cvaas_ca, GET_ONE, Some(&t.cvp_valid)).await;
    assert_eq!(a.status.as_deref(), Some("5"));
    let a = grpc(cvaas, &cvaas_ca, GET_ONE, Some(&t.cvp_viewer)).await;
    assert_eq!(
        a.status.as_deref(),
        Some("16"),
        "CVaaS: no on-prem sessions"
    );
}

#[tokio::test]
async fn grpc_over_http1_gets_an_http_error() {
    let (lab, _dir) = lab(&[Scenario::Cvp]).await;
    let (addr, _, ca) = server(&lab, Scenario::Cvp);
    let http1 = reqwest::Client::builder()
        .tls_backend_preconfigured(tls(&ca, &[], None))
        .http1_only()
        .build()
        .unwrap();
    let res = http1
        .post(url(addr, GET_ONE))
        .header("content-type", "application/grpc")
        .bearer_auth(&lab.tokens.cvp_valid)
        .body(GET_ONE_X.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    assert!(!res.headers().contains_key("grpc-status"));
}

#[tokio::test]
async fn cvp_no_h2_offers_only_http1() {
    let (lab, _dir) = lab(&[Scenario::CvpNoH2]).await;
    let (addr, _, ca) = server(&lab, Scenario::CvpNoH2);
    // A gRPC client offers only h2: the handshake fails (no_application_protocol).
    let err = tls_connect(addr, tls(&ca, &[b"h2"], None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("application"),
        "{err}"
    );
    // A browser-like client gets http/1.1.
    let stream = tls_connect(addr, tls(&ca, &[b"h2", b"http/1.1"], None))
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    // HTTP/2 without ALPN (prior knowledge) is not served either.
    let r = grpc_with(
        addr,
        tls(&ca, &[], None),
        GET_ONE,
        Some(&lab.tokens.cvp_valid),
        &GET_ONE_X,
    )
    .await;
    assert!(
        r.as_ref().map_or(true, |a| a.status.is_none()),
        "no gRPC status over a front end without HTTP/2: {r:?}"
    );
    // REST still works over HTTP/1.1; gRPC gets an HTTP error.
    let http = client(&ca);
    let res = http
        .get(url(addr, INFO))
        .bearer_auth(&lab.tokens.cvp_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post(url(addr, GET_ONE))
        .header("content-type", "application/grpc")
        .body(GET_ONE_X.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
}

// ---------------------------------------------------------------------------------------------------------
// Prisma Cloud Compute

#[tokio::test]
async fn prisma_ping_needs_no_auth_and_unknown_paths_are_404() {
    let all = [
        Scenario::Prisma,
        Scenario::PrismaSaas,
        Scenario::PrismaBasicDisabled,
        Scenario::PrismaRateLimited,
        Scenario::PrismaError,
        Scenario::Mtls,
    ];
    let (lab, _dir) = lab(&all).await;
    for s in all {
        let (_, base, ca) = server(&lab, s);
        let base = base.replace("127.0.0.1", "localhost");
        let identity =
            (s == Scenario::Mtls).then_some((lab.client_cert.as_path(), lab.client_key.as_path()));
        let http = client_with(&ca, identity);
        let res = http
            .get(format!("{base}/api/v1/_ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{s:?}");
        assert!(res.text().await.unwrap().is_empty());
        let res = http
            .get(format!("{base}/api/v1/nothing"))
            .send()
            .await
            .unwrap();
        let status = res.status();
        if matches!(s, Scenario::PrismaRateLimited | Scenario::PrismaError) {
            assert_ne!(status, StatusCode::OK);
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "{s:?}");
            assert_eq!(
                res.json::<Value>().await.unwrap(),
                json!({"err": "not found"})
            );
        }
        let res = http.get(format!("{base}/elsewhere")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{s:?}");
    }
    // SaaS: the tenant path is needed.
    let (addr, base, ca) = server(&lab, Scenario::PrismaSaas);
    assert!(base.ends_with("/us-1-123456789"));
    let http = client(&ca);
    let res = http.get(url(addr, "/api/v1/_ping")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = http
        .get(url(addr, "/us-1-123456789/api/v1/_ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn authenticate(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base}/api/v1/authenticate"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn prisma_password_login_gives_a_30_minute_hs256_token() {
    let (lab, _dir) = lab(&[Scenario::Prisma, Scenario::PrismaSaas]).await;
    let (addr, _, ca) = server(&lab, Scenario::Prisma);
    let base = url(addr, "");
    let http = client(&ca);
    let res = authenticate(
        &http,
        &base,
        Credentials::PRISMA_USER,
        Credentials::PRISMA_PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let token = v["token"].as_str().unwrap();
    let (header, c) = claims(token);
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(c["user"], Credentials::PRISMA_USER);
    assert!((c["exp"].as_i64().unwrap() - now() - 30 * 60).abs() < 60);
    let res = http
        .get(format!("{base}/api/v1/version"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!("34.04.145"));

    let res = authenticate(&http, &base, Credentials::PRISMA_USER, "wrong").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"err": "invalid credentials"})
    );
    let res = authenticate(&http, &base, "nobody", Credentials::PRISMA_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = http
        .post(format!("{base}/api/v1/authenticate"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // SaaS: 60 minutes, under the tenant path, with an access key (console passwords are refused).
    let (_, saas, ca) = server(&lab, Scenario::PrismaSaas);
    let saas = saas.replace("127.0.0.1", "localhost");
    let http = client(&ca);
    let res = authenticate(
        &http,
        &saas,
        Credentials::PRISMA_USER,
        Credentials::PRISMA_PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = authenticate(
        &http,
        &saas,
        Credentials::PRISMA_ACCESS_KEY_ID,
        Credentials::PRISMA_ACCESS_KEY_SECRET,
    )
    .await;
    let v: Value = res.json().await.unwrap();
    let (_, c) = claims(v["token"].as_str().unwrap());
    assert!((c["exp"].as_i64().unwrap() - now() - 60 * 60).abs() < 60);
}

#[tokio::test]
async fn prisma_version_with_basic_or_bearer_403_for_the_auditor_and_renew() {
    let (lab, _dir) = lab(&[Scenario::Prisma]).await;
    let t = &lab.tokens;
    let (addr, _, ca) = server(&lab, Scenario::Prisma);
    let http = client(&ca);
    let version = url(addr, "/api/v1/version");
    for (who, req) in [
        (
            "admin Basic",
            http.get(&version)
                .basic_auth(Credentials::PRISMA_USER, Some(Credentials::PRISMA_PASSWORD)),
        ),
        (
            "auditor Basic",
            http.get(&version).basic_auth(
                Credentials::PRISMA_AUDITOR_USER,
                Some(Credentials::PRISMA_AUDITOR_PASSWORD),
            ),
        ),
        (
            "admin token",
            http.get(&version).bearer_auth(&t.prisma_valid),
        ),
        (
            "auditor token",
            http.get(&version).bearer_auth(&t.prisma_auditor),
        ),
        (
            "a versioned path",
            http.get(url(addr, "/api/v34.04/version"))
                .bearer_auth(&t.prisma_valid),
        ),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!("34.04.145"),
            "{who}"
        );
    }
    for (who, req) in [
        ("nothing", http.get(&version)),
        (
            "bad password",
            http.get(&version)
                .basic_auth(Credentials::PRISMA_USER, Some("wrong")),
        ),
        (
            "expired token",
            http.get(&version).bearer_auth(&t.prisma_expired),
        ),
        ("junk token", http.get(&version).bearer_auth("junk")),
        (
            "a CloudVision token",
            http.get(&version).bearer_auth(&t.cvp_valid),
        ),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{who}");
        assert!(
            res.json::<Value>().await.unwrap()["err"].is_string(),
            "{who}"
        );
    }
    let policies = url(addr, "/api/v1/policies/runtime/container");
    let res = http
        .get(&policies)
        .bearer_auth(&t.prisma_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for req in [
        http.get(&policies).bearer_auth(&t.prisma_auditor),
        http.get(&policies).basic_auth(
            Credentials::PRISMA_AUDITOR_USER,
            Some(Credentials::PRISMA_AUDITOR_PASSWORD),
        ),
    ] {
        assert_eq!(req.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        http.get(&policies)
            .bearer_auth(&t.prisma_expired)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let renew = url(addr, "/api/v1/authenticate/renew");
    let res = http
        .get(&renew)
        .bearer_auth(&t.prisma_auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&fresh).1["user"], Credentials::PRISMA_AUDITOR_USER);
    assert_eq!(
        http.get(&version)
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    for req in [
        http.get(&renew),
        http.get(&renew).bearer_auth(&t.prisma_expired),
        http.get(&renew)
            .basic_auth(Credentials::PRISMA_USER, Some(Credentials::PRISMA_PASSWORD)),
    ] {
        assert_eq!(req.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    // The Console CA, for whoever is logged in.
    let res = http
        .get(url(addr, "/api/v1/certs/ca.pem"))
        .bearer_auth(&t.prisma_valid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.text().await.unwrap(),
        std::fs::read_to_string(&ca).unwrap()
    );
}

#[tokio::test]
async fn prisma_client_certificate_login() {
    let (lab, _dir) = lab(&[Scenario::Prisma, Scenario::Mtls]).await;
    let (mtls, _, mtls_ca) = server(&lab, Scenario::Mtls);
    let http = client_with(
        &mtls_ca,
        Some((lab.client_cert.as_path(), lab.client_key.as_path())),
    );
    let res = http
        .post(url(mtls, "/api/v1/authenticate-client"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["role"], "admin");
    let token = v["token"].as_str().unwrap();
    assert_eq!(claims(token).1["user"], Credentials::CLIENT_CERT_USER);
    let res = http
        .get(url(mtls, "/api/v1/version"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Without a certificate the mTLS server refuses the handshake; the plain Console says 401.
    assert!(client(&mtls_ca)
        .get(url(mtls, "/api/v1/_ping"))
        .send()
        .await
        .is_err());
    let (addr, _, ca) = server(&lab, Scenario::Prisma);
    let res = client(&ca)
        .post(url(addr, "/api/v1/authenticate-client"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.json::<Value>().await.unwrap()["err"].is_string());
}

#[tokio::test]
async fn prisma_basic_disabled_rate_limited_and_failing_consoles() {
    let (lab, _dir) = lab(&[
        Scenario::PrismaBasicDisabled,
        Scenario::PrismaRateLimited,
        Scenario::PrismaError,
    ])
    .await;
    let t = &lab.tokens;
    let (addr, _, ca) = server(&lab, Scenario::PrismaBasicDisabled);
    let http = client(&ca);
    let version = url(addr, "/api/v1/version");
    let res = http
        .get(&version)
        .basic_auth(Credentials::PRISMA_USER, Some(Credentials::PRISMA_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"err": "basic authentication is disabled"})
    );
    let res = authenticate(
        &http,
        &url(addr, ""),
        Credentials::PRISMA_USER,
        Credentials::PRISMA_PASSWORD,
    )
    .await;
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        http.get(&version)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let (addr, _, _) = server(&lab, Scenario::PrismaRateLimited);
    for res in [
        http.get(url(addr, "/api/v1/version"))
            .bearer_auth(&t.prisma_valid)
            .send()
            .await
            .unwrap(),
        http.get(url(addr, "/api/v1/version"))
            .basic_auth(Credentials::PRISMA_USER, Some(Credentials::PRISMA_PASSWORD))
            .send()
            .await
            .unwrap(),
        authenticate(
            &http,
            &url(addr, ""),
            Credentials::PRISMA_USER,
            Credentials::PRISMA_PASSWORD,
        )
        .await,
    ] {
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()["retry-after"], "1");
    }

    let (addr, _, _) = server(&lab, Scenario::PrismaError);
    for res in [
        http.get(url(addr, "/api/v1/version"))
            .bearer_auth(&t.prisma_valid)
            .send()
            .await
            .unwrap(),
        authenticate(
            &http,
            &url(addr, ""),
            Credentials::PRISMA_USER,
            Credentials::PRISMA_PASSWORD,
        )
        .await,
    ] {
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

// ---------------------------------------------------------------------------------------------------------
// The lab itself

#[tokio::test]
async fn tokens_are_files_and_describe_prints_the_credentials() {
    let (lab, dir) = lab(&[Scenario::Cvp, Scenario::PrismaSaas]).await;
    let t = &lab.tokens;
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("cvp-token.txt").trim(), t.cvp_valid);
    assert_eq!(read("cvp-token-expired.txt").trim(), t.cvp_expired);
    assert_eq!(read("cvp-token-viewer.txt").trim(), t.cvp_viewer);
    assert_eq!(read("prisma-token.txt").trim(), t.prisma_valid);
    for (name, token) in t.files() {
        assert_eq!(read(name).trim(), token);
    }
    // The claims the auth checks read, through the project's own JWT reader.
    let n = now();
    let c = preflight::jwt::claims(&t.cvp_valid).unwrap();
    assert_eq!(c.alg.as_deref(), Some("RS256"));
    assert_eq!(c.dsn.as_deref(), Some(Credentials::CVP_SERVICE_ACCOUNT));
    assert!(c.exp.unwrap() > n + 300 * 86400);
    assert!(preflight::jwt::claims(&t.cvp_expired).unwrap().exp.unwrap() < n);
    let soon = preflight::jwt::claims(&t.cvp_expiring)
        .unwrap()
        .exp
        .unwrap()
        - n;
    assert!((0..=3600).contains(&soon));
    assert!(
        preflight::jwt::claims(&t.prisma_expired)
            .unwrap()
            .exp
            .unwrap()
            < n
    );
    // Like the Console's, the lab's Prisma tokens carry no `iat`: 30 minutes from now.
    let (_, pv) = claims(&t.prisma_valid);
    assert!(pv.get("iat").is_none(), "{pv}");
    assert!(
        (1700..=1800).contains(&(pv["exp"].as_i64().unwrap() - n)),
        "{pv}"
    );

    let text = lab.describe();
    for needle in [
        Credentials::CVP_USER,
        Credentials::CVP_PASSWORD,
        Credentials::CVP_VIEWER_USER,
        Credentials::CVP_VIEWER_PASSWORD,
        Credentials::PRISMA_USER,
        Credentials::PRISMA_AUDITOR_USER,
        Credentials::PRISMA_AUDITOR_PASSWORD,
        "cvp-token.txt",
        "cvp-token-expired.txt",
        "/us-1-123456789 --product prisma",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    // lab.json lists each server with its URL.
    let index: Value = serde_json::from_str(&read("lab.json")).unwrap();
    assert_eq!(index[1]["scenario"], "prisma-saas");
    assert!(index[1]["url"]
        .as_str()
        .unwrap()
        .ends_with("/us-1-123456789"));
}

#[test]
fn every_scenario_is_named_alike_everywhere() {
    use clap::ValueEnum;
    for s in Scenario::ALL {
        let value = s.to_possible_value().unwrap();
        assert_eq!(value.get_name(), s.name());
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.name()));
        assert!(!s.about().is_empty());
    }
    let products: Vec<&str> = Scenario::ALL.iter().map(|s| s.product().as_str()).collect();
    for p in ["cvp", "cvaas", "prisma", "generic"] {
        assert!(products.contains(&p), "{p}");
    }
}

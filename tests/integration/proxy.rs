//! Proxies: the lab's CONNECT proxies (open, wanting an account, refusing, inspecting TLS), tinyproxy as a
//! proxy nobody here wrote, the environment variables as curl reads them, and secrets never shown.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;
use preflight::lab::proxy::{PROXY_PASSWORD, PROXY_USER};
use preflight::lab::Scenario;

fn proxy_url(lab: &RunningLab, s: Scenario) -> String {
    format!("http://{}", lab.addr(s))
}

/// `cvp.preflight.lab:PORT`: a name only the lab's proxies resolve, so a check that gets anywhere went
/// through the proxy.
fn lab_name(lab: &RunningLab) -> String {
    format!("cvp.preflight.lab:{}", lab.addr(Scenario::Cvp).port())
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let out = preflight()
        .arg("check")
        .args(args)
        .args(["--format", "json", "--at", JUDGE_AT])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

/// `check TARGET --product cvp --ca CA` logging in as the lab's CloudVision administrator (the password from
/// `PF_PW`), plus `extra`; `env` joins the password's variable.
fn cvp_login(
    target: &str,
    ca: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, serde_json::Value, String) {
    let mut args = vec![target, "--product", "cvp", "--ca", ca.to_str().unwrap()];
    args.extend(["--user", "cvpadmin", "--password-env", "PF_PW"]);
    args.extend(extra);
    let mut env = env.to_vec();
    env.push(("PF_PW", "lab-password"));
    run(&args, &env)
}

#[test]
fn everything_goes_through_the_proxy_tls_rest_and_grpc() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::Proxy]);
    let ca = lab.trust_file(Scenario::Cvp);
    let target = lab_name(&lab);
    let proxy = proxy_url(&lab, Scenario::Proxy);
    let (code, r, _) = cvp_login(&target, &ca, &["--proxy", &proxy], &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        r["target"]["proxy"],
        format!("{proxy} (from --proxy)"),
        "{r:#}"
    );
    assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));
    assert!(check(&r, "dns.resolve")["summary"]
        .as_str()
        .unwrap()
        .contains("the proxy resolves cvp.preflight.lab itself"));
    assert_eq!(outcome(&r, "trust.custom"), ("pass".into(), "ok".into()));
    // gRPC (hyper h2 over a tunnel) and REST (reqwest through the proxy) both reached the server by a
    // name this machine cannot resolve.
    let grpc = format!("grpc.{}", lab.addr(Scenario::Cvp).port());
    assert_eq!(outcome(&r, &grpc), ("pass".into(), "ok".into()));
    assert_eq!(outcome(&r, "product.login"), ("pass".into(), "ok".into()));
    assert_eq!(outcome(&r, "auth.password"), ("pass".into(), "ok".into()));
    assert!(r
        .get("checks")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "proxy.intercept"));

    // Without the proxy, the same name is unknown here: the proxy was what made it work.
    let (code, r, _) = run(&[&target, "--product", "cvp", "--proxy", ""], &[]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "dns.resolve")["status"], "fail", "{r:#}");
}

#[test]
fn auto_detection_goes_through_the_proxy() {
    let lab = RunningLab::start(&[Scenario::Prisma, Scenario::Proxy]);
    let target = format!("localhost:{}", lab.addr(Scenario::Prisma).port());
    let proxy = proxy_url(&lab, Scenario::Proxy);
    let ca = lab.trust_file(Scenario::Prisma);
    let (code, r, _) = run(
        &[&target, "--ca", ca.to_str().unwrap(), "--proxy", &proxy],
        &[],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["target"]["product"], "prisma", "{r:#}");
    assert_eq!(outcome(&r, "product.ping"), ("pass".into(), "ok".into()));
}

#[test]
fn environment_variables_as_curl_reads_them() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::Proxy]);
    let target = lab_name(&lab);
    let proxy = proxy_url(&lab, Scenario::Proxy);
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        let (_, r, _) = run(&[&target, "--product", "cvp"], &[(var, &proxy)]);
        assert_eq!(
            r["target"]["proxy"],
            format!("{proxy} (from {var})"),
            "{var}: {r:#}"
        );
        assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));
    }
    // HTTPS_PROXY wins over ALL_PROXY; --proxy over both.
    let (_, r, _) = run(
        &[&target, "--product", "cvp"],
        &[("ALL_PROXY", "http://127.0.0.1:9"), ("HTTPS_PROXY", &proxy)],
    );
    assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));
    let (_, r, _) = run(
        &[&target, "--product", "cvp", "--proxy", &proxy],
        &[("HTTPS_PROXY", "http://127.0.0.1:9")],
    );
    assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));

    // NO_PROXY (and --noproxy, which replaces it) sends a listed host direct; the report says why.
    let direct = lab.addr(Scenario::Cvp).to_string();
    for (env, flag) in [
        (
            vec![("HTTPS_PROXY", proxy.as_str()), ("NO_PROXY", "127.0.0.0/8")],
            None,
        ),
        (
            vec![("https_proxy", proxy.as_str()), ("no_proxy", "127.0.0.1")],
            None,
        ),
        (vec![("HTTPS_PROXY", proxy.as_str())], Some("127.0.0.1")),
        (vec![("HTTPS_PROXY", proxy.as_str())], Some("*")),
    ] {
        let mut args = vec![direct.as_str(), "--product", "cvp"];
        if let Some(f) = flag {
            args.extend(["--noproxy", f]);
        }
        let (_, r, _) = run(&args, &env);
        assert!(r["target"].get("proxy").is_none(), "{env:?}: {r:#}");
        let dns = check(&r, "dns.resolve")["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            dns.contains("direct:") && dns.contains("is not used"),
            "{dns}"
        );
        assert_eq!(outcome(&r, "tls.handshake"), ("pass".into(), "ok".into()));
    }
    // A bypass list that does not match keeps the proxy.
    let (_, r, _) = run(
        &[&target, "--product", "cvp"],
        &[
            ("HTTPS_PROXY", &proxy),
            ("NO_PROXY", "example.com,10.0.0.0/8"),
        ],
    );
    assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));
}

#[test]
fn http_proxy_alone_is_not_used_for_https_and_the_fix_says_so() {
    let port = closed_port();
    let (code, r, _) = run(
        &[
            &format!("127.0.0.1:{port}"),
            "--product",
            "generic",
            "--no-alt-ports",
        ],
        &[("HTTP_PROXY", "http://127.0.0.1:9")],
    );
    assert_eq!(code, 1);
    assert!(r["target"].get("proxy").is_none());
    let tcp = check(&r, "tcp.connect");
    assert_eq!(tcp["code"], "tcp_refused");
    let fix = tcp["fix"].as_str().unwrap();
    assert!(
        fix.contains("HTTP_PROXY is set but applies to http:// URLs only"),
        "{fix}"
    );
    assert!(fix.contains("HTTPS_PROXY"), "{fix}");
}

#[test]
fn a_proxy_account_from_the_url_is_sent_and_never_shown() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::ProxyAuth]);
    let target = lab_name(&lab);
    let addr = lab.addr(Scenario::ProxyAuth);
    // Without an account: 407, its own finding, and the fix says how to give one.
    let (code, r, _) = run(
        &[
            &target,
            "--product",
            "cvp",
            "--proxy",
            &format!("http://{addr}"),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("fail".into(), "proxy_auth_required".into())
    );
    let c = check(&r, "proxy.connect");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("no credentials were sent"),
        "{c:#}"
    );
    assert!(c["summary"].as_str().unwrap().contains("Basic"), "{c:#}");
    assert!(
        c["fix"].as_str().unwrap().contains("http://USER:PASSWORD@"),
        "{c:#}"
    );
    assert_eq!(outcome(&r, "tls.handshake").0, "skip");

    // A wrong password: refused, said so.
    let wrong = format!("http://{PROXY_USER}:wrong-canary-9@{addr}");
    let (_, r, stderr) = run(
        &[&target, "--product", "cvp", "-v"],
        &[("HTTPS_PROXY", &wrong)],
    );
    let c = check(&r, "proxy.connect");
    assert_eq!(c["code"], "proxy_auth_required");
    assert!(
        c["summary"].as_str().unwrap().contains("were refused"),
        "{c:#}"
    );
    let all = format!("{r}{stderr}");
    assert!(!all.contains("wrong-canary-9"), "{all}");

    // The right account, percent-encoded where it must be, from the environment: the tunnel opens; neither
    // the password nor its Basic encoding appears in any format, the trace or the bundle.
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{PROXY_PASSWORD}"));
    let url = format!(
        "http://{PROXY_USER}:{}@{addr}",
        PROXY_PASSWORD.replace('-', "%2D")
    );
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.tar.gz");
    for format in ["json", "table", "markdown", "junit"] {
        let out = preflight()
            .args([
                "check",
                &target,
                "--product",
                "cvp",
                "-vv",
                "--format",
                format,
            ])
            .args(["--bundle", bundle.to_str().unwrap()])
            .env("HTTPS_PROXY", &url)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("proxy.connect"), "{format}: {text}");
        for secret in [PROXY_PASSWORD, "proxy%2Dpassword", basic.as_str()] {
            assert!(!text.contains(secret), "{format} shows {secret}: {text}");
        }
        let gz = std::fs::read(&bundle).unwrap();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar).unwrap();
        let tar = String::from_utf8_lossy(&tar);
        assert!(tar.contains("proxy.connect"));
        for secret in [PROXY_PASSWORD, "proxy%2Dpassword", basic.as_str()] {
            assert!(!tar.contains(secret), "bundle shows {secret}");
        }
    }
    let (code, r, _) = run(&[&target, "--product", "cvp"], &[("HTTPS_PROXY", &url)]);
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
    assert_eq!(check(&r, "proxy.connect")["facts"]["authenticated"], true);
    assert_eq!(
        code, 1,
        "the self-signed server without --ca still fails trust: {r:#}"
    );
}

#[test]
fn a_proxy_that_refuses_connect_is_its_own_finding() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::ProxyDeny]);
    let (code, r, _) = run(
        &[
            &lab_name(&lab),
            "--product",
            "cvp",
            "--proxy",
            &proxy_url(&lab, Scenario::ProxyDeny),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        first_failure(&r),
        Some(("proxy.connect".into(), "proxy_refused".into()))
    );
    let c = check(&r, "proxy.connect");
    let summary = c["summary"].as_str().unwrap();
    assert!(summary.contains("HTTP 403 Forbidden"), "{summary}");
    // What the proxy said about it is quoted.
    assert!(summary.contains("allowed to port 443 only"), "{summary}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("--noproxy cvp.preflight.lab"),
        "{c:#}"
    );
}

#[test]
fn a_proxy_that_cannot_reach_the_server_or_is_not_there() {
    let lab = RunningLab::start(&[Scenario::Proxy, Scenario::Cvp]);
    let proxy = proxy_url(&lab, Scenario::Proxy);
    // The proxy answers 502: it could not connect to the target.
    let closed = closed_port();
    let (code, r, _) = run(
        &[
            &format!("localhost:{closed}"),
            "--product",
            "generic",
            "--proxy",
            &proxy,
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("fail".into(), "proxy_upstream_failed".into())
    );
    assert!(check(&r, "proxy.connect")["summary"]
        .as_str()
        .unwrap()
        .contains("HTTP 502"));

    // Nothing listens where the proxy should be: the TCP check names the proxy and where it came from.
    let (code, r, _) = run(
        &[&lab_name(&lab), "--product", "cvp"],
        &[("HTTPS_PROXY", &format!("http://127.0.0.1:{closed}"))],
    );
    assert_eq!(code, 1);
    let tcp = check(&r, "tcp.connect");
    assert_eq!(tcp["code"], "tcp_refused");
    assert!(
        tcp["summary"]
            .as_str()
            .unwrap()
            .starts_with("proxy http://127.0.0.1:"),
        "{tcp:#}"
    );
    assert!(
        tcp["fix"].as_str().unwrap().contains("HTTPS_PROXY"),
        "{tcp:#}"
    );
    assert_eq!(outcome(&r, "proxy.connect").0, "skip", "{r:#}");

    // A TLS port given as the proxy: not an HTTP proxy.
    let (code, r, _) = run(
        &[
            &lab_name(&lab),
            "--product",
            "cvp",
            "--proxy",
            &format!("http://{}", lab.addr(Scenario::Cvp)),
            "--timeout",
            "2s",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("fail".into(), "proxy_failed".into()),
        "{r:#}"
    );

    // A proxy that accepts and never answers: proxy_timeout within the deadline.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let start = std::time::Instant::now();
    let (_, r, _) = run(
        &[
            &lab_name(&lab),
            "--product",
            "cvp",
            "--proxy",
            &format!("http://{}", hole.local_addr().unwrap()),
            "--timeout",
            "1s",
        ],
        &[],
    );
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("fail".into(), "proxy_timeout".into()),
        "{r:#}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_inspecting_proxy_is_named_with_its_ca() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::ProxyIntercept]);
    let target = lab_name(&lab);
    let proxy = proxy_url(&lab, Scenario::ProxyIntercept);
    let cvp_ca = lab.trust_file(Scenario::Cvp);
    // The server's own certificate as --ca: the chain that arrives is the proxy's.
    let (code, r, _) = run(
        &[
            &target,
            "--product",
            "cvp",
            "--ca",
            cvp_ca.to_str().unwrap(),
            "--proxy",
            &proxy,
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        first_failure(&r),
        Some(("proxy.intercept".into(), "proxy_intercepting".into())),
        "{r:#}"
    );
    let c = check(&r, "proxy.intercept");
    let summary = c["summary"].as_str().unwrap();
    assert!(
        summary.contains("preflight lab TLS Inspection CA"),
        "{summary}"
    );
    assert!(summary.contains(&proxy), "{summary}");
    let fix = c["fix"].as_str().unwrap();
    assert!(
        fix.contains("--ca") && fix.contains("--noproxy cvp.preflight.lab"),
        "{fix}"
    );
    assert_eq!(
        outcome(&r, "trust.custom"),
        ("fail".into(), "unknown_issuer".into())
    );
    // Client advice names the inspection CA, not the server's certificate that cannot help here.
    let advice = r["clients"][0]["make_it_work"].as_str().unwrap();
    assert!(advice.contains("corp-inspection-ca.pem"), "{advice}");
    // The chain in the report is the forged one: a leaf for the name asked, signed by the inspection CA.
    assert!(r["certificates"][0]["issuer"]
        .as_str()
        .unwrap()
        .contains("Inspection"));

    // Trusting the inspection CA: the connection works, and the report still says it is inspected.
    let inspection_ca = lab.trust_file(Scenario::ProxyIntercept);
    let (code, r, _) = cvp_login(&target, &inspection_ca, &["--proxy", &proxy], &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        outcome(&r, "proxy.intercept"),
        ("warn".into(), "proxy_intercepting".into())
    );
    assert!(check(&r, "proxy.intercept")["summary"]
        .as_str()
        .unwrap()
        .contains("trust.custom trusts it"));
    assert_eq!(
        outcome(&r, "auth.password"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
}

/// tinyproxy, a proxy nobody here wrote (`.ci/run` installs it): started with a config of our own on a free
/// port; its log shows the CONNECTs it handled.
struct Tinyproxy {
    child: std::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// `http://127.0.0.1:PORT`.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tinyproxy with `extra` configuration lines; `None` (the test skips) when it is not installed.
fn tinyproxy(extra: &str) -> Option<Tinyproxy> {
    if !peer("tinyproxy") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let log = dir.path().join("tinyproxy.log");
    let conf = dir.path().join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\n{extra}\n",
            log.display()
        ),
    )
    .unwrap();
    let mut tp = Tinyproxy {
        child: Command::new("tinyproxy")
            .args(["-d", "-c", conf.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy is installed (.ci/run installs it: apt-get install tinyproxy)"),
        port,
        log,
        _dir: dir,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(tp);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = tp.child.kill();
    let _ = tp.child.wait();
    panic!("tinyproxy did not listen on {port}");
}

#[test]
fn tinyproxy_tunnels_tls_rest_and_grpc() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let Some(tp) = tinyproxy("") else { return };
    let port = lab.addr(Scenario::Cvp).port();
    let target = format!("localhost:{port}");
    let ca = lab.trust_file(Scenario::Cvp);
    let proxy = tp.url();
    let (code, r, _) = cvp_login(&target, &ca, &[], &[("HTTPS_PROXY", &proxy)]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));
    assert_eq!(
        outcome(&r, &format!("grpc.{port}")),
        ("pass".into(), "ok".into())
    );
    assert_eq!(
        outcome(&r, "auth.password"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
    let log = std::fs::read_to_string(&tp.log).unwrap_or_default();
    let tunnels = log.matches(&format!("CONNECT localhost:{port}")).count();
    // The handshake, the gRPC probe, the login probe and the login with its proofs: one tunnel each.
    assert!(tunnels >= 3, "tinyproxy saw {tunnels} CONNECTs:\n{log}");
}

#[test]
fn tinyproxy_refusing_a_port_and_wanting_an_account() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let target = format!("localhost:{}", lab.addr(Scenario::Cvp).port());
    // Only port 443 may be tunnelled: tinyproxy's 403.
    let Some(tp) = tinyproxy("ConnectPort 443") else {
        return;
    };
    let (code, r, _) = run(&[&target, "--product", "cvp", "--proxy", &tp.url()], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("fail".into(), "proxy_refused".into()),
        "{r:#}"
    );
    // An account: 407 without it, a tunnel with it.
    let Some(tp) = tinyproxy("BasicAuth lab-user tiny-canary-pass") else {
        return;
    };
    let (_, r, _) = run(&[&target, "--product", "cvp", "--proxy", &tp.url()], &[]);
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("fail".into(), "proxy_auth_required".into()),
        "{r:#}"
    );
    let (_, r, stderr) = run(
        &[&target, "--product", "cvp", "-v"],
        &[(
            "https_proxy",
            &format!("http://lab-user:tiny-canary-pass@127.0.0.1:{}", tp.port),
        )],
    );
    assert_eq!(
        outcome(&r, "proxy.connect"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
    assert!(!format!("{r}{stderr}").contains("tiny-canary-pass"));
}

#[test]
fn bad_proxy_settings_are_usage_errors() {
    for (args, env, want) in [
        (
            vec!["--proxy", "socks5://u:pw-canary-1@127.0.0.1:1080"],
            vec![],
            "SOCKS",
        ),
        (
            vec!["--proxy", "https://127.0.0.1:3128"],
            vec![],
            "HTTPS proxies",
        ),
        (
            vec!["--proxy", "http://127.0.0.1:notaport"],
            vec![],
            "the port is not a number",
        ),
        // An unencoded `/` in the password: no part of it is read as the port, or quoted.
        (
            vec![],
            vec![("HTTPS_PROXY", "http://u:pw-canary-1/x@127.0.0.1:3128")],
            "percent-encode",
        ),
        (
            vec!["--proxy", "http://u:pw-canary-1@127.0.0.1:3128"],
            vec![],
            "shows in `ps`",
        ),
        (
            vec![],
            vec![("HTTPS_PROXY", "socks5h://u:pw-canary-1@p:1080")],
            "HTTPS_PROXY",
        ),
    ] {
        let out = preflight()
            .args(["check", "127.0.0.1:1"])
            .args(&args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{stderr}");
        assert!(!stderr.contains("pw-canary-1"), "{stderr}");
    }
}

#[test]
fn an_ipv6_proxy_and_an_ipv6_target_through_it() {
    assert!(
        std::net::TcpListener::bind("[::1]:0").is_ok(),
        "this test needs IPv6 on loopback (::1)"
    );
    let lab = RunningLab::start_on(&[Scenario::Cvp, Scenario::Proxy], "::1".parse().unwrap());
    let port = lab.addr(Scenario::Cvp).port();
    let proxy = format!("http://{}", lab.addr(Scenario::Proxy));
    assert!(proxy.starts_with("http://[::1]:"));
    let ca = lab.trust_file(Scenario::Cvp);
    for target in [format!("cvp.preflight.lab:{port}"), format!("[::1]:{port}")] {
        let (code, r, _) = run(
            &[
                &target,
                "--product",
                "cvp",
                "--ca",
                ca.to_str().unwrap(),
                "--proxy",
                &proxy,
                "-6",
            ],
            &[],
        );
        assert_eq!(outcome(&r, "proxy.connect"), ("pass".into(), "ok".into()));
        if target.starts_with('[') {
            // reqwest cannot verify an IPv6 address after CONNECT: the REST probe says so in words.
            assert_eq!(code, 1, "{r:#}");
            let login = check(&r, "product.login")["summary"].as_str().unwrap();
            assert!(
                login.contains("REST through a proxy to an IPv6 address"),
                "{login}"
            );
        } else {
            assert_eq!(code, 0, "{target}: {r:#}");
        }
        assert_eq!(check(&r, "tcp.connect")["facts"]["family"], "IPv6");
        assert_eq!(
            outcome(&r, &format!("grpc.{port}")),
            ("pass".into(), "ok".into())
        );
    }
}

#[test]
fn a_scan_goes_through_the_proxy_too() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::Prisma, Scenario::Proxy]);
    let list = format!(
        "cvp.preflight.lab:{} cvp\nlocalhost:{} prisma\n",
        lab.addr(Scenario::Cvp).port(),
        lab.addr(Scenario::Prisma).port()
    );
    let mut child = preflight()
        .args(["scan", "--targets", "-", "--format", "jsonl", "--proxy"])
        .arg(proxy_url(&lab, Scenario::Proxy))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), list.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let reports = json_lines(&out.stdout);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert_eq!(
            outcome(r, "proxy.connect"),
            ("pass".into(), "ok".into()),
            "{r:#}"
        );
        assert_eq!(outcome(r, "tls.handshake"), ("pass".into(), "ok".into()));
    }
}

#[test]
fn a_transparent_inspection_device_is_named_without_any_proxy_setting() {
    // No proxy configured: a firewall on the path answers with a certificate its inspection CA made (served
    // here by openssl s_server). The CA's name gives it away.
    let ca = preflight::lab::certs::ca(
        "Zscaler Intermediate Root CA",
        "Zscaler Inc.",
        ISSUED_AT,
        3650,
    )
    .unwrap();
    let leaf = ca.server("console.preflight.lab", ISSUED_AT, 365).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, chain) = (
        dir.path().join("leaf.pem"),
        dir.path().join("leaf.key"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    std::fs::write(&chain, &ca.cert.cert_pem).unwrap();
    let server = OpensslServer::start(&[
        "-cert",
        cert.to_str().unwrap(),
        "-key",
        key.to_str().unwrap(),
        "-cert_chain",
        chain.to_str().unwrap(),
    ]);
    let (code, r) = check_json(&[&server.target(), "--product", "generic"]);
    assert_eq!(code, 1);
    assert_eq!(
        first_failure(&r),
        Some(("proxy.intercept".into(), "proxy_intercepting".into())),
        "{r:#}"
    );
    let c = check(&r, "proxy.intercept");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("a TLS-inspecting device on the path"),
        "{c:#}"
    );
    assert_eq!(c["facts"]["matched"], "zscaler");
    // With its CA trusted (managed machines have it): a warning, not a failure.
    let (code, r) = check_json(&[
        &server.target(),
        "--product",
        "generic",
        "--ca",
        chain.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        outcome(&r, "proxy.intercept"),
        ("warn".into(), "proxy_intercepting".into())
    );
}

#[test]
fn a_silent_proxy_is_let_go_when_connect_times_out() {
    // The CONNECT deadline fires; the connection to the proxy must close then (not linger in a task that
    // waits for an answer forever: a scan through a dead proxy would pile them up).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            // The CONNECT request arrives; then nothing is answered, and the client must hang up.
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return std::time::Instant::now(),
                    Ok(_) => continue,
                }
            }
        });
        let proxy = preflight::net::proxy::Proxy::parse(&format!("http://{addr}"), "test").unwrap();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let gave_up = std::time::Instant::now();
        let r = preflight::net::proxy::connect(
            tcp,
            "cvp.example.com:443",
            &proxy,
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(r.err(), Some(preflight::net::proxy::TunnelError::Timeout));
        let closed = tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("the proxy connection was closed after the deadline")
            .unwrap();
        assert!(closed.duration_since(gave_up) < Duration::from_secs(2));
    });
}

/// A managed machine: the inspecting proxy's CA is in the system store (`SSL_CERT_FILE`), so the default store
/// accepts the forged chain; the user's own `--ca` (the server's real certificate) rejects it. The user's
/// choice wins: no password goes to the proxy, and the skip names the source that refused.
#[test]
fn an_inspection_ca_in_the_system_store_does_not_overrule_your_ca() {
    let lab = RunningLab::start(&[Scenario::Cvp, Scenario::ProxyIntercept]);
    let target = lab_name(&lab);
    let proxy = proxy_url(&lab, Scenario::ProxyIntercept);
    let cvp_ca = lab.trust_file(Scenario::Cvp);
    let inspection_ca = lab.trust_file(Scenario::ProxyIntercept);
    let env = [("SSL_CERT_FILE", inspection_ca.to_str().unwrap())];
    let (code, r, _) = cvp_login(&target, &cvp_ca, &["--proxy", &proxy], &env);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(outcome(&r, "trust.system"), ("pass".into(), "ok".into()));
    assert_eq!(
        outcome(&r, "trust.custom"),
        ("fail".into(), "unknown_issuer".into())
    );
    assert_eq!(
        outcome(&r, "auth.password"),
        ("skip".into(), "not_attempted_untrusted".into()),
        "{r:#}"
    );
    let summary = check(&r, "auth.password")["summary"].as_str().unwrap();
    assert!(
        summary.contains("trust.custom") && summary.contains("whatever a default store says"),
        "{summary}"
    );
    // Without --ca the system store is the user's trust, and the login goes (through the inspection).
    let args = [
        target.as_str(),
        "--product",
        "cvp",
        "--user",
        "cvpadmin",
        "--password-env",
        "PF_PW",
        "--proxy",
        &proxy,
    ];
    let (_, r, _) = run(&args, &[env[0], ("PF_PW", "lab-password")]);
    assert_eq!(
        outcome(&r, "auth.password"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
}

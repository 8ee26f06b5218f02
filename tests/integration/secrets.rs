//! Secrets against a recording server that echoes them: the password (in every form an encoder writes), the
//! Basic value, the session id it issued and the cookie it set, back into its error answers. No output (every
//! format, the `-vv` trace, `--output`, every bundle file) holds any of them, and every output stays valid
//! whatever the password is: quotes, a backslash, `<&>`, unicode, 3 or 96 characters, `null`, `status`, `pass`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::common::*;

/// The passwords tried.
fn canaries() -> Vec<String> {
    let long: String = (0..96)
        .map(|i| char::from(b"Kq7vZx2mWp9tRb4n"[i % 16]))
        .collect();
    vec![
        r#"q"uo\te<&>'Sl/sh"#.to_string(),
        "pässwörd-ü€ 🦀x".to_string(),
        "x7q".to_string(),
        long,
        "null".to_string(),
        "status".to_string(),
        "pass".to_string(),
    ]
}

/// The words the report itself uses: such a password can only be looked for between the echo's delimiters.
fn is_word(p: &str) -> bool {
    ["null", "status", "pass", "x7q"].contains(&p)
}

/// The forms a server may echo `s` in, written here with other encoders than preflight's own.
fn echo_forms(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap();
    let json = json[1..json.len() - 1].to_string();
    // Python's json.dumps (ensure_ascii): everything past ASCII as \uXXXX.
    let ascii: String = json
        .encode_utf16()
        .map(|u| match char::from_u32(u32::from(u)) {
            Some(c) if c.is_ascii() => c.to_string(),
            _ => format!("\\u{u:04x}"),
        })
        .collect();
    // An HTML form's encoding (`*-._` left alone, a space as `+`).
    let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    // Every byte escaped, upper case.
    let every: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
    // encodeURIComponent, with lower-case escapes.
    let component: String = s
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(b).to_string(),
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02x}"),
        })
        .collect();
    // Python's html.escape.
    let html = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;");
    let b64 = base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        s.to_string(),
        json,
        ascii,
        form,
        every,
        component,
        html,
        b64,
    ]
}

const FORMS: usize = 8;

/// One HTTP/1.1 request, as read.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn answer(status: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `MODE-N` from the user name: how this run's server answers, and which form it echoes.
fn mode(user: &str) -> (&str, usize) {
    let (m, n) = user.rsplit_once('-').unwrap_or((user, "0"));
    (m, n.parse().unwrap_or(0))
}

/// The session id this server issues for `user:password` (it reads the password back from it), and the cookie.
fn session(pair: &str) -> (String, String) {
    let sid = format!("sid{}", hex(pair));
    let cookie = format!("ck{}", hex(&pair.chars().rev().collect::<String>()));
    (sid, cookie)
}

/// A CloudVision that echoes. `echo401-N`: the JSON login answers 401 quoting the password in form N.
/// `session-N`: the JSON login answers 400, the Basic login issues a session and a cookie, and
/// `getCvpInfo.do` answers 200 with an `errorMessage` quoting the password (form N), the session, the cookie
/// and the Basic value.
fn cloudvision(r: &Request) -> Vec<u8> {
    let line = r.head.lines().next().unwrap_or("");
    if line.starts_with("POST /cvpservice/login/authenticate.do") {
        if let Ok(j) = serde_json::from_slice::<Value>(&r.body) {
            let user = j["userId"].as_str().unwrap_or("");
            let password = j["password"].as_str().unwrap_or("");
            return match mode(user) {
                ("echo401", n) => answer(
                    "401 Unauthorized",
                    "",
                    &format!(r#"{{"err":"bad login pw={};"}}"#, echo_forms(password)[n]),
                ),
                _ => answer("400 Bad Request", "", "{}"),
            };
        }
        let basic = r.header("authorization").unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim_start_matches("Basic "))
            .unwrap_or_default();
        let pair = String::from_utf8_lossy(&decoded).into_owned();
        let (sid, cookie) = session(&pair);
        return answer(
            "200 OK",
            &format!("set-cookie: session_id={cookie}; Path=/; HttpOnly\r\n"),
            &format!(r#"{{"sessionId":"{sid}"}}"#),
        );
    }
    if line.starts_with("GET /cvpservice/cvpInfo/getCvpInfo.do") {
        let sid = r
            .header("authorization")
            .unwrap_or("")
            .trim_start_matches("Bearer ");
        let pair = unhex(sid.trim_start_matches("sid"));
        let (user, password) = pair.split_once(':').unwrap_or(("", ""));
        let n = mode(user).1;
        let (_, cookie) = session(&pair);
        let basic = base64::engine::general_purpose::STANDARD.encode(&pair);
        let said = format!(
            "denied pw={}; sid={sid}; ck={cookie}; basic={basic};",
            echo_forms(password)[n]
        );
        return answer(
            "200 OK",
            "",
            &serde_json::json!({ "errorMessage": said }).to_string(),
        );
    }
    answer("405 Method Not Allowed", "", "{}")
}

/// A TLS server speaking HTTP/1.1 (no ALPN h2: gRPC is not tried), answering each whole request with
/// `respond`, and recording every request line.
fn http_server(
    issued: &preflight::lab::certs::Issued,
    respond: fn(&Request) -> Vec<u8>,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let config = server_config(vec![issued.der.clone()], issued.key(), &[]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, record) = (config.clone(), record.clone());
            std::thread::spawn(move || serve(tcp, config, respond, &record));
        }
    });
    (port, seen)
}

fn serve(
    mut tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    respond: fn(&Request) -> Vec<u8>,
    record: &Mutex<Vec<String>>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(mut conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match tls.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            match tls.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[end + 4..end + 4 + length].to_vec();
        buf.drain(..end + 4 + length);
        record
            .lock()
            .unwrap()
            .push(head.lines().next().unwrap_or("").to_string());
        let request = Request { head, body };
        if tls.write_all(&respond(&request)).is_err() {
            return;
        }
    }
}

/// Every text one run left: stdout, stderr (the `-vv` trace), and each file it wrote (bundle members
/// unpacked).
fn run(
    port: u16,
    ca: &Path,
    user: &str,
    password: &str,
    extra: &[&str],
    dir: &Path,
) -> Vec<(String, String)> {
    let out = preflight()
        .args([
            "check",
            &format!("127.0.0.1:{port}"),
            "--product",
            "cvp",
            "--no-alt-ports",
        ])
        .arg("--ca")
        .arg(ca)
        .args(["--user", user, "--password-env", "PF_CANARY", "-vv"])
        .args(extra)
        .env("PF_CANARY", password)
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut texts = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "gz") {
            texts.extend(untar(&path));
        } else if path.is_file() {
            texts.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
        std::fs::remove_file(&path).unwrap();
    }
    texts
}

/// What the outputs must not hold: each echoed form between the echo's delimiters (`=FORM;`), and for a
/// password that is no word the report uses, each form anywhere.
fn assert_clean(texts: &[(String, String)], secret: &str, what: &str) {
    for form in echo_forms(secret) {
        for (name, text) in texts {
            assert!(
                !text.contains(&format!("={form};")),
                "{what}: `{form}` echoed into {name}:\n{text}"
            );
            if !is_word(secret) && form.chars().count() >= 4 {
                assert!(!text.contains(&form), "{what}: `{form}` in {name}:\n{text}");
            }
        }
    }
}

/// Every JSON text parses, keeps its keys and statuses, and says the login was refused; the JUnit parses.
fn assert_valid(texts: &[(String, String)], what: &str) {
    for (name, text) in texts {
        if (name == "stdout" && !text.is_empty()) || name.ends_with("report.json") {
            let report: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{what}: {name} is not JSON ({e}):\n{text}"));
            let checks = report["checks"].as_array().expect("checks");
            for c in checks {
                let status = c["status"].as_str().unwrap_or("");
                assert!(
                    ["pass", "info", "warn", "fail", "skip", "error"].contains(&status),
                    "{what}: {name}: {c}"
                );
            }
            let login = checks
                .iter()
                .find(|c| c["id"] == "auth.password")
                .expect("auth.password");
            assert_eq!(login["code"], "bad_credentials", "{what}: {login}");
            let summary = login["summary"].as_str().unwrap();
            assert!(
                summary.contains("(redacted)") || summary.contains("(withheld"),
                "{what}: the echo is reported, redacted: {summary}"
            );
            assert!(text.contains(r#""status": "pass""#), "{what}: {name}");
        }
        if name.ends_with(".xml") {
            roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{what}: {name}: {e}"));
        }
    }
}

#[test]
fn no_form_of_any_secret_reaches_any_output_and_every_output_stays_valid() {
    let issued = preflight::lab::certs::self_signed_server("127.0.0.1", ISSUED_AT).unwrap();
    let (port, seen) = http_server(&issued, cloudvision);
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &issued.cert_pem).unwrap();
    let ca = Arc::new(ca);
    let threads: Vec<_> = canaries()
        .into_iter()
        .enumerate()
        .map(|(i, password)| {
            let ca = ca.clone();
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let bundle = ["--format", "json", "--bundle", "b.tar.gz"];
                let junit = ["--format", "junit", "--output", "r.xml"];
                for n in 0..FORMS {
                    let what = format!("password #{i}, echoed in form {n}");
                    let texts = run(
                        port,
                        &ca,
                        &format!("echo401-{n}"),
                        &password,
                        &bundle,
                        dir.path(),
                    );
                    assert_clean(&texts, &password, &what);
                    assert_valid(&texts, &what);
                }
                for n in [0, 6] {
                    let user = format!("session-{n}");
                    let what = format!("password #{i}, session, form {n}");
                    let (sid, cookie) = session(&format!("{user}:{password}"));
                    let basic = base64::engine::general_purpose::STANDARD
                        .encode(format!("{user}:{password}"));
                    for extra in [&bundle, &junit] {
                        let texts = run(port, &ca, &user, &password, extra, dir.path());
                        assert_clean(&texts, &password, &what);
                        assert_valid(&texts, &what);
                        for issued in [&sid, &cookie, &basic] {
                            for (name, text) in &texts {
                                assert!(
                                    !text.contains(issued.as_str()),
                                    "{what}: `{issued}` in {name}:\n{text}"
                                );
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // The password went each time (over the trusted connection), and the sessions were used.
    let seen = seen.lock().unwrap();
    let logins = seen
        .iter()
        .filter(|l| l.starts_with("POST /cvpservice/login"))
        .count();
    let infos = seen
        .iter()
        .filter(|l| l.starts_with("GET /cvpservice/cvpInfo"))
        .count();
    assert!(logins >= 7 * (FORMS + 4), "{seen:?}");
    assert_eq!(infos, 7 * 4, "{seen:?}");
}

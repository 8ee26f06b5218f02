//! The pipeline with an injected resolver: DNS outcomes without real DNS.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use preflight::codes::Code;
use preflight::config::CheckConfig;
use preflight::lab::Scenario;
use preflight::net::dns::DnsError;
use preflight::pki::sources::TrustSources;
use preflight::report::{Report, Status};
use preflight::target::{Product, Target};

fn run(
    target: &str,
    answer: Result<Vec<IpAddr>, DnsError>,
    tweak: impl FnOnce(&mut CheckConfig),
) -> Report {
    let t = Target::parse(target).unwrap();
    let host = t.host.to_string();
    let mut cfg = CheckConfig::new(t, Product::Generic);
    tweak(&mut cfg);
    let trust = TrustSources {
        sources: vec![preflight::pki::sources::mozilla()],
    };
    run_pipeline(&cfg, vec![(host, answer)], trust, ISSUED_AT)
}

fn status(r: &Report, id: &str) -> (Status, Code) {
    let c = r.check(id).unwrap_or_else(|| panic!("no {id}"));
    (c.status, c.code)
}

#[test]
fn nxdomain_fails_and_skips_the_rest() {
    let r = run("nowhere.example.invalid", Err(DnsError::NxDomain), |_| {});
    assert_eq!(status(&r, "dns.resolve"), (Status::Fail, Code::DnsNxdomain));
    let dns = r.check("dns.resolve").unwrap();
    assert!(dns.summary.contains("nowhere.example.invalid"));
    assert!(dns
        .fix
        .as_deref()
        .unwrap()
        .contains("--resolve nowhere.example.invalid:443:ADDRESS"));
    for id in ["tcp.connect", "tls.handshake", "cert.chain"] {
        assert_eq!(status(&r, id), (Status::Skip, Code::Skipped), "{id}");
        assert_eq!(r.check(id).unwrap().facts["blocked_by"], "dns.resolve");
    }
    assert!(r.failed());
    assert_eq!(r.first_fix, dns.fix);
}

#[test]
fn no_records_and_other_failures_have_their_codes() {
    let r = run("empty.example", Err(DnsError::NoRecords), |_| {});
    assert_eq!(
        status(&r, "dns.resolve"),
        (Status::Fail, Code::DnsNoRecords)
    );
    let r = run(
        "broken.example",
        Err(DnsError::Other("SERVFAIL".into())),
        |_| {},
    );
    assert_eq!(status(&r, "dns.resolve"), (Status::Fail, Code::DnsFailed));
    assert!(r.check("dns.resolve").unwrap().summary.contains("SERVFAIL"));
}

#[test]
fn a_resolver_that_never_answers_hits_the_dns_deadline() {
    let start = Instant::now();
    let r = run("slow.example", Err(DnsError::Timeout), |c| {
        c.timeouts.dns = Duration::from_millis(300)
    });
    assert_eq!(status(&r, "dns.resolve"), (Status::Fail, Code::DnsTimeout));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn every_address_is_tried_and_a_dead_one_warns() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let port = lab.addr(Scenario::Cvp).port();
    // The name has two A records; only one of them serves.
    let answers = vec!["127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap()];
    let r = run(&format!("cvp.preflight.lab:{port}"), Ok(answers), |_| {});
    assert_eq!(status(&r, "dns.resolve"), (Status::Pass, Code::Ok));
    let tcp = r.check("tcp.connect").unwrap();
    assert_eq!(
        (tcp.status, tcp.code),
        (Status::Warn, Code::TcpRefused),
        "{tcp:#?}"
    );
    assert!(tcp.summary.contains("127.0.0.2"));
    assert_eq!(tcp.facts["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(status(&r, "tls.handshake"), (Status::Pass, Code::Ok));
    assert_eq!(r.target.sni.as_deref(), Some("cvp.preflight.lab"));
    // Only trust fails: the lab's certificate is self-signed and this run trusts the Mozilla roots alone.
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.status.is_failure())
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(failed, vec!["trust.mozilla"]);
}

fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn dual_stack_says_which_family_worked() {
    if !ipv6_loopback() {
        panic!("this test needs IPv6 on loopback (::1)");
    }
    // The name has an AAAA and an A record; the server listens on IPv4 only.
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let port = lab.addr(Scenario::Cvp).port();
    let answers = vec!["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()];
    let r = run(&format!("cvp.preflight.lab:{port}"), Ok(answers), |_| {});
    let tcp = r.check("tcp.connect").unwrap();
    assert_eq!((tcp.status, tcp.code), (Status::Warn, Code::TcpRefused));
    assert!(
        tcp.summary.contains("(IPv4 works, IPv6 does not)"),
        "{}",
        tcp.summary
    );
    assert_eq!(tcp.facts["family"], "IPv4");
    let families: Vec<&str> = tcp.facts["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["family"].as_str().unwrap())
        .collect();
    assert_eq!(families, vec!["IPv6", "IPv4"]);
    assert_eq!(status(&r, "tls.handshake"), (Status::Pass, Code::Ok));

    // -4: only the A record is tried, and the report says what was left out.
    let answers = vec!["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()];
    let r = run(&format!("cvp.preflight.lab:{port}"), Ok(answers), |c| {
        c.family = Some(preflight::config::Family::V4)
    });
    let dns = r.check("dns.resolve").unwrap();
    assert!(
        dns.summary.contains("-4 keeps 127.0.0.1 (::1 left out)"),
        "{}",
        dns.summary
    );
    assert_eq!(status(&r, "tcp.connect"), (Status::Pass, Code::Ok));
    assert_eq!(
        r.check("tcp.connect").unwrap().facts["attempts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // -6: only ::1, where nothing listens.
    let answers = vec!["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()];
    let r = run(&format!("cvp.preflight.lab:{port}"), Ok(answers), |c| {
        c.family = Some(preflight::config::Family::V6)
    });
    assert_eq!(status(&r, "tcp.connect"), (Status::Fail, Code::TcpRefused));
    assert!(r.check("tcp.connect").unwrap().summary.contains("[::1]"));
}

#[test]
fn ipv6_only_server_with_minus_6() {
    if !ipv6_loopback() {
        panic!("this test needs IPv6 on loopback (::1)");
    }
    let lab = RunningLab::start_on(&[Scenario::Cvp], "::1".parse().unwrap());
    let port = lab.addr(Scenario::Cvp).port();
    let answers = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let r = run(&format!("cvp.preflight.lab:{port}"), Ok(answers), |c| {
        c.family = Some(preflight::config::Family::V6)
    });
    let tcp = r.check("tcp.connect").unwrap();
    assert_eq!((tcp.status, tcp.code), (Status::Pass, Code::Ok), "{tcp:#?}");
    assert_eq!(tcp.facts["family"], "IPv6");
    assert_eq!(status(&r, "tls.handshake"), (Status::Pass, Code::Ok));
}

#[test]
fn a_family_the_name_lacks_is_its_own_failure() {
    let r = run(
        "v4only.example:443",
        Ok(vec!["10.0.0.5".parse().unwrap()]),
        |c| c.family = Some(preflight::config::Family::V6),
    );
    let dns = r.check("dns.resolve").unwrap();
    assert_eq!(
        (dns.status, dns.code),
        (Status::Fail, Code::DnsNoAddressOfFamily)
    );
    assert!(
        dns.summary
            .contains("v4only.example has only IPv4 addresses (10.0.0.5); -6 asks for IPv6"),
        "{}",
        dns.summary
    );
    assert!(dns
        .fix
        .as_deref()
        .unwrap()
        .contains("AAAA record for v4only.example"));
    assert_eq!(status(&r, "tcp.connect").0, Status::Skip);

    let r = run(
        "v6only.example:443",
        Ok(vec!["2001:db8::5".parse().unwrap()]),
        |c| c.family = Some(preflight::config::Family::V4),
    );
    assert_eq!(
        status(&r, "dns.resolve"),
        (Status::Fail, Code::DnsNoAddressOfFamily)
    );
}

#[test]
fn minus_4_and_minus_6_on_the_command_line() {
    let lab = RunningLab::start(&[Scenario::Cvp]);
    let port = lab.addr(Scenario::Cvp).port();
    // An address of the other family: the same finding.
    let (code, r) = check_json(&[&format!("127.0.0.1:{port}"), "--product", "cvp", "-6"]);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&r, "dns.resolve"),
        ("fail".into(), "dns_no_address_of_family".into())
    );
    // --resolve with both families, -4 keeps the IPv4 one.
    let resolve = format!("dual.preflight.lab:{port}:[::1],127.0.0.1");
    let (_, r) = check_json(&[
        &format!("dual.preflight.lab:{port}"),
        "--product",
        "cvp",
        "--resolve",
        &resolve,
        "-4",
    ]);
    assert_eq!(
        outcome(&r, "tcp.connect"),
        ("pass".into(), "ok".into()),
        "{r:#}"
    );
    assert_eq!(check(&r, "tcp.connect")["facts"]["family"], "IPv4");
    // -4 and -6 together: a usage error.
    let out = preflight()
        .args(["check", "127.0.0.1:1", "-4", "-6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

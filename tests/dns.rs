//! The pipeline with an injected resolver: DNS outcomes without real DNS.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use preflight::checks::resolve::{DnsError, StaticResolver};
use preflight::checks::{self, Deps};
use preflight::codes::Code;
use preflight::config::CheckConfig;
use preflight::lab::Scenario;
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
    let deps = Deps {
        resolver: Arc::new(StaticResolver {
            answers: vec![(host, answer)],
        }),
        trust: Arc::new(TrustSources {
            sources: vec![preflight::pki::sources::mozilla()],
        }),
        now: ISSUED_AT,
        trace: preflight::trace::Trace::off(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(checks::run(&cfg, &deps))
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

//! Random and mutated DER through certificate inspection, trust judgement and diagnosis: never a panic.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use preflight::checks::trust::diagnose::{diagnose, Case};
use preflight::pki::facts::inspect;
use preflight::pki::judge::judge;
use preflight::pki::sources::{custom, mozilla, TrustSource};
use preflight::target::{Product, Target};
use proptest::prelude::*;
use rustls::pki_types::{CertificateDer, ServerName};
use time::macros::datetime;

fn fixture_chain(name: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .join("chain.pem");
    preflight::pki::sources::read_certificates(&path, "--ca")
        .unwrap()
        .into_iter()
        .map(|c| c.to_vec())
        .collect()
}

/// Judges and explains `chain` against `source` as `check` would; the result does not matter, only that
/// it returns.
fn judge_everything(chain: &[Vec<u8>], source: &TrustSource) {
    let at = datetime!(2026-06-01 00:00:00 UTC);
    let ders: Vec<CertificateDer<'static>> =
        chain.iter().cloned().map(CertificateDer::from).collect();
    let facts: Vec<_> = ders
        .iter()
        .enumerate()
        .map(|(i, d)| inspect(i, d.as_ref(), at))
        .collect();
    let name = ServerName::try_from("fixture.preflight.test").unwrap();
    if let Err(e) = judge(&source.anchors, &ders, Some(&name), at) {
        let case = Case {
            chain: &ders,
            facts: &facts,
            name: Some("fixture.preflight.test"),
            at,
            at_chosen: false,
            source,
            others: vec![],
            product: Product::Cvp,
            authority: Some("fixture.preflight.test:443".into()),
            again: None,
            warn_days: 30,
            server_date: Some(at),
        };
        let f = diagnose(&e, &case);
        assert!(!f.summary.is_empty() && !f.fix.is_empty());
    }
}

fn good_ca() -> TrustSource {
    custom(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/good/ca.pem")]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_as_a_certificate(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = inspect(0, &bytes, datetime!(2026-06-01 00:00:00 UTC));
        prop_assert_eq!(f.sha256.len(), 95);
        judge_everything(&[bytes], &mozilla());
    }

    #[test]
    fn mutated_real_certificates(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let name = ["good", "incomplete_chain", "prisma_console", "path_too_long"][which];
        let mut chain = fixture_chain(name);
        let target = chain.len() - 1;
        let cert = &mut chain[flips[0].0 % (target + 1)];
        for (pos, byte) in &flips {
            let i = pos % cert.len();
            cert[i] ^= byte | 1;
        }
        if let Some(c) = cut {
            let keep = c % cert.len();
            cert.truncate(keep);
        }
        judge_everything(&chain, &good_ca());
    }

    #[test]
    fn target_parsing_never_panics(s in "\\PC{0,80}") {
        let _ = Target::parse(&s);
    }

    #[test]
    fn url_like_targets_round_trip(host in "[a-z]([a-z0-9-]{0,18}[a-z0-9])?(\\.[a-z][a-z0-9]{0,10}){0,3}", port in 1u16.., path in "(/[a-z0-9-]{1,8}){0,3}") {
        let t = Target::parse(&format!("https://{host}:{port}{path}")).unwrap();
        prop_assert_eq!(t.host.to_string(), host);
        prop_assert_eq!(t.port, Some(port));
        prop_assert_eq!(t.path.unwrap_or_default(), path);
    }
}

//! Every code the tool can emit: stable names users grep for, with what each means and its usual fix.
//!
//! Never rename a code. The README's code table is generated from this list (`preflight codes`), and a
//! test keeps the two in step.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! codes {
    ($($variant:ident => $name:literal, $meaning:literal, $fix:literal;)*) => {
        /// A stable, machine-readable outcome of a check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            /// Every code, in the order the README lists them.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable name, as it appears in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name),* }
            }

            /// What the code means, in one sentence.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning),* }
            }

            /// The usual fix, for the README. Reports carry a specific fix built from what was seen.
            pub fn typical_fix(self) -> &'static str {
                match self { $(Code::$variant => $fix),* }
            }
        }
    };
}

codes! {
    Ok => "ok", "The check passed.", "-";
    Skipped => "skipped",
        "The check did not run because a check it depends on failed; the summary names which.",
        "Fix the earlier failing check first.";
    MaxTimeExceeded => "max_time_exceeded",
        "The check's whole budget (`--max-time`, default 30 s) ran out: this step was cut off, or never started; the summary names the step that was running.",
        "Raise `--max-time`; to find the slow phase, run with `-v` (each step with its time) or lower the phase deadlines (`--timeout`).";
    DnsNxdomain => "dns_nxdomain", "The name does not exist in DNS (NXDOMAIN).",
        "Check the spelling and use the full name (FQDN), or test by address with `--resolve HOST:PORT:ADDR`.";
    DnsNoRecords => "dns_no_records", "The name exists but has no A or AAAA record.",
        "Add an A/AAAA record, or use the address the service really has.";
    DnsTimeout => "dns_timeout", "No DNS server answered in time.",
        "Check `/etc/resolv.conf` and that this machine reaches its DNS servers (UDP and TCP 53).";
    DnsFailed => "dns_failed",
        "The lookup failed for another reason (no resolver configured, SERVFAIL, refused).",
        "Check `/etc/resolv.conf`, try `dig NAME`, or test by address with `--resolve`.";
    DnsNoAddressOfFamily => "dns_no_address_of_family",
        "The name has addresses, but none of the family `-4` or `-6` asked for.",
        "Drop `-4`/`-6`, or publish the missing A or AAAA record.";
    TcpRefused => "tcp_refused", "The host answered, but nothing listens on the port (connection refused).",
        "Use the port the service listens on (the report says which other known port answers), or start the service.";
    TcpTimeout => "tcp_timeout", "No answer to the TCP connection: a firewall drops it, or the host is down.",
        "Open the port in the firewall or security group between this machine and the server.";
    TcpUnreachable => "tcp_unreachable", "No route to the host or network from this machine.",
        "Check routing, VPN and the address family (`ip route get ADDR`).";
    TcpFailed => "tcp_failed", "The TCP connection failed for another reason; the summary says which.",
        "Read the summary; check local socket limits and the address.";
    ProxyAuthRequired => "proxy_auth_required",
        "The HTTP proxy answered CONNECT with 407: it wants credentials, or refused the ones sent.",
        "Put the proxy account in the proxy URL in the environment (`export HTTPS_PROXY='http://USER:PASSWORD@proxy:3128'`, percent-encoding `@` and `:`), or bypass the proxy with `NO_PROXY`/`--noproxy`.";
    ProxyRefused => "proxy_refused",
        "The HTTP proxy refused to open a tunnel to the target (403 or another 4xx): its policy forbids the host or port.",
        "Ask the proxy's owners to allow CONNECT to HOST:PORT (many proxies allow port 443 only), or bypass the proxy for this host with `NO_PROXY`/`--noproxy`.";
    ProxyUpstreamFailed => "proxy_upstream_failed",
        "The HTTP proxy could not reach the target (502, 503 or 504 to CONNECT).",
        "The proxy cannot resolve or reach HOST:PORT: check the name from the proxy's network and the firewall between the proxy and the server, or bypass the proxy.";
    ProxyTimeout => "proxy_timeout", "The HTTP proxy did not answer CONNECT in time.",
        "The proxy is slow or cannot reach the server; retry with a longer `--connect-timeout`, or bypass the proxy.";
    ProxyFailed => "proxy_failed",
        "The proxy connection failed otherwise: it did not speak HTTP, closed the connection, or answered CONNECT strangely.",
        "Check that the proxy URL names an HTTP proxy port (`http://proxy:3128`), not an HTTPS or SOCKS one.";
    ProxyIntercepting => "proxy_intercepting",
        "The certificate chain comes from a TLS-inspecting proxy or firewall (its CA signed it), not from the server.",
        "Trust the inspection CA your company distributes (`--ca corp-proxy-ca.pem`, and in your client), or bypass the proxy for this host (`NO_PROXY=HOST`, `--noproxy HOST`).";
    NotTls => "not_tls", "Something answers on the port, but it does not speak TLS (plain HTTP, SSH, ...).",
        "Use the TLS port; the port you chose serves plain text.";
    LegacyTlsOnly => "legacy_tls_only", "The server only speaks TLS 1.0 or 1.1, which current clients refuse.",
        "Enable TLS 1.2 and 1.3 on the server (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`).";
    ClientCertRequired => "client_cert_required",
        "The server demands a client certificate (mutual TLS) and none was given, or the one given was kept back because no trust source accepted the server's chain.",
        "Present a client certificate the server accepts, or use the port or path that does not require one.";
    TlsTimeout => "tls_timeout", "The TCP connection opened but the TLS handshake did not finish in time.",
        "Something holds the connection without answering: check proxies, load balancers, or the port.";
    DheOnly => "dhe_only",
        "The server offers TLS 1.2 with finite-field Diffie-Hellman (DHE) key exchange and no ECDHE or TLS 1.3: OpenSSL clients (curl, Python) connect; Go, rustls and grpcio cannot.",
        "Offer ECDHE suites and TLS 1.3 (nginx: `ssl_protocols TLSv1.2 TLSv1.3;` `ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;`), then reload.";
    StaticRsaOnly => "static_rsa_only",
        "The server offers only RSA key exchange (TLS 1.2, no forward secrecy): curl connects; Python (its default ciphers), Go (since 1.22), rustls and grpcio cannot.",
        "Offer ECDHE suites and TLS 1.3 (nginx: `ssl_protocols TLSv1.2 TLSv1.3;` and the ECDHE `ssl_ciphers` list of `dhe_only`), then reload.";
    CbcOnly => "cbc_only",
        "The server offers ECDHE only with CBC ciphers (no AES-GCM, no ChaCha20, no TLS 1.3): curl and Go connect; Python's default ciphers, rustls and grpcio (AEAD only) cannot.",
        "Offer AES-GCM or ChaCha20 suites and TLS 1.3 (nginx: the ECDHE `ssl_ciphers` list of `dhe_only`, `ssl_protocols TLSv1.2 TLSv1.3;`), then reload.";
    NoSharedCipher => "no_shared_cipher",
        "The server accepted none of the cipher suites offered (ECDHE, DHE and RSA key exchange, TLS 1.0 to 1.3): no current client connects.",
        "Offer TLS 1.2 with ECDHE and AES-GCM, and TLS 1.3 (nginx: `ssl_protocols TLSv1.2 TLSv1.3;` and the ECDHE `ssl_ciphers` list of `dhe_only`); check the certificate's key type matches the suites (ECDSA suites need an EC key).";
    LegacyTlsEnabled => "legacy_tls_enabled",
        "`--offer`: the server still accepts TLS 1.0 or 1.1 besides TLS 1.2/1.3 (deprecated by RFC 8996).",
        "Disable them (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`).";
    WeakCipherOffered => "weak_cipher_offered",
        "`--offer`: the server accepts a broken suite (3DES, RC4, NULL, EXPORT) or one without authentication (anonymous DH).",
        "Remove them from the server's cipher list (nginx: an `ssl_ciphers` of ECDHE suites with AES-GCM and ChaCha20).";
    NoForwardSecrecy => "no_forward_secrecy",
        "`--offer`: the server accepts RSA key exchange, which has no forward secrecy.",
        "Offer ECDHE suites only (nginx: an `ssl_ciphers` of ECDHE suites with AES-GCM and ChaCha20).";
    CertificateTooLarge => "certificate_too_large",
        "The server's certificate message (its chain) is over 64 KB: rustls refuses it; OpenSSL (up to 100 KB), Go and BoringSSL take it.",
        "Send a smaller chain: drop certificates clients do not need (the root, cross-signed copies, leftovers) and large extensions from the server certificate.";
    TlsHandshakeFailed => "tls_handshake_failed",
        "The TLS handshake failed for another reason; the summary names the alert or error.",
        "Compare the server's TLS settings with TLS 1.2/1.3 and ECDHE AEAD cipher suites.";
    AlpnH2Missing => "alpn_h2_missing",
        "The server did not negotiate HTTP/2 (ALPN h2), which every gRPC client needs.",
        "Enable HTTP/2 on whatever terminates TLS (nginx 1.25.1 and later: `http2 on;` in the server block; older: `listen 443 ssl http2;`, or the load balancer's HTTP/2 setting).";
    Expired => "expired", "A certificate in the chain is past its notAfter date.",
        "Renew it; if the date looks wrong, check this machine's clock.";
    NotYetValid => "not_yet_valid", "A certificate's notBefore date is in the future (or this machine's clock is behind).",
        "Check the clock (`date -u`, NTP); or wait, or install the current certificate.";
    NoSubjectAltName => "no_subject_alt_name",
        "The certificate has no subjectAltName: its name is only in the CN. curl (OpenSSL) and grpcio fall back to the CN; Python requests, Go and rustls refuse it.",
        "Reissue the certificate with the name in subjectAltName (openssl: `-addext 'subjectAltName=DNS:NAME'`).";
    NameMismatch => "name_mismatch",
        "The certificate does not list the name or address the client asked for (the CN is ignored; an address needs an IP SAN).",
        "Connect with a name the certificate lists, or reissue it with the name (or `IP:` address) in subjectAltName.";
    UnknownIssuer => "unknown_issuer", "The chain leads to a CA this trust source does not contain.",
        "Pass the CA with `--ca` (Python `verify=`, `curl --cacert`), or add it to the store.";
    SelfSigned => "self_signed", "The server presents a self-signed certificate that this trust source does not contain.",
        "Fetch the certificate safely (CloudVision: `/etc/nginx/cvp.crt` on the node), compare its SHA-256, and pass it with `--ca` or `--pin-sha256`.";
    IncompleteChain => "incomplete_chain", "The server does not send the intermediate certificate that signed its certificate.",
        "On the server, append the intermediate to the certificate file (nginx: the file `ssl_certificate` names).";
    CaUsedAsLeaf => "ca_used_as_leaf", "The server's own certificate is a CA certificate (CA:TRUE); strict clients refuse it.",
        "Regenerate the server certificate with `basicConstraints=critical,CA:FALSE` and `extendedKeyUsage=serverAuth`.";
    UnknownCriticalExtension => "unknown_critical_extension", "A certificate on the path, the root in your CA file included, carries an extension marked critical that clients do not know: OpenSSL and Go refuse the chain (BoringSSL and rustls do not look at the root's).",
        "Reissue the certificate without that extension, or with it marked non-critical.";
    PathLengthExceeded => "path_length_exceeded",
        "A CA's path length constraint (pathLenConstraint) allows fewer CA certificates below it than the chain has.",
        "Issue the server certificate directly from that CA, or reissue the CA with a larger pathLenConstraint.";
    IssuerNotCa => "issuer_not_ca",
        "A certificate that is not a CA (no basicConstraints CA:TRUE) signed another certificate of the chain.",
        "Issue the server certificate from a real CA certificate (basicConstraints=critical,CA:TRUE, keyUsage keyCertSign).";
    NameConstraintViolation => "name_constraint_violation",
        "A CA on the path has name constraints that forbid the server's name.",
        "Issue the certificate from a CA allowed to certify that name, or widen the CA's permitted subtrees.";
    MalformedExtension => "malformed_extension",
        "A certificate has an extension that is not well formed (the summary names the certificate and the extension).",
        "Reissue the certificate; check the tool or template that wrote its extensions.";
    DuplicateExtension => "duplicate_extension",
        "A certificate carries the same extension twice (the summary names which): rustls, Go and OpenSSL refuse it.",
        "Reissue the certificate with each extension once; check the template or the `-addext`/`-extfile` options that wrote it.";
    EmptyEku => "empty_eku",
        "A certificate has an extended key usage extension with no purpose in it.",
        "Reissue the certificate with extendedKeyUsage=serverAuth (or without the extension).";
    NotV3 => "not_v3",
        "A certificate is not X.509 version 3 (a v1 certificate cannot carry CA or name extensions).",
        "Reissue the certificate as X.509 v3 (openssl x509 -req with -extfile, or `openssl req -x509`, which writes v3).";
    ChainLoop => "chain_loop",
        "The certificates the server sends issue each other in a circle and none leads to a trusted root (cross-signed CAs sent without the root that ends the path).",
        "Send the path to a root the clients trust (leaf, its intermediates, optionally the root), not both halves of a cross-signature; or pass the root that ends it with `--ca`.";
    SelfIssuedIntermediate => "self_issued_intermediate",
        "The path goes through a self-issued CA certificate (a CA re-keyed under the same name, its new key certified by its old one). RFC 5280 and OpenSSL accept it; rustls and Go count it against the path length or refuse the name loop.",
        "Certify the CA's new key from its issuer directly (a certificate from the root, not from the old key), or trust the new CA certificate itself with `--ca`.";
    ChainTooLong => "chain_too_long",
        "The chain is deeper than clients follow.",
        "Issue the server certificate closer to the root: fewer intermediates.";
    MissingServerAuthEku => "missing_server_auth_eku", "The certificate's extended key usage does not allow a TLS server (no serverAuth).",
        "Reissue it with extended key usage serverAuth.";
    WeakSignature => "weak_signature", "A certificate is signed with SHA-1 or MD5, which clients refuse.",
        "Reissue it signed with SHA-256.";
    WeakKey => "weak_key", "A certificate on the path, the root included, has a key clients refuse: RSA under 2048 bits, DSA, an EC curve other than P-256/P-384/P-521, or explicit curve parameters.",
        "Reissue it with RSA 2048+ or ECDSA P-256.";
    BadSignature => "bad_signature", "A certificate's signature does not verify with its issuer's key.",
        "Re-export the certificate and chain from the CA that issued them; compare the CA's fingerprint with your `--ca` file.";
    PinMismatch => "pin_mismatch", "No certificate in the chain has the pinned SHA-256 fingerprint.",
        "If the server's certificate was replaced legitimately, verify the new one out of band and update the pin.";
    Revoked => "revoked",
        "The server's certificate is revoked: a response signed by its CA (or the CA's delegated OCSP responder), or the CA's signed CRL, says so, with when and why. Every trust source that accepted the chain fails, and no credential is sent.",
        "Issue a new certificate (with a new key when the reason is keyCompromise), install it with its key on the server and reload; clients that check revocation refuse the old one, and those that do not (curl, Python, Go, grpcio, rustls by default) still connect to it.";
    RevocationUnknown => "revocation_unknown",
        "The CA's OCSP responder answered `unknown`: it does not know the certificate (another CA issued it, or the responder lags behind its CA).",
        "Check that the certificate was issued by the CA its authority information access names; if it was, ask the CA why its responder does not know the serial number.";
    RevocationUnchecked => "revocation_unchecked",
        "The revocation status could not be established: the OCSP response (stapled or fetched) is stale, not valid yet, garbled or not signed by the issuer or its delegated responder, the CRL could not be used, or the responder or CRL did not answer in time or within the size cap.",
        "Read the summary for which: have the server refresh its staple (nginx: `ssl_stapling on; ssl_stapling_verify on;` and a `resolver` that reaches the responder), or make the responder and CRL reachable from this network (and through the proxy).";
    Other => "other", "The chain is invalid for another reason; the summary says which.",
        "Read the summary; compare with `openssl verify`.";
    ExpiringSoon => "expiring_soon", "A certificate on the path expires within the warning window (default 30 days, `--warn-days`).",
        "Renew it before it expires.";
    ChainOutOfOrder => "chain_out_of_order", "The server sends its chain out of order; some clients fail on that.",
        "Order the certificate file leaf first, then each issuer in turn.";
    UnrelatedCertificate => "unrelated_certificate", "The server sends certificates that do not belong to its chain.",
        "Remove the leftover certificates from the server's certificate file.";
    LongValidity => "long_validity", "The server certificate is valid for more than 825 days; Apple platforms and browsers refuse it.",
        "Reissue it for at most 825 days if Apple clients or browsers must connect.";
    NotAConsole => "not_a_console", "The product's unauthenticated endpoint did not answer as that product does.",
        "Check the product (`--product`), the port and, for SaaS, the tenant path in the URL.";
    UnsupportedHost => "unsupported_host", "The host name is not one the product serves its API on (CloudVision as a Service needs `www.<cluster>`; `apiserver.<cluster>` is where devices stream to, and answers API calls with 404 and gRPC `UNKNOWN`).",
        "Use the product's API host: CVaaS is `www.arista.io` or `www.cv-prod-REGION.arista.io`.";
    PrismaCspmHost => "prisma_cspm_host", "The target is the Prisma Cloud (CSPM) API or app (`api*.prismacloud.io`), not the Compute Console that serves `/api/v1/...`.",
        "Use the Compute Console's URL: in Prisma Cloud, Runtime Security > Manage > System > Utilities, \"Path to Console\" (SaaS: https://REGION.cloud.twistlock.com/TENANT).";
    PrismaSaasPort => "prisma_saas_port", "A Prisma SaaS Compute Console URL names port 8083: SaaS Consoles answer on 443 only (8083 is a self-hosted Console's port).",
        "Drop `:8083`: https://REGION.cloud.twistlock.com/TENANT, as \"Path to Console\" gives it.";
    PrismaTenantMissing => "prisma_tenant_missing", "A Prisma SaaS Compute Console URL without its tenant path: the API lives under `/TENANT` and answers 404 without it.",
        "Use the whole \"Path to Console\" (Runtime Security > Manage > System > Utilities): https://REGION.cloud.twistlock.com/TENANT.";
    AccessKeyRequired => "access_key_required", "A Prisma SaaS Compute Console refused the login (401): SaaS takes a Prisma Cloud access key ID and secret, not a console password (SAML users have none).",
        "Create an access key (Prisma Cloud: Settings > Access Control > Access Keys) and pass its ID with `--user` and its secret with `--password-env` or `--password-file`.";
    ProjectNotVisible => "project_not_visible", "The Console refused the project `--project` names while the same credentials work without it: no such project, or the user is not assigned to it.",
        "Check the project's name (Manage > Projects on the central Console) and that the user's role is assigned to it; without `--project`, calls go to the central Console.";
    BadCredentials => "bad_credentials", "The server refused the credentials (401, or CloudVision's 200 with an errorMessage).",
        "Check the user name and password or token; for Active Directory users on Prisma, write `DOMAIN\\user`.";
    TokenExpired => "token_expired", "The token's `exp` is in the past, or the server says it expired.",
        "Create a new token (CloudVision: a service-account token; Prisma: authenticate again).";
    TokenExpiring => "token_expiring", "The token expires soon (within a day, or within 5 minutes for short-lived tokens).",
        "Renew the token before the job that uses it runs.";
    UserSessionToken => "user_session_token",
        "The CloudVision token works, but it is a user's login session (`dst` user, about 24 hours), not a service account's token: an integration that stores it fails daily.",
        "Create a service-account token for the integration (Settings > Access Control > Service Accounts).";
    SessionExpired => "session_expired",
        "CloudVision answered HTTP 200 with its `LOG OUT MESSAGE` page instead of data: the server does not know the session (expired, logged out, or issued by another server).",
        "Log in again (sessions last 24 hours), or use a service-account token; a script must treat that page as a failed call.";
    TokenOtherCluster => "token_other_cluster",
        "CloudVision as a Service refused a token whose claims name another cluster: a token works only on the cluster that issued it.",
        "Point the client at `www.` of the cluster the token names, or create a service-account token on this cluster.";
    Forbidden => "forbidden", "Logged in, but the role lacks permission for the call (403, PERMISSION_DENIED).",
        "Give the user or service account a role that may call the API.";
    NotAttemptedUntrusted => "not_attempted_untrusted", "No credential was sent: no trust source accepted the server's chain.",
        "Fix the trust failure first (`--ca`, `--pin-sha256`), or pass `--insecure` knowingly.";
    UnsupportedMethod => "unsupported_method", "The product does not support this way of logging in.",
        "Use a method the product supports (CloudVision as a Service: service-account tokens).";
    EndpointNotFound => "endpoint_not_found", "The API path answered 404: wrong base URL, product or missing tenant path.",
        "Check the URL (Prisma SaaS: https://REGION.cloud.twistlock.com/TENANT) and `--product`.";
    RateLimited => "rate_limited", "The server answered 429: too many requests.",
        "Wait for `Retry-After` and retry; space out automated logins.";
    ServerError => "server_error", "The server answered 5xx.",
        "Read the server's logs; retry later.";
    HttpFailed => "http_failed", "The HTTP request failed before an answer (connection, TLS or timeout).",
        "Read the summary; the transport checks above usually name the cause.";
    EmptyChain => "empty_chain", "The server completed the handshake without sending a certificate.",
        "Configure a certificate on the server (nginx: `ssl_certificate`).";
    CertUnparsable => "cert_unparsable", "A certificate the server sent is not valid X.509 DER.",
        "Re-issue or re-export the certificate; the file the server uses is damaged.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown code `{name}`")))
    }
}

/// The README's code table, as Markdown.
pub fn markdown_table() -> String {
    let mut out = String::from("| code | meaning | typical fix |\n| --- | --- | --- |\n");
    for code in Code::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.meaning(),
            code.typical_fix()
        ));
    }
    out
}

impl Code {
    /// The code named `name` (`expired`; `Expired` and `not-yet-valid` too).
    pub fn named(name: &str) -> Option<Code> {
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        Code::ALL.iter().copied().find(|c| c.as_str() == wanted)
    }

    /// Up to three codes whose names are nearest to `name` (a typo, or a part of the name).
    pub fn nearest(name: &str) -> Vec<Code> {
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        let mut scored: Vec<(f64, Code)> = Code::ALL
            .iter()
            .map(|c| {
                let score = if !wanted.is_empty() && c.as_str().contains(&wanted) {
                    1.0
                } else {
                    strsim::jaro_winkler(&wanted, c.as_str())
                };
                (score, *c)
            })
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, c)| c).collect()
    }

    /// One code explained, as `preflight codes CODE` prints it.
    pub fn explain(self) -> String {
        format!(
            "{}\n\n{}\n\nUsual fix: {}\n",
            self.as_str(),
            self.meaning(),
            self.typical_fix()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_found_by_name_and_a_typo_by_its_neighbours() {
        assert_eq!(Code::named("expired"), Some(Code::Expired));
        assert_eq!(Code::named("Not-Yet-Valid"), Some(Code::NotYetValid));
        assert_eq!(Code::named("expird"), None);
        assert_eq!(Code::nearest("expird").first(), Some(&Code::Expired));
        assert!(Code::nearest("revok").contains(&Code::Revoked));
        assert!(Code::nearest("zzzz").is_empty());
        assert!(Code::Expired.explain().starts_with("expired\n\n"));
    }

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
            let json = serde_json::to_string(code).expect("serialize");
            let back: Code = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, *code);
        }
    }
}

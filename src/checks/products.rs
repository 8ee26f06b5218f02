//! The product's endpoints and every login method the credentials allow, over the channel the trust
//! stage chose.

use super::{auth, handshake};
use super::{verify_name, Deps};
use crate::config::CheckConfig;
use crate::net::route::Route;
use crate::net::tls;
use crate::report::Check;

/// Product probes and every authentication method the credentials allow, over the channel trust chose.
pub(super) async fn products_and_auth(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    hs: &tls::Handshake,
    accepted: Option<&crate::pki::sources::TrustSource>,
) -> Vec<Check> {
    use crate::target::Product;
    let creds = &cfg.credentials;
    let ids = auth::method_ids(cfg.product, creds);
    let wants_http = cfg.product != Product::Generic || !ids.is_empty();
    if !wants_http {
        return Vec::new();
    }
    if hs.outcome.is_err() {
        return ids
            .iter()
            .map(|id| Check::skip(id, handshake::ID, "no TLS connection"))
            .collect();
    }
    let identity = creds.identity.as_ref();
    let channel =
        match crate::pki::channel::choose(accepted, creds.insecure, identity, &tls::ALPN_OFFERED) {
            Ok(c) => c,
            Err(e) => {
                return vec![Check::new(
                    "auth.setup",
                    crate::report::Status::Error,
                    crate::codes::Code::HttpFailed,
                    format!("cannot prepare the authenticated connection: {e}"),
                )
                .with_fix("Check the --cert and --key files")];
            }
        };
    // Requests without credentials (the Prisma ping) may use an unverified connection: nothing secret goes.
    let probe_config = match channel.config() {
        Some(c) => c,
        None => match crate::pki::channel::config_for(None, None, &tls::ALPN_OFFERED) {
            Ok(c) => std::sync::Arc::new(c),
            Err(_) => return Vec::new(),
        },
    };
    let host = cfg.target.host.to_string();
    // The URL path is a Prisma SaaS tenant path; CloudVision's API is at the root.
    let path = if cfg.product == Product::Prisma {
        cfg.target.path.as_deref()
    } else {
        None
    };
    let timeout = cfg.timeouts.tls;
    let mut out = Vec::new();
    let is_cv = matches!(cfg.product, Product::Cvp | Product::Cvaas);
    // gRPC goes over the trusted channel when there is one (h2 only); the unauthenticated probe may go
    // over an unverified one, since it carries nothing secret.
    let grpc_target = |source| -> Option<auth::cvp::GrpcTarget> {
        let config = crate::pki::channel::config_for(source, identity, &["h2"]).ok()?;
        Some(auth::cvp::GrpcTarget {
            config: std::sync::Arc::new(config),
            name: verify_name(cfg),
            authority: cfg.target.authority(cfg.port),
            route: route.clone(),
            timeout,
        })
    };
    if cfg.product == Product::Cvaas {
        out.extend(auth::cvp::cvaas_host(&host));
    }
    if is_cv {
        if let Some(g) = grpc_target(accepted) {
            // gRPC on the target's port and on the product's other ports (CVP: 443 from 2021.3, 8443
            // before), at the same time; then say which one serves it.
            // Only when the target's port is itself a CloudVision port (or the user named the others):
            // comparing 443 with 8443 tells an old release from a new one; next to another port it is noise.
            let known = cfg.product.known_ports().contains(&cfg.port) || cfg.alt_ports_chosen;
            let others: Vec<auth::cvp::GrpcTarget> = if cfg.product == Product::Cvp && known {
                cfg.alt_ports
                    .iter()
                    .map(|p| auth::cvp::GrpcTarget {
                        route: g.route.with_port(*p),
                        authority: cfg.target.authority(*p),
                        // A filtered legacy port must not hold the run: a LAN answers in milliseconds.
                        timeout: timeout.min(std::time::Duration::from_secs(1)),
                        ..g.clone()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let main = auth::cvp::grpc_served(cfg.port, &g);
            let rest = futures_util::future::join_all(
                others
                    .iter()
                    .map(|o| auth::cvp::grpc_served(o.route.port, o)),
            );
            let (main, rest) = tokio::join!(main, rest);
            out.extend(auth::cvp::which_grpc_port(cfg.port, main, rest));
        }
    }
    // Probes without credentials get a short deadline: a server that is not HTTP must not cost the TLS timeout.
    let probe_timeout = timeout.min(std::time::Duration::from_secs(3));
    if cfg.product == Product::Cvp {
        if let Ok(http) =
            crate::net::http::Http::new(probe_config.clone(), route, path, probe_timeout)
        {
            out.push(auth::cvp::login_endpoint(&http).await);
        }
    }
    if cfg.product == Product::Prisma {
        if let Ok(http) =
            crate::net::http::Http::new(probe_config.clone(), route, path, probe_timeout)
        {
            out.push(auth::prisma::ping(&http).await);
        }
    }
    if ids.is_empty() {
        return out;
    }
    let Some(config) = channel.config() else {
        out.extend(auth::skipped_untrusted(&ids));
        return out;
    };
    let http = match crate::net::http::Http::new(config, route, path, timeout) {
        Ok(h) => h,
        Err(e) => {
            out.push(
                Check::new(
                    "auth.setup",
                    crate::report::Status::Error,
                    crate::codes::Code::HttpFailed,
                    e,
                )
                .with_fix("Retry with -v"),
            );
            return out;
        }
    };
    let now = deps.now;
    let methods = match cfg.product {
        Product::Prisma => auth::prisma::run(&http, creds, now).await,
        Product::Cvp | Product::Cvaas => {
            let g = match &channel {
                crate::pki::channel::Channel::Trusted { .. } => grpc_target(accepted),
                _ => grpc_target(None),
            };
            auth::cvp::run(&http, creds, cfg.product, now, g.as_ref()).await
        }
        Product::Generic | Product::Auto => ids
            .iter()
            .map(|id| {
                Check::new(
                    id,
                    crate::report::Status::Skip,
                    crate::codes::Code::UnsupportedMethod,
                    "not attempted: a generic TLS server has no known login API",
                )
                .with_fix("Pass --product cvp, cvaas or prisma to check logging in")
            })
            .collect(),
    };
    let insecure = channel.insecure();
    let via = match &channel {
        crate::pki::channel::Channel::Trusted { source, .. } => Some(source.check_id()),
        _ => None,
    };
    out.extend(methods.into_iter().map(|c| {
        let c = auth::flag_insecure(c, insecure);
        match via {
            Some(v) => c.with_fact("trusted_via", v),
            None => c,
        }
    }));
    out
}

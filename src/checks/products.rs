//! The product's endpoints and every login method the credentials allow, over the channel the trust
//! stage chose.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::auth::cvp::GrpcTarget;
use super::{auth, handshake};
use super::{verify_name, Budget, Deps};
use crate::codes::Code;
use crate::config::CheckConfig;
use crate::net::http::Http;
use crate::net::route::Route;
use crate::net::tls;
use crate::pki::channel::Channel;
use crate::pki::sources::TrustSource;
use crate::report::{Check, Status};
use crate::target::Product;

/// What the product stage shares: the target, the way to it, and the channels trust allowed.
struct Stage<'a> {
    cfg: &'a CheckConfig,
    route: &'a Route,
    /// The source that accepted the chain, if any: credentials go only over a channel built from it.
    accepted: Option<&'a TrustSource>,
    identity: Option<&'a crate::pki::channel::Identity>,
    /// A source the user chose that rejected the chain: why nothing secret is sent.
    refused: Option<(crate::pki::sources::SourceKind, Code)>,
    /// The URL path: a Prisma SaaS tenant path; CloudVision's API is at the root.
    path: Option<&'a str>,
    /// The run's secrets: every text a server sends passes through it.
    redactor: &'a crate::secret::Redactor,
    /// The `--max-time` budget: each probe and each login method runs within it.
    budget: &'a Budget,
}

/// Product probes and every authentication method the credentials allow, over the channel trust chose,
/// each within the budget.
pub(super) async fn products_and_auth(
    cfg: &CheckConfig,
    deps: &Deps,
    route: &Route,
    hs: &tls::Handshake,
    verdicts: Option<&super::trust::Verdicts>,
    budget: &Budget,
) -> Vec<Check> {
    let accepted = verdicts.and_then(|v| v.accepting(&deps.trust));
    let refused = verdicts.and_then(|v| v.refused_by_choice());
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
    let stage = Stage {
        cfg,
        route,
        accepted,
        refused,
        identity: creds.identity.as_ref(),
        redactor: &deps.redactor,
        budget,
        path: match cfg.product {
            Product::Prisma => cfg.target.path.as_deref(),
            _ => None,
        },
    };
    let channel = match crate::pki::channel::choose(
        accepted,
        creds.insecure,
        stage.identity,
        &tls::ALPN_OFFERED,
    ) {
        Ok(c) => c,
        Err(e) => {
            return vec![setup_failed(
                format!("cannot prepare the authenticated connection: {e}"),
                "Check the --cert and --key files",
            )]
        }
    };
    // Requests without credentials (the Prisma ping) may use an unverified connection: nothing secret goes.
    let probe_config = match channel.config() {
        Some(c) => c,
        None => match crate::pki::channel::config_for(None, None, &tls::ALPN_OFFERED) {
            Ok(c) => Arc::new(c),
            Err(_) => return Vec::new(),
        },
    };
    let started = std::time::Instant::now();
    let mut out = stage.probes(probe_config).await;
    deps.trace.say(1, "product", || {
        let ids: Vec<&str> = out.iter().map(|c| c.id.as_str()).collect();
        format!("{} in {} ms", ids.join(", "), started.elapsed().as_millis())
    });
    if !ids.is_empty() {
        out.extend(traced_logins(&stage, deps, &channel, &ids).await);
    }
    out
}

/// Each login method, traced (`-v`): over which connection, and how long they took.
async fn traced_logins(
    stage: &Stage<'_>,
    deps: &Deps,
    channel: &crate::pki::channel::Channel,
    ids: &[String],
) -> Vec<Check> {
    use crate::pki::channel::Channel;
    let started = std::time::Instant::now();
    let over = match channel {
        Channel::Trusted { source, .. } => {
            format!("over a connection verified by {}", source.check_id())
        }
        Channel::Insecure { .. } => "over an unverified connection (--insecure)".to_string(),
        Channel::Untrusted => "nothing sent: no trust source accepted the chain".to_string(),
    };
    deps.trace
        .say(1, "auth", || format!("{}: {over}", ids.join(", ")));
    let logins = stage.logins(channel, ids, deps.now).await;
    deps.trace.say(1, "auth", || {
        format!("{} in {} ms", ids.join(", "), started.elapsed().as_millis())
    });
    logins
}

fn setup_failed(summary: String, fix: &str) -> Check {
    Check::new("auth.setup", Status::Error, Code::HttpFailed, summary).with_fix(fix)
}

impl Stage<'_> {
    /// A gRPC connection: over the trusted channel when `source` is given (h2 only); the unauthenticated
    /// probe may go over an unverified one, since it carries nothing secret.
    fn grpc_target(&self, source: Option<&TrustSource>) -> Option<GrpcTarget> {
        let cfg = self.cfg;
        // The client certificate is a credential: only over a verified channel, or with --insecure.
        let identity = match (source, cfg.credentials.insecure) {
            (None, false) => None,
            _ => self.identity,
        };
        let config = crate::pki::channel::config_for(source, identity, &["h2"]).ok()?;
        Some(GrpcTarget {
            config: Arc::new(config),
            name: verify_name(cfg),
            authority: cfg.target.authority(cfg.port),
            route: self.route.clone(),
            timeout: cfg.timeouts.tls,
            redactor: self.redactor.clone(),
        })
    }

    /// What the product serves, without credentials: the CVaaS host name, gRPC, the login endpoint or the
    /// Prisma ping.
    async fn probes(&self, probe_config: Arc<rustls::ClientConfig>) -> Vec<Check> {
        let cfg = self.cfg;
        let mut out = Vec::new();
        if cfg.product == Product::Cvaas {
            out.extend(auth::cvp::cvaas_host(&cfg.target.host.to_string()));
        }
        if matches!(cfg.product, Product::Cvp | Product::Cvaas) {
            if let Some(g) = self.grpc_target(self.accepted) {
                let id = format!("grpc.{}", cfg.port);
                let what = format!("the gRPC probe on port {}", cfg.port);
                match self.budget.run(&id, &what, self.grpc_ports(&g)).await {
                    Ok(checks) => out.extend(checks),
                    Err(cut) => out.push(cut),
                }
            }
        }
        // Probes without credentials get a short deadline: a server that is not HTTP must not cost the TLS timeout.
        let probe_timeout = cfg.timeouts.tls.min(Duration::from_secs(3));
        let http = || {
            Http::new(
                probe_config.clone(),
                self.route,
                self.path,
                probe_timeout,
                self.redactor,
            )
        };
        let budget = self.budget;
        match cfg.product {
            Product::Cvp => {
                if let Ok(http) = http() {
                    let what = "GET /cvpservice/login/authenticate.do (the login endpoint)";
                    let probe = auth::cvp::login_endpoint(&http);
                    out.push(
                        budget
                            .run("product.login", what, probe)
                            .await
                            .unwrap_or_else(|c| c),
                    );
                }
            }
            Product::Prisma => {
                if let Ok(http) = http() {
                    let probe = auth::prisma::ping(&http, cfg);
                    let what = "GET /api/v1/_ping";
                    out.push(
                        budget
                            .run("product.ping", what, probe)
                            .await
                            .unwrap_or_else(|c| c),
                    );
                }
            }
            _ => {}
        }
        out
    }

    /// gRPC on the target's port and on the product's other ports (CVP: 443 from 2021.3, 8443 before), at
    /// the same time; then which one serves it.
    async fn grpc_ports(&self, g: &GrpcTarget) -> Vec<Check> {
        let cfg = self.cfg;
        // Only when the target's port is itself a CloudVision port (or the user named the others):
        // comparing 443 with 8443 tells an old release from a new one; next to another port it is noise.
        let known = cfg.product.known_ports().contains(&cfg.port) || cfg.alt_ports_chosen;
        let others: Vec<GrpcTarget> = if cfg.product == Product::Cvp && known {
            cfg.alt_ports
                .iter()
                .map(|p| GrpcTarget {
                    route: g.route.with_port(*p),
                    authority: cfg.target.authority(*p),
                    // A filtered legacy port must not hold the run: a LAN answers in milliseconds.
                    timeout: cfg.timeouts.tls.min(Duration::from_secs(1)),
                    ..g.clone()
                })
                .collect()
        } else {
            Vec::new()
        };
        let main = auth::cvp::grpc_served(cfg.port, g);
        let rest = futures_util::future::join_all(
            others
                .iter()
                .map(|o| auth::cvp::grpc_served(o.route.port, o)),
        );
        let (main, rest) = tokio::join!(main, rest);
        auth::cvp::which_grpc_port(cfg.port, main, rest)
    }

    /// Every login method the credentials allow, over `channel`: skipped when trust allowed none.
    async fn logins(&self, channel: &Channel, ids: &[String], now: OffsetDateTime) -> Vec<Check> {
        let cfg = self.cfg;
        let Some(config) = channel.config() else {
            return auth::skipped_untrusted(ids, self.refused);
        };
        let http = match Http::new(
            config,
            self.route,
            self.path,
            cfg.timeouts.tls,
            self.redactor,
        ) {
            Ok(h) => h,
            Err(e) => return vec![setup_failed(e.to_string(), "Retry with -v")],
        };
        let g = match channel {
            Channel::Trusted { .. } => self.grpc_target(self.accepted),
            _ => self.grpc_target(None),
        };
        let mut methods = Vec::new();
        for method in Method::each(cfg.product, &cfg.credentials) {
            let what = method.what();
            let creds = &method.creds;
            let checks = match cfg.product {
                Product::Prisma => {
                    self.budget
                        .run(
                            &method.ids[0],
                            &what,
                            auth::prisma::run(&http, cfg, creds, now),
                        )
                        .await
                }
                Product::Cvp | Product::Cvaas => {
                    let login = auth::cvp::run(&http, creds, cfg.product, now, g.as_ref());
                    self.budget.run(&method.ids[0], &what, login).await
                }
                Product::Generic | Product::Auto => {
                    Ok(method.ids.iter().map(|id| generic_login(id)).collect())
                }
            };
            match checks {
                Ok(checks) => methods.extend(checks),
                Err(cut) => {
                    methods.push(cut);
                    let rest = method.ids[1..].iter();
                    methods.extend(rest.map(|id| self.budget.stop(id, id, false)));
                }
            }
        }
        let insecure = channel.insecure();
        let via = match channel {
            Channel::Trusted { source, .. } => Some(source.check_id()),
            _ => None,
        };
        methods
            .into_iter()
            .map(|c| {
                // A method the budget left no time for sent nothing.
                if c.status == Status::Skip && c.code == Code::MaxTimeExceeded {
                    return c;
                }
                let c = auth::flag_insecure(c, insecure);
                match via {
                    Some(v) => c.with_fact("trusted_via", v),
                    None => c,
                }
            })
            .collect()
    }
}

/// One login method of the credentials, alone: the budget cuts off one method and keeps the ones before.
struct Method {
    /// The checks it makes (Prisma's password: `auth.basic` and `auth.password`).
    ids: Vec<String>,
    /// The credentials with only this method in them.
    creds: crate::credentials::Credentials,
    /// What it is doing, for a summary.
    doing: String,
}

impl Method {
    /// Every method the credentials allow, in the order the product's login runs them.
    fn each(product: Product, creds: &crate::credentials::Credentials) -> Vec<Method> {
        use crate::credentials::Credentials;
        let alone = Credentials {
            insecure: creds.insecure,
            ..Credentials::default()
        };
        let mut password = Vec::new();
        if let (Some(user), Some(_)) = (&creds.user, &creds.password) {
            let ids = match product {
                Product::Prisma => vec!["auth.basic".into(), "auth.password".into()],
                _ => vec!["auth.password".into()],
            };
            let creds = Credentials {
                user: creds.user.clone(),
                password: creds.password.clone(),
                ..alone.clone()
            };
            let doing = format!("logging in as {user}");
            password.push(Method { ids, creds, doing });
        }
        let tokens = creds.tokens.iter().map(|t| Method {
            ids: vec![format!("auth.{}", t.method)],
            creds: Credentials {
                tokens: vec![t.clone()],
                ..alone.clone()
            },
            doing: format!("proving the token from {}", t.origin),
        });
        let client_cert = creds.identity.as_ref().map(|identity| Method {
            ids: vec!["auth.client-cert".into()],
            creds: Credentials {
                identity: Some(identity.clone()),
                ..alone.clone()
            },
            doing: "logging in with the client certificate".into(),
        });
        let mut all = password;
        match product {
            // CloudVision tries the client certificate before the tokens.
            Product::Cvp | Product::Cvaas => {
                all.extend(client_cert);
                all.extend(tokens);
            }
            _ => {
                all.extend(tokens);
                all.extend(client_cert);
            }
        }
        all
    }

    fn what(&self) -> String {
        format!("{} ({})", self.ids[0], self.doing)
    }
}

fn generic_login(id: &str) -> Check {
    Check::new(
        id,
        Status::Skip,
        Code::UnsupportedMethod,
        "not attempted: a generic TLS server has no known login API",
    )
    .with_fix("Pass --product cvp, cvaas or prisma to check logging in")
}

//! `--product auto` (the default): recognise the product from answers that need no credential, with short
//! deadlines: Prisma's `GET /api/v1/_ping`, CloudVision's gRPC `GetOne` (UNAUTHENTICATED) or login endpoint.
//! A server that negotiated no ALPN is not probed (it is not an HTTPS API) and is checked as generic.

use std::sync::Arc;
use std::time::Duration;

use crate::config::CheckConfig;
use crate::net::grpc::{self, Outcome};
use crate::net::http::{Auth, Http};
use crate::net::route::Route;
use crate::net::tls::{self, Handshake};
use crate::report::Check;
use crate::target::Product;

pub const ID: &str = "product.detect";

/// The configuration for the recognised product, and the check that says what was recognised and why.
pub async fn detect(cfg: &CheckConfig, hs: &Handshake, route: &Route) -> (CheckConfig, Check) {
    let mut eff = cfg.clone();
    // Only the product changes: the ports to try stay what the user asked for.
    let (product, check) = recognise(cfg, hs, route).await;
    eff.product = product;
    (eff, check)
}

async fn recognise(cfg: &CheckConfig, hs: &Handshake, route: &Route) -> (Product, Check) {
    if hs.outcome.is_err() {
        let c = Check::pass(ID, "not recognised: the TLS handshake failed, so no HTTP probe was made; checked as a generic TLS server (pass --product cvp, cvaas or prisma to check a product)");
        return (Product::Generic, c);
    }
    let alpn = hs.outcome.as_ref().ok().and_then(|f| f.alpn.clone());
    let Some(alpn) = alpn else {
        let c = Check::pass(ID, "not recognised: the server negotiated no ALPN, so no HTTP probe was made; checked as a generic TLS server (pass --product cvp, cvaas or prisma to check a product)");
        return (Product::Generic, c);
    };
    let deadline = cfg.timeouts.tls.min(Duration::from_secs(2));
    let Ok(probe) = crate::pki::channel::config_for(None, None, &tls::ALPN_OFFERED) else {
        let c = Check::pass(
            ID,
            "not recognised: no probe could be prepared; checked as a generic TLS server",
        );
        return (Product::Generic, c);
    };
    if let Some(found) = by_http(cfg, route, Arc::new(probe), &alpn, deadline).await {
        return found;
    }
    if alpn == "h2" {
        if let Some(found) = by_grpc(cfg, route, deadline).await {
            return found;
        }
    }
    // CloudVision as a Service's names say what they are where no API answers (`apiserver.<cluster>`).
    let host = cfg.target.host.to_string();
    if cloudvision(&host) == Product::Cvaas {
        let c = Check::pass(ID, format!("recognised as CloudVision as a Service by its name ({host}), though no CloudVision API answered here"));
        return (Product::Cvaas, c.with_fact("product", "cvaas"));
    }
    (Product::Generic, Check::pass(ID, "not recognised as CloudVision or Prisma Cloud Compute (no _ping, no inventory gRPC): checked as a generic TLS server; pass --product to insist"))
}

/// Prisma's `_ping`, then (without h2) CloudVision's login endpoint.
async fn by_http(
    cfg: &CheckConfig,
    route: &Route,
    probe: Arc<rustls::ClientConfig>,
    alpn: &str,
    deadline: Duration,
) -> Option<(Product, Check)> {
    let host = cfg.target.host.to_string();
    // Only status codes are read here: no text from the server enters the check.
    let quiet = crate::secret::Redactor::default();
    let http = Http::new(
        probe.clone(),
        route,
        cfg.target.path.as_deref(),
        deadline,
        &quiet,
    )
    .ok()?;
    // The path is a Prisma SaaS tenant path; CloudVision's API is at the root.
    let root = Http::new(probe, route, None, deadline, &quiet).ok();
    if let Ok(r) = http.get("/api/v1/_ping", Auth::None).await {
        if r.status == 200 && answers_anything(&http, "/api/v1/", 200).await {
            return Some(catch_all("/api/v1/_ping", 200));
        }
        if r.status == 200 {
            return Some((
                Product::Prisma,
                Check::pass(
                    ID,
                    "recognised as a Prisma Cloud Compute Console: GET /api/v1/_ping answered 200",
                )
                .with_fact("product", "prisma"),
            ));
        }
        // The Prisma Cloud (CSPM) API given for a Compute Console: the Prisma checks say where to go.
        if r.headers.contains_key("x-redlock-status") {
            let c = Check::pass(ID, "recognised as Prisma Cloud: GET /api/v1/_ping answered with an x-redlock-status header, as the Prisma Cloud (CSPM) API does; checked as Prisma Cloud Compute");
            return Some((Product::Prisma, c.with_fact("product", "prisma")));
        }
    }
    let root = root.filter(|_| alpn != "h2")?;
    let r = root
        .get("/cvpservice/login/authenticate.do", Auth::None)
        .await
        .ok()?;
    if r.status == 404 || r.status >= 500 {
        return None;
    }
    if answers_anything(&root, "/cvpservice/login/", r.status).await {
        return Some(catch_all("/cvpservice/login/authenticate.do", r.status));
    }
    let c = Check::pass(
        ID,
        format!(
            "recognised as CloudVision: its login endpoint answered HTTP {}",
            r.status
        ),
    )
    .with_fact("product", eff_name(&host));
    Some((cloudvision(&host), c))
}

/// CloudVision's inventory gRPC service, without a token.
/// Whether a path no product has (`PREFIX` + a random name) gets `status` too: a catch-all server
/// (nginx `return 200;`, a front page for every path) proves nothing by answering a product's path.
async fn answers_anything(http: &Http, prefix: &str, status: u16) -> bool {
    use ring::rand::SecureRandom;
    let mut nonce = [0u8; 6];
    let _ = ring::rand::SystemRandom::new().fill(&mut nonce);
    let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let path = format!("{prefix}preflight-{name}");
    http.get(&path, Auth::None)
        .await
        .is_ok_and(|r| r.status == status)
}

/// Not recognised: the server answered a made-up path as it answered the product's.
fn catch_all(path: &str, status: u16) -> (Product, Check) {
    let c = Check::pass(
        ID,
        format!("not recognised: {path} answered {status}, but so does a path no product has (the server answers every path: a catch-all or a default page); checked as a generic TLS server; pass --product to insist"),
    )
    .with_fact("catch_all", true);
    (Product::Generic, c)
}

async fn by_grpc(cfg: &CheckConfig, route: &Route, deadline: Duration) -> Option<(Product, Check)> {
    let host = cfg.target.host.to_string();
    let config = crate::pki::channel::config_for(None, None, &["h2"]).ok()?;
    let name = crate::checks::verify_name(cfg);
    let outcome = grpc::get_one(
        Arc::new(config),
        name,
        &cfg.target.authority(cfg.port),
        route,
        None,
        deadline,
    )
    .await;
    let Outcome::Status(code @ (0 | 5 | 7 | 16), _) = outcome else {
        return None;
    };
    let c = Check::pass(
        ID,
        format!(
            "recognised as CloudVision: the inventory gRPC service answered {} without a token",
            grpc::status_name(code)
        ),
    );
    Some((cloudvision(&host), c.with_fact("product", eff_name(&host))))
}

fn cloudvision(host: &str) -> Product {
    if host.ends_with("arista.io") {
        Product::Cvaas
    } else {
        Product::Cvp
    }
}

fn eff_name(host: &str) -> &'static str {
    cloudvision(host).as_str()
}

//! Embeds the gateway in a program, routes a host to a backend, then moves
//! the route to another backend from code, and stops gracefully.
//!
//! Run it with `cargo run -p switchyard --example embed`. The two backends
//! are the test kit's echo servers, standing in for your own services; any
//! HTTP client does for the requests.

use std::error::Error;

use switchyard::config::dynamic::{
    Configuration, HttpConfiguration, LoadBalancerService, Router, Server, Service,
};
use switchyard::Gateway;
use switchyard_testkit::{get, Backend};

/// The static configuration, as it would be written for Traefik; port 0
/// takes a free port.
const STATIC: &str = "
entryPoints:
  web:
    address: 127.0.0.1:0
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // The program owns logging: Switchyard logs through `tracing`.
    tracing_subscriber::fmt().with_env_filter("info").init();
    run().await
}

/// The whole example; the integration tests run it too.
pub async fn run() -> Result<(), Box<dyn Error + Send + Sync>> {
    let blue = Backend::start("blue").await;
    let green = Backend::start("green").await;

    let gateway = Gateway::builder()
        .static_yaml(STATIC)
        .provider_name("shop")
        .start()
        .await?;
    let web = gateway.local_addr("web").ok_or("no entrypoint named web")?;

    // shop.example goes to blue. `apply` returns once the route serves.
    let applied = gateway.apply(shop_routes(&blue.url())).await?;
    if !applied.is_clean() {
        return Err(format!("unexpected errors: {:?}", applied.errors()).into());
    }
    let reply = get(web, "shop.example", "/").await?;
    println!(
        "shop.example -> {}",
        reply.header("x-backend").unwrap_or("?")
    );
    if reply.header("x-backend") != Some("blue") {
        return Err("shop.example should be served by blue".into());
    }

    // Moved to green: one atomic switch, requests in flight finish on blue.
    gateway.apply(shop_routes(&green.url())).await?;
    let reply = get(web, "shop.example", "/").await?;
    println!(
        "shop.example -> {}",
        reply.header("x-backend").unwrap_or("?")
    );
    if reply.header("x-backend") != Some("green") {
        return Err("shop.example should now be served by green".into());
    }

    // What the API would show at /api/http/routers.
    for router in gateway.routers() {
        println!("router {} is {}", router["name"], router["status"]);
    }

    gateway.shutdown().await;
    Ok(())
}

/// One router for `shop.example` and its service, sending to `backend`.
fn shop_routes(backend: &str) -> Configuration {
    let mut http = HttpConfiguration::default();
    http.routers.insert(
        "storefront".into(),
        Router {
            rule: "Host(`shop.example`)".into(),
            service: "storefront".into(),
            entry_points: vec!["web".into()],
            ..Router::default()
        }
        .into(),
    );
    http.services.insert(
        "storefront".into(),
        Service {
            load_balancer: Some(LoadBalancerService {
                servers: vec![Server {
                    url: backend.into(),
                    ..Server::default()
                }],
                ..LoadBalancerService::default()
            }),
            ..Service::default()
        }
        .into(),
    );
    Configuration {
        http: Some(http),
        ..Configuration::default()
    }
}

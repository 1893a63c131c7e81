//! A provider of the program's own: the routes come from the program's
//! data (here a list of sites it keeps in memory, as it might keep them in
//! its database), turned into Traefik's dynamic configuration and pushed to
//! the gateway each time the data changes.
//!
//! Run it with `cargo run -p switchyard --example custom_provider`. The
//! backends are the test kit's echo servers, standing in for your services.

use std::error::Error;

use switchyard::config::dynamic::{
    Configuration, HttpConfiguration, LoadBalancerService, Router, Server, Service,
};
use switchyard::{Applied, ConfigSender, Gateway};
use switchyard_testkit::{get, Backend};
use tokio::sync::{mpsc, watch};

/// The program's own idea of a route.
#[derive(Clone, Debug)]
struct Site {
    name: String,
    host: String,
    backends: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    run().await
}

/// The whole example; the integration tests run it too.
pub async fn run() -> Result<(), Box<dyn Error + Send + Sync>> {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let gateway = Gateway::builder()
        .static_yaml("entryPoints:\n  web:\n    address: 127.0.0.1:0\n")
        .start()
        .await?;
    let web = gateway.local_addr("web").ok_or("no entrypoint named web")?;

    // The program's data, and the provider that follows it.
    let (sites, watched) = watch::channel(vec![Site {
        name: "blog".into(),
        host: "blog.example".into(),
        backends: vec![one.url()],
    }]);
    let (results_tx, mut results) = mpsc::channel(4);
    let provider = gateway.provider("inventory")?;
    let feeding = tokio::spawn(feed(provider, watched, results_tx));

    let first = results.recv().await.ok_or("the provider stopped")?;
    println!("first version applied, errors: {:?}", first.errors());
    let reply = get(web, "blog.example", "/").await?;
    if reply.header("x-backend") != Some("one") {
        return Err("blog.example should be served by one".into());
    }

    // The data changes: a new site, and one whose host the program got
    // wrong. The good one is served; the bad one is reported, not applied.
    sites.send_modify(|sites| {
        sites.push(Site {
            name: "wiki".into(),
            host: "wiki.example".into(),
            backends: vec![two.url()],
        });
        sites.push(Site {
            name: "typo".into(),
            host: "bad`host".into(),
            backends: vec![two.url()],
        });
    });
    let second = results.recv().await.ok_or("the provider stopped")?;
    for error in second.errors() {
        println!("not applied: {error}");
    }
    if second.error("typo").is_none() {
        return Err("the site with a bad host should be reported".into());
    }
    let reply = get(web, "wiki.example", "/").await?;
    if reply.header("x-backend") != Some("two") {
        return Err("wiki.example should be served by two".into());
    }

    drop(sites);
    feeding.await??;
    gateway.shutdown().await;
    Ok(())
}

/// The provider: each version of the sites becomes one whole
/// configuration, sent to the gateway; what became of it goes to
/// `results`. Ends when the data's owner drops it.
async fn feed(
    provider: ConfigSender,
    mut sites: watch::Receiver<Vec<Site>>,
    results: mpsc::Sender<Applied>,
) -> Result<(), switchyard::Error> {
    loop {
        let config = to_configuration(&sites.borrow_and_update());
        let applied = provider.send(config).await?;
        if results.send(applied).await.is_err() || sites.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// Traefik's dynamic configuration for `sites`: a router and a service each.
fn to_configuration(sites: &[Site]) -> Configuration {
    let mut http = HttpConfiguration::default();
    for site in sites {
        let router = Router {
            rule: format!("Host(`{}`)", site.host),
            service: site.name.clone(),
            ..Router::default()
        };
        let servers = site
            .backends
            .iter()
            .map(|url| Server {
                url: url.clone(),
                ..Server::default()
            })
            .collect();
        let service = Service {
            load_balancer: Some(LoadBalancerService {
                servers,
                ..LoadBalancerService::default()
            }),
            ..Service::default()
        };
        http.routers.insert(site.name.clone(), router.into());
        http.services.insert(site.name.clone(), service.into());
    }
    Configuration {
        http: Some(http),
        ..Configuration::default()
    }
}

//! Certificates from an ACME CA (RFC 8555) for `certificatesResolvers`:
//! the account and certificates kept in Traefik's `acme.json` format (a
//! Traefik user's file is read and served as is, and written back with mode
//! 0600, atomically), orders for the domains of the routers that name the
//! resolver, HTTP-01, TLS-ALPN-01 and DNS-01 challenges, renewal as Traefik
//! times it, and retries with backoff.
//!
//! The resolver acts as a provider: its certificates reach the TLS store
//! through the same watcher → builder path as files do, as the dynamic
//! configuration of the provider `<resolver>.acme`.
//!
//! One idea per file, along the way a certificate is made:
//!
//! | module | what |
//! |---|---|
//! | `resolver` | the resolver task: the domains routers want, renewal windows, backoff, certificates sent to the watcher |
//! | `storage` | `acme.json` in Traefik's format, read and written under one lock (resolvers may share a file) |
//! | `shared` | `sharedStorage` (Switchyard's extension): account, certificates, order locks and pending challenges in Redis, shared by replicas |
//! | `client` | the ACME protocol: directory, nonces, signed requests, account, orders, polling, chains |
//! | `keys` | the account key (RSA as Traefik makes it, or P-256) that signs requests; certificate keys and CSRs |
//! | `challenges` | the table the entrypoints answer HTTP-01 and TLS-ALPN-01 from, and its TLS-ALPN certificates |
//! | `dns01` | DNS-01 through lego's `exec` and `httpreq` hooks, and the propagation check (its TXT client in `dns01::txt`) |

mod challenges;
mod client;
mod dns01;
mod keys;
mod resolver;
mod shared;
mod storage;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub use challenges::{ChallengeKind, ChallengeTable, Challenges};
pub use dns01::DnsHook;
pub use resolver::{default_generated, wanted_domains, Resolver};
pub use storage::{
    parse_store, read_storage, write_storage, AccountData, Registration, ResolverData, Storage,
    StoredCert, StoredDomain,
};

/// Base64url without padding, as JWS, JWK thumbprints and DNS-01 values
/// spell bytes.
fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

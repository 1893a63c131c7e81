//! The routers of one entrypoint in the order Traefik tries them, with an
//! index by exact host: a lookup walks only the routers of the request's
//! host and those whose rule can match any host, merged in order, so it
//! costs about the same among 10,000 host routers as among 10.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{RequestInfo, Rule};

/// One router in a table.
#[derive(Clone)]
pub struct Entry<T> {
    /// The router's name, `name@provider` once qualified.
    pub name: String,
    pub rule: Arc<Rule>,
    /// The router's priority; callers put [`default_priority`] for an unset
    /// (zero) one.
    pub priority: i64,
    pub value: T,
}

/// Traefik's default router priority (`GetRulePriority` in
/// `pkg/muxer/http/mux.go`): the length of the rule in bytes.
pub fn default_priority(rule: &str) -> i64 {
    i64::try_from(rule.len()).unwrap_or(i64::MAX)
}

/// Traefik's default `providers.precedence` (its list of provider names):
/// between routers of equal priority, one from a provider earlier in this
/// list is tried first; a provider not listed (`internal`, or a router
/// name without `@provider`) comes after all listed ones.
pub const DEFAULT_PROVIDER_PRECEDENCE: [&str; 17] = [
    "kubernetesgateway",
    "kubernetescrd",
    "kubernetes",
    "kubernetesingressnginx",
    "swarm",
    "docker",
    "file",
    "redis",
    "knative",
    "consul",
    "consulcatalog",
    "nomad",
    "etcd",
    "ecs",
    "http",
    "zookeeper",
    "rest",
];

/// Routers ordered as Traefik orders them, indexed by exact host.
pub struct RouterTable<T> {
    /// In the order they are tried.
    entries: Vec<Entry<T>>,
    /// Exact host → positions in `entries`, ascending (hosts shared, so
    /// that a patched copy of the index costs no copy of each).
    by_host: HashMap<Arc<str>, Positions>,
    /// Positions of entries whose rule can match any host, ascending.
    any_host: Vec<u32>,
}

/// Positions of the entries of one host, ascending: most hosts have one
/// router, kept without an allocation of its own.
#[derive(Clone)]
enum Positions {
    One(u32),
    Many(Vec<u32>),
}

impl Positions {
    fn as_slice(&self) -> &[u32] {
        match self {
            Positions::One(p) => std::slice::from_ref(p),
            Positions::Many(ps) => ps,
        }
    }

    fn push(&mut self, p: u32) {
        match self {
            Positions::One(first) => *self = Positions::Many(vec![*first, p]),
            Positions::Many(ps) => ps.push(p),
        }
    }

    /// Adds `p` in order.
    fn insert(&mut self, p: u32) {
        match self {
            Positions::One(first) => {
                let (a, b) = if p < *first { (p, *first) } else { (*first, p) };
                *self = Positions::Many(vec![a, b]);
            }
            Positions::Many(ps) => {
                let at = ps.partition_point(|q| *q <= p);
                ps.insert(at, p);
            }
        }
    }

    /// Moves each position to `moved[position]`, dropping those moved
    /// to `u32::MAX`; false when none is left.
    fn remap(&mut self, moved: &[u32]) -> bool {
        let to = |p: u32| moved.get(p as usize).copied().unwrap_or(u32::MAX);
        match self {
            Positions::One(p) => {
                *p = to(*p);
                *p != u32::MAX
            }
            Positions::Many(ps) => {
                ps.retain_mut(|p| {
                    *p = to(*p);
                    *p != u32::MAX
                });
                match ps.as_slice() {
                    [] => false,
                    [one] => {
                        *self = Positions::One(*one);
                        true
                    }
                    _ => true,
                }
            }
        }
    }
}

/// The provider part of `name@provider`, as Traefik's `providerName`
/// reads it (exactly one `@`).
fn provider(name: &str) -> &str {
    match name.split_once('@') {
        Some((_, p)) if !p.contains('@') => p,
        _ => "",
    }
}

/// An entry's rank in `precedence` (its provider's place, unlisted last).
fn rank<S: AsRef<str>>(precedence: &[S], name: &str) -> usize {
    let p = provider(name);
    precedence
        .iter()
        .position(|q| q.as_ref() == p)
        .unwrap_or(usize::MAX)
}

/// Traefik's order: higher priority first, then the provider's rank, then
/// the name.
fn order<T>((ra, a): &(usize, Entry<T>), (rb, b): &(usize, Entry<T>)) -> std::cmp::Ordering {
    order_ref(&(*ra, a), &(*rb, b))
}

fn order_ref<T>((ra, a): &(usize, &Entry<T>), (rb, b): &(usize, &Entry<T>)) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(ra.cmp(rb))
        .then_with(|| a.name.cmp(&b.name))
}

/// A position in a table: more than 4 billion routers on one entrypoint do
/// not fit in memory anyway.
fn position(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Adds entry `e`, at position `i`, to the host index: after the others
/// (a table made in order), or `in_order` among them (a patch).
fn index<T>(
    by_host: &mut HashMap<Arc<str>, Positions>,
    any_host: &mut Vec<u32>,
    i: u32,
    e: &Entry<T>,
    in_order: bool,
) {
    match e.rule.exact_hosts() {
        Some(hosts) => {
            for h in hosts {
                match by_host.get_mut(h.as_str()) {
                    Some(ps) if in_order => ps.insert(i),
                    Some(ps) => ps.push(i),
                    None => {
                        by_host.insert(Arc::from(h), Positions::One(i));
                    }
                }
            }
        }
        None if in_order => {
            let at = any_host.partition_point(|q| *q <= i);
            any_host.insert(at, i);
        }
        None => any_host.push(i),
    }
}

impl<T> RouterTable<T> {
    /// A table with Traefik's default provider precedence.
    pub fn new(entries: Vec<Entry<T>>) -> RouterTable<T> {
        RouterTable::with_precedence(entries, &DEFAULT_PROVIDER_PRECEDENCE)
    }

    /// A table whose ties in priority go by `precedence` (the static
    /// `providers.precedence`, lower-cased provider names, first wins),
    /// then by router name. Traefik orders routers of equal priority and
    /// provider as it happens to meet them (Go map order), that is not at
    /// all; the name makes the choice the same on every start.
    pub fn with_precedence<S: AsRef<str>>(
        entries: Vec<Entry<T>>,
        precedence: &[S],
    ) -> RouterTable<T> {
        let mut keyed: Vec<(usize, Entry<T>)> = entries
            .into_iter()
            .map(|e| (rank(precedence, &e.name), e))
            .collect();
        keyed.sort_by(|a, b| order(a, b));
        let entries: Vec<Entry<T>> = keyed.into_iter().map(|(_, e)| e).collect();
        let mut by_host: HashMap<Arc<str>, Positions> = HashMap::with_capacity(entries.len());
        let mut any_host = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            index(&mut by_host, &mut any_host, position(i), e, false);
        }
        by_host.shrink_to_fit();
        any_host.shrink_to_fit();
        RouterTable {
            entries,
            by_host,
            any_host,
        }
    }

    /// This table without the entries `gone` says, with `added`: equal to
    /// the table [`RouterTable::with_precedence`] makes of those entries
    /// with the same `precedence`, at the cost of copying the kept entries
    /// and moving the index's positions (only the hosts of the entries
    /// gone and added are looked up).
    pub fn patched<S: AsRef<str>>(
        &self,
        gone: impl Fn(&Entry<T>) -> bool,
        added: Vec<Entry<T>>,
        precedence: &[S],
    ) -> RouterTable<T>
    where
        T: Clone,
    {
        let mut added: Vec<(usize, Entry<T>)> = added
            .into_iter()
            .map(|e| (rank(precedence, &e.name), e))
            .collect();
        added.sort_by(|a, b| order(a, b));
        let total = self.entries.len() + added.len();
        let mut entries = Vec::with_capacity(total);
        // Where each old entry went (u32::MAX: gone), and the positions of
        // the added ones.
        let mut moved = Vec::with_capacity(self.entries.len());
        let mut fresh = Vec::with_capacity(added.len());
        let mut added = added.into_iter().peekable();
        for e in &self.entries {
            if gone(e) {
                moved.push(u32::MAX);
                continue;
            }
            let key = (rank(precedence, &e.name), e);
            while let Some(a) = added.next_if(|a| order_ref(&(a.0, &a.1), &key).is_lt()) {
                fresh.push(position(entries.len()));
                entries.push(a.1);
            }
            moved.push(position(entries.len()));
            entries.push(e.clone());
        }
        for a in added {
            fresh.push(position(entries.len()));
            entries.push(a.1);
        }
        // The index copied (hosts shared), its positions moved in place;
        // only the added entries' hosts are looked up.
        let mut by_host = self.by_host.clone();
        by_host.retain(|_, ps| ps.remap(&moved));
        let mut any_host: Vec<u32> = self
            .any_host
            .iter()
            .filter_map(|p| moved.get(*p as usize).copied().filter(|m| *m != u32::MAX))
            .collect();
        for p in fresh {
            if let Some(e) = entries.get(p as usize) {
                index(&mut by_host, &mut any_host, p, e, true);
            }
        }
        RouterTable {
            entries,
            by_host,
            any_host,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in the order they are tried.
    pub fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }

    /// How many entries the host index holds for `host`, and how many are
    /// tried for every host (for tests and diagnostics).
    pub fn candidates(&self, host: &str) -> (usize, usize) {
        let hosted = self.by_host.get(host).map_or(0, |ps| ps.as_slice().len());
        (hosted, self.any_host.len())
    }

    /// The value of the first entry, in order, whose rule matches.
    pub fn find(&self, req: &RequestInfo<'_>) -> Option<&T> {
        self.find_entry(req).map(|e| &e.value)
    }

    /// The first entry, in order, whose rule matches.
    pub fn find_entry(&self, req: &RequestInfo<'_>) -> Option<&Entry<T>> {
        let lowered;
        let host = if req.host.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = req.host.to_ascii_lowercase();
            lowered.as_str()
        } else {
            req.host
        };
        let hosted: &[u32] = self.by_host.get(host).map_or(&[], Positions::as_slice);
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (hosted.get(i), self.any_host.get(j)) {
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    a
                }
                (_, Some(&b)) => {
                    j += 1;
                    b
                }
                (Some(&a), None) => {
                    i += 1;
                    a
                }
                (None, None) => return None,
            };
            let e = self.entries.get(next as usize)?;
            if e.rule.matches(req) {
                return Some(e);
            }
        }
    }
}

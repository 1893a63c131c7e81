//! The routers of one entrypoint, in priority order, with an index by exact
//! host: a lookup walks only the routers of the request's host and those
//! whose rule does not pin a host, merged in priority order.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{RequestInfo, Rule};

/// One router in a table.
pub struct Entry<T> {
    pub name: String,
    pub rule: Arc<Rule>,
    pub priority: i64,
    pub value: T,
}

pub struct RouterTable<T> {
    /// By priority, highest first; equal priorities by name.
    entries: Vec<Entry<T>>,
    /// Exact host → positions in `entries`, ascending.
    by_host: HashMap<String, Vec<usize>>,
    /// Positions of entries whose rule can match any host, ascending.
    any_host: Vec<usize>,
}

/// Traefik's default priority: the rule's length in bytes.
pub fn default_priority(rule: &str) -> i64 {
    i64::try_from(rule.len()).unwrap_or(i64::MAX)
}

impl<T> RouterTable<T> {
    pub fn new(mut entries: Vec<Entry<T>>) -> RouterTable<T> {
        entries.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any_host = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match e.rule.exact_hosts() {
                Some(hosts) => {
                    for h in hosts {
                        by_host.entry(h).or_default().push(i);
                    }
                }
                None => any_host.push(i),
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

    /// The highest-priority entry whose rule matches.
    pub fn find(&self, req: &RequestInfo<'_>) -> Option<&T> {
        let host_list: &[usize] = self.by_host.get(req.host).map(Vec::as_slice).unwrap_or(&[]);
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (host_list.get(i), self.any_host.get(j)) {
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    a
                }
                (Some(_), Some(&b)) => {
                    j += 1;
                    b
                }
                (Some(&a), None) => {
                    i += 1;
                    a
                }
                (None, Some(&b)) => {
                    j += 1;
                    b
                }
                (None, None) => return None,
            };
            let e = &self.entries[next];
            if e.rule.matches(req) {
                return Some(&e.value);
            }
        }
    }
}

#[cfg(test)]
impl<T> RouterTable<T> {
    pub(crate) fn any_host_is_empty(&self) -> bool {
        self.any_host.is_empty()
    }
}

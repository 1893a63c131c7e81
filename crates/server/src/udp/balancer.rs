//! A UDP service: who gets the next session. As Traefik
//! (`pkg/udp/wrr_load_balancer.go`), an interleaved weighted round robin
//! over members (servers of a `loadBalancer`, weight 1 each; services of a
//! `weighted`, with their weight), asked once per new session, never per
//! datagram. A member whose weight is 0 is never chosen; a service whose
//! members all weigh 0 (or that has none) gives no backend, and the
//! session's datagrams are dropped.

use std::sync::{Arc, Mutex};

/// A server a session can be sent to: its address as written (`host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub address: Arc<str>,
}

/// What a member of a service stands for.
#[derive(Debug)]
pub enum Member {
    Server(Backend),
    Service(Arc<Balancer>),
}

/// The position of the round robin.
#[derive(Debug)]
struct Position {
    /// The member chosen last (-1 before the first).
    index: isize,
    /// The weight a member needs to be chosen in this round.
    current: i64,
}

/// A service: its members and where the round robin stands.
#[derive(Debug)]
pub struct Balancer {
    members: Vec<(Member, i64)>,
    max_weight: i64,
    gcd: i64,
    position: Mutex<Position>,
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Balancer {
    /// A balancer over `members` with their weights (negative ones count
    /// as 0), in the order given.
    pub fn new(members: Vec<(Member, i64)>) -> Balancer {
        let members: Vec<(Member, i64)> = members.into_iter().map(|(m, w)| (m, w.max(0))).collect();
        let max_weight = members.iter().map(|(_, w)| *w).max().unwrap_or(0);
        let gcd = members.iter().map(|(_, w)| *w).fold(0, gcd);
        Balancer {
            members,
            max_weight,
            gcd,
            position: Mutex::new(Position {
                index: -1,
                current: 0,
            }),
        }
    }

    /// The member the next session goes to, as Traefik's `next`.
    fn next(&self) -> Option<&Member> {
        if self.members.is_empty() || self.max_weight <= 0 || self.gcd <= 0 {
            return None;
        }
        let len = self.members.len() as isize;
        let mut p = self.position.lock().unwrap_or_else(|e| e.into_inner());
        // Each pass over the members lowers `current` by the gcd until a
        // member qualifies: at most max/gcd passes.
        let bound = (self.max_weight / self.gcd + 1).saturating_mul(len as i64 + 1);
        for _ in 0..bound {
            p.index = (p.index + 1) % len;
            if p.index == 0 {
                p.current -= self.gcd;
                if p.current <= 0 {
                    p.current = self.max_weight;
                }
            }
            let (member, weight) = &self.members[p.index as usize];
            if *weight >= p.current {
                return Some(member);
            }
        }
        None
    }

    /// The server of the next session, through nested services; `None`
    /// when no member can be chosen.
    pub fn pick(&self) -> Option<Backend> {
        let mut balancer = self;
        // Nesting is acyclic (the builder refuses cycles), and bounded here
        // all the same.
        for _ in 0..64 {
            match balancer.next()? {
                Member::Server(b) => return Some(b.clone()),
                Member::Service(inner) => balancer = inner,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str) -> Member {
        Member::Server(Backend {
            address: Arc::from(name),
        })
    }

    fn picks(b: &Balancer, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| b.pick().map_or("-".into(), |s| s.address.to_string()))
            .collect()
    }

    #[test]
    fn round_robin_and_weights_as_traefik() {
        // (what, members with weights, the first picks)
        type Case<'a> = (&'a str, &'a [(&'a str, i64)], &'a [&'a str]);
        let cases: &[Case] = &[
            ("one server", &[("a", 1)], &["a", "a", "a"]),
            (
                "equal weights alternate",
                &[("a", 1), ("b", 1), ("c", 1)],
                &["a", "b", "c", "a", "b"],
            ),
            (
                "3:1",
                &[("a", 3), ("b", 1)],
                &["a", "a", "a", "b", "a", "a", "a", "b"],
            ),
            (
                "2:1 interleaved",
                &[("a", 2), ("b", 1)],
                &["a", "a", "b", "a", "a", "b"],
            ),
            (
                "2:4 (gcd 2)",
                &[("a", 2), ("b", 4)],
                &["b", "a", "b", "b", "a", "b"],
            ),
            (
                "zero weight never chosen",
                &[("a", 0), ("b", 1)],
                &["b", "b", "b"],
            ),
            ("all zero: none", &[("a", 0), ("b", 0)], &["-", "-"]),
            (
                "negative counts as zero",
                &[("a", -3), ("b", 2)],
                &["b", "b"],
            ),
            ("no members: none", &[], &["-"]),
        ];
        for (what, members, want) in cases {
            let b = Balancer::new(members.iter().map(|(n, w)| (server(n), *w)).collect());
            assert_eq!(picks(&b, want.len()), *want, "{what}");
        }
    }

    #[test]
    fn nested_services_each_keep_their_own_turn() {
        let pool = Arc::new(Balancer::new(vec![(server("p1"), 1), (server("p2"), 1)]));
        let outer = Balancer::new(vec![(Member::Service(pool), 1), (server("x"), 1)]);
        assert_eq!(picks(&outer, 6), ["p1", "x", "p2", "x", "p1", "x"]);
    }
}

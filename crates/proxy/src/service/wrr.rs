//! Weighted round robin as an earliest-deadline-first schedule, the way
//! Traefik's balancer picks: every server has a deadline that grows by
//! `1 / weight` each time it is picked, and the smallest deadline wins. Ties
//! fall as Go's `container/heap` lets them fall, so for the same weights the
//! sequence is the same as Traefik's.

/// One entry of the schedule.
#[derive(Debug, Clone)]
struct Slot {
    index: usize,
    weight: f64,
    deadline: f64,
}

/// The schedule; indices refer to the caller's server list.
#[derive(Debug, Clone, Default)]
pub struct Wrr {
    heap: Vec<Slot>,
    current: f64,
}

impl Wrr {
    /// Servers in configuration order with their weights; weight 0 servers
    /// are never picked, as in Traefik.
    pub fn new(weights: impl IntoIterator<Item = u32>) -> Wrr {
        let mut wrr = Wrr::default();
        for (index, w) in weights.into_iter().enumerate() {
            if w == 0 {
                continue;
            }
            let weight = f64::from(w);
            let slot = Slot {
                index,
                weight,
                deadline: wrr.current + 1.0 / weight,
            };
            wrr.heap.push(slot);
            let last = wrr.heap.len() - 1;
            wrr.up(last);
        }
        // Balancers live long and most have one server.
        wrr.heap.shrink_to_fit();
        wrr
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The next server for which `available` holds, or None when none does.
    pub fn next(&mut self, available: impl Fn(usize) -> bool) -> Option<usize> {
        if self.heap.is_empty() || !self.heap.iter().any(|s| available(s.index)) {
            return None;
        }
        loop {
            // Pop the smallest deadline, advance it, push it back.
            let n = self.heap.len() - 1;
            self.heap.swap(0, n);
            self.down(0, n);
            let mut slot = self.heap.pop()?;
            self.current = slot.deadline;
            slot.deadline += 1.0 / slot.weight;
            let index = slot.index;
            self.heap.push(slot);
            let last = self.heap.len() - 1;
            self.up(last);
            if available(index) {
                return Some(index);
            }
        }
    }

    fn less(&self, i: usize, j: usize) -> bool {
        self.heap[i].deadline < self.heap[j].deadline
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(j, i) {
                break;
            }
            self.heap.swap(i, j);
            j = i;
        }
    }

    fn down(&mut self, mut i: usize, n: usize) {
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let mut j = left;
            let right = left + 1;
            if right < n && self.less(right, left) {
                j = right;
            }
            if !self.less(j, i) {
                break;
            }
            self.heap.swap(i, j);
            i = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(weights: &[u32], n: usize) -> String {
        let mut wrr = Wrr::new(weights.iter().copied());
        (0..n)
            .map(|_| match wrr.next(|_| true) {
                Some(i) => char::from(b'a' + i as u8),
                None => '-',
            })
            .collect()
    }

    #[test]
    fn sequences_follow_weights() {
        // (weights, first picks); "a" is the first server.
        let cases: &[(&str, &[u32], &str)] = &[
            ("one server", &[1], "aaaa"),
            (
                "equal weights: Go heap order",
                &[1, 1, 1],
                "acbcbabacacbcbab",
            ),
            ("three to one", &[3, 1], "aabaaaabaabaaaba"),
            ("one to two", &[1, 2], "babbabbabbabbabb"),
            ("zero weight never picked", &[0, 1], "bbbb"),
            ("all zero", &[0, 0], "----"),
            ("five two one", &[5, 2, 1], "aabaabacaabaaabc"),
        ];
        for (what, weights, want) in cases {
            assert_eq!(sequence(weights, want.len()), *want, "{what}");
        }
    }

    #[test]
    fn shares_match_weights_over_a_cycle() {
        let mut wrr = Wrr::new([5, 2, 1]);
        let mut counts = [0; 3];
        for _ in 0..80 {
            counts[wrr.next(|_| true).unwrap()] += 1;
        }
        assert_eq!(counts, [50, 20, 10]);
    }

    #[test]
    fn unavailable_servers_are_skipped() {
        let mut wrr = Wrr::new([1, 1, 1]);
        for _ in 0..6 {
            assert_ne!(wrr.next(|i| i != 1), Some(1));
        }
        assert_eq!(wrr.next(|_| false), None);
    }
}

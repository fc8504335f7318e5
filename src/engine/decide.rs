//! The decisions list as the three engines read it: one cursor, consumed in order, idle before
//! the instant the list starts to apply (`run.decisions_from_ms`), so that a short list can
//! order the tasks of any instant, not only the first same-instant choices of a run.

use std::cell::Cell;

/// A run's decisions and how many were used.
#[derive(Debug, Default)]
pub(crate) struct Decisions {
    list: Vec<u32>,
    from_ms: u64,
    used: Cell<usize>,
}

impl Decisions {
    /// `list`, applying from virtual time `from_ms` on.
    pub(crate) fn new(list: Vec<u32>, from_ms: u64) -> Decisions {
        Decisions {
            list,
            from_ms,
            used: Cell::new(0),
        }
    }

    /// The next value at virtual time `now`: none before `from_ms` (first / FIFO / f = 1.0,
    /// nothing consumed) or once the list is exhausted.
    #[inline]
    pub(crate) fn next(&self, now: u64) -> Option<u32> {
        if now < self.from_ms {
            return None;
        }
        let i = self.used.get();
        let v = self.list.get(i).copied();
        if v.is_some() {
            self.used.set(i + 1);
        }
        v
    }

    /// Values consumed so far.
    pub(crate) fn used(&self) -> usize {
        self.used.get()
    }
}

#[cfg(test)]
mod tests {
    use super::Decisions;

    #[test]
    fn nothing_is_consumed_before_the_start_instant() {
        let d = Decisions::new(vec![3, 1], 100);
        assert_eq!(d.next(99), None);
        assert_eq!(d.used(), 0);
        assert_eq!(d.next(100), Some(3));
        assert_eq!(d.next(250), Some(1));
        assert_eq!(d.next(250), None);
        assert_eq!(d.used(), 2);
    }
}

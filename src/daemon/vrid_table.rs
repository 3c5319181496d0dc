//! A table keyed by VRID.

/// A table by VRID, looked up for every advert received: a VRID indexes its slot directly,
/// with no hashing, and 255 routes cost their own entries rather than a hash table's 512
/// buckets.
///
/// `slots[vrid]` is the position of the VRID's entry. A slot is never cleared: it counts
/// only when the entry it points at carries the same VRID, so all 256 values of a `u8` fit
/// one byte each and a stale slot cannot be mistaken for a live one.
pub struct ByVrid<R> {
    slots: [u8; 256],
    entries: Vec<(u8, R)>,
}

impl<R> ByVrid<R> {
    fn position(&self, vrid: u8) -> Option<usize> {
        let at = usize::from(self.slots[usize::from(vrid)]);
        self.entries.get(at).filter(|(v, _)| *v == vrid).map(|_| at)
    }

    pub fn get(&self, vrid: &u8) -> Option<&R> {
        self.position(*vrid).map(|at| &self.entries[at].1)
    }

    pub fn insert(&mut self, vrid: u8, route: R) -> Option<R> {
        if let Some(at) = self.position(vrid) {
            return Some(std::mem::replace(&mut self.entries[at].1, route));
        }
        // Absent, so fewer than 256 entries: the new position fits a byte.
        self.slots[usize::from(vrid)] = self.entries.len() as u8;
        self.entries.push((vrid, route));
        None
    }

    /// Keeps the entries `keep` says yes to, in no particular order afterwards.
    pub fn retain(&mut self, mut keep: impl FnMut(&u8, &mut R) -> bool) {
        let mut at = 0;
        while let Some((vrid, route)) = self.entries.get_mut(at) {
            if keep(vrid, route) {
                at += 1;
                continue;
            }
            self.entries.swap_remove(at);
            // The last entry moved into the hole; it is judged next, from there.
            if let Some((moved, _)) = self.entries.get(at) {
                self.slots[usize::from(*moved)] = at as u8;
            }
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &R> {
        self.entries.iter().map(|(_, route)| route)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<R> Default for ByVrid<R> {
    fn default() -> Self {
        Self {
            slots: [0; 256],
            entries: Vec::new(),
        }
    }
}

impl<R> FromIterator<(u8, R)> for ByVrid<R> {
    fn from_iter<I: IntoIterator<Item = (u8, R)>>(iter: I) -> Self {
        let mut table = Self::default();
        for (vrid, route) in iter {
            table.insert(vrid, route);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::ByVrid;

    /// Every VRID's lookup, as (vrid, value) pairs of the ones present.
    fn present(table: &ByVrid<u32>) -> Vec<(u8, u32)> {
        (0..=255u8)
            .filter_map(|v| table.get(&v).map(|r| (v, *r)))
            .collect()
    }

    #[test]
    fn insert_get_and_replace_returns_the_old_value() {
        let mut table = ByVrid::default();
        assert!(table.is_empty());
        assert_eq!(table.get(&51), None);
        assert_eq!(table.insert(51, 1), None);
        assert_eq!(table.insert(52, 2), None);
        assert_eq!(table.insert(51, 10), Some(1));
        assert_eq!(table.values().count(), 2);
        assert_eq!(present(&table), [(51, 10), (52, 2)]);
    }

    #[test]
    fn removing_the_last_or_a_middle_entry_keeps_every_other_lookup() {
        let mut table = ByVrid::from_iter([(1, 1), (2, 2), (3, 3), (4, 4)]);
        table.retain(|v, _| *v != 4);
        assert_eq!(present(&table), [(1, 1), (2, 2), (3, 3)]);
        // 3, the last entry, moves into 1's place and must still be found there.
        table.retain(|v, _| *v != 1);
        assert_eq!(present(&table), [(2, 2), (3, 3)]);
        assert_eq!(table.insert(5, 5), None);
        assert_eq!(table.insert(3, 30), Some(3));
        assert_eq!(present(&table), [(2, 2), (3, 30), (5, 5)]);
    }

    #[test]
    fn every_vrid_goes_in_and_comes_out_in_any_order() {
        let mut table = ByVrid::default();
        for v in 1..=255u8 {
            assert_eq!(table.insert(v, u32::from(v)), None);
        }
        assert_eq!(table.values().count(), 255);
        let mut left: Vec<(u8, u32)> = (1..=255u8).map(|v| (v, u32::from(v))).collect();
        assert_eq!(present(&table), left);
        // 97 is prime to 255, so this visits every VRID once, scrambled.
        for v in (0..255u32).map(|i| (i * 97 % 255 + 1) as u8) {
            table.retain(|k, _| *k != v);
            left.retain(|(k, _)| *k != v);
            assert_eq!(present(&table), left, "after removing {v}");
        }
        assert!(table.is_empty());
    }

    #[test]
    fn vrid_zero_makes_a_256th_entry_without_harm() {
        let mut table: ByVrid<u32> = (0..=255u8).map(|v| (v, u32::from(v))).collect();
        assert_eq!(table.values().count(), 256);
        assert_eq!(
            present(&table),
            (0..=255u8).map(|v| (v, u32::from(v))).collect::<Vec<_>>()
        );
        table.retain(|v, _| *v != 0);
        assert_eq!(table.get(&0), None);
        assert_eq!(table.get(&255), Some(&255));
    }

    #[test]
    fn retain_keeps_what_it_is_told_and_may_edit_it() {
        let mut table: ByVrid<u32> = (1..=20u8).map(|v| (v, u32::from(v))).collect();
        table.retain(|v, r| {
            *r += 100;
            v % 3 == 0
        });
        let kept: Vec<(u8, u32)> = (1..=20u8)
            .filter(|v| v % 3 == 0)
            .map(|v| (v, u32::from(v) + 100))
            .collect();
        assert_eq!(present(&table), kept);
        table.retain(|_, _| false);
        assert!(table.is_empty());
        assert_eq!(present(&table), []);
    }

    #[test]
    fn from_iter_with_a_duplicate_keeps_the_last() {
        let table = ByVrid::from_iter([(7, 1), (8, 2), (7, 3)]);
        assert_eq!(table.values().count(), 2);
        assert_eq!(present(&table), [(7, 3), (8, 2)]);
    }
}

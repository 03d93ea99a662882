//! A small time-bounded map for values that are cheap to re-read but read on every request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Entries expire `ttl` after insertion; at `max` entries, expired ones are dropped (all, if
/// none has expired) before inserting.
pub(crate) struct TtlCache<K, V> {
    entries: RwLock<HashMap<K, (V, Instant)>>,
    ttl: Duration,
    max: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), ttl, max }
    }

    /// The value, if present and fresh.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let map = self.entries.read().ok()?;
        let (v, at) = map.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= self.max {
                map.retain(|_, (_, at)| at.elapsed() < self.ttl);
                if map.len() >= self.max {
                    map.clear();
                }
            }
            map.insert(key, (value, Instant::now()));
        }
    }

    pub(crate) fn remove(&self, key: &K) {
        if let Ok(mut map) = self.entries.write() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let c = TtlCache::new(Duration::from_millis(30), 2);
        c.insert(1, "a");
        assert_eq!(c.get(&1), Some("a"));
        c.insert(2, "b");
        c.insert(3, "c");
        assert!(c.get(&1).is_none() && c.get(&2).is_none(), "a full cache of fresh entries is cleared");
        assert_eq!(c.get(&3), Some("c"));
        c.remove(&3);
        assert_eq!(c.get(&3), None);
        c.insert(4, "d");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&4), None);
    }
}

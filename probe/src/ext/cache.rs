//! Decoded extension blobs, remembered by their bytes for the length of one read: rulesets
//! repeat the same `-m conntrack --ctstate INVALID`, `-m statistic ...`, `-j MARK ...` blob
//! thousands of times. Per extension, caching stops when it does not pay (blobs that are
//! unique per rule, like comments): a miss costs a hash and a copy.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::ExtKind;
use crate::ruleset::{ExtBody, Family};

/// Lookups of one extension before its hit rate is judged.
const TRIAL: u32 = 64;
/// Entries kept at most (then lookups still hit, nothing new is stored).
const MAX_ENTRIES: usize = 4096;

/// What iptables-save prints for one blob: the name after `-m`/`-j` and the words.
pub type Decoded = (String, ExtBody);

/// A cheap hasher for the keys (short byte strings we built; not attacker-chosen in a way
/// that matters: a collision only costs a comparison).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
}

/// Entries by the hash of their key; the key is kept to tell collisions apart. (The map
/// hashes the u64 once more with the same cheap hasher: one multiply.)
type Buckets<V> = HashMap<u64, Vec<(Box<[u8]>, V)>, BuildHasherDefault<KeyHasher>>;

/// The key of a blob: what it is (kind, family, revision, name) and its bytes. Hashed and
/// compared in pieces, so a lookup never copies the blob.
struct Key<'a> {
    head: [u8; 3],
    name: &'a [u8],
    blob: &'a [u8],
}

impl<'a> Key<'a> {
    fn new(b: &Blob<'a>) -> Self {
        Key {
            head: [
                match b.kind {
                    ExtKind::Match => 0,
                    ExtKind::Target => 1,
                },
                match b.family {
                    Family::Ipv4 => 4,
                    Family::Ipv6 => 6,
                },
                b.rev,
            ],
            name: b.name.as_bytes(),
            blob: b.data,
        }
    }

    fn hash(&self) -> u64 {
        let mut h = KeyHasher::default();
        h.write(&self.head);
        h.write(self.name);
        h.write(&[0]);
        h.write(self.blob);
        h.finish()
    }

    /// Whether `stored` (from [`Key::to_bytes`]) is this key.
    fn is(&self, stored: &[u8]) -> bool {
        let n = self.head.len() + self.name.len() + 1;
        stored.len() == n + self.blob.len()
            && stored[..3] == self.head
            && &stored[3..n - 1] == self.name
            && stored[n - 1] == 0
            && &stored[n..] == self.blob
    }

    fn to_bytes(&self) -> Box<[u8]> {
        [&self.head[..], self.name, &[0], self.blob].concat().into()
    }
}

/// `V`: what is kept per blob (by default the decoded name and words; the legacy save
/// path keeps the rendered text instead).
#[derive(Debug)]
pub struct ExtCache<V = Decoded> {
    map: Buckets<V>,
    /// Entries in `map`.
    len: usize,
    /// Per extension: lookups, hits, and whether caching it was given up.
    stats: Vec<Stats>,
    /// False: nothing is kept, every lookup decodes (tests of the uncached paths).
    keep: bool,
}

#[derive(Debug)]
struct Stats {
    kind: ExtKind,
    name: String,
    lookups: u32,
    hits: u32,
    off: bool,
    /// The entry this extension found or stored last (bucket hash, index): rules in a
    /// row often carry the same blob, and comparing it costs less than hashing it.
    last: Option<(u64, usize)>,
}

impl<V> Default for ExtCache<V> {
    fn default() -> Self {
        Self {
            map: Buckets::default(),
            len: 0,
            stats: Vec::new(),
            keep: true,
        }
    }
}

/// Which blob: what it is (kind, family, name, revision) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a> {
    pub kind: ExtKind,
    pub family: Family,
    pub name: &'a str,
    pub rev: u8,
    pub data: &'a [u8],
}

impl<V: Clone> ExtCache<V> {
    /// The decoded blob, from the cache or from `decode` (then remembered if it pays).
    pub fn get(&mut self, blob: Blob<'_>, decode: impl FnOnce() -> V) -> V {
        match self.lookup(blob, decode) {
            Got::Cached(d) => d.clone(),
            Got::Fresh(d) => d,
        }
    }
}

impl<V> ExtCache<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that keeps nothing: every blob takes the path of blobs not worth keeping.
    pub fn keeping_nothing() -> Self {
        Self {
            keep: false,
            ..Self::default()
        }
    }

    /// Like [`ExtCache::get`], but lends a cached entry instead of cloning it (callers
    /// copy it into buffers they reuse).
    pub fn lookup(&mut self, blob: Blob<'_>, decode: impl FnOnce() -> V) -> Got<'_, V> {
        match self.entry_or(blob, decode) {
            Ok(d) => Got::Cached(d),
            Err(decode) => Got::Fresh(decode()),
        }
    }

    /// The entry for the blob, made with `decode` on a miss; `None` when this blob is not
    /// kept (its extension is not worth caching, or the cache is full): the caller decodes
    /// it itself, straight to where it goes.
    pub fn lookup_kept(&mut self, blob: Blob<'_>, decode: impl FnOnce() -> V) -> Option<&V> {
        self.entry_or(blob, decode).ok()
    }

    /// The kept entry (made with `decode` on a miss), or `decode` back, not run, when the
    /// blob is not kept.
    fn entry_or<F: FnOnce() -> V>(&mut self, blob: Blob<'_>, decode: F) -> Result<&V, F> {
        let key = Key::new(&blob);
        match self.find(blob.kind, blob.name, &key) {
            Find::Hit(hash, i) => match self.entry(hash, i) {
                Some(d) => Ok(d),
                None => Err(decode),
            },
            Find::Miss(hash) => Ok(self.insert(hash, &key, decode())),
            Find::Skip => Err(decode),
        }
    }

    /// Counts the lookup for the extension's hit rate and looks the key up.
    fn find(&mut self, kind: ExtKind, name: &str, key: &Key<'_>) -> Find {
        if !self.keep {
            return Find::Skip;
        }
        let i = match self
            .stats
            .iter()
            .position(|s| s.kind == kind && s.name == name)
        {
            Some(i) => i,
            None => {
                self.stats.push(Stats {
                    kind,
                    name: name.to_owned(),
                    lookups: 0,
                    hits: 0,
                    off: false,
                    last: None,
                });
                self.stats.len() - 1
            }
        };
        let st = &mut self.stats[i];
        if st.off {
            return Find::Skip;
        }
        st.lookups += 1;
        if st.lookups == TRIAL && st.hits < TRIAL / 2 {
            st.off = true;
        }
        let stored = |h: u64, j: usize| self.map.get(&h).and_then(|b| b.get(j));
        if let Some((h, j)) = st.last
            && stored(h, j).is_some_and(|(k, _)| key.is(k))
        {
            st.hits += 1;
            return Find::Hit(h, j);
        }
        let hash = key.hash();
        let bucket = self.map.get(&hash);
        match bucket.and_then(|b| b.iter().position(|(k, _)| key.is(k))) {
            Some(j) => {
                st.hits += 1;
                st.last = Some((hash, j));
                Find::Hit(hash, j)
            }
            None if self.len >= MAX_ENTRIES => Find::Skip,
            None => {
                // Where `insert` puts it.
                st.last = Some((hash, bucket.map_or(0, Vec::len)));
                Find::Miss(hash)
            }
        }
    }

    fn entry(&self, hash: u64, i: usize) -> Option<&V> {
        self.map.get(&hash).and_then(|b| b.get(i)).map(|(_, d)| d)
    }

    fn insert(&mut self, hash: u64, key: &Key<'_>, d: V) -> &V {
        self.len += 1;
        let bucket = self.map.entry(hash).or_default();
        bucket.push((key.to_bytes(), d));
        let last = bucket.len() - 1;
        &bucket[last].1
    }
}

/// Where a key is: in bucket `hash` at index `i`, not there yet (and may be stored), or
/// not to be stored.
enum Find {
    Hit(u64, usize),
    Miss(u64),
    Skip,
}

/// An entry of the cache, or a blob decoded now and not kept.
#[derive(Debug)]
pub enum Got<'a, V = Decoded> {
    Cached(&'a V),
    Fresh(V),
}

impl Got<'_, Decoded> {
    /// Stores the name and body into `name`/`body`, reusing their allocations.
    pub fn store(self, name: &mut String, body: &mut ExtBody) {
        match self {
            Got::Cached((n, b)) => {
                name.clone_from(n);
                match (body, b) {
                    (ExtBody::Decoded(dst), ExtBody::Decoded(src)) => dst.clone_from(src),
                    (dst, src) => *dst = src.clone(),
                }
            }
            Got::Fresh((n, b)) => {
                *name = n;
                *body = b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob<'a>(family: Family, name: &'a str, data: &'a [u8]) -> Blob<'a> {
        Blob {
            kind: ExtKind::Match,
            family,
            name,
            rev: 0,
            data,
        }
    }

    #[test]
    fn remembers_by_bytes_and_gives_up_on_unique_blobs() {
        let mut c = ExtCache::new();
        let mut calls = 0;
        let get = |c: &mut ExtCache, name: &str, data: &[u8], calls: &mut u32| {
            c.get(blob(Family::Ipv4, name, data), || {
                *calls += 1;
                (name.to_owned(), ExtBody::Decoded(vec![format!("{data:?}")]))
            })
        };
        for _ in 0..10 {
            let d = get(&mut c, "conntrack", &[1, 2], &mut calls);
            assert_eq!(d.1, ExtBody::Decoded(vec!["[1, 2]".into()]));
        }
        assert_eq!(calls, 1);
        // Another blob, another family or revision is another entry.
        get(&mut c, "conntrack", &[1, 3], &mut calls);
        assert_eq!(calls, 2);
        let d = c.get(blob(Family::Ipv6, "conntrack", &[1, 2]), || {
            ("x".into(), ExtBody::Raw(vec![]))
        });
        assert_eq!(d.0, "x");
        // Unique blobs: after the trial the extension is no longer stored.
        for i in 0..200u32 {
            get(&mut c, "comment", &i.to_ne_bytes(), &mut calls);
        }
        let stored = c
            .map
            .values()
            .flatten()
            .filter(|(k, _)| k.get(3..10) == Some(b"comment"))
            .count();
        assert_eq!(stored, TRIAL as usize);
        // Past the trial a unique blob is not kept: `lookup_kept` leaves it to the caller.
        let mut decoded = false;
        let kept = c.lookup_kept(blob(Family::Ipv4, "comment", b"new"), || {
            decoded = true;
            ("comment".into(), ExtBody::Decoded(vec![]))
        });
        assert!(kept.is_none());
        assert!(!decoded);
        // A cache keeping nothing never stores, never calls back.
        let mut none: ExtCache = ExtCache::keeping_nothing();
        assert!(
            none.lookup_kept(blob(Family::Ipv4, "conntrack", &[1]), || unreachable!())
                .is_none()
        );
    }
}

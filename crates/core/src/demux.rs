//! The demux table (Linux's established hash, `ehash`): 4-tuple → connection or request.
//!
//! Why not a `HashMap<(SocketAddr, SocketAddr), _>`: that stores the 64-byte key again in
//! every bucket (150 bytes per connection at a million, with the table's slack) and hashes
//! it field by field. Like Linux, which keeps the addresses in the socket and compares
//! them there, the table holds only a 4-byte reference; the caller says where a
//! reference's 4-tuple lives. The hash is Linux's own (`ehash`: jhash under a secret),
//! so crafted tuples cannot pile into one bucket.
use crate::ehash::EhashKey;
use hashbrown::HashTable;
use std::net::SocketAddr;

/// What a 4-tuple (local, remote) maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Conn(u32),
    Req(u32),
}

/// Requests carry this bit in the table; slab indices stay below it.
const REQ: u32 = 1 << 31;

impl Entry {
    fn pack(self) -> u32 {
        match self {
            Entry::Conn(i) => i & !REQ,
            Entry::Req(i) => (i & !REQ) | REQ,
        }
    }
    fn unpack(raw: u32) -> Entry {
        if raw & REQ != 0 {
            Entry::Req(raw & !REQ)
        } else {
            Entry::Conn(raw)
        }
    }
}

/// 4-tuple → [`Entry`], the tuples kept by the records themselves.
pub(crate) struct Demux {
    key: EhashKey,
    table: HashTable<u32>,
}

impl Demux {
    pub(crate) fn new(key: (u64, u64)) -> Demux {
        Demux {
            key: EhashKey::new(key),
            table: HashTable::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The entry for (local, remote). `tuple` tells where an entry's record says it is.
    pub(crate) fn get(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        tuple: impl Fn(Entry) -> Option<(SocketAddr, SocketAddr)>,
    ) -> Option<Entry> {
        let h = self.key.tuple(local, remote);
        self.table
            .find(h, |&raw| tuple(Entry::unpack(raw)) == Some((local, remote)))
            .map(|&raw| Entry::unpack(raw))
    }

    /// (local, remote) now maps to `e`, replacing what it mapped to. `e`'s record must
    /// already hold this 4-tuple: the table rehashes entries from their records.
    pub(crate) fn insert(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        e: Entry,
        tuple: impl Fn(Entry) -> Option<(SocketAddr, SocketAddr)>,
    ) {
        let key = self.key;
        let h = key.tuple(local, remote);
        let eq = |&raw: &u32| tuple(Entry::unpack(raw)) == Some((local, remote));
        if let Some(slot) = self.table.find_mut(h, eq) {
            *slot = e.pack();
            return;
        }
        // A record gone without leaving the table (a bug) hashes to 0: it is then never
        // found, rather than being found under another tuple.
        self.table.insert_unique(h, e.pack(), |&raw| {
            tuple(Entry::unpack(raw)).map_or(0, |(l, r)| key.tuple(l, r))
        });
    }

    /// Remove `e` if (local, remote) maps to it. True if it did.
    pub(crate) fn remove(&mut self, local: SocketAddr, remote: SocketAddr, e: Entry) -> bool {
        let h = self.key.tuple(local, remote);
        match self.table.find_entry(h, |&raw| raw == e.pack()) {
            Ok(found) => {
                found.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Every entry (for checks).
    pub(crate) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.table.iter().map(|&raw| Entry::unpack(raw))
    }
}

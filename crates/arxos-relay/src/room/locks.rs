//! Element leases: first come first served, renewed by heartbeat, expiring, released on leave.
//!
//! On one relay this table is the lock authority. In a cluster the authority is the KV
//! bucket of leases ([`crate::cluster::link`]) and this table mirrors it: leases held through
//! other nodes are [`Holder::Elsewhere`], and each entry keeps the KV revision it came from,
//! so an older event never overwrites a newer one.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use arxos_sync::protocol::payload::LockEntry;

use super::ConnId;

/// Who holds a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A connection of this relay.
    Here(ConnId),
    /// A connection of another relay node of the cluster.
    Elsewhere,
}

/// One lease.
#[derive(Clone, Debug)]
struct Lease {
    holder: Holder,
    peer: String,
    user: String,
    expires: Instant,
    /// The KV revision it mirrors (0 on a single relay).
    revision: u64,
}

/// The lock table of one room.
pub(crate) struct LockTable {
    leases: BTreeMap<String, Lease>,
    ttl: Duration,
}

/// Result of a lock request.
pub(crate) struct LockOutcome {
    pub(crate) granted: Vec<String>,
    pub(crate) denied: Vec<LockEntry>,
}

impl LockTable {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            leases: BTreeMap::new(),
            ttl,
        }
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    fn entry(id: &str, lease: &Lease, now: Instant) -> LockEntry {
        LockEntry {
            id: id.to_owned(),
            holder_peer: lease.peer.clone(),
            holder_user: lease.user.clone(),
            expires_in_ms: lease.expires.saturating_duration_since(now).as_millis() as u64,
        }
    }

    /// Grants every free (or expired, or already own) id; denies the rest.
    pub(crate) fn request(
        &mut self,
        conn: ConnId,
        peer: &str,
        user: &str,
        ids: &[String],
        now: Instant,
    ) -> LockOutcome {
        let mut out = LockOutcome {
            granted: Vec::new(),
            denied: Vec::new(),
        };
        for id in ids {
            match self.leases.get(id) {
                Some(lease) if lease.holder != Holder::Here(conn) && lease.expires > now => {
                    out.denied.push(Self::entry(id, lease, now));
                }
                _ => {
                    self.leases.insert(
                        id.clone(),
                        Lease {
                            holder: Holder::Here(conn),
                            peer: peer.to_owned(),
                            user: user.to_owned(),
                            expires: now + self.ttl,
                            revision: 0,
                        },
                    );
                    out.granted.push(id.clone());
                }
            }
        }
        out
    }

    /// Extends `conn`'s leases on `ids` (all of them when empty); returns how many.
    pub(crate) fn renew(&mut self, conn: ConnId, ids: &[String], now: Instant) -> usize {
        let mut n = 0;
        for (id, lease) in &mut self.leases {
            if lease.holder == Holder::Here(conn)
                && (ids.is_empty() || ids.contains(id))
                && lease.expires > now
            {
                lease.expires = now + self.ttl;
                n += 1;
            }
        }
        n
    }

    /// Releases `conn`'s leases on `ids` (all of them when empty); returns whether any went.
    pub(crate) fn release(&mut self, conn: ConnId, ids: &[String]) -> bool {
        let before = self.leases.len();
        self.leases.retain(|id, lease| {
            !(lease.holder == Holder::Here(conn) && (ids.is_empty() || ids.contains(id)))
        });
        self.leases.len() != before
    }

    /// Drops expired leases; returns whether any expired.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        let before = self.leases.len();
        self.leases.retain(|_, lease| lease.expires > now);
        self.leases.len() != before
    }

    /// The holder's name when `id` is leased by someone other than `conn`.
    pub(crate) fn held_by_other(&self, id: &str, conn: ConnId, now: Instant) -> Option<String> {
        self.leases
            .get(id)
            .filter(|l| l.holder != Holder::Here(conn) && l.expires > now)
            .map(|l| l.user.clone())
    }

    /// Whether anyone but `conn` holds a live lease.
    pub(crate) fn others_hold_any(&self, conn: ConnId, now: Instant) -> bool {
        self.leases
            .values()
            .any(|l| l.holder != Holder::Here(conn) && l.expires > now)
    }

    /// The ids `conn` holds (among `ids`, or all when empty).
    pub(crate) fn held_by(&self, conn: ConnId, ids: &[String]) -> Vec<String> {
        self.leases
            .iter()
            .filter(|(id, l)| {
                l.holder == Holder::Here(conn) && (ids.is_empty() || ids.contains(id))
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Mirrors a lease of the cluster's KV at `revision` (`None`: it is gone); ignored when
    /// the table holds a newer revision of it. Returns whether the table changed.
    pub(crate) fn mirror(
        &mut self,
        id: &str,
        revision: u64,
        lease: Option<(Holder, &str, &str)>,
        now: Instant,
    ) -> bool {
        if self.leases.get(id).is_some_and(|l| l.revision > revision) {
            return false;
        }
        match lease {
            None => self.leases.remove(id).is_some(),
            Some((holder, peer, user)) => {
                let lease = Lease {
                    holder,
                    peer: peer.to_owned(),
                    user: user.to_owned(),
                    // The KV ages the entry out a lease after this write.
                    expires: now + self.ttl,
                    revision,
                };
                self.leases.insert(id.to_owned(), lease);
                true
            }
        }
    }

    /// The table as broadcast to clients.
    pub(crate) fn entries(&self, now: Instant) -> Vec<LockEntry> {
        self.leases
            .iter()
            .filter(|(_, l)| l.expires > now)
            .map(|(id, l)| Self::entry(id, l, now))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn first_come_renew_expire_release() {
        let t0 = Instant::now();
        let mut table = LockTable::new(Duration::from_secs(10));
        let a = table.request(1, "pa", "Ann", &ids(&["e1", "e2"]), t0);
        assert_eq!(a.granted, ids(&["e1", "e2"]));
        let b = table.request(2, "pb", "Bob", &ids(&["e2", "e3"]), t0);
        assert_eq!(b.granted, ids(&["e3"]));
        assert_eq!(b.denied[0].holder_user, "Ann");
        assert_eq!(table.held_by_other("e1", 2, t0).as_deref(), Some("Ann"));
        assert_eq!(table.held_by_other("e1", 1, t0), None);
        assert_eq!(table.renew(1, &[], t0 + Duration::from_secs(8)), 2);
        assert!(
            table.expire(t0 + Duration::from_secs(12)),
            "Bob's e3 expired"
        );
        assert_eq!(
            table
                .held_by_other("e1", 2, t0 + Duration::from_secs(12))
                .as_deref(),
            Some("Ann"),
            "renewed leases live on"
        );
        assert!(table.expire(t0 + Duration::from_secs(19)));
        assert!(table.entries(t0 + Duration::from_secs(19)).is_empty());
        let c = table.request(2, "pb", "Bob", &ids(&["e1"]), t0 + Duration::from_secs(20));
        assert_eq!(c.granted, ids(&["e1"]));
        assert!(table.release(2, &[]));
        assert!(!table.others_hold_any(1, t0 + Duration::from_secs(20)));
    }
}

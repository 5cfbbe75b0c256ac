//! The other people in a session as this window sees them, and what this window tells them.
//!
//! Pure state, no drawing: remote cursors glide between updates ([`Glide`]); the lock table
//! says who holds what; our own presence is broadcast only when it changed and at most every
//! [`SEND_EVERY`] ([`Outbox`]); the leases this window holds follow what the person is working
//! on ([`Leases`]); and [`Permission`] says whether an edit may be made at all (role, grant,
//! someone else's lease), with a reason a person can read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use arxos_doc::{Document, ElementId, Point};
use arxos_sync::protocol::payload::{LockEntry, Presence, PresenceStatus};
use arxos_sync::{Grant, Role};

/// How long a remote cursor takes to glide to its new position: a little more than the
/// relay's presence tick, so movement looks continuous instead of jumping at each batch.
pub const GLIDE: Duration = Duration::from_millis(50);

/// The shortest time between two presence broadcasts of this window (about 60 per second):
/// fast enough that a cursor follows the hand, slow enough not to flood a room of thirty.
pub const SEND_EVERY: Duration = Duration::from_millis(16);

/// After this long without input, we show as away.
pub const AWAY_AFTER: Duration = Duration::from_mins(3);

/// A position animated from where it was to where it is now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Glide {
    from: Point,
    to: Point,
    since: Instant,
}

impl Glide {
    /// Standing still at `at`.
    pub fn at(at: Point, now: Instant) -> Self {
        Self {
            from: at,
            to: at,
            since: now,
        }
    }

    /// Heads for `to`, starting from wherever the glide is now.
    pub fn retarget(&mut self, to: Point, now: Instant) {
        if to != self.to {
            self.from = self.position(now);
            self.to = to;
            self.since = now;
        }
    }

    /// Where the glide is at `now` (ease-out, so it settles softly).
    pub fn position(&self, now: Instant) -> Point {
        let t = (now.saturating_duration_since(self.since).as_secs_f64() / GLIDE.as_secs_f64())
            .clamp(0.0, 1.0);
        let k = t * (2.0 - t);
        Point::new(
            self.from.x + (self.to.x - self.from.x) * k,
            self.from.y + (self.to.y - self.from.y) * k,
        )
    }

    /// Whether it is still moving at `now` (the window keeps repainting until it settles).
    pub fn moving(&self, now: Instant) -> bool {
        self.from != self.to && now.saturating_duration_since(self.since) < GLIDE
    }
}

/// One other person in the session.
#[derive(Clone, Debug)]
pub struct Person {
    /// Their peer id.
    pub peer: String,
    /// What they last said of themselves.
    pub presence: Presence,
    /// Their cursor, animated (on `presence.cursor`'s floor).
    pub cursor: Option<Glide>,
}

impl Person {
    /// Their role as the relay vouches for it.
    pub fn role(&self) -> &str {
        self.presence.role.as_deref().unwrap_or("editor")
    }

    /// One line of what they are doing.
    pub fn activity(&self) -> String {
        let status = match self.presence.status {
            PresenceStatus::Online => "online",
            PresenceStatus::Away => "away",
            PresenceStatus::Editing => "editing",
        };
        match &self.presence.activity {
            Some(a) if !a.is_empty() => format!("{status} · {a}"),
            _ => status.to_owned(),
        }
    }
}

/// Everyone else, kept current from the engine's presence map.
#[derive(Debug, Default)]
pub struct People {
    /// By peer id.
    pub by_peer: BTreeMap<String, Person>,
}

impl People {
    /// Takes the engine's latest presence map (peer id → presence), keeping each cursor's
    /// glide so motion continues smoothly.
    pub fn update(&mut self, latest: BTreeMap<String, Presence>, now: Instant) {
        self.by_peer.retain(|peer, _| latest.contains_key(peer));
        for (peer, presence) in latest {
            let to = presence.cursor.as_ref().map(|c| Point::new(c.x_mm, c.y_mm));
            match self.by_peer.get_mut(&peer) {
                Some(p) => {
                    p.cursor = match (p.cursor, to) {
                        (Some(mut g), Some(to)) => {
                            g.retarget(to, now);
                            Some(g)
                        }
                        (None, Some(to)) => Some(Glide::at(to, now)),
                        (_, None) => None,
                    };
                    p.presence = presence;
                }
                None => {
                    self.by_peer.insert(
                        peer.clone(),
                        Person {
                            peer,
                            presence,
                            cursor: to.map(|t| Glide::at(t, now)),
                        },
                    );
                }
            }
        }
    }

    /// Whether some cursor is still gliding.
    pub fn moving(&self, now: Instant) -> bool {
        self.by_peer
            .values()
            .any(|p| p.cursor.is_some_and(|g| g.moving(now)))
    }

    /// The colour of a peer, if they are here.
    pub fn color_of(&self, peer: &str) -> Option<&str> {
        self.by_peer.get(peer).map(|p| p.presence.color.as_str())
    }
}

/// What this window last broadcast, so it sends only changes and at a bounded rate.
#[derive(Debug, Default)]
pub struct Outbox {
    last: Option<(Instant, Presence)>,
}

/// What [`Outbox::offer`] decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Offer {
    /// Send this now.
    Send(Box<Presence>),
    /// Nothing new.
    Same,
    /// New, but too soon after the last one: offer again after this long.
    Later(Duration),
}

impl Outbox {
    /// Offers `next` (its `sent_at_us` is ignored in the comparison).
    pub fn offer(&mut self, next: Presence, now: Instant) -> Offer {
        if let Some((at, last)) = &self.last {
            let same = Presence {
                sent_at_us: last.sent_at_us,
                ..next.clone()
            } == *last;
            if same {
                return Offer::Same;
            }
            let since = now.saturating_duration_since(*at);
            if since < SEND_EVERY {
                return Offer::Later(SEND_EVERY.saturating_sub(since));
            }
        }
        self.last = Some((now, next.clone()));
        Offer::Send(Box::new(next))
    }

    /// Forgets what was sent (a new session must hear everything again).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// The leases this window holds: while its person works on elements (a drag, an inspector
/// field), and those locked explicitly (kept until unlocked).
#[derive(Debug, Default)]
pub struct Leases {
    working: BTreeSet<String>,
    explicit: BTreeSet<String>,
}

impl Leases {
    /// The person now works on `ids`; returns what to request and what to release (never an
    /// explicitly locked element).
    pub fn work_on(&mut self, ids: &BTreeSet<ElementId>) -> (Vec<String>, Vec<String>) {
        let next: BTreeSet<String> = ids.iter().map(|i| i.as_str().to_owned()).collect();
        let take = next
            .difference(&self.working)
            .filter(|i| !self.explicit.contains(*i))
            .cloned()
            .collect();
        let drop = self
            .working
            .difference(&next)
            .filter(|i| !self.explicit.contains(*i))
            .cloned()
            .collect();
        self.working = next;
        (take, drop)
    }

    /// Locks `ids` until [`Self::unlock`]; returns what to request.
    pub fn lock(&mut self, ids: &[ElementId]) -> Vec<String> {
        ids.iter()
            .map(|i| i.as_str().to_owned())
            .filter(|i| self.explicit.insert(i.clone()) && !self.working.contains(i))
            .collect()
    }

    /// Unlocks `ids`; returns what to release (what is not being worked on right now).
    pub fn unlock(&mut self, ids: &[ElementId]) -> Vec<String> {
        ids.iter()
            .map(|i| i.as_str().to_owned())
            .filter(|i| self.explicit.remove(i) && !self.working.contains(i))
            .collect()
    }

    /// Whether `id` is locked explicitly here.
    pub fn is_locked(&self, id: &ElementId) -> bool {
        self.explicit.contains(id.as_str())
    }

    /// Whether anything is being worked on.
    pub fn is_empty(&self) -> bool {
        self.working.is_empty()
    }

    /// Forgets every lease (the session ended; the relay released them).
    pub fn clear(&mut self) {
        self.working.clear();
        self.explicit.clear();
    }
}

/// Who may change what, from our role, our grant and the lock table.
#[derive(Clone, Debug, Default)]
pub struct Permission {
    /// Our role in the room (`None`: a plan that is not shared, or not yet connected).
    pub role: Option<Role>,
    /// Our grant, when narrowed.
    pub grant: Option<Grant>,
    /// Leases held by others.
    pub held_by_others: BTreeMap<String, LockEntry>,
    /// This window shows an earlier version (a read-only preview).
    pub preview: bool,
}

impl Permission {
    /// Builds the table from the engine's lock table, leaving out our own leases.
    pub fn new(role: Option<Role>, grant: Option<Grant>, locks: Vec<LockEntry>, me: &str) -> Self {
        Self {
            role,
            grant,
            held_by_others: locks
                .into_iter()
                .filter(|l| l.holder_peer != me)
                .map(|l| (l.id.clone(), l))
                .collect(),
            preview: false,
        }
    }

    /// Why this person may not draw or edit elements at all, if so.
    pub fn read_only(&self) -> Option<&'static str> {
        if self.preview {
            return Some("this is a preview of an earlier version: go back to the plan to edit");
        }
        match self.role {
            Some(Role::Viewer) => Some("you joined as a viewer: you can look, not edit"),
            Some(Role::Commenter) => Some("you joined as a commenter: you can comment, not edit"),
            _ => None,
        }
    }

    /// Why `ids` may not be changed, if so (the first reason found).
    pub fn refuse(&self, doc: &Document, ids: &[ElementId]) -> Option<String> {
        if let Some(why) = self.read_only() {
            return Some(why.to_owned());
        }
        for id in ids {
            if let Some(l) = self.held_by_others.get(id.as_str()) {
                let what = doc
                    .element(id)
                    .map_or_else(|| id.as_str().to_owned(), element_name);
                return Some(format!("{what} is being edited by {}", l.holder_user));
            }
            if let (Some(g), Some(e)) = (&self.grant, doc.element(id)) {
                if !g.floors.is_empty() && !g.floors.iter().any(|f| f == e.floor.as_str()) {
                    return Some(format!(
                        "{} is on a floor your invite does not let you edit",
                        element_name(e)
                    ));
                }
                if !g.layers.is_empty() && !g.layers.iter().any(|l| l == e.layer.as_str()) {
                    return Some(format!(
                        "{} is on a layer your invite does not let you edit",
                        element_name(e)
                    ));
                }
            }
        }
        None
    }

    /// Whether new elements may be drawn on `floor` / `layer`.
    pub fn refuse_new(&self, floor: &str, layer: &str) -> Option<String> {
        if let Some(why) = self.read_only() {
            return Some(why.to_owned());
        }
        let g = self.grant.as_ref()?;
        if !g.floors.is_empty() && !g.floors.iter().any(|f| f == floor) {
            return Some("your invite does not let you draw on this floor".into());
        }
        if !g.layers.is_empty() && !g.layers.iter().any(|l| l == layer) {
            return Some("your invite does not let you draw on this layer".into());
        }
        None
    }
}

/// How people name an element: `outlet:R45-23`, or its kind and id when it has no tag.
pub fn element_name(e: &arxos_doc::Element) -> String {
    if e.tag.is_empty() {
        format!("{} {}", e.kind.as_str(), e.id.as_str())
    } else {
        format!("{}:{}", e.kind.as_str(), e.tag)
    }
}

/// Two letters for a lock badge ("Ana Lopez" → "AL", "bob" → "BO").
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let letters: String = match words.as_slice() {
        [] => "?".into(),
        [one] => one.chars().take(2).collect(),
        [first, .., last] => first.chars().take(1).chain(last.chars().take(1)).collect(),
    };
    letters.to_uppercase()
}

/// Microseconds since the Unix epoch (presence's `sent_at_us`).
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arxos_sync::protocol::payload::Cursor;

    fn presence(x: f64) -> Presence {
        Presence {
            user: "Bob".into(),
            color: "#1e88e5".into(),
            cursor: Some(Cursor {
                floor: "level-1".into(),
                x_mm: x,
                y_mm: 0.0,
            }),
            ..Presence::default()
        }
    }

    #[test]
    fn a_cursor_glides_to_its_new_position_and_settles() {
        let t0 = Instant::now();
        let mut people = People::default();
        people.update(BTreeMap::from([("p1".into(), presence(0.0))]), t0);
        people.update(BTreeMap::from([("p1".into(), presence(1_000.0))]), t0);
        let g = people.by_peer["p1"].cursor.unwrap();
        let half = g.position(t0 + GLIDE / 2);
        assert!(half.x > 0.0 && half.x < 1_000.0, "{half:?}");
        assert!(people.moving(t0 + GLIDE / 2));
        assert!((g.position(t0 + GLIDE * 2).x - 1_000.0).abs() < 1e-9);
        assert!(!people.moving(t0 + GLIDE * 2));
        // Gone from the engine's map: gone here.
        people.update(BTreeMap::new(), t0);
        assert!(people.by_peer.is_empty());
    }

    #[test]
    fn the_outbox_sends_changes_only_and_not_too_often() {
        let t0 = Instant::now();
        let mut out = Outbox::default();
        assert!(matches!(out.offer(presence(0.0), t0), Offer::Send(_)));
        let mut same = presence(0.0);
        same.sent_at_us = 99;
        assert_eq!(out.offer(same, t0 + SEND_EVERY * 2), Offer::Same);
        assert!(matches!(
            out.offer(presence(5.0), t0 + Duration::from_millis(1)),
            Offer::Later(_)
        ));
        assert!(matches!(
            out.offer(presence(5.0), t0 + SEND_EVERY),
            Offer::Send(_)
        ));
    }

    #[test]
    fn leases_follow_the_work() {
        let mut l = Leases::default();
        let a = ElementId::new("a");
        let b = ElementId::new("b");
        let (take, drop) = l.work_on(&BTreeSet::from([a.clone(), b.clone()]));
        assert_eq!((take.len(), drop.len()), (2, 0));
        let (take, drop) = l.work_on(&BTreeSet::from([b]));
        assert_eq!((take, drop), (vec![], vec!["a".to_owned()]));
        let (_, drop) = l.work_on(&BTreeSet::new());
        assert_eq!(drop, vec!["b".to_owned()]);
        assert!(l.is_empty());
        // An explicit lock outlives the work on it, and is not requested twice.
        assert_eq!(l.lock(std::slice::from_ref(&a)), vec!["a".to_owned()]);
        assert!(l.lock(std::slice::from_ref(&a)).is_empty());
        let (take, _) = l.work_on(&BTreeSet::from([a.clone()]));
        assert!(take.is_empty());
        let (_, drop) = l.work_on(&BTreeSet::new());
        assert!(drop.is_empty(), "still locked explicitly");
        assert!(l.is_locked(&a));
        assert_eq!(l.unlock(std::slice::from_ref(&a)), vec!["a".to_owned()]);
        assert!(!l.is_locked(&a));
    }

    #[test]
    fn viewers_and_others_leases_are_refused_with_a_reason() {
        let doc = Document::new_plan("P", &arxos_doc::EditContext::now("t")).unwrap();
        let viewer = Permission {
            role: Some(Role::Viewer),
            ..Permission::default()
        };
        assert!(viewer.refuse(&doc, &[]).unwrap().contains("viewer"));
        assert!(viewer.refuse_new("level-1", "x").is_some());
        let locks = vec![
            LockEntry {
                id: "w1".into(),
                holder_peer: "them".into(),
                holder_user: "Ana".into(),
                expires_in_ms: 1_000,
            },
            LockEntry {
                id: "w2".into(),
                holder_peer: "me".into(),
                holder_user: "Me".into(),
                expires_in_ms: 1_000,
            },
        ];
        let p = Permission::new(Some(Role::Editor), None, locks, "me");
        assert!(
            p.refuse(&doc, &[ElementId::new("w1")])
                .unwrap()
                .contains("Ana")
        );
        assert_eq!(p.refuse(&doc, &[ElementId::new("w2")]), None);
        let narrowed = Permission {
            role: Some(Role::Editor),
            grant: Some(Grant {
                floors: vec!["level-2".into()],
                layers: vec![],
            }),
            ..Permission::default()
        };
        assert!(narrowed.refuse_new("level-1", "x").is_some());
        assert_eq!(narrowed.refuse_new("level-2", "x"), None);
    }

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Ana Lopez"), "AL");
        assert_eq!(initials("bob"), "BO");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("Jean Paul Sartre"), "JS");
    }
}

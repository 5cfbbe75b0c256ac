//! Losing a piece of the cluster during an edit storm, with real processes on 127.0.0.1:
//! `kill -9` of a relay node (its clients move to the other node through
//! `ClientConfig::fallback_relays`, by themselves), and `kill -9` of the NATS server leading the
//! change log in a three-server JetStream cluster with R3 streams. In both, nothing any client
//! saw acknowledged is missing afterwards, and a node started from JetStream alone has it.
//!
//! Skips (saying why) without `nats-server`, unless `ARXOS_REQUIRE_NATS=1` (support/nats.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step is a failure

#[path = "support/relay.rs"]
mod support;

#[path = "support/nats.rs"]
mod nats;

use std::path::Path;
use std::time::{Duration, Instant};

use arxos_sync::client::{Backoff, SyncClient};
use arxos_sync::{InviteCode, Role};
use automerge::ChangeHash;
use nats::{NatsCluster, cluster, nats_binary, via};
use support::{RelayProc, client, eventually, get_elem, heads, in_sync, seeded_client, set_elem};

const T: Duration = Duration::from_secs(30);
/// The goal for a client whose node died to be back in sync through another.
const BACK_IN_SYNC_GOAL: Duration = Duration::from_secs(5);

/// A client on `node` that tries `fallbacks` when `node` cannot be reached, with the engine's
/// default reconnect backoff (what a person's client uses), so the measured failover time is
/// the real one.
fn failover_client(
    dir: &Path,
    name: &str,
    code: &InviteCode,
    fallbacks: &[&RelayProc],
) -> SyncClient {
    let mut config = support::config(dir, name, code);
    config.backoff = Backoff::default();
    config.fallback_relays = fallbacks.iter().map(|n| n.ws()).collect();
    SyncClient::start(config).unwrap()
}

/// A storming client and the element only it moves.
type Stormer<'a> = (&'a str, &'a SyncClient);

/// One round of the storm: every client moves its own element to `x = round`.
fn storm_round(clients: &[Stormer<'_>], round: u32) {
    for (element, c) in clients {
        set_elem(c, element, "x", f64::from(round));
    }
}

/// The clients of `stormers`.
fn of<'a>(stormers: &[Stormer<'a>]) -> Vec<&'a SyncClient> {
    stormers.iter().map(|(_, c)| *c).collect()
}

/// Waits (bounded) until every client is in sync with the same heads.
fn converged(clients: &[&SyncClient], timeout: Duration, what: &str) {
    eventually(timeout, what, || {
        let all: Vec<_> = clients.iter().map(|c| heads(c)).collect();
        all.windows(2).all(|w| w[0] == w[1]) && clients.iter().all(|c| in_sync(c))
    });
}

/// Every change hash any of `clients` has seen acknowledged by its relay, and their heads
/// (which the acknowledged heads name, so those changes and all they were built on).
fn acknowledged(clients: &[&SyncClient]) -> Vec<ChangeHash> {
    let mut all: Vec<ChangeHash> = clients.iter().flat_map(|c| c.acked_heads()).collect();
    all.sort();
    all.dedup();
    all
}

#[test]
fn a_node_killed_during_a_storm_its_clients_move_to_another_by_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_nats, mut a, b)) = cluster(dir.path(), &[]) else {
        return;
    };
    let (doc, owner) = a.create_room(false);
    let (_, editor) = a.invite(doc, Role::Editor, arxos_sync::Grant::default(), None);
    let seeder = seeded_client(dir.path(), "seed", &via(&owner, &b));
    seeder.wait_synced(T).unwrap();
    // Three editors on A that know B's address, one on A that knows no other (it stays cut
    // off, so whatever of its changes B has came through JetStream), two on B.
    let movers: Vec<_> = (0..3)
        .map(|i| failover_client(dir.path(), &format!("mover{i}"), &via(&editor, &a), &[&b]))
        .collect();
    let stranded = client(dir.path(), "stranded", &via(&editor, &a));
    let stayers: Vec<_> = (0..2)
        .map(|i| client(dir.path(), &format!("stayer{i}"), &via(&editor, &b)))
        .collect();
    let names = ["m0", "m1", "m2", "stranded", "s0", "s1"];
    let editors: Vec<Stormer> = names
        .iter()
        .copied()
        .zip(movers.iter().chain([&stranded]).chain(&stayers))
        .collect();
    for c in of(&editors) {
        c.wait_synced(T).unwrap();
    }

    let mut round = 0;
    for _ in 0..60 {
        round += 1;
        storm_round(&editors, round);
        std::thread::sleep(Duration::from_millis(10));
    }
    a.kill9();
    let killed = Instant::now();
    // What A had acknowledged to its clients when it died.
    let acked_by_a = acknowledged(&[&movers[0], &movers[1], &movers[2], &stranded]);
    assert!(!acked_by_a.is_empty());
    // The movers edit while they are cut off, B's clients go on storming, and one of them
    // marks the moment: a mover is back in sync once its own edits are acknowledged by B and
    // it holds the mark.
    round += 1;
    storm_round(&editors, round);
    set_elem(&stayers[0], "mark", "x", 1.0);
    let mut back: Vec<Option<Duration>> = vec![None; movers.len()];
    while back.iter().any(Option::is_none) {
        assert!(
            killed.elapsed() < T,
            "movers not back in sync after {T:?}: {back:?}"
        );
        for (i, m) in movers.iter().enumerate() {
            if back[i].is_none() && in_sync(m) && get_elem(m, "mark", "x") == Some(1.0) {
                back[i] = Some(killed.elapsed());
            }
        }
        round += 1;
        storm_round(&editors[4..], round);
        std::thread::sleep(Duration::from_millis(5));
    }
    let back: Vec<Duration> = back.into_iter().flatten().collect();
    let slowest = back.iter().max().copied().unwrap_or_default();
    eprintln!("back in sync after node kill -9 (default backoff): {back:?}");
    assert!(
        slowest <= BACK_IN_SYNC_GOAL,
        "a mover took {slowest:?} to be back in sync (goal {BACK_IN_SYNC_GOAL:?})"
    );

    // The storm goes on with the movers on B.
    let mut live: Vec<Stormer> = editors.clone();
    live.remove(3);
    live.push(("seed", &seeder));
    for _ in 0..40 {
        round += 1;
        storm_round(&live, round);
        std::thread::sleep(Duration::from_millis(10));
    }
    converged(
        &of(&live),
        T,
        "movers, B's clients and the seeder converge on B",
    );
    assert!(
        !in_sync(&stranded),
        "the stranded client knows no other node, so it must still be cut off"
    );
    for (_, c) in &live {
        for (element, _) in &live {
            assert_eq!(
                get_elem(c, element, "x"),
                Some(f64::from(round)),
                "{element}"
            );
        }
    }
    // Nothing A acknowledged is lost, including the stranded client's changes, which only
    // JetStream can have given B.
    let late = client(dir.path(), "late", &via(&owner, &b));
    late.wait_synced(T).unwrap();
    for hash in &acked_by_a {
        assert!(
            late.has_change(hash),
            "{hash} was acknowledged by A and is lost"
        );
    }
    assert_eq!(heads(&late), heads(&seeder));
}

#[test]
fn the_nats_server_leading_the_log_dies_during_a_storm_r3_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = nats_binary() else {
        return;
    };
    let mut nats = NatsCluster::start(&bin, dir.path());
    let a = nats.node(dir.path(), "node-a");
    let b = nats.node(dir.path(), "node-b");
    // The R3 stream and buckets the first node created elect their leaders before they serve.
    for stream in [
        "ARXOS_ROOMS",
        "KV_arxos-rooms",
        "KV_arxos-invites",
        "KV_arxos-locks",
    ] {
        assert!(
            nats.stream_leader(stream).is_some(),
            "{stream} has no leader"
        );
    }
    let (doc, owner) = a.create_room(false);
    let (_, editor) = b.invite(doc, Role::Editor, arxos_sync::Grant::default(), None);
    let seeder = seeded_client(dir.path(), "seed", &via(&owner, &a));
    seeder.wait_synced(T).unwrap();
    let mut clients: Vec<SyncClient> = (0..4)
        .map(|i| {
            let (home, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            let mut config = support::config(dir.path(), &format!("c{i}"), &via(&editor, home));
            config.fallback_relays = vec![other.ws()];
            SyncClient::start(config).unwrap()
        })
        .collect();
    clients.push(seeder);
    let names = ["c0", "c1", "c2", "c3", "seed"];
    let all: Vec<Stormer> = names.iter().copied().zip(&clients).collect();
    for c in of(&all) {
        c.wait_synced(T).unwrap();
    }

    let mut round = 0;
    for _ in 0..40 {
        round += 1;
        storm_round(&all, round);
        std::thread::sleep(Duration::from_millis(10));
    }
    let leader = nats
        .stream_leader("ARXOS_ROOMS")
        .expect("the R3 stream ARXOS_ROOMS has a leader");
    nats.servers[leader].kill9();
    let acked_before = acknowledged(&of(&all));
    let killed = Instant::now();
    // The storm goes on through the election; a node that cannot get an acknowledgement
    // closes the room's sessions and its clients come back, to it or to the other node.
    for _ in 0..80 {
        round += 1;
        storm_round(&all, round);
        std::thread::sleep(Duration::from_millis(10));
    }
    converged(
        &of(&all),
        Duration::from_mins(1),
        "every client converges with one NATS server of three down",
    );
    eprintln!(
        "R3: converged {:?} after the stream leader (n{leader}) was killed",
        killed.elapsed()
    );
    for (_, c) in &all {
        for (element, _) in &all {
            assert_eq!(
                get_elem(c, element, "x"),
                Some(f64::from(round)),
                "{element}"
            );
        }
    }
    // A node started now, on the two servers left, serves everything from JetStream alone.
    let urls = nats
        .servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, s)| s.url())
        .collect::<Vec<_>>()
        .join(",");
    let c = RelayProc::start(
        &dir.path().join("node-c"),
        &["--cluster", &urls, "--cluster-replicas", "3"],
    );
    let late = client(dir.path(), "late", &via(&owner, &c));
    late.wait_synced(T).unwrap();
    for hash in &acked_before {
        assert!(late.has_change(hash), "{hash} was acknowledged and is lost");
    }
    assert_eq!(heads(&late), heads(all[0].1));
}

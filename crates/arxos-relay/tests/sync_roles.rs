//! Roles, grants and invites enforced by a real relay process.

#[path = "support/relay.rs"]
mod support;

use std::time::Duration;

use arxos_doc::{Command, ElementId, FloorId, PropValue, RecordSet};
use arxos_sync::client::{ClientError, ConnectionState};
use arxos_sync::{Grant, Role};
use support::{RelayProc, client, ctx, eventually, get_elem, seeded_client, set_elem};

const T: Duration = Duration::from_secs(20);

#[test]
fn viewer_commenter_and_out_of_grant_writes_are_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (doc, owner_code) = relay.create_room(false);
    let owner = seeded_client(dir.path(), "owner", &owner_code);
    owner.wait_synced(T).unwrap();

    // Viewer: any change is refused, reported, and set aside (kept in a copy of the plan).
    let (_, viewer_code) = relay.invite(doc, Role::Viewer, Grant::default(), None);
    let viewer = client(dir.path(), "viewer", &viewer_code);
    viewer.wait_synced(T).unwrap();
    set_elem(&viewer, "e1", "x", 111.0);
    eventually(T, "viewer change refused", || viewer.status().refused == 1);
    let reasons: Vec<String> = viewer.refused().into_values().collect();
    assert!(reasons[0].contains("viewers"), "{reasons:?}");
    eventually(T, "the refused edit is set aside", || {
        get_elem(&viewer, "e1", "x") == Some(0.0)
    });
    let copy = arxos_doc::file::load(&dir.path().join("viewer.arx.refused.arx")).unwrap();
    let kept = copy.element(&arxos_doc::ElementId::new("e1")).unwrap();
    assert!(
        (kept.transform.x - 111.0).abs() < f64::EPSILON,
        "kept in the copy"
    );
    assert_eq!(
        viewer.status().pending,
        0,
        "refused changes are not pending"
    );

    // Commenter: comments pass, element edits do not.
    let (_, commenter_code) = relay.invite(doc, Role::Commenter, Grant::default(), None);
    let commenter = client(dir.path(), "commenter", &commenter_code);
    commenter.wait_synced(T).unwrap();
    commenter
        .apply(
            &ctx("commenter"),
            "comment",
            vec![Command::PutRecord {
                set: RecordSet::Comments,
                id: "c1".into(),
                fields: [(
                    "text".to_owned(),
                    PropValue::Text("is this outlet 240 V?".into()),
                )]
                .into(),
            }],
        )
        .unwrap();
    set_elem(&commenter, "e2", "x", 222.0);
    eventually(T, "commenter edit refused", || {
        commenter.status().refused == 1
    });
    eventually(T, "owner sees the comment", || {
        owner.read(|d| d.records(RecordSet::Comments).contains_key("c1"))
    });

    // Editor narrowed to floor f1: e1 (f1) passes; e2 (f2) and moving e1 to f2 do not.
    let grant = Grant {
        floors: vec!["f1".into()],
        layers: vec![],
    };
    let (_, editor_code) = relay.invite(doc, Role::Editor, grant, None);
    let editor = client(dir.path(), "editor", &editor_code);
    editor.wait_synced(T).unwrap();
    set_elem(&editor, "e1", "y", 5.0);
    set_elem(&editor, "e2", "y", 6.0);
    eventually(T, "out-of-grant edit refused", || {
        editor.status().refused == 1
    });
    eventually(T, "owner sees the in-grant edit", || {
        get_elem(&owner, "e1", "y") == Some(5.0)
    });
    let reasons: Vec<String> = editor.refused().into_values().collect();
    assert!(reasons[0].contains("outside the grant"), "{reasons:?}");
    editor
        .apply(
            &ctx("editor"),
            "move to f2",
            vec![Command::SetFloor {
                ids: vec![ElementId::new("e1")],
                floor: FloorId::new("f2"),
            }],
        )
        .unwrap();
    eventually(T, "moving out of the grant refused", || {
        editor.status().refused >= 2
    });

    // Nothing refused reached anyone else.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get_elem(&owner, "e1", "x"), Some(0.0));
    assert_eq!(get_elem(&owner, "e2", "x"), Some(0.0));
    assert_eq!(get_elem(&owner, "e2", "y"), Some(0.0));
    assert!(relay.metric("arxos_relay_refused_changes_total") >= 4);

    // The refused list survives a restart of the author.
    drop(viewer);
    let viewer = client(dir.path(), "viewer", &viewer_code);
    assert_eq!(viewer.refused().len(), 1);
    assert_eq!(get_elem(&viewer, "e1", "x"), Some(0.0));
}

#[test]
fn expired_revoked_and_unknown_invites_are_refused_at_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProc::start(&dir.path().join("relay"), &[]);
    let (doc, owner_code) = relay.create_room(false);

    let (_, expired) = relay.invite(doc, Role::Editor, Grant::default(), Some(0));
    let c = client(dir.path(), "expired", &expired);
    match c.wait_synced(T) {
        Err(ClientError::Rejected(reason)) => assert!(reason.contains("expired"), "{reason}"),
        other => panic!("expected rejection, got {other:?}"),
    }
    assert_eq!(c.status().state, ConnectionState::Offline);

    // A session ends when its invite expires.
    let (_, short) = relay.invite(doc, Role::Editor, Grant::default(), Some(2));
    let brief = client(dir.path(), "brief", &short);
    brief.wait_synced(T).unwrap();
    let ended = brief
        .wait_for(T, |s| s.rejected)
        .expect("session ended at expiry");
    assert!(ended.last_error.unwrap_or_default().contains("expired"));

    let (info, revoked) = relay.invite(doc, Role::Editor, Grant::default(), None);
    let ok = client(dir.path(), "before-revoke", &revoked);
    ok.wait_synced(T).unwrap();
    relay.admin().revoke_invite(&info.id).unwrap();
    // The live session on the revoked invite is closed, and reconnecting is refused.
    let cut = ok
        .wait_for(T, |s| s.rejected)
        .expect("live session ended by revocation");
    assert!(cut.last_error.unwrap_or_default().contains("revoked"));
    let listed = relay.admin().list_invites(Some(doc)).unwrap();
    assert!(listed.iter().any(|i| i.id == info.id && i.revoked));
    let c = client(dir.path(), "after-revoke", &revoked);
    match c.wait_synced(T) {
        Err(ClientError::Rejected(reason)) => assert!(reason.contains("revoked"), "{reason}"),
        other => panic!("expected rejection, got {other:?}"),
    }

    let mut forged = owner_code.clone();
    forged.secret = "NotTheSecret".into();
    let c = client(dir.path(), "forged", &forged);
    assert!(matches!(c.wait_synced(T), Err(ClientError::Rejected(_))));

    // Admin endpoints need the token.
    let wrong = arxos_sync::admin::AdminClient::new(&relay.ws(), "wrong").unwrap();
    assert!(wrong.create_room(None, false).is_err());
    assert!(relay.metric("arxos_relay_auth_failures_total") >= 3);
}

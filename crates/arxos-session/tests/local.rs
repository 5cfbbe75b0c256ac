//! A local session (no relay): typed commands reach the file, and an edit another program
//! appends to the file arrives as a change event naming the element, within a second.

#![allow(clippy::unwrap_used)] // test

use std::time::{Duration, Instant};

use arxos_doc::file::PlanFile;
use arxos_doc::{
    Command, Document, EditContext, ElementId, ElementKind, FloorId, Geometry, LayerId, NewElement,
    Transform,
};
use arxos_session::{ChangeOrigin, ClientEvent, Session, SessionOptions};
use arxos_sync::identity::Identity;

fn outlet(id: &str) -> Command {
    let mut e = NewElement::new(
        ElementKind::Outlet,
        format!("outlet:{id}"),
        FloorId::new("level-1"),
        LayerId::new("electrical"),
        Geometry::Point,
        Transform::default(),
    );
    e.id = Some(ElementId::new(id));
    Command::Create(Box::new(e))
}

#[test]
fn a_local_session_sees_other_writers_and_saves_its_commands() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.arx");
    let ctx = EditContext::at("seed", 0);
    let mut doc = Document::new_plan("local", &ctx).unwrap();
    doc.apply(&ctx, outlet("o1")).unwrap();
    PlanFile::create(&file, &mut doc).unwrap();

    let opts = SessionOptions {
        identity: Identity {
            name: "ana".into(),
            color: "#1976d2".into(),
        },
        client_kind: "editor".into(),
        ..SessionOptions::default()
    };
    let session = Session::local(&file, &opts).unwrap();
    let client = session.client();
    assert!(client.invite().is_none());
    let mut events = client.subscribe();

    // Another program (a CLI command) moves o1 in the file.
    let (mut other_file, mut other) = PlanFile::open(&file).unwrap();
    other
        .apply(
            &EditContext::at("cli", 1),
            Command::MoveTo {
                id: ElementId::new("o1"),
                x: 100.0,
                y: 200.0,
            },
        )
        .unwrap();
    other_file.save(&mut other).unwrap();
    let started = Instant::now();
    let seen = loop {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no file change event"
        );
        match events.try_recv() {
            Ok(ClientEvent::Changed {
                origin: ChangeOrigin::File,
                changes,
                ..
            }) => break changes,
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(seen.updated, vec![ElementId::new("o1")]);
    assert!(seen.authors.contains("cli"));
    let x = client.read(|d| d.element(&ElementId::new("o1")).unwrap().transform.x);
    assert!((x - 100.0).abs() < f64::EPSILON);

    // Our command lands in the file next to theirs.
    client
        .apply(&EditContext::now("ana"), "add", vec![outlet("o2")])
        .unwrap();
    session.leave();
    let back = arxos_doc::file::load(&file).unwrap();
    assert!(back.element(&ElementId::new("o2")).is_some());
    let o1 = back.element(&ElementId::new("o1")).unwrap();
    assert!((o1.transform.y - 200.0).abs() < f64::EPSILON);
}

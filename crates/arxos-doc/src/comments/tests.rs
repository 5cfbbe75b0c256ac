//! Unit tests of the comment model: validation, threads, and merges of concurrent replies
//! and resolves.

use super::*;
use crate::workflow::fixtures::{at, plan_with_outlet};

fn apply(doc: &mut Document, ctx: &EditContext, cmd: Command) {
    doc.apply(ctx, cmd).unwrap();
}

/// A plan with an outlet and one thread on it by ana; returns the plan, outlet and thread.
fn plan_with_thread() -> (Document, ElementId, String) {
    let (mut doc, outlet) = plan_with_outlet();
    let ctx = at("ana", 10);
    let (id, cmd) = add(
        &doc,
        &ctx,
        &Anchor::Element(outlet.clone()),
        "is this 240 V? @bob",
    )
    .unwrap();
    apply(&mut doc, &ctx, cmd);
    (doc, outlet, id)
}

#[test]
fn a_comment_reads_back_with_its_anchor_and_mentions() {
    let (mut doc, outlet, id) = plan_with_thread();
    let ctx = at("bob", 20);
    let (pid, cmd) = add(
        &doc,
        &ctx,
        &Anchor::Point {
            floor: Some(FloorId::new("level-1")),
            x: 1500.0,
            y: -20.5,
        },
        "a column here? cc @ana, @carl. mail me at bob@example.org",
    )
    .unwrap();
    let changes = doc.apply(&ctx, cmd).unwrap();
    assert!(changes.added.is_empty() && changes.updated.is_empty());

    let all = comments(&doc);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, id);
    assert_eq!(all[0].author, "ana");
    assert_eq!(all[0].created_ms, 1_700_000_000_010);
    assert_eq!(all[0].anchor, Anchor::Element(outlet));
    assert_eq!(all[0].mentions, vec!["bob".to_owned()]);
    assert!(!all[0].resolved && all[0].parent.is_none());
    assert_eq!(all[1].id, pid);
    assert_eq!(
        all[1].anchor,
        Anchor::Point {
            floor: Some(FloorId::new("level-1")),
            x: 1500.0,
            y: -20.5
        }
    );
    assert_eq!(all[1].mentions, vec!["ana".to_owned(), "carl".to_owned()]);
    assert!(id.starts_with('c') && id.len() > 20 && id != pid);
}

#[test]
fn mentions_are_names_after_an_at_sign_each_once() {
    assert_eq!(
        parse_mentions("@ana: ask @bob.smith. @ana again; x@y no, (@z_1) @ @- @o'neil"),
        vec!["ana", "bob.smith", "z_1", "o"]
    );
    assert!(parse_mentions("no mentions, a@b.c").is_empty());
}

#[test]
fn bad_comments_are_refused_with_reasons() {
    let (mut doc, outlet) = plan_with_outlet();
    let ctx = at("ana", 5);
    let on = || Anchor::Element(outlet.clone());
    let err = |r: Result<(String, Command)>| r.unwrap_err().to_string();
    assert!(err(add(&doc, &ctx, &on(), "  \n")).contains("empty"));
    let long = "x".repeat(MAX_TEXT_CHARS + 1);
    assert!(err(add(&doc, &ctx, &on(), &long)).contains("at most 10000"));
    assert!(add(&doc, &ctx, &on(), &"x".repeat(MAX_TEXT_CHARS)).is_ok());
    assert!(err(add(&doc, &ctx, &on(), "bell \u{7}")).contains("control character"));
    assert!(err(add(&doc, &at(" ", 5), &on(), "hi")).contains("author"));
    let missing = Anchor::Element(ElementId::new("e-missing"));
    assert!(matches!(
        add(&doc, &ctx, &missing, "hi"),
        Err(DocError::UnknownElement(_))
    ));
    let point = |floor: Option<&str>, x: f64, y: f64| Anchor::Point {
        floor: floor.map(FloorId::new),
        x,
        y,
    };
    assert!(matches!(
        add(&doc, &ctx, &point(Some("nowhere"), 0.0, 0.0), "hi"),
        Err(DocError::UnknownFloor(_))
    ));
    for (x, y) in [
        (f64::NAN, 0.0),
        (0.0, f64::INFINITY),
        (2.0 * MAX_COORD, 0.0),
    ] {
        assert!(err(add(&doc, &ctx, &point(None, x, y), "hi")).contains("out of range"));
    }
    assert!(add(&doc, &ctx, &point(None, -MAX_COORD, MAX_COORD), "hi").is_ok());

    // A deleted element takes no new comments.
    apply(
        &mut doc,
        &ctx,
        Command::Delete {
            ids: vec![outlet.clone()],
        },
    );
    assert!(matches!(
        add(&doc, &ctx, &on(), "hi"),
        Err(DocError::UnknownElement(_))
    ));
}

#[test]
fn replies_join_the_root_thread_in_order() {
    let (mut doc, outlet, root) = plan_with_thread();
    let (r1, cmd) = reply(&doc, &at("bob", 30), &root, "yes, 240 V").unwrap();
    apply(&mut doc, &at("bob", 30), cmd);
    // A reply to a reply goes to the thread's root, and a prefix names a comment.
    let (r2, cmd) = reply(&doc, &at("ana", 40), &r1[..12], "thanks @bob").unwrap();
    apply(&mut doc, &at("ana", 40), cmd);

    let all = threads(&doc);
    assert_eq!(all.len(), 1);
    let t = &all[0];
    assert_eq!(t.root.id, root);
    let ids: Vec<&str> = t.replies.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![r1.as_str(), r2.as_str()]);
    assert!(t.replies.iter().all(|r| r.parent.as_deref() == Some(&root)));
    assert_eq!(t.replies[1].anchor, Anchor::Element(outlet));

    assert!(matches!(
        reply(&doc, &at("bob", 50), "c-none", "hm"),
        Err(DocError::UnknownComment(_))
    ));
    assert!(matches!(
        reply(&doc, &at("bob", 50), &root, ""),
        Err(DocError::InvalidComment(_))
    ));
    // Every id starts with `c`: a one-letter prefix is ambiguous here.
    assert!(matches!(get(&doc, "c"), Err(DocError::AmbiguousComment(_))));
}

#[test]
fn resolve_and_reopen_flip_the_thread_state() {
    let (mut doc, _, root) = plan_with_thread();
    let (r1, cmd) = reply(&doc, &at("bob", 30), &root, "done").unwrap();
    apply(&mut doc, &at("bob", 30), cmd);
    // Resolving a reply resolves its thread.
    let cmd = resolve(&doc, &at("bob", 40), &r1).unwrap();
    apply(&mut doc, &at("bob", 40), cmd);
    let t = &threads(&doc)[0];
    assert!(!t.is_open());
    assert_eq!(t.root.resolved_by.as_deref(), Some("bob"));
    assert_eq!(t.root.resolved_ms, Some(1_700_000_000_040));
    assert!(matches!(
        resolve(&doc, &at("bob", 41), &root),
        Err(DocError::CommentState {
            state: "resolved",
            ..
        })
    ));

    let cmd = reopen(&doc, &at("ana", 50), &root).unwrap();
    apply(&mut doc, &at("ana", 50), cmd);
    let t = &threads(&doc)[0];
    assert!(t.is_open());
    assert_eq!(t.root.resolved_by, None);
    assert!(reopen(&doc, &at("ana", 51), &root).is_err());
}

#[test]
fn concurrent_replies_both_survive_a_merge() {
    let (mut a, _, root) = plan_with_thread();
    let mut b = a.fork();
    let (ra, cmd) = reply(&a, &at("ana", 30), &root, "from a").unwrap();
    apply(&mut a, &at("ana", 30), cmd);
    let (rb, cmd) = reply(&b, &at("bob", 30), &root, "from b").unwrap();
    apply(&mut b, &at("bob", 30), cmd);

    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    for doc in [&a, &b] {
        let t = threads(doc);
        assert_eq!(t.len(), 1);
        let mut ids: Vec<&str> = t[0].replies.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let mut want = vec![ra.as_str(), rb.as_str()];
        want.sort_unstable();
        assert_eq!(ids, want);
    }
    assert_eq!(threads(&a), threads(&b));
}

#[test]
fn a_resolve_concurrent_with_a_reply_keeps_both() {
    let (mut a, _, root) = plan_with_thread();
    let mut b = a.fork();
    let cmd = resolve(&a, &at("ana", 30), &root).unwrap();
    apply(&mut a, &at("ana", 30), cmd);
    let (rb, cmd) = reply(&b, &at("bob", 31), &root, "wait, one more thing").unwrap();
    apply(&mut b, &at("bob", 31), cmd);

    a.merge(&mut b).unwrap();
    let t = &threads(&a)[0];
    assert!(t.root.resolved);
    assert_eq!(t.root.resolved_by.as_deref(), Some("ana"));
    assert_eq!(t.replies.len(), 1);
    assert_eq!(t.replies[0].id, rb);
    assert_eq!(t.replies[0].text, "wait, one more thing");
}

#[test]
fn malformed_records_and_proposal_comments_are_skipped() {
    let (mut doc, _, root) = plan_with_thread();
    let ctx = at("mallory", 60);
    let record = |id: &str, fields: Vec<(&str, PropValue)>| Command::PutRecord {
        set: RecordSet::Comments,
        id: id.to_owned(),
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    let t = |s: &str| PropValue::Text(s.to_owned());
    for cmd in [
        record(
            "c-no-anchor",
            vec![("text", t("hi")), ("time_ms", PropValue::Number(1.0))],
        ),
        record(
            "c-bad-anchor",
            vec![
                ("anchor", t("moon")),
                ("text", t("hi")),
                ("time_ms", PropValue::Number(1.0)),
            ],
        ),
        record(
            "c-text-x",
            vec![
                ("anchor", t("point")),
                ("x", t("left")),
                ("y", PropValue::Number(0.0)),
                ("text", t("hi")),
                ("time_ms", PropValue::Number(1.0)),
            ],
        ),
        record(
            "c-no-time",
            vec![
                ("anchor", t("element")),
                ("element", t("e1")),
                ("text", t("hi")),
            ],
        ),
        record(
            "c-review",
            vec![
                ("branch", t("b1")),
                ("text", t("approve")),
                ("time_ms", PropValue::Number(1.0)),
            ],
        ),
        // A reply whose root is gone still shows, as a thread of its own.
        record(
            "c-orphan",
            vec![
                ("anchor", t("point")),
                ("x", PropValue::Number(1.0)),
                ("y", PropValue::Number(2.0)),
                ("text", t("lost")),
                ("time_ms", PropValue::Number(70.0)),
                ("parent", t("c-gone")),
            ],
        ),
    ] {
        apply(&mut doc, &ctx, cmd);
    }
    let ids: Vec<String> = comments(&doc).into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec!["c-orphan".to_owned(), root.clone()]);
    let t = threads(&doc);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].root.id, "c-orphan");
    assert!(t.iter().all(|t| t.replies.is_empty()));
    assert!(matches!(
        get(&doc, "c-no-anchor"),
        Err(DocError::UnknownComment(_))
    ));
}

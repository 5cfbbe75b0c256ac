//! Unit tests of the diagnosis: skew arithmetic, verdicts, and stats of a local plan.

use std::collections::BTreeMap;

use super::*;

fn probe_ok(plan_id: Option<&str>, relay_time_ms: Option<u64>) -> Probe {
    Probe {
        relay: "ws://127.0.0.1:4100".into(),
        role: Some(Role::Editor),
        grant: None,
        plan_id: plan_id.map(str::to_owned),
        rtt_ms: Some(0.42),
        sent_at_ms: 1_000_000,
        relay_time_ms,
        received_at_ms: 1_000_010,
    }
}

fn verdicts(checks: &[Check]) -> Vec<(&'static str, Verdict)> {
    checks.iter().map(|c| (c.name, c.verdict)).collect()
}

#[test]
fn skew_is_the_relay_time_against_the_midpoint_of_our_round_trip() {
    assert_eq!(skew_ms(1_000, 1_500, 2_000), 0);
    assert_eq!(skew_ms(1_000, 9_000, 1_100), 7_950, "relay ahead");
    assert_eq!(skew_ms(10_000, 3_000, 10_200), -7_100, "relay behind");
    assert_eq!(skew_ms(0, u64::MAX, 0), i64::MAX, "saturates, never wraps");
}

#[test]
fn clock_skew_warns_above_five_seconds_and_says_which_way() {
    let ok = clock_check(1_000_000, 1_003_000, 1_000_020);
    assert_eq!(ok.verdict, Verdict::Ok, "{ok:?}");
    assert!(ok.message.contains("2990 ms behind"), "{ok:?}");
    assert!(ok.message.contains("±10 ms"), "{ok:?}");

    let same = clock_check(1_000, 1_000, 1_000);
    assert_eq!(same.message, "0 ms off the relay's (±0 ms)");
    let exactly = clock_check(0, SKEW_WARN_MS, 0);
    assert_eq!(exactly.verdict, Verdict::Ok, "5 s is still fine");

    let behind = clock_check(1_000_000, 1_012_300, 1_000_000);
    assert_eq!(behind.verdict, Verdict::Warning);
    assert!(
        behind.message.contains("12.3 s behind the relay's"),
        "{behind:?}"
    );
    let ahead = clock_check(1_000_000, 990_000, 1_000_000);
    assert_eq!(ahead.verdict, Verdict::Warning);
    assert!(
        ahead.message.contains("10.0 s ahead of the relay's"),
        "{ahead:?}"
    );
}

#[test]
fn the_worst_verdict_wins_and_skipped_is_no_problem() {
    let c = |v| check(CHECK_PENDING, v, "");
    assert_eq!(worst(&[]), Verdict::Ok);
    assert_eq!(
        worst(&[c(Verdict::Ok), c(Verdict::Skipped)]),
        Verdict::Skipped
    );
    assert_eq!(
        worst(&[c(Verdict::Warning), c(Verdict::Skipped), c(Verdict::Ok)]),
        Verdict::Warning
    );
    assert_eq!(
        worst(&[c(Verdict::Failed), c(Verdict::Warning)]),
        Verdict::Failed
    );
    assert_eq!(
        serde_json::to_value(Verdict::Warning).unwrap(),
        serde_json::json!("warning")
    );
}

#[test]
fn network_checks_say_how_far_the_probe_got() {
    let file = Path::new("plan.arx");
    let none = network_checks(None, Some("p1"), file);
    assert!(
        none.iter().all(|c| c.verdict == Verdict::Skipped),
        "{none:?}"
    );

    let down = Err(ProbeError::Unreachable(
        "cannot reach ws://127.0.0.1:4100: Connection refused (os error 111)".into(),
    ));
    let down = network_checks(Some(("ws://127.0.0.1:4100", &down)), Some("p1"), file);
    assert_eq!(
        verdicts(&down),
        [
            (CHECK_RELAY, Verdict::Failed),
            (CHECK_ACCEPTED, Verdict::Skipped),
            (CHECK_PLAN, Verdict::Skipped),
            (CHECK_CLOCK, Verdict::Skipped),
        ]
    );
    assert!(
        down[0].message.starts_with("cannot reach ws://"),
        "{down:?}"
    );

    let refused = Err(ProbeError::Refused(
        "the relay refused the invite (401 revoked)".into(),
    ));
    let refused = network_checks(Some(("ws://127.0.0.1:4100", &refused)), Some("p1"), file);
    assert_eq!(refused[0].verdict, Verdict::Ok, "it answered: {refused:?}");
    assert_eq!(refused[0].message, "ws://127.0.0.1:4100 answered");
    assert_eq!(refused[1].verdict, Verdict::Failed);
    assert!(
        refused[1].message.contains("401 revoked") && refused[1].message.contains("new invite"),
        "{refused:?}"
    );

    let fine = network_checks(
        Some((
            "ws://127.0.0.1:4100",
            &Ok(probe_ok(Some("p1"), Some(1_000_005))),
        )),
        Some("p1"),
        file,
    );
    assert!(fine.iter().all(|c| c.verdict == Verdict::Ok), "{fine:?}");
    assert_eq!(fine[0].message, "ws://127.0.0.1:4100 (rtt 0.4 ms)");
    assert_eq!(fine[1].message, "accepted as editor");

    let other = network_checks(
        Some(("ws://127.0.0.1:4100", &Ok(probe_ok(Some("p2"), None)))),
        Some("p1"),
        file,
    );
    assert_eq!(other[2].verdict, Verdict::Failed, "{other:?}");
    assert!(
        other[2].message.contains("the room holds plan p2"),
        "{other:?}"
    );
    assert_eq!(
        other[3].verdict,
        Verdict::Skipped,
        "an older relay: {other:?}"
    );
}

#[test]
fn a_stopped_session_fails_and_an_offline_one_warns() {
    let mut s = SyncStatus {
        rejected: true,
        last_error: Some("the relay refused the invite (401)".into()),
        ..SyncStatus::default()
    };
    assert_eq!(live_check(&s).verdict, Verdict::Failed);
    s.rejected = false;
    assert_eq!(live_check(&s).verdict, Verdict::Warning);
    s.last_error = None;
    assert_eq!(live_check(&s).verdict, Verdict::Ok);
    s.state = ConnectionState::Connected;
    s.sent_changes = 3;
    s.rtt_ms = Some(2);
    let c = live_check(&s);
    assert_eq!(c.verdict, Verdict::Ok);
    assert_eq!(c.message, "in sync: 3 sent, 0 received this run, rtt 2 ms");
}

#[test]
fn a_never_synced_plan_counts_every_change_as_pending_and_says_to_pass_an_invite() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.arx");
    let ctx = arxos_doc::EditContext::at("ana", 1);
    let mut doc = arxos_doc::Document::new_plan("p", &ctx).unwrap();
    arxos_doc::file::PlanFile::create(&file, &mut doc).unwrap();
    let changes = doc.history().len();

    let s = stats(&file, None).unwrap();
    assert_eq!((s.changes, s.pending, s.refused), (changes, changes, 0));
    assert_eq!(
        s.pending_by_author,
        BTreeMap::from([("ana".to_owned(), changes)])
    );
    assert!(s.sidecar_bytes.is_none() && s.relay.is_none() && s.live.is_none());
    assert!(s.plan_bytes > 0);

    let d = diagnose(&file, None, Duration::from_secs(1)).unwrap();
    assert!(d.failed(), "{d:#?}");
    let invite = d.check(CHECK_INVITE).unwrap();
    assert_eq!(invite.verdict, Verdict::Failed);
    assert!(invite.message.contains("pass an invite once"), "{invite:?}");
    assert_eq!(d.check(CHECK_HEALTH).unwrap().verdict, Verdict::Ok);
    assert_eq!(d.check(CHECK_RELAY).unwrap().verdict, Verdict::Skipped);
    assert!(d.check(CHECK_LIVE).is_none());
}

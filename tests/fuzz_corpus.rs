//! The fuzz targets' seed corpora and every crash the fuzzers found (`fuzz/seeds/<target>`,
//! `fuzz/regressions/<target>`), run through the same checks the targets run, on stable, in
//! every test run: a fixed crash stays fixed without nightly.

#![allow(clippy::unwrap_used)] // helpers outside #[test] functions

use std::path::Path;

fn run(target: &str, check: impl Fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut seeds = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            // Shown when the check panics: the input to replay with `cargo fuzz run`.
            eprintln!("{target}: {}", path.display());
            check(&data);
            seeds += usize::from(dir == "seeds");
        }
    }
    assert!(seeds > 0, "no seeds for {target} under {}", fuzz.display());
}

#[test]
fn wire_message() {
    run("wire_message", arxos_sync::fuzzing::wire_message);
}

#[test]
fn ephemeral_payload() {
    run("ephemeral_payload", arxos_sync::fuzzing::ephemeral_payload);
}

#[test]
fn invite_code() {
    run("invite_code", arxos_sync::fuzzing::invite_code);
}

#[test]
fn svg_import() {
    run("svg_import", arxos_doc::fuzzing::svg_import);
}

#[test]
fn arx_load() {
    run("arx_load", arxos_doc::fuzzing::arx_load);
}

#[test]
fn room_judge() {
    run("room_judge", |data| {
        arxos_relay::fuzzing::room_judge(data);
    });
}

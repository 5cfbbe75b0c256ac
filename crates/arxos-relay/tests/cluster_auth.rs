//! Relay nodes authenticate to NATS and check its certificate: a real `nats-server` that
//! wants a user and password, and one that speaks TLS with a certificate from a test CA. A
//! node with the right credentials and CA serves a room; a node without them refuses to start
//! and says why, in one line.
//!
//! Without `nats-server` on the PATH each test prints why and passes, unless
//! `ARXOS_REQUIRE_NATS=1`, when it fails (see `support/nats.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/relay.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use support::{client, eventually, get_elem, seeded_client, set_elem};

#[path = "support/nats.rs"]
mod nats;
use nats::{Nats, nats_binary};

const T: Duration = Duration::from_secs(20);

/// Runs a relay node that must fail to start; its error output.
fn refused_start(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arxos-relay"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the relay started: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two clients of `node` see each other's edit.
fn serves_a_room(dir: &Path, node: &support::RelayProc) {
    let (_doc, code) = node.create_room(false);
    let ann = seeded_client(dir, "ann", &code);
    let bob = client(dir, "bob", &code);
    ann.wait_synced(T).unwrap();
    bob.wait_synced(T).unwrap();
    set_elem(&ann, "e1", "x", 3.0);
    eventually(T, "the edit reaches bob", || {
        get_elem(&bob, "e1", "x") == Some(3.0)
    });
}

#[test]
fn a_node_logs_in_with_a_user_and_password_file_and_without_it_is_refused() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("nats-password");
    std::fs::write(&password, "correct horse\n").unwrap();
    let nats = Nats::start_with(
        bin,
        dir.path(),
        &["--user", "relay", "--pass", "correct horse"],
    );
    let node = nats.node(
        dir.path(),
        "node",
        &[
            "--cluster-user",
            "relay",
            "--cluster-password-file",
            password.to_str().unwrap(),
        ],
    );
    serves_a_room(dir.path(), &node);

    let err = refused_start(&dir.path().join("anonymous"), &["--cluster", &nats.url()]);
    assert!(err.contains("cannot reach NATS"), "{err}");
    assert!(err.to_lowercase().contains("author"), "{err}");
    std::fs::write(&password, "wrong\n").unwrap();
    let err = refused_start(
        &dir.path().join("wrong"),
        &[
            "--cluster",
            &nats.url(),
            "--cluster-user",
            "relay",
            "--cluster-password-file",
            password.to_str().unwrap(),
        ],
    );
    assert!(err.to_lowercase().contains("author"), "{err}");
}

#[test]
fn a_node_reaches_nats_over_tls_with_the_ca_it_is_given_and_refuses_another() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let ca_pem = write("ca.pem", ca.pem());
    let cert_pem = write("nats-cert.pem", server.pem());
    let key_pem = write("nats-key.pem", server_key.serialize_pem());
    let other_ca = rcgen::generate_simple_self_signed(vec!["elsewhere".to_owned()]).unwrap();
    let other_ca_pem = write("other-ca.pem", other_ca.cert.pem());

    let nats = Nats::start_with(
        bin,
        dir.path(),
        &["--tls", "--tlscert", &cert_pem, "--tlskey", &key_pem],
    );
    let url = format!("tls://127.0.0.1:{}", nats.port);
    let node = support::RelayProc::start(
        &dir.path().join("node"),
        &["--cluster", &url, "--cluster-ca", &ca_pem],
    );
    serves_a_room(dir.path(), &node);

    let err = refused_start(
        &dir.path().join("other-ca"),
        &["--cluster", &url, "--cluster-ca", &other_ca_pem],
    );
    assert!(err.contains("cannot reach NATS"), "{err}");
    let err = refused_start(
        &dir.path().join("no-ca-file"),
        &["--cluster", &url, "--cluster-ca", "/nonexistent/ca.pem"],
    );
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

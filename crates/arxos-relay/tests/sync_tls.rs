//! TLS: a relay with a certificate and key serves `wss://`; clients and the admin client
//! that trust its CA sync through it, and clients that do not are refused.

#[path = "support/relay.rs"]
mod support;

use std::time::Duration;

use arxos_sync::admin::AdminClient;
use arxos_sync::client::{ClientError, SyncClient};
use support::{RelayProc, TOKEN, eventually, get_elem, seed_file, set_elem};

const T: Duration = Duration::from_secs(20);

#[test]
fn wss_relay_syncs_clients_that_trust_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let url = format!("wss://localhost:{}", relay.port);
    let admin = AdminClient::with_tls_ca(&url, TOKEN, Some(&cert)).unwrap();
    let room = admin.create_room(None, false).unwrap();
    assert!(
        room.owner_code.relay.starts_with("wss://localhost:"),
        "{}",
        room.owner_code.relay
    );

    let start = |name: &str, ca: Option<&std::path::Path>| {
        let mut config = support::config(dir.path(), name, &room.owner_code);
        config.tls_ca = ca.map(std::path::Path::to_owned);
        SyncClient::start(config).unwrap()
    };
    seed_file(&dir.path().join("a.arx"));
    let a = start("a", Some(&cert));
    a.wait_synced(T).unwrap();
    let b = start("b", Some(&cert));
    b.wait_synced(T).unwrap();
    set_elem(&a, "e1", "x", 3.5);
    eventually(T, "edit crosses the TLS relay", || {
        get_elem(&b, "e1", "x") == Some(3.5)
    });

    // Without the CA the certificate is not trusted: no connection, and the error says why.
    let stranger = start("stranger", None);
    std::thread::sleep(Duration::from_millis(500));
    let status = stranger.status();
    assert!(stranger.wait_synced(Duration::from_millis(200)).is_err());
    assert!(
        status
            .last_error
            .unwrap_or_default()
            .contains("cannot reach"),
        "untrusted certificate refused"
    );
    assert!(matches!(
        AdminClient::with_tls_ca(&url, TOKEN, None)
            .unwrap()
            .list_rooms(),
        Err(ClientError::Admin(_))
    ));
}

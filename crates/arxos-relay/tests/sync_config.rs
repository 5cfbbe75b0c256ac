//! Relay configuration: a `--config` file supplies settings; flags given explicitly win.

#[path = "support/relay.rs"]
mod support;

use support::RelayProc;

#[test]
fn config_file_settings_apply_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.conf");
    std::fs::write(
        &config,
        "# relay settings\npublic_url = \"ws://relay.example.invalid:7447\"\nadmin_token = \"from-the-file\"\nlisten = 127.0.0.1:1\n",
    )
    .unwrap();
    // The support harness passes --listen and --admin-token explicitly: those must win.
    let relay = RelayProc::start(
        &dir.path().join("relay"),
        &["--config", config.to_str().unwrap()],
    );
    let (_doc, code) = relay.create_room(false);
    assert_eq!(
        code.relay, "ws://relay.example.invalid:7447",
        "public_url from the file"
    );
    let file_token = arxos_sync::admin::AdminClient::new(&relay.ws(), "from-the-file").unwrap();
    assert!(
        file_token.list_rooms().is_err(),
        "the --admin-token flag overrides the file"
    );
}

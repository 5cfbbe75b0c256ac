//! The checks the fuzz targets in `fuzz/` run, kept here so that the targets (nightly,
//! cargo-fuzz) and the regression tests over their corpora (stable, `cargo test`) run the same
//! code. Each check takes arbitrary bytes and panics only when a property is broken: decoding
//! must never panic, and whatever decodes must encode to something that decodes to the same.
//!
//! Not an API: hidden from the docs, and free to change with the targets.

use crate::invite::{CODE_PREFIX, InviteCode};
use crate::protocol::WireMessage;
use crate::protocol::payload::ArxPayload;

/// A wire message decodes without panicking; one that decodes re-encodes to a message that
/// decodes to the same value, and encoding is stable from there on.
pub fn wire_message(data: &[u8]) {
    let Ok(message) = WireMessage::decode(data) else {
        return;
    };
    let bytes = message.encode();
    let again = match WireMessage::decode(&bytes) {
        Ok(again) => again,
        Err(err) => panic!("{message:?} encoded to bytes that do not decode: {err}"),
    };
    assert_eq!(
        message, again,
        "a decoded message changed through re-encoding"
    );
    assert_eq!(bytes, again.encode(), "encoding is not stable");
}

/// An ephemeral payload (presence, locks, refusals, room info) decodes without panicking; one
/// that decodes re-encodes to bytes that decode and encode to the same bytes. (Bytes, not
/// values, are compared: a decoded cursor may hold NaN, which is not equal to itself.)
pub fn ephemeral_payload(data: &[u8]) {
    let Ok(payload) = ArxPayload::decode(data) else {
        return;
    };
    let bytes = match payload.encode() {
        Ok(bytes) => bytes,
        Err(err) => panic!("{payload:?} decoded but does not encode: {err}"),
    };
    let again = match ArxPayload::decode(&bytes) {
        Ok(again) => again,
        Err(err) => panic!("{payload:?} encoded to bytes that do not decode: {err}"),
    };
    let again_bytes = match again.encode() {
        Ok(bytes) => bytes,
        Err(err) => panic!("{again:?} decoded but does not encode: {err}"),
    };
    assert_eq!(bytes, again_bytes, "a payload changed through re-encoding");
}

/// An invite code parses without panicking, and a parsed code encodes to a code that parses
/// to the same invite.
///
/// The first byte picks how the rest is read: as the pasted text itself (even), or as the
/// base58 body after the prefix (odd), so that mutations reach the inner lines too instead of
/// dying at the base58 decoding.
pub fn invite_code(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = if mode.is_multiple_of(2) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        format!("{CODE_PREFIX}{}", bs58::encode(rest).into_string())
    };
    let Ok(invite) = InviteCode::parse(&text) else {
        return;
    };
    let code = invite.encode();
    match InviteCode::parse(&code) {
        Ok(again) => assert_eq!(invite, again, "an invite changed through re-encoding"),
        Err(err) => panic!("{invite:?} encoded to {code:?}, which does not parse: {err}"),
    }
    // Everything derived from a parsed invite must be computable too.
    let _ = (invite.ws_url(), invite.http_base(), invite.secret_hash());
    assert!(
        invite.relays().count() >= 1,
        "a parsed invite names no relay"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DocumentId;

    #[test]
    fn the_checks_accept_real_inputs_and_garbage() {
        let invite = InviteCode::generate("ws://127.0.0.1:9", DocumentId::random())
            .unwrap()
            .with_also(&["ws://127.0.0.1:10"])
            .unwrap();
        let code = invite.encode();
        let mut text = vec![0];
        text.extend_from_slice(code.as_bytes());
        invite_code(&text);
        for garbage in [&b""[..], b"\x00", b"\x01\xff\xfe", b"\xa1\x61t\x61x"] {
            wire_message(garbage);
            ephemeral_payload(garbage);
            invite_code(garbage);
        }
    }
}

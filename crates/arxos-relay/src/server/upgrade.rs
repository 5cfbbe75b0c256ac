//! The WebSocket upgrade: the invite is checked here, before any protocol message, with a
//! per-address budget for bad invites; an accepted upgrade is answered `101` and left in the
//! connection's slot for the session to take over.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::Shared;
use super::auth_limit;
use super::http::{Resp, UpgradeSlot, header, query, text};
use crate::invites::{AuthError, InviteRecord};
use crate::storage::RoomSettings;

/// An authenticated upgrade, waiting for hyper to hand over the connection.
pub(crate) struct Accepted {
    pub(crate) on_upgrade: OnUpgrade,
    pub(crate) record: InviteRecord,
    pub(crate) settings: RoomSettings,
}

/// Authenticates a WebSocket upgrade; on success the `101` response, with the session's
/// start left in `slot`.
pub(crate) async fn accept(
    shared: &Arc<Shared>,
    addr: &str,
    mut req: Request<Incoming>,
    slot: &UpgradeSlot,
) -> Resp {
    let ip = addr.parse::<SocketAddr>().ok().map(|a| a.ip());
    if shared.auth_limit.admit(ip) == auth_limit::Admit::Throttled {
        shared.metrics.auth_throttled_total.inc();
        let why = format!(
            "too many joins with bad invites from this address; retry in {} s",
            auth_limit::WINDOW.as_secs()
        );
        return text(StatusCode::TOO_MANY_REQUESTS, &why);
    }
    let Some(secret) = query(&req, "invite") else {
        shared.metrics.auth_failures_total.inc();
        shared.auth_limit.failed(ip);
        return text(StatusCode::UNAUTHORIZED, "missing invite");
    };
    // Blocking when a cluster node asks the shared store for an invite it has not heard of.
    let authenticated = if shared.invites.is_shared() {
        let invites = Arc::clone(&shared.invites);
        tokio::task::spawn_blocking(move || invites.authenticate(&secret))
            .await
            .unwrap_or(Err(AuthError::Unavailable))
    } else {
        shared.invites.authenticate(&secret)
    };
    let record = match authenticated {
        Ok(record) => {
            shared.auth_limit.succeeded(ip);
            record
        }
        Err(AuthError::Unavailable) => {
            shared.auth_limit.succeeded(ip);
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "invites unavailable, retry",
            );
        }
        Err(err) => {
            shared.metrics.auth_failures_total.inc();
            shared.auth_limit.failed(ip);
            // One summary per window is logged at warn (auth_limit.rs), not a line per attempt.
            tracing::debug!(%addr, %err, "upgrade refused");
            let status = if err == AuthError::Unknown {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            return text(status, &err.to_string());
        }
    };
    let storage = Arc::clone(&shared.storage);
    let doc = record.doc_id;
    let settings = match tokio::task::spawn_blocking(move || storage.room_settings(doc)).await {
        Ok(Ok(Some(settings))) => settings,
        Ok(Ok(None)) => return text(StatusCode::NOT_FOUND, "no such room"),
        _ => return text(StatusCode::INTERNAL_SERVER_ERROR, "storage error"),
    };
    let Some(key) = header(&req, "sec-websocket-key") else {
        return text(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let Ok(accept_key) = HeaderValue::from_str(&derive_accept_key(key.trim().as_bytes())) else {
        return text(StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key");
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Accepted {
        on_upgrade,
        record,
        settings,
    });
    let mut resp = Response::new(Full::default());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept_key);
    resp
}

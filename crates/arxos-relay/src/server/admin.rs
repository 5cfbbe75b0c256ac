//! The plain-HTTP routes: `/healthz`, `/metrics` and the bearer-token admin API under
//! `/admin` (rooms, invites, verified origins).

use std::sync::Arc;

use arxos_sync::DocumentId;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;

use super::Shared;
use super::http::{Resp, body, error, header, json, metrics, query, text};
use crate::invites::{CreateInviteError, InviteRecord, NewInvite, constant_time_eq, unix_now};
use crate::storage::{RoomSettings, StorageError};

/// The `ws://host:port` address to write into invite codes.
fn public_url(shared: &Shared, req: &Request<Incoming>) -> String {
    if let Some(url) = &shared.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let scheme = if shared.config.tls.is_some() {
        "wss"
    } else {
        "ws"
    };
    let host = header(req, "host").map_or_else(|| shared.local_addr.to_string(), str::to_owned);
    format!("{scheme}://{host}")
}

fn invite_json(record: &InviteRecord, code: Option<String>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": record.id,
        "doc_id": record.doc_id.to_string(),
        "automerge_url": record.doc_id.automerge_url(),
        "role": record.role,
        "grant": record.grant,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked": record.revoked,
        "expired": record.expires_at.is_some_and(|t| unix_now() >= t),
        "label": record.label,
    });
    if let (Some(code), Some(obj)) = (code, v.as_object_mut()) {
        obj.insert("code".into(), serde_json::Value::String(code));
    }
    v
}

#[derive(Deserialize, Default)]
struct CreateRoom {
    #[serde(default)]
    doc_id: Option<DocumentId>,
    #[serde(default)]
    hard_locks: bool,
}

fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    header(req, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), shared.admin_token.as_bytes()))
}

/// How an admin request's failure is answered.
trait Refusal: std::fmt::Display {
    fn status(&self) -> StatusCode;
}

impl Refusal for StorageError {
    fn status(&self) -> StatusCode {
        match self {
            StorageError::RoomExists(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl Refusal for CreateInviteError {
    fn status(&self) -> StatusCode {
        match self {
            CreateInviteError::Storage(e) => e.status(),
            CreateInviteError::Code(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Runs storage or invite work off the async threads (the cluster backend blocks on NATS).
async fn blocking<T: Send + 'static, E: Refusal + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Resp> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(e.status(), &e.to_string())),
        Err(err) => {
            tracing::error!(%err, "blocking admin task failed");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

/// The JSON body of an admin request; an empty body is `T::default()` when `empty` is given.
async fn json_body<T: serde::de::DeserializeOwned>(
    shared: &Shared,
    req: Request<Incoming>,
    empty: Option<T>,
) -> Result<T, Resp> {
    let bytes = body(req.into_body(), shared.config.limits.handshake_timeout).await?;
    match empty {
        Some(value) if bytes.is_empty() => Ok(value),
        _ => serde_json::from_slice(&bytes)
            .map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string())),
    }
}

/// Serves one plain-HTTP request.
pub(crate) async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => return text(StatusCode::OK, "ok"),
        (&Method::GET, "/metrics") => return metrics(shared.metrics.render()),
        _ => {}
    }
    if !path.starts_with("/admin") {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    if !authorized(shared, &req) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong admin token");
    }
    admin(shared, req, &path)
        .await
        .unwrap_or_else(|refusal| refusal)
}

async fn admin(shared: &Arc<Shared>, req: Request<Incoming>, path: &str) -> Result<Resp, Resp> {
    let method = req.method().clone();
    match (method, path) {
        (Method::POST, "/admin/rooms") => create_room(shared, req).await,
        (Method::GET, "/admin/rooms") => {
            let storage = Arc::clone(&shared.storage);
            let rooms = blocking(move || storage.list_rooms()).await?;
            let rooms: Vec<String> = rooms.iter().map(ToString::to_string).collect();
            Ok(json(StatusCode::OK, &serde_json::json!({ "rooms": rooms })))
        }
        (Method::GET, p) if p.starts_with("/admin/rooms/") && p.ends_with("/origins") => {
            let room = p
                .trim_start_matches("/admin/rooms/")
                .trim_end_matches("/origins");
            origins(shared, room).await
        }
        (Method::POST, "/admin/invites") => {
            let relay_url = public_url(shared, &req);
            let new: NewInvite = json_body(shared, req, None).await?;
            let doc = new.doc_id;
            let storage = Arc::clone(&shared.storage);
            if blocking(move || storage.room_settings(doc))
                .await?
                .is_none()
            {
                return Err(error(StatusCode::NOT_FOUND, "no such room"));
            }
            let (record, code) = create_invite(shared, relay_url, new).await?;
            Ok(json(StatusCode::CREATED, &invite_json(&record, Some(code))))
        }
        (Method::GET, "/admin/invites") => {
            let doc = match query(&req, "doc_id").map(|d| DocumentId::parse(&d)) {
                None => None,
                Some(Ok(doc)) => Some(doc),
                Some(Err(e)) => return Err(error(StatusCode::BAD_REQUEST, &e.to_string())),
            };
            let list: Vec<serde_json::Value> = shared
                .invites
                .list(doc)
                .iter()
                .map(|r| invite_json(r, None))
                .collect();
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "invites": list }),
            ))
        }
        (Method::POST, p) if p.starts_with("/admin/invites/") && p.ends_with("/revoke") => {
            let id = p
                .trim_start_matches("/admin/invites/")
                .trim_end_matches("/revoke");
            revoke(shared, id).await
        }
        _ => Err(error(StatusCode::NOT_FOUND, "no such admin endpoint")),
    }
}

/// `POST /admin/rooms`: a new room and its owner invite.
async fn create_room(shared: &Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Resp> {
    let relay_url = public_url(shared, &req);
    let body: CreateRoom = json_body(shared, req, Some(CreateRoom::default())).await?;
    let doc = body.doc_id.unwrap_or_else(DocumentId::random);
    let settings = RoomSettings {
        hard_locks: body.hard_locks,
        created_at: unix_now(),
    };
    let storage = Arc::clone(&shared.storage);
    blocking(move || storage.create_room(doc, &settings)).await?;
    let owner = NewInvite {
        doc_id: doc,
        role: arxos_sync::Role::Owner,
        grant: arxos_sync::Grant::default(),
        expires_in_secs: None,
        label: "owner".into(),
    };
    let (record, code) = create_invite(shared, relay_url, owner).await?;
    tracing::info!(room = %doc, "room created");
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({
            "doc_id": doc.to_string(),
            "automerge_url": doc.automerge_url(),
            "hard_locks": body.hard_locks,
            "owner_invite": invite_json(&record, Some(code)),
        }),
    ))
}

/// `GET /admin/rooms/{doc}/origins`: the verified origin of every accepted change.
async fn origins(shared: &Arc<Shared>, room: &str) -> Result<Resp, Resp> {
    let Ok(doc) = DocumentId::parse(room) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("`{room}` is not a room id"),
        ));
    };
    let storage = Arc::clone(&shared.storage);
    let found = blocking(move || {
        storage
            .room_settings(doc)
            .and_then(|s| s.map(|_| storage.load_origins(doc)).transpose())
    })
    .await?;
    match found {
        Some(origins) => Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "origins": origins }),
        )),
        None => Err(error(StatusCode::NOT_FOUND, "no such room")),
    }
}

/// `POST /admin/invites/{id}/revoke`: the invite stops working and its live sessions end.
async fn revoke(shared: &Arc<Shared>, id: &str) -> Result<Resp, Resp> {
    let invites = Arc::clone(&shared.invites);
    let owned = id.to_owned();
    if blocking(move || invites.revoke(&owned)).await? {
        // No receivers is fine: nobody is connected on it here.
        let _ = shared.revocations.send(id.to_owned());
        Ok(json(
            StatusCode::OK,
            &serde_json::json!({ "revoked": true }),
        ))
    } else {
        Err(error(StatusCode::NOT_FOUND, "no such invite"))
    }
}

/// Creates an invite whose code names this relay; returns its record and encoded code.
async fn create_invite(
    shared: &Arc<Shared>,
    relay_url: String,
    new: NewInvite,
) -> Result<(InviteRecord, String), Resp> {
    let shared = Arc::clone(shared);
    let (record, code) = blocking(move || {
        shared
            .invites
            .create(&relay_url, &shared.config.also_urls, new)
    })
    .await?;
    Ok((record, code.encode()))
}

//! HTTP/1.1 on hyper: one request per connection, bounded in time and size, routed to the
//! operational endpoints ([`super::admin`]) or, for a WebSocket upgrade, authenticated
//! ([`super::upgrade`]) and handed over to the session ([`super::conn`]) on the same task.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::Shared;
use super::stream::MaybeTls;
use super::upgrade::Accepted;

/// Largest accepted request head (hyper's smallest allowed read buffer is 8 KiB).
const MAX_HEAD: usize = 16 * 1024;
/// Largest accepted admin request body.
const MAX_BODY: usize = 64 * 1024;
/// Most header lines in one request.
const MAX_HEADERS: usize = 48;

/// Every response the relay writes: small, complete bodies.
pub(crate) type Resp = Response<Full<Bytes>>;

/// Where the request handler leaves an accepted upgrade for the connection's task.
pub(crate) type UpgradeSlot = Arc<Mutex<Option<Accepted>>>;

/// Refusals carry their text in this header too: WebSocket clients often do not read bodies.
const REASON: HeaderName = HeaderName::from_static("x-arxos-reason");

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A plain-text response; refusals also name their reason in `X-Arxos-Reason`.
pub(crate) fn text(status: StatusCode, message: &str) -> Resp {
    let mut resp = respond(status, "text/plain", format!("{message}\n").into_bytes());
    if status.is_client_error() || status.is_server_error() {
        let reason: String = message.chars().filter(|c| !c.is_control()).collect();
        if let Ok(value) = HeaderValue::from_str(reason.trim()) {
            resp.headers_mut().insert(REASON, value);
        }
    }
    resp
}

/// A pretty-printed JSON response.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Resp {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    respond(status, "application/json", body)
}

/// A JSON `{"error": …}` response, the admin API's refusal.
pub(crate) fn error(status: StatusCode, message: &str) -> Resp {
    json(status, &serde_json::json!({ "error": message }))
}

/// The `OpenMetrics` exposition.
pub(crate) fn metrics(text: String) -> Resp {
    respond(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        text.into_bytes(),
    )
}

/// A header's value, when it is text.
pub(crate) fn header<'r, B>(req: &'r Request<B>, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A query parameter, percent-decoded.
pub(crate) fn query<B>(req: &Request<B>, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Reads a request's body, at most [`MAX_BODY`] bytes and within `limit`.
pub(crate) async fn body(body: Incoming, limit: Duration) -> Result<Bytes, Resp> {
    // Refused on its announced length, before the client spends time sending it.
    if hyper::body::Body::size_hint(&body).lower() > MAX_BODY as u64 {
        return Err(text(StatusCode::PAYLOAD_TOO_LARGE, "request too large"));
    }
    match tokio::time::timeout(limit, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(text(StatusCode::PAYLOAD_TOO_LARGE, "request too large"))
        }
        Ok(Err(err)) => Err(text(StatusCode::BAD_REQUEST, &format!("bad body: {err}"))),
        Err(_) => Err(text(StatusCode::REQUEST_TIMEOUT, "request body too slow")),
    }
}

fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    header(req, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Serves one accepted connection: one HTTP request, or a WebSocket session after its upgrade
/// was authenticated. Returns when the connection is done.
pub(crate) async fn serve_stream(shared: Arc<Shared>, stream: MaybeTls, addr: &str) {
    let limit = shared.config.limits.handshake_timeout;
    let slot: UpgradeSlot = Arc::default();
    let service = {
        let shared = Arc::clone(&shared);
        let slot = Arc::clone(&slot);
        let addr: Arc<str> = addr.into();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let shared = Arc::clone(&shared);
            let slot = Arc::clone(&slot);
            let addr = Arc::clone(&addr);
            async move {
                let resp = if is_websocket_upgrade(&req) {
                    super::upgrade::accept(&shared, &addr, req, &slot).await
                } else {
                    super::admin::route(&shared, req).await
                };
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    // One request per connection: nothing is kept open between requests, so a slow or idle
    // client holds a socket only until the head deadline.
    http.keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(limit)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS);
    let served = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
    if let Err(err) = served {
        tracing::debug!(%addr, %err, "HTTP connection ended with an error");
        return;
    }
    let accepted = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    let Some(accepted) = accepted else { return };
    match tokio::time::timeout(limit, accepted.on_upgrade).await {
        Ok(Ok(upgraded)) => {
            super::conn::serve_ws(
                shared,
                TokioIo::new(upgraded),
                accepted.record,
                accepted.settings,
            )
            .await;
        }
        Ok(Err(err)) => tracing::debug!(%addr, %err, "WebSocket upgrade failed"),
        Err(_) => tracing::debug!(%addr, "WebSocket upgrade timed out"),
    }
}

//! The listener: TLS, HTTP routing, authentication at the WebSocket upgrade, graceful
//! shutdown.

mod admin;
mod auth_limit;
mod conn;
mod http;
mod stream;
mod upgrade;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use arxos_sync::PeerId;
use arxos_sync::invite::new_secret;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::RelayError;
use crate::config::{RelayConfig, TlsFiles};
use crate::invites::InviteStore;
use crate::metrics::Metrics;
use crate::room::{RoomContext, Rooms};
use crate::storage::{DocStorage, FileStorage, StorageError};
use tokio_util::either::Either;

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) config: RelayConfig,
    pub(crate) local_addr: SocketAddr,
    pub(crate) storage: Arc<dyn DocStorage>,
    pub(crate) invites: Arc<InviteStore>,
    pub(crate) rooms: Arc<Rooms>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) admin_token: String,
    pub(crate) relay_peer: PeerId,
    pub(crate) next_conn: AtomicU64,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Ids of invites revoked while running: their live sessions are closed.
    pub(crate) revocations: tokio::sync::broadcast::Sender<String>,
    /// Per-address budgets for bad invites.
    pub(crate) auth_limit: auth_limit::AuthLimiter,
}

/// A running relay.
pub struct RelayHandle {
    /// The bound address.
    pub local_addr: SocketAddr,
    /// The admin token in force.
    pub admin_token: String,
    /// Whether the token was generated (and stored) by this start; print it once.
    pub admin_token_generated: bool,
    /// Relay metrics.
    pub metrics: Arc<Metrics>,
    shutdown_tx: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    memory: mpsc::Sender<tokio::io::DuplexStream>,
}

/// Opens connections to a relay in this process without the network: each call gives one
/// end of a pipe whose other end the relay serves like an accepted socket. Clones share the
/// relay; once it stops, connecting fails.
#[derive(Clone, Debug)]
pub struct MemoryConnector {
    tx: mpsc::Sender<tokio::io::DuplexStream>,
}

/// Bytes buffered in each direction of an in-process connection.
const MEMORY_PIPE_BYTES: usize = 256 * 1024;

impl MemoryConnector {
    /// A new connection (the relay reads an HTTP upgrade request from it, as from a socket).
    pub fn connect(&self) -> std::io::Result<tokio::io::DuplexStream> {
        let (ours, theirs) = tokio::io::duplex(MEMORY_PIPE_BYTES);
        self.tx.try_send(theirs).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                std::io::Error::new(std::io::ErrorKind::WouldBlock, "the relay is busy")
            }
            mpsc::error::TrySendError::Closed(_) => std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "the relay has stopped",
            ),
        })?;
        Ok(ours)
    }
}

impl RelayHandle {
    /// `ws://` (or `wss://`) base address of this relay.
    pub fn ws_url(&self, tls: bool) -> String {
        format!("{}://{}", if tls { "wss" } else { "ws" }, self.local_addr)
    }

    /// Stops accepting, closes every connection, flushes and compacts rooms, and waits.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        if let Err(err) = self.task.await {
            tracing::error!(%err, "relay task failed");
        }
    }

    /// Waits until the relay stops (after [`Self::shutdown`] from elsewhere or an error).
    pub async fn wait(self) {
        if let Err(err) = self.task.await {
            tracing::error!(%err, "relay task failed");
        }
    }

    /// Connections to this relay that need no network (the app's own replica when it hosts,
    /// deterministic in-process tests).
    pub fn memory_connector(&self) -> MemoryConnector {
        MemoryConnector {
            tx: self.memory.clone(),
        }
    }

    /// A handle that triggers shutdown.
    pub fn shutdown_trigger(&self) -> watch::Sender<bool> {
        self.shutdown_tx.clone()
    }
}

/// Uses the configured token, or the one stored in the data folder, or generates and stores one.
fn resolve_admin_token(config: &RelayConfig) -> Result<(String, bool), RelayError> {
    if let Some(token) = config.admin_token.as_ref().filter(|t| !t.is_empty()) {
        return Ok((token.clone(), false));
    }
    let path = config.data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok((token.trim().to_owned(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(StorageError::Io {
                path: path.display().to_string(),
                source,
            }
            .into());
        }
    }
    let token = new_secret();
    crate::storage::file::write_atomic(&path, format!("{token}\n").as_bytes())?;
    restrict_permissions(&path);
    Ok((token, true))
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(err) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(%err, path = %path.display(), "cannot restrict admin token permissions");
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, RelayError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect)
        .map_err(|e| RelayError::Tls(format!("{}: {e}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| RelayError::Tls(format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RelayError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| RelayError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Starts a relay on the current tokio runtime.
pub async fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
    config.check()?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StorageError::Io {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    // Before anything reads the folder: what a second relay read would be overwritten.
    let mut data_lock = crate::data_lock::DataLock::acquire(&config.data_dir)?;
    let (storage, invites, cluster) = open_backends(&config).await?;
    let (admin_token, admin_token_generated) = resolve_admin_token(&config)?;
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| RelayError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| RelayError::Bind {
        addr: config.listen,
        source,
    })?;
    data_lock.describe(local_addr)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::default());
    let relay_peer = PeerId::random("arxos-relay");
    let rooms = Rooms::new(RoomContext {
        storage: Arc::clone(&storage),
        metrics: Arc::clone(&metrics),
        relay_peer: relay_peer.clone(),
        session_id: new_secret(),
        lock_ttl: config.lock_ttl,
        presence_tick: config.presence_tick,
        compact_every: config.compact_every,
        idle_unload: config.room_idle_unload,
        shutdown: shutdown_rx.clone(),
        cluster: cluster.clone(),
    });
    let revocations = tokio::sync::broadcast::channel(256).0;
    // Revocations on other nodes close sessions here too.
    let invite_watch = match &cluster {
        Some(cluster) => Some(
            crate::cluster::kv::watch_invites(cluster, Arc::clone(&invites), revocations.clone())
                .await?,
        ),
        None => None,
    };
    let shared = Arc::new(Shared {
        config,
        local_addr,
        storage,
        invites,
        rooms,
        metrics: Arc::clone(&metrics),
        admin_token: admin_token.clone(),
        relay_peer,
        next_conn: AtomicU64::new(1),
        shutdown: shutdown_rx,
        revocations,
        auth_limit: auth_limit::AuthLimiter::new(),
    });
    tracing::info!(%local_addr, tls = tls.is_some(), "relay listening");
    let (memory, memory_rx) = mpsc::channel(64);
    let task = tokio::spawn(async move {
        accept_loop(shared, listener, tls, memory_rx).await;
        if let Some(watch) = invite_watch {
            watch.abort();
        }
        // Held until the rooms are flushed and closed, so a successor starts on settled files.
        drop(data_lock);
    });
    Ok(RelayHandle {
        local_addr,
        admin_token,
        admin_token_generated,
        metrics,
        shutdown_tx,
        task,
        memory,
    })
}

/// The durable storage and invites: files in the data folder, or the cluster's stream and
/// buckets with `--cluster`.
async fn open_backends(
    config: &RelayConfig,
) -> Result<
    (
        Arc<dyn DocStorage>,
        Arc<InviteStore>,
        Option<Arc<crate::cluster::Cluster>>,
    ),
    RelayError,
> {
    let Some(cluster_config) = &config.cluster else {
        let storage: Arc<dyn DocStorage> = Arc::new(FileStorage::open(&config.data_dir)?);
        let invites = Arc::new(InviteStore::open(&config.data_dir)?);
        return Ok((storage, invites, None));
    };
    let cluster = crate::cluster::connect(cluster_config, config.lock_ttl).await?;
    let storage: Arc<dyn DocStorage> = Arc::new(crate::cluster::log::JetStreamStorage {
        cluster: Arc::clone(&cluster),
    });
    let backend = Box::new(crate::cluster::kv::InviteKv {
        cluster: Arc::clone(&cluster),
    });
    // Reading the bucket blocks on NATS: off the async threads.
    let invites = tokio::task::spawn_blocking(move || InviteStore::with_backend(backend))
        .await
        .map_err(|e| RelayError::Cluster(format!("reading invites: {e}")))??;
    Ok((storage, Arc::new(invites), Some(cluster)))
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut memory: mpsc::Receiver<tokio::io::DuplexStream>,
) {
    let mut conns = JoinSet::new();
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => {
                    let shared = Arc::clone(&shared);
                    let tls = tls.clone();
                    conns.spawn(async move { handle_conn(shared, tcp, addr, tls).await });
                }
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(pipe) = memory.recv() => {
                let shared = Arc::clone(&shared);
                conns.spawn(async move { http::serve_stream(shared, Either::Right(pipe), "memory").await });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { break; }
            }
        }
    }
    tracing::info!("relay shutting down");
    drop(listener);
    drop(memory);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        tracing::warn!("connections did not close in time; aborting them");
        conns.abort_all();
    }
    shared.rooms.join_all().await;
    tracing::info!("relay stopped");
}

async fn handle_conn(
    shared: Arc<Shared>,
    tcp: TcpStream,
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
) {
    let _ = tcp.set_nodelay(true);
    let timeout = shared.config.limits.handshake_timeout;
    let stream = match tls {
        None => Either::Left(Either::Left(tcp)),
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
            Ok(Ok(s)) => Either::Left(Either::Right(Box::new(s))),
            Ok(Err(err)) => {
                tracing::debug!(%addr, %err, "TLS handshake failed");
                return;
            }
            Err(_) => return,
        },
    };
    http::serve_stream(shared, stream, &addr.to_string()).await;
}

//! The cluster backend: several relay nodes serving the same rooms through NATS JetStream
//! (`arxos-relay --cluster nats://HOST:PORT[,…]`).
//!
//! Relay nodes are peers of one CRDT per room. What they share lives in NATS:
//!
//! * the stream `ARXOS_ROOMS`, one subject per room (`arxos.changes.<doc>`), is the durable
//!   change log ([`log`]): a node publishes the changes its clients sent and reveals them to
//!   anyone only after JetStream acknowledged the publish; every node with clients in a room
//!   follows that subject and applies what the other nodes published ([`link`]). Refusals go
//!   to `arxos.refused.<doc>` in the same stream. The stream has no limits and denies deletes
//!   and purges, so it is never trimmed (there is no compaction in cluster mode yet);
//! * the KV bucket `arxos-rooms` holds room settings, `arxos-invites` the invites (keyed by
//!   the hash of their secret, watched by every node so a revocation anywhere closes the
//!   sessions everywhere), and `arxos-locks` the lock leases, written with revision checks
//!   (create, or update at the revision read) and expiring by the bucket's age limit, which is
//!   the lock lease, so two nodes never grant one element to two people;
//! * presence travels on plain NATS subjects (`arxos.presence.<doc>`), coalesced per node.
//!
//! The embedded default (no `--cluster`) uses none of this: file storage, one node.

pub(crate) mod auth;
pub(crate) mod kv;
pub(crate) mod link;
pub(crate) mod log;

use std::sync::Arc;
use std::time::Duration;

use arxos_sync::DocumentId;
use async_nats::ServerAddr;
use async_nats::jetstream::{self, kv::Store, stream};

use crate::RelayError;
pub use auth::{NatsAuth, NatsAuthFiles, NatsTls};

/// Where the cluster's NATS servers are, how a node authenticates to them, and how its data is
/// replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// NATS server addresses (`nats://HOST:PORT`); the client fails over between them.
    pub servers: Vec<String>,
    /// JetStream replicas of the change log and the buckets (1, or 3 on a three-server NATS
    /// cluster so that one server may die without losing anything acknowledged).
    pub replicas: usize,
    /// The credentials presented to NATS.
    pub auth: NatsAuth,
    /// TLS towards NATS (a CA, a client certificate).
    pub tls: NatsTls,
}

impl ClusterConfig {
    /// Reads `nats://a:4222,nats://b:4222`; each address must be `nats://` or `tls://`.
    pub fn parse(list: &str, replicas: usize) -> Result<Self, String> {
        let servers: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let config = Self {
            servers,
            replicas,
            auth: NatsAuth::None,
            tls: NatsTls::default(),
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses what cannot work, in one line.
    pub fn check(&self) -> Result<(), String> {
        if self.servers.is_empty() {
            return Err("--cluster needs at least one nats://HOST:PORT address".into());
        }
        for s in &self.servers {
            let ok = (s.starts_with("nats://") || s.starts_with("tls://"))
                && s.parse::<ServerAddr>().is_ok();
            if !ok {
                return Err(format!(
                    "cluster address `{s}` is not a NATS address (nats://HOST:PORT or tls://HOST:PORT)"
                ));
            }
        }
        self.tls.check()?;
        if !(1..=5).contains(&self.replicas) {
            return Err(format!(
                "cluster replicas must be 1 to 5 (JetStream's limit), not {}",
                self.replicas
            ));
        }
        Ok(())
    }
}

/// The stream holding every room's change log, refusals and change origins.
pub(crate) const STREAM: &str = "ARXOS_ROOMS";
/// The stream's subjects (origins were added later: a stream made before gets them added).
const LOG_SUBJECTS: [&str; 3] = ["arxos.changes.*", "arxos.refused.*", "arxos.origins.*"];
const ROOMS_BUCKET: &str = "arxos-rooms";
const INVITES_BUCKET: &str = "arxos-invites";
const LOCKS_BUCKET: &str = "arxos-locks";
/// The header naming the node that published a message, so it skips its own.
pub(crate) const NODE_HEADER: &str = "Arxos-Node";
/// How long one JetStream operation (a read of a room's log included) may take before the
/// node gives up and says so, instead of hanging a room or an admin request.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one attempt at creating a consumer (a log read, a follower, a KV watch) or reading
/// a log position may take. NATS 2.9 may place an ephemeral consumer on a stream peer that is
/// down (one NATS server of three dead), and a stream whose leader died answers nothing until
/// the election ends; such a request is never answered, so it is abandoned quickly and made
/// again (the next placement is very likely on a live peer), instead of waiting out the
/// client's 5–10 s request timeout each time. Healthy requests take milliseconds.
pub(crate) const CONSUMER_ATTEMPT: Duration = Duration::from_secs(2);
/// Attempts before a consumer creation is reported as failed (about 20 s in all).
const CONSUMER_ATTEMPTS: u32 = 10;

/// One bounded attempt at `fut` (see [`CONSUMER_ATTEMPT`]).
pub(crate) async fn attempt<T, E: std::fmt::Display>(
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CONSUMER_ATTEMPT, fut).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {CONSUMER_ATTEMPT:?}")),
    }
}

/// Runs `make` (creating a consumer, a watch, or reading a log position) in bounded attempts
/// until one works; the last error when none did.
pub(crate) async fn retrying<T, E: std::fmt::Display, F>(
    what: &str,
    mut make: impl FnMut() -> F,
) -> Result<T, String>
where
    F: Future<Output = Result<T, E>>,
{
    let mut last = String::new();
    for n in 1..=CONSUMER_ATTEMPTS {
        match attempt(make()).await {
            Ok(made) => return Ok(made),
            Err(err) => {
                tracing::debug!(what, attempt = n, %err, "creating a consumer failed; again");
                last = err;
            }
        }
    }
    Err(format!("{what}: {last}"))
}

pub(crate) fn changes_subject(doc: DocumentId) -> String {
    format!("arxos.changes.{doc}")
}

pub(crate) fn refused_subject(doc: DocumentId) -> String {
    format!("arxos.refused.{doc}")
}

pub(crate) fn origins_subject(doc: DocumentId) -> String {
    format!("arxos.origins.{doc}")
}

pub(crate) fn presence_subject(doc: DocumentId) -> String {
    format!("arxos.presence.{doc}")
}

/// A connected node of the cluster: its NATS connection, stream and buckets.
pub(crate) struct Cluster {
    /// This node's id, stamped on what it publishes.
    pub(crate) node: String,
    pub(crate) client: async_nats::Client,
    pub(crate) stream: stream::Stream,
    pub(crate) rooms: Store,
    pub(crate) invites: Store,
    pub(crate) locks: Store,
    /// The runtime the blocking storage calls run their NATS work on (the NATS thread's).
    pub(crate) runtime: tokio::runtime::Handle,
    /// Dropped with the cluster, which ends the NATS thread.
    _stop: tokio::sync::oneshot::Sender<()>,
    pub(crate) lock_ttl: Duration,
    pub(crate) js: jetstream::Context,
}

/// How long a starting node keeps asking JetStream to open its stream and buckets. A node
/// may start while the NATS cluster elects new leaders (a NATS server just died), when those
/// requests go unanswered for a few seconds; giving up at once would leave the node down.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

/// Runs the JetStream request `op` again (every 500 ms) while it fails, for at most
/// [`STARTUP_PATIENCE`]; then its last error.
async fn patiently<T, E: std::fmt::Display, F>(
    what: &str,
    mut op: impl FnMut() -> F,
) -> Result<T, RelayError>
where
    F: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + STARTUP_PATIENCE;
    loop {
        match op().await {
            Ok(done) => return Ok(done),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(what, err = %e, "JetStream did not answer yet; asking again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(RelayError::Cluster(format!("{what}: {e}"))),
        }
    }
}

/// Connects to the NATS servers and opens (creating when missing) the stream and buckets, on
/// a runtime of their own: one thread, so that reading JetStream's acknowledgements never
/// waits for a worker of the relay's runtime. A busy room (its task applies a backlog of sync
/// messages in one go) or a hundred busy connections used to hold up the NATS connection's
/// task there, every persist then waited for it, and a saturated node stopped delivering.
pub(crate) async fn connect(
    config: &ClusterConfig,
    lock_ttl: Duration,
) -> Result<Arc<Cluster>, RelayError> {
    config.check().map_err(RelayError::Config)?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("arxos-relay-nats".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => {
                    let _ = ready_tx.send(Ok(runtime.handle().clone()));
                    // Until the cluster is dropped (its sender with it).
                    let _ = runtime.block_on(stop_rx);
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            }
        })
        .map_err(|e| RelayError::Cluster(format!("starting the NATS thread: {e}")))?;
    let handle = ready_rx
        .await
        .map_err(|_| RelayError::Cluster("the NATS thread ended at once".into()))?
        .map_err(|e| RelayError::Cluster(format!("the NATS runtime: {e}")))?;
    let config = config.clone();
    handle
        .spawn(async move { connect_here(&config, lock_ttl, stop_tx).await })
        .await
        .map_err(|e| RelayError::Cluster(format!("connecting to NATS: {e}")))?
}

/// Opens (or creates) the change log stream, adds the subjects a stream made by an older
/// relay lacks, and refuses a stream with limits that would trim room history.
async fn open_log(js: &jetstream::Context, replicas: usize) -> Result<stream::Stream, RelayError> {
    let log_config = stream::Config {
        name: STREAM.into(),
        description: Some("Arxos relay: every room's change log".into()),
        subjects: LOG_SUBJECTS.iter().map(|s| (*s).to_owned()).collect(),
        storage: stream::StorageType::File,
        num_replicas: replicas,
        // No limits of any kind: the log is the only copy of the rooms (no snapshots yet).
        max_messages: -1,
        max_bytes: -1,
        max_messages_per_subject: -1,
        max_age: Duration::ZERO,
        deny_delete: true,
        deny_purge: true,
        ..stream::Config::default()
    };
    let mut stream = patiently("opening the JetStream stream ARXOS_ROOMS", || {
        js.get_or_create_stream(log_config.clone())
    })
    .await?;
    let have = &stream.cached_info().config.subjects;
    let missing: Vec<String> = LOG_SUBJECTS
        .iter()
        .filter(|s| !have.iter().any(|h| h == *s))
        .map(|s| (*s).to_owned())
        .collect();
    if !missing.is_empty() {
        let mut config = stream.cached_info().config.clone();
        config.subjects.extend(missing);
        patiently(
            "adding subjects to the JetStream stream ARXOS_ROOMS",
            || js.update_stream(config.clone()),
        )
        .await?;
        stream = patiently("reopening the JetStream stream ARXOS_ROOMS", || {
            js.get_stream(STREAM)
        })
        .await?;
    }
    let info = stream.cached_info();
    let c = &info.config;
    if c.max_messages > 0
        || c.max_bytes > 0
        || c.max_messages_per_subject > 0
        || !c.max_age.is_zero()
    {
        return Err(RelayError::Cluster(format!(
            "the stream {STREAM} has limits (max_msgs {}, max_bytes {}, max_msgs_per_subject {}, max_age {:?}) that would trim room history; remove them (the relay does not compact in cluster mode yet)",
            c.max_messages, c.max_bytes, c.max_messages_per_subject, c.max_age
        )));
    }
    Ok(stream)
}

/// [`connect`] on the current runtime, which then drives the NATS connection.
async fn connect_here(
    config: &ClusterConfig,
    lock_ttl: Duration,
    stop: tokio::sync::oneshot::Sender<()>,
) -> Result<Arc<Cluster>, RelayError> {
    config.check().map_err(RelayError::Config)?;
    let addrs: Vec<ServerAddr> = config
        .servers
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let opts = async_nats::ConnectOptions::new()
        .name("arxos-relay")
        .connection_timeout(Duration::from_secs(5));
    let client = auth::apply(opts, &config.auth, &config.tls)
        .map_err(RelayError::Config)?
        .connect(addrs)
        .await
        .map_err(|e| {
            RelayError::Cluster(format!(
                "cannot reach NATS at {}: {e}",
                config.servers.join(",")
            ))
        })?;
    let js = jetstream::new(client.clone());
    let replicas = config.replicas;
    let stream = open_log(&js, replicas).await?;
    let rooms = bucket(&js, ROOMS_BUCKET, replicas, Duration::ZERO).await?;
    let invites = bucket(&js, INVITES_BUCKET, replicas, Duration::ZERO).await?;
    let locks = bucket(&js, LOCKS_BUCKET, replicas, lock_ttl).await?;
    let mut node_bytes = [0_u8; 6];
    arxos_sync::protocol::random_bytes(&mut node_bytes);
    let node = hex::encode(node_bytes);
    tracing::info!(
        servers = %config.servers.join(","),
        node = %node,
        replicas,
        "joined the relay cluster"
    );
    Ok(Arc::new(Cluster {
        node,
        client,
        stream,
        rooms,
        invites,
        locks,
        runtime: tokio::runtime::Handle::current(),
        _stop: stop,
        lock_ttl,
        js,
    }))
}

/// Opens a KV bucket, creating it when missing; `max_age` is the entries' lifetime (zero:
/// forever), and an existing bucket must have the same.
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<Store, RelayError> {
    // The bucket's stream as `create_key_value` would make it, created through the stream
    // API: the client's KV creation first reads account details a 2.9 server does not send.
    let config = stream::Config {
        name: format!("KV_{name}"),
        description: Some(format!("Arxos relay: {name}")),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_messages: -1,
        max_bytes: -1,
        max_age,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..stream::Config::default()
    };
    patiently(name, || js.get_or_create_stream(config.clone())).await?;
    let store = patiently(name, || js.get_key_value(name)).await?;
    let status = patiently(name, || store.status()).await?;
    let age = status.max_age();
    if age != max_age {
        return Err(RelayError::Cluster(format!(
            "the cluster's bucket {name} keeps entries for {age:?}, this node expects {max_age:?}; every node of a cluster needs the same lock lease (--lock-ttl-secs)"
        )));
    }
    Ok(store)
}

impl Cluster {
    /// Runs `fut` on the relay's runtime from a blocking thread (the storage traits are
    /// synchronous and always called through `spawn_blocking`), bounded by [`OP_TIMEOUT`].
    pub(crate) fn block_on<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, String>>,
    ) -> Result<T, crate::storage::StorageError> {
        self.runtime
            .block_on(async { tokio::time::timeout(OP_TIMEOUT, fut).await })
            .map_err(|_| format!("timed out after {OP_TIMEOUT:?}"))
            .and_then(|r| r)
            .map_err(|reason| crate::storage::StorageError::Cluster {
                what: what.to_owned(),
                reason,
            })
    }
}

//! `arxos-relay`: the Arxos sync relay server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use arxos_relay::{Limits, RelayConfig, TlsFiles};
use clap::Parser;

/// Arxos sync relay: rooms, invites, roles, durable storage.
#[derive(Parser, Debug)]
#[command(name = "arxos-relay", version, about, args_override_self = true)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ARXOS_RELAY_LISTEN", default_value = "127.0.0.1:7447")]
    listen: SocketAddr,
    /// Data folder (documents, invites, generated admin token).
    #[arg(long, env = "ARXOS_RELAY_DATA")]
    data: PathBuf,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Admin token; generated and stored in the data folder when absent.
    #[arg(long, env = "ARXOS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// `ws://…` or `wss://…` address written into invite codes (default: the request's Host).
    #[arg(long, env = "ARXOS_RELAY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Other `ws://…`/`wss://…` addresses of this relay service (the other nodes of a
    /// cluster, comma-separated or repeated), written into invite codes after the public URL:
    /// clients fall back to them in order when the first cannot be reached.
    #[arg(
        long = "also-url",
        value_delimiter = ',',
        env = "ARXOS_RELAY_ALSO_URLS"
    )]
    also_urls: Vec<String>,
    /// Largest WebSocket message accepted, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_frame_bytes: usize,
    /// Sustained messages per second per connection.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Message burst per connection.
    #[arg(long, default_value_t = 1000)]
    burst: u32,
    /// Close connections silent for this many seconds.
    #[arg(long, default_value_t = 120)]
    idle_timeout_secs: u64,
    /// Drop a connection whose socket takes nothing for this many seconds (a client that
    /// stopped reading).
    #[arg(long, default_value_t = 30)]
    write_timeout_secs: u64,
    /// Time allowed from accept to a whole request head and `join` message, in milliseconds
    /// (for tests: the default of 10 s makes a slowloris test slow).
    #[arg(long, hide = true)]
    handshake_timeout_ms: Option<u64>,
    /// Lock lease length in seconds.
    #[arg(long, default_value_t = 300)]
    lock_ttl_secs: u64,
    /// Lock lease length in milliseconds (overrides --lock-ttl-secs; for tests).
    #[arg(long, hide = true)]
    lock_ttl_ms: Option<u64>,
    /// Presence tick in milliseconds.
    #[arg(long, default_value_t = 33)]
    presence_tick_ms: u64,
    /// Compact a room's log after this many changes.
    #[arg(long, default_value_t = 1000)]
    compact_every: usize,
    /// Serve rooms together with other relay nodes through NATS JetStream at these servers
    /// (`nats://HOST:PORT[,…]`): changes, invites, room settings and locks live there, not in
    /// the data folder.
    #[arg(long, env = "ARXOS_RELAY_CLUSTER")]
    cluster: Option<String>,
    /// JetStream replicas of the cluster's stream and buckets when this node creates them
    /// (3 on a three-server NATS cluster survives losing one server).
    #[arg(long, default_value_t = 1, requires = "cluster")]
    cluster_replicas: usize,
    /// A NATS `.creds` file (a user JWT and its key seed) to authenticate with.
    #[arg(long, env = "ARXOS_RELAY_CLUSTER_CREDS", requires = "cluster")]
    cluster_creds: Option<PathBuf>,
    /// A file holding the NATS token to authenticate with.
    #[arg(long, env = "ARXOS_RELAY_CLUSTER_TOKEN_FILE", requires = "cluster")]
    cluster_token_file: Option<PathBuf>,
    /// The NATS user to authenticate as (with --cluster-password-file).
    #[arg(long, env = "ARXOS_RELAY_CLUSTER_USER", requires = "cluster")]
    cluster_user: Option<String>,
    /// A file holding the NATS user's password.
    #[arg(long, env = "ARXOS_RELAY_CLUSTER_PASSWORD_FILE", requires = "cluster")]
    cluster_password_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for the NATS servers instead of the system's; TLS is
    /// then required of every server.
    #[arg(long, requires = "cluster")]
    cluster_ca: Option<PathBuf>,
    /// A client certificate (PEM) for NATS servers that verify clients (with --cluster-key).
    #[arg(long, requires_all = ["cluster", "cluster_key"])]
    cluster_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, requires_all = ["cluster", "cluster_cert"])]
    cluster_key: Option<PathBuf>,
    /// Optional config file (TOML-like `key = value` lines with the same names as the flags);
    /// flags on the command line win over the file, and the file over environment variables.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,automerge=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse_from(with_config_file(std::env::args().collect())?);
    let mut config = RelayConfig::new(args.listen, args.data.clone());
    config.cluster = cluster_config(&args)?;
    config.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    config.admin_token = args.admin_token;
    config.public_url = args.public_url;
    config.also_urls = args.also_urls;
    config.limits = Limits {
        max_frame_bytes: args.max_frame_bytes,
        messages_per_sec: args.rate,
        burst: args.burst,
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        write_timeout: Duration::from_secs(args.write_timeout_secs),
        handshake_timeout: args
            .handshake_timeout_ms
            .map_or(Limits::default().handshake_timeout, Duration::from_millis),
    };
    config.lock_ttl = args.lock_ttl_ms.map_or(
        Duration::from_secs(args.lock_ttl_secs),
        Duration::from_millis,
    );
    config.presence_tick = Duration::from_millis(args.presence_tick_ms.max(1));
    config.compact_every = args.compact_every.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("arxos-relay")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let tls = config.tls.is_some();
        let handle = arxos_relay::start(config).await?;
        if handle.admin_token_generated {
            // Printed once, when generated; it is stored in the data folder.
            println!("admin token: {}", handle.admin_token);
        }
        println!("listening on {}", handle.ws_url(tls));
        std::io::Write::flush(&mut std::io::stdout()).ok();
        let trigger = handle.shutdown_trigger();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received; shutting down");
            let _ = trigger.send(true);
        });
        handle.wait().await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The cluster settings the flags give, with the credentials read (`None` without
/// `--cluster`).
fn cluster_config(args: &Args) -> anyhow::Result<Option<arxos_relay::ClusterConfig>> {
    let Some(list) = args.cluster.as_deref() else {
        return Ok(None);
    };
    let mut cluster = arxos_relay::ClusterConfig::parse(list, args.cluster_replicas)
        .map_err(anyhow::Error::msg)?;
    cluster.auth = arxos_relay::NatsAuth::from_files(&arxos_relay::NatsAuthFiles {
        creds: args.cluster_creds.as_deref(),
        token: args.cluster_token_file.as_deref(),
        user: args.cluster_user.as_deref(),
        password: args.cluster_password_file.as_deref(),
    })
    .map_err(anyhow::Error::msg)?;
    cluster.tls = arxos_relay::NatsTls {
        ca: args.cluster_ca.clone(),
        client: args.cluster_cert.clone().zip(args.cluster_key.clone()),
    };
    Ok(Some(cluster))
}

/// Inserts `--key value` pairs from `--config FILE` ahead of the command-line flags, leaving out
/// the keys the command line gives, so that flags given explicitly win, list flags too.
fn with_config_file(args: Vec<String>) -> anyhow::Result<Vec<String>> {
    // `--config FILE` or `--config=FILE`; without a file, clap reports the missing value.
    let Some(path) = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_owned).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    }) else {
        return Ok(args);
    };
    let path = path.as_str();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    // A flag given on the command line replaces the file's value, also for the list flags
    // (clap would append a repeated `--also-url` to the file's).
    let given: std::collections::BTreeSet<&str> = args
        .iter()
        .skip(1)
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split_once('=').map_or(a, |(key, _)| key))
        .collect();
    let mut out = vec![args[0].clone()];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .with_context(|| format!("{path}:{}: expected `key = value`", n + 1))?;
        let key = key.trim().replace('_', "-");
        let value = value.trim().trim_matches('"');
        if given.contains(key.as_str()) {
            continue;
        }
        out.push(format!("--{key}"));
        out.push(value.to_owned());
    }
    out.extend(args.into_iter().skip(1));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::with_config_file;

    #[test]
    fn a_list_flag_on_the_command_line_replaces_the_files_list() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay.conf");
        std::fs::write(&file, "also_url = ws://from-file:1\nrate = 7\n").unwrap();
        let args = |extra: &[&str]| {
            let mut args = vec!["arxos-relay".to_owned(), "--config".to_owned()];
            args.push(file.display().to_string());
            args.extend(extra.iter().map(|a| (*a).to_owned()));
            with_config_file(args).unwrap()
        };
        let merged = args(&["--also-url", "ws://from-flag:2"]);
        assert!(
            !merged.iter().any(|a| a.contains("from-file")),
            "{merged:?}"
        );
        assert!(
            merged.windows(2).any(|w| w == ["--rate", "7"]),
            "{merged:?}"
        );
        let merged = args(&["--also-url=ws://from-flag:2"]);
        assert!(
            !merged.iter().any(|a| a.contains("from-file")),
            "{merged:?}"
        );
        let merged = args(&[]);
        assert!(
            merged
                .windows(2)
                .any(|w| w == ["--also-url", "ws://from-file:1"]),
            "{merged:?}"
        );
    }
}

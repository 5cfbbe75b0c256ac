//! # arxos-session: live work on a plan
//!
//! What the CLI and the editor both do with a live plan, written once:
//!
//! - [`Session::local`]: work on a plan file that is not shared: typed commands, change events,
//!   and the edits other programs (a CLI command, a `join`) append to the same file;
//! - [`Session::open`]: keep a plan file in sync through an invite (or the one its sidecar
//!   remembers), while other programs may write the same file;
//! - [`Session::join`]: the same, cloning the plan first when the file does not exist yet;
//! - [`Session::host`]: serve a plan peer-to-peer from this machine, with the relay library
//!   running in-process, and hand out editor, commenter and viewer invites;
//! - [`Session::observe`]: a throwaway replica for looking only (`arxos who`, `arxos watch`);
//! - [`Session::leave`]: stop, after a final save.
//!
//! Beside sessions, what the CLI and the editor both read from the user's files:
//! [`config`] (`arxos config`: the layered settings), [`project`] (`arxfile.json`),
//! [`backup`] (named copies of a plan with its sidecars) and [`health`] (`arxos health`).
//!
//! [`control`] lets other programs steer a running session (pause, resume, one-way push and
//! pull, the queue, resets, presence, follow) over a socket only this user can open.
//! [`diagnose`] is `arxos sync stats` and `arxos sync diagnose`: a plan file's syncing in
//! numbers, and checks (file, invite, relay, plan, clock) that each say what to do.
//! [`verified`] is `arxos audit --verified`: each change's claimed author beside the invite
//! the relay saw it come through.
//!
//! A session owns an [`arxos_sync::client::SyncClient`]: the typed plan, commands, status,
//! presence, locks and refusals go through it, and every change (local, remote, or written to
//! the file by another program) arrives as a [`ClientEvent::Changed`] with its `ChangeSet`.

pub mod backup;
pub mod config;
pub mod control;
pub mod diagnose;
pub mod health;
mod host;
pub mod latency;
pub mod project;
mod status;
mod sync_file;
pub mod verified;

use std::path::{Path, PathBuf};
use std::time::Duration;

use arxos_sync::client::{ClientConfig, ClientError, SyncClient, SyncStatus, clone_document};
use arxos_sync::identity::Identity;
use arxos_sync::store::LocalStore;
use arxos_sync::{InviteCode, Role};

pub use arxos_sync::client::{ChangeOrigin, ClientEvent};
pub use host::{HostOptions, HostedInvites};
pub use status::{FileStatus, file_status};
pub use sync_file::{FileSynced, sync_file};

/// Errors of a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The sync engine or its files.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The plan.
    #[error(transparent)]
    Doc(#[from] arxos_doc::DocError),
    /// The sidecar or settings.
    #[error(transparent)]
    Store(#[from] arxos_sync::store::StoreError),
    /// The in-process relay.
    #[error("cannot host the session: {0}")]
    Host(String),
    /// A bad argument or state (the text says which).
    #[error("{0}")]
    Invalid(String),
}

/// A live plan.
pub struct Session {
    /// Its control socket, once [`Session::serve_controls`] opened it; first, so that it
    /// stops answering before the engine stops.
    controls: Option<control::Serving>,
    client: SyncClient,
    file: PathBuf,
    identity: Identity,
    /// The relay, when this session hosts.
    host: Option<host::Hosted>,
    /// The folder of a throwaway replica, removed when the session ends.
    _scratch: Option<tempfile::TempDir>,
}

/// Options every session takes.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Who we are (from the settings file by default).
    pub identity: Identity,
    /// What kind of program this is, in presence (`cli`, `editor`).
    pub client_kind: String,
    /// More addresses of the relay, tried in order when the invite's cannot be reached
    /// (`sync.relays`).
    pub fallback_relays: Vec<String>,
    /// The longest wait between two tries while the relay cannot be reached
    /// (`sync.update-interval`).
    pub retry_at_most: Duration,
}

impl SessionOptions {
    /// The options `config` sets (identity, `sync.relays`, `sync.update-interval`).
    pub fn from_config(config: &config::Config, client_kind: &str) -> Self {
        Self {
            identity: config.identity(),
            client_kind: client_kind.into(),
            fallback_relays: config.relays(),
            retry_at_most: config.update_interval(),
        }
    }

    fn apply(&self, config: &mut ClientConfig) {
        config.identity = self.identity.clone();
        config.client_kind.clone_from(&self.client_kind);
        config.fallback_relays.clone_from(&self.fallback_relays);
        config.backoff.max = self.retry_at_most.max(config.backoff.initial);
    }
}

impl Default for SessionOptions {
    /// The configuration seen from the working folder; a damaged file is logged and skipped,
    /// so a bad setting never blocks a session.
    fn default() -> Self {
        config::current().map_or_else(
            || Self {
                identity: Identity::current(),
                client_kind: "cli".into(),
                fallback_relays: Vec::new(),
                retry_at_most: arxos_sync::client::Backoff::default().max,
            },
            |c| Self::from_config(&c, "cli"),
        )
    }
}

impl Session {
    /// Works on `file` (which must exist) without a relay: the editor's session for a plan that
    /// is not shared. Other programs' appends to the file still arrive as changes.
    pub fn local(file: &Path, opts: &SessionOptions) -> Result<Self, SessionError> {
        let mut config = ClientConfig::local(file);
        opts.apply(&mut config);
        Ok(Self {
            client: SyncClient::start(config)?,
            file: file.to_owned(),
            identity: opts.identity.clone(),
            host: None,
            _scratch: None,
            controls: None,
        })
    }

    /// Keeps `file` (which must exist) in sync through `invite`, or through the invite its
    /// sidecar remembers when `invite` is `None`.
    pub fn open(
        file: &Path,
        invite: Option<InviteCode>,
        opts: &SessionOptions,
    ) -> Result<Self, SessionError> {
        let invite = match invite {
            Some(i) => i,
            None => remembered_invite(file)?,
        };
        Self::start(file, invite, false, opts, None, None)
    }

    /// Joins the session behind `invite`, keeping `file` in sync; clones the plan into `file`
    /// first when it does not exist (a failed clone leaves nothing behind).
    pub fn join(
        invite: &InviteCode,
        file: &Path,
        opts: &SessionOptions,
        clone_timeout: Duration,
        progress: &dyn Fn(&SyncStatus),
    ) -> Result<Self, SessionError> {
        if !file.exists() {
            clone_document(invite.clone(), file, clone_timeout, progress)?;
        }
        Self::start(file, invite.clone(), false, opts, None, None)
    }

    /// A throwaway replica of the session behind `invite`, for looking only.
    pub fn observe(invite: &InviteCode, opts: &SessionOptions) -> Result<Self, SessionError> {
        let dir = tempfile::tempdir()
            .map_err(|e| SessionError::Invalid(format!("cannot create a scratch folder: {e}")))?;
        let file = dir.path().join("session.arx");
        Self::start(&file, invite.clone(), true, opts, None, Some(dir))
    }

    /// Serves `file` peer-to-peer from this machine (see [`HostOptions`]).
    pub fn host(
        file: &Path,
        host_opts: &HostOptions,
        opts: &SessionOptions,
    ) -> Result<Self, SessionError> {
        let (hosted, owner) = host::Hosted::start(file, host_opts)?;
        Self::start(file, owner, false, opts, Some(hosted), None)
    }

    fn start(
        file: &Path,
        invite: InviteCode,
        allow_missing: bool,
        opts: &SessionOptions,
        host: Option<host::Hosted>,
        scratch: Option<tempfile::TempDir>,
    ) -> Result<Self, SessionError> {
        let mut config = ClientConfig::new(invite, file);
        config.allow_missing = allow_missing;
        opts.apply(&mut config);
        let client = SyncClient::start(config)?;
        Ok(Self {
            client,
            file: file.to_owned(),
            identity: opts.identity.clone(),
            host,
            _scratch: scratch,
            controls: None,
        })
    }

    /// The sync engine: the plan, commands, status, presence, locks, events.
    pub fn client(&self) -> &SyncClient {
        &self.client
    }

    /// The plan file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Who we are in this session.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The invites of a hosted session.
    pub fn hosted(&self) -> Option<&HostedInvites> {
        self.host.as_ref().map(host::Hosted::invites)
    }

    /// Revokes one of a hosted session's invites by role (its live connections close).
    pub fn revoke_hosted(&self, role: Role) -> Result<(), SessionError> {
        let host = self
            .host
            .as_ref()
            .ok_or_else(|| SessionError::Invalid("this session is not hosted here".into()))?;
        host.revoke(role)
    }

    /// Waits for the in-sync state (or the invite's refusal), up to `timeout`.
    pub fn wait_synced(&self, timeout: Duration) -> Result<SyncStatus, SessionError> {
        Ok(self.client.wait_synced(timeout)?)
    }

    /// Lets other programs steer this session (`arxos sync pause FILE`…, see [`control`])
    /// until it ends; returns the socket. Fails when another session on the same file
    /// already answers.
    pub fn serve_controls(&mut self) -> Result<&Path, SessionError> {
        if self.controls.is_none() {
            self.controls = Some(control::Serving::start(self)?);
        }
        Ok(self
            .controls
            .as_ref()
            .map_or(Path::new(""), control::Serving::socket))
    }

    /// Leaves: stops syncing after a final save, stops a hosted relay; the final status.
    pub fn leave(self) -> SyncStatus {
        let Self {
            client,
            host,
            controls,
            ..
        } = self;
        // No request may act on the engine while it stops.
        drop(controls);
        let status = client.shutdown();
        if let Some(host) = host {
            host.stop();
        }
        status
    }
}

/// The invite `file`'s sidecar remembers from its last sync.
pub fn remembered_invite(file: &Path) -> Result<InviteCode, SessionError> {
    let code = LocalStore::beside(file)
        .load_meta()?
        .invite
        .ok_or_else(|| {
            SessionError::Invalid(format!(
                "{} was never synced: pass an invite code once",
                file.display()
            ))
        })?;
    InviteCode::parse(&code).map_err(|e| {
        SessionError::Invalid(format!(
            "the invite remembered for {} is damaged: {e}",
            file.display()
        ))
    })
}

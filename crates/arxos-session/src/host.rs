//! Hosting a session peer-to-peer: the relay library runs in this process, the plan is shared
//! into it, and editor, commenter and viewer invites are made for others to join with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arxos_relay::{RelayConfig, RelayHandle};
use arxos_sync::admin::{AdminClient, InviteInfo, InviteRequest, ShareOptions, share};
use arxos_sync::{Grant, InviteCode, Role};

use crate::SessionError;

/// How to host.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The relay's data folder; default `<file>.host` beside the plan.
    pub data_dir: Option<PathBuf>,
    /// Lifetime of the invites; `None`: until revoked or the host stops.
    pub expires_in_secs: Option<u64>,
    /// Hard locks: the relay refuses edits of elements someone else holds.
    pub hard_locks: bool,
    /// How long the first upload may take.
    pub share_timeout: Duration,
}

impl HostOptions {
    /// Defaults for everything but the address.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            data_dir: None,
            expires_in_secs: None,
            hard_locks: false,
            share_timeout: Duration::from_secs(30),
        }
    }
}

/// The invites of a hosted session.
#[derive(Clone, Debug)]
pub struct HostedInvites {
    /// The relay's address (`ws://HOST:PORT`).
    pub relay: String,
    /// One invite per role handed out (editor, commenter, viewer), with its details.
    pub by_role: BTreeMap<Role, (InviteCode, InviteInfo)>,
}

impl HostedInvites {
    /// The invite code for `role`, if one was made.
    pub fn code(&self, role: Role) -> Option<&InviteCode> {
        self.by_role.get(&role).map(|(code, _)| code)
    }
}

/// A relay running in this process for one plan.
pub(crate) struct Hosted {
    runtime: tokio::runtime::Runtime,
    handle: Option<RelayHandle>,
    admin_token: String,
    invites: HostedInvites,
}

impl Hosted {
    /// Starts the relay, shares `file` into a new room and makes the invites; returns the
    /// owner's code, which the host's own replica syncs with.
    pub(crate) fn start(
        file: &Path,
        opts: &HostOptions,
    ) -> Result<(Self, InviteCode), SessionError> {
        arxos_doc::file::load(file)?;
        let data = opts.data_dir.clone().unwrap_or_else(|| {
            let mut d = file.as_os_str().to_owned();
            d.push(".host");
            PathBuf::from(d)
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("arxos-host")
            .build()
            .map_err(|e| SessionError::Host(format!("cannot start the runtime: {e}")))?;
        let handle = runtime
            .block_on(arxos_relay::start(RelayConfig::new(opts.listen, data)))
            .map_err(|e| SessionError::Host(e.to_string()))?;
        let relay = handle.ws_url(false);
        let admin_token = handle.admin_token.clone();
        let mut hosted = Self {
            runtime,
            handle: Some(handle),
            admin_token,
            invites: HostedInvites {
                relay: relay.clone(),
                by_role: BTreeMap::new(),
            },
        };
        // Blocking admin calls and the first upload run here, off the relay's threads.
        let shared = share(
            file,
            &ShareOptions {
                relay: relay.clone(),
                admin_token: hosted.admin_token.clone(),
                role: Role::Editor,
                grant: Grant::default(),
                expires_in_secs: opts.expires_in_secs,
                hard_locks: opts.hard_locks,
                timeout: opts.share_timeout,
            },
        );
        let shared = match shared {
            Ok(s) => s,
            Err(err) => {
                hosted.stop();
                return Err(err.into());
            }
        };
        hosted
            .invites
            .by_role
            .insert(Role::Editor, (shared.invite_code, shared.invite));
        let admin = AdminClient::new(&relay, &hosted.admin_token)?;
        for role in [Role::Commenter, Role::Viewer] {
            let info = admin.create_invite(&InviteRequest {
                doc_id: shared.doc_id,
                role,
                grant: Grant::default(),
                expires_in_secs: opts.expires_in_secs,
                label: format!("hosted {}", role.as_str()),
            })?;
            let code = info
                .code
                .as_deref()
                .ok_or_else(|| SessionError::Host("the relay returned no invite code".into()))
                .and_then(|c| {
                    InviteCode::parse(c).map_err(|e| SessionError::Host(e.to_string()))
                })?;
            hosted.invites.by_role.insert(role, (code, info));
        }
        Ok((hosted, shared.owner_code))
    }

    pub(crate) fn invites(&self) -> &HostedInvites {
        &self.invites
    }

    pub(crate) fn revoke(&self, role: Role) -> Result<(), SessionError> {
        let (_, info) =
            self.invites.by_role.get(&role).ok_or_else(|| {
                SessionError::Invalid(format!("no {} invite here", role.as_str()))
            })?;
        AdminClient::new(&self.invites.relay, &self.admin_token)?.revoke_invite(&info.id)?;
        Ok(())
    }

    /// Stops the relay (it flushes and compacts its rooms first).
    pub(crate) fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

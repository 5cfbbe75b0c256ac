//! What each control request does to a session's engine: the one implementation behind a
//! running session's socket and the at-rest commands on a file no session runs on.

use std::path::Path;
use std::time::Duration;

use arxos_sync::client::{ClientConfig, SyncClient};
use arxos_sync::identity::Identity;
use arxos_sync::protocol::payload::Presence;

use super::{LiveStatus, People, Person, Reply, Request, ResetDone, Toggled, not_running};
use crate::{SessionError, backup};

/// The engine a request acts on, with the file and person it is for.
pub(super) struct Target<'a> {
    pub(super) client: &'a SyncClient,
    pub(super) file: &'a Path,
    pub(super) identity: &'a Identity,
}

/// Runs `request` on `target` (all but `follow`, which streams: see the server).
pub(super) fn execute(target: &Target<'_>, request: &Request) -> Result<Reply, SessionError> {
    let client = target.client;
    Ok(match request {
        Request::Status => Reply::Status(Box::new(LiveStatus {
            file: std::path::absolute(target.file).unwrap_or_else(|_| target.file.to_owned()),
            pid: std::process::id(),
            status: client.status(),
            peers: client.presence().len(),
        })),
        Request::Pause => {
            let changed = client.pause();
            Reply::Toggled(Toggled {
                changed,
                status: client.status(),
            })
        }
        Request::Resume => {
            let changed = client.resume();
            Reply::Toggled(Toggled {
                changed,
                status: client.status(),
            })
        }
        Request::Push { timeout_secs } => Reply::OneWay(client.push(secs(*timeout_secs)?)?),
        Request::Pull { timeout_secs } => Reply::OneWay(client.pull(secs(*timeout_secs)?)?),
        Request::Queue => Reply::Queue(client.queue()?),
        Request::QueueClear => Reply::QueueAside(client.set_queue_aside()?),
        Request::Reset => {
            let backup = backup_now(client, target.file, "before-reset")?;
            client.reset_sync_state()?;
            Reply::Reset(ResetDone {
                backup,
                fetched: None,
            })
        }
        Request::ResetToServer { timeout_secs } => {
            let timeout = secs(*timeout_secs)?;
            // Paused first: the backup and the check that nothing moved since must see the
            // same plan.
            let was_running = client.pause();
            let result = backup_now(client, target.file, "before-reset-to-server").and_then(|b| {
                let expected = client.heads();
                Ok((b, client.reset_to_server(&expected, timeout)?))
            });
            if was_running {
                client.resume();
            }
            let (backup, fetched) = result?;
            Reply::Reset(ResetDone {
                backup,
                fetched: Some(fetched),
            })
        }
        Request::SetStatus { text, state } => {
            let mut presence = client
                .own_presence()
                .unwrap_or_else(|| announced(target.identity));
            presence.activity = text.clone().filter(|t| !t.trim().is_empty());
            if let Some(state) = state {
                presence.status = *state;
            }
            presence.sent_at_us = now_us();
            client.set_presence(presence.clone())?;
            Reply::Presence(presence)
        }
        Request::Presence => {
            let mut others: Vec<Person> = client
                .presence()
                .into_iter()
                .map(|(peer, presence)| Person { peer, presence })
                .collect();
            others.sort_by(|a, b| {
                (a.presence.user.as_str(), a.peer.as_str())
                    .cmp(&(b.presence.user.as_str(), b.peer.as_str()))
            });
            Reply::People(People {
                me: client.own_presence(),
                others,
            })
        }
        Request::Follow { .. } => {
            return Err(SessionError::Invalid(
                "follow streams: it is answered by the session's socket only".into(),
            ));
        }
    })
}

/// Runs an at-rest `request` on `plan` when no session runs on it: through an engine that
/// starts paused, so nothing but the request itself talks to the relay.
pub fn offline(plan: &Path, request: &Request) -> Result<Reply, SessionError> {
    if !request.at_rest() {
        return Err(not_running(plan));
    }
    if !plan.exists() {
        return Err(SessionError::Invalid(format!(
            "{} does not exist",
            plan.display()
        )));
    }
    let invite = crate::remembered_invite(plan)?;
    let identity = Identity::current();
    let mut config = ClientConfig::new(invite, plan);
    config.start_paused = true;
    config.identity = identity.clone();
    let client = SyncClient::start(config)?;
    let result = execute(
        &Target {
            client: &client,
            file: plan,
            identity: &identity,
        },
        request,
    );
    client.shutdown();
    result
}

/// Saves what the engine holds, then backs the file up under `<prefix>-<unix seconds>`.
fn backup_now(
    client: &SyncClient,
    file: &Path,
    prefix: &str,
) -> Result<backup::BackupInfo, SessionError> {
    client.save_now();
    let stamp = now_us() / 1_000_000;
    let mut name = format!("{prefix}-{stamp}");
    for n in 2..100 {
        if !backup::backups_dir(file)?.join(&name).exists() {
            break;
        }
        name = format!("{prefix}-{stamp}-{n}");
    }
    backup::create(file, &name)
}

/// The presence the engine announces by itself, for a first status set by hand.
fn announced(identity: &Identity) -> Presence {
    Presence {
        user: identity.name.clone(),
        color: identity.color.clone(),
        client: Some("cli".into()),
        ..Presence::default()
    }
}

fn secs(s: u64) -> Result<Duration, SessionError> {
    if s == 0 {
        return Err(SessionError::Invalid(
            "the timeout must be at least 1 second".into(),
        ));
    }
    Ok(Duration::from_secs(s))
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

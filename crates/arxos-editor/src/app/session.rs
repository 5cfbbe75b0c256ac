//! The Session and People sections of the side panel: host, join, share to a relay, leave;
//! the invites of a hosted session with copy and revoke; refused changes with set-aside;
//! everyone in the session with their colour, role and activity, and Follow.
//!
//! Starting a session talks to the network, so it runs on a thread ([`Pending`]) and the
//! panel shows progress until it lands.

use std::path::PathBuf;
use std::sync::mpsc;

use arxos_session::Session;
use arxos_sync::{InviteCode, Role};

use super::EditorApp;
use crate::workspace::{Start, Workspace};

/// What a background start produced.
pub(crate) enum Landed {
    /// A new session for the open plan (and an invite made for others, when shared).
    Session(Box<Session>, Option<InviteCode>),
    /// A joined plan, to open instead of the current one.
    Joined(Box<Workspace>),
}

/// Work running off the UI thread.
pub(crate) struct Pending {
    what: String,
    rx: mpsc::Receiver<Result<Landed, String>>,
}

/// The forms of the Session section.
pub(crate) struct SessionForm {
    listen: String,
    code: String,
    relay: String,
    token: String,
    /// The editor invite made by the last share, to hand out.
    shared_invite: Option<String>,
    pub(crate) pending: Option<Pending>,
}

impl Default for SessionForm {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:7071".into(),
            code: String::new(),
            relay: "ws://127.0.0.1:7000".into(),
            token: std::env::var("ARXOS_ADMIN_TOKEN").unwrap_or_default(),
            shared_invite: None,
            pending: None,
        }
    }
}

/// Where a joined plan is kept: `$ARXOS_PLANS_DIR`, else `~/Arxos`, named after its room.
pub(crate) fn joined_file(code: &InviteCode) -> PathBuf {
    let dir = std::env::var_os("ARXOS_PLANS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Arxos")))
        .unwrap_or_else(|| PathBuf::from("."));
    dir.join(format!("{}.arx", code.document_id))
}

impl EditorApp {
    /// Starts `work` on a thread; its result lands in [`Self::poll_pending`].
    fn run_pending(
        &mut self,
        what: &str,
        work: impl FnOnce() -> Result<Landed, String> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("arxos-editor-session".into())
            .spawn(move || {
                let _ = tx.send(work());
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.session_form.pending = Some(Pending {
                    what: what.to_owned(),
                    rx,
                });
            }
            Err(e) => self.toast(&self.ctx.clone(), format!("cannot start: {e}"), true),
        }
    }

    /// Starts a session for the open plan in the background.
    pub(crate) fn start_session(&mut self, what: &str, start: Start) {
        let Some(file) = self.ws.as_ref().map(|w| w.path().to_owned()) else {
            return;
        };
        self.run_pending(what, move || {
            start
                .run(&file)
                .map(|(session, invite)| Landed::Session(Box::new(session), invite))
        });
    }

    /// Joins the session behind `code` in the background, then opens the plan.
    pub fn join(&mut self, code: InviteCode, file: Option<PathBuf>) {
        let file = file.unwrap_or_else(|| joined_file(&code));
        let ctx = self.ctx.clone();
        self.run_pending("Joining…", move || {
            Workspace::join(&code, &file, Some(ctx)).map(|w| Landed::Joined(Box::new(w)))
        });
    }

    /// Takes what a background start produced, if it finished.
    pub(crate) fn poll_pending(&mut self, ctx: &egui::Context) {
        let Some(p) = &self.session_form.pending else {
            return;
        };
        let result = match p.rx.try_recv() {
            Ok(r) => r,
            Err(mpsc::TryRecvError::Empty) => return,
            Err(mpsc::TryRecvError::Disconnected) => Err("the session did not start".into()),
        };
        self.session_form.pending = None;
        match result {
            Ok(Landed::Session(session, invite)) => {
                let Some(ws) = self.ws.as_mut() else { return };
                match ws.attach(*session) {
                    Ok(()) => {
                        self.session_form.shared_invite = invite.map(|i| i.encode());
                        self.toast(ctx, "The plan is live", false);
                    }
                    Err(e) => self.toast(ctx, e, true),
                }
            }
            Ok(Landed::Joined(ws)) => {
                self.settings.remember(ws.path());
                self.save_settings(ctx);
                self.set_workspace(*ws);
                self.toast(ctx, "Joined the session", false);
            }
            Err(e) => self.toast(ctx, e, true),
        }
    }

    /// The Session section.
    pub(super) fn session_section(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if let Some(p) = &self.session_form.pending {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(&p.what);
            });
            return;
        }
        let Some(ws) = self.ws.as_mut() else { return };
        let mut start = None;
        let mut errors = Vec::new();
        if ws.is_shared() {
            let status = ws.status();
            egui::Grid::new("session-facts")
                .num_columns(2)
                .spacing([10.0, 4.0])
                .show(ui, |ui| {
                    ui.weak("Relay");
                    ui.label(&status.relay);
                    ui.end_row();
                    ui.weak("You");
                    ui.label(format!(
                        "{} · {}",
                        ws.author(),
                        status.role.map_or("connecting", Role::as_str)
                    ));
                    ui.end_row();
                });
            if let Some(hosted) = ws.live().and_then(Session::hosted).cloned() {
                ui.add_space(4.0);
                ui.weak("Invites (hosted here)");
                for (role, (code, info)) in &hosted.by_role {
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new(role.as_str()).strong());
                        if ui.small_button("Copy").clicked() {
                            ctx.copy_text(code.encode());
                        }
                        if ui.small_button("Revoke").clicked()
                            && let Some(s) = ws.live()
                            && let Err(e) = s.revoke_hosted(*role)
                        {
                            errors.push(e.to_string());
                        }
                    });
                    let expiry = info
                        .expires_at
                        .map_or_else(|| "no expiry".to_owned(), |t| format!("expires {t}"));
                    ui.weak(format!("{} · {expiry}", short(&code.encode())));
                }
            }
            if let Some(code) = &self.session_form.shared_invite {
                ui.horizontal(|ui| {
                    ui.label("Editor invite");
                    if ui.small_button("Copy").clicked() {
                        ctx.copy_text(code.clone());
                    }
                });
            }
            let refused = ws.live().map(|s| s.client().refused()).unwrap_or_default();
            if !refused.is_empty() {
                ui.add_space(4.0);
                ui.colored_label(
                    egui::Color32::from_rgb(0xC6, 0x28, 0x28),
                    format!("The relay refused {} of your changes:", refused.len()),
                );
                for reason in refused.values().collect::<std::collections::BTreeSet<_>>() {
                    ui.weak(format!("• {reason}"));
                }
                if ui
                    .button("Set them aside")
                    .on_hover_text("Keeps them in <plan>.refused.arx and goes on without them")
                    .clicked()
                    && let Some(s) = ws.live()
                    && let Err(e) = s.client().discard_refused()
                {
                    errors.push(e.to_string());
                }
            }
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                if let Some(client) = ws.live().map(Session::client) {
                    let (label, hint) = if status.paused {
                        ("Resume sync", "Send what queued and take others' changes again")
                    } else {
                        (
                            "Pause sync",
                            "Stay in the session but stop syncing; your edits queue until you resume",
                        )
                    };
                    if ui.button(label).on_hover_text(hint).clicked() {
                        if status.paused {
                            client.resume();
                        } else {
                            client.pause();
                        }
                    }
                }
                if ui
                    .button("Leave session")
                    .on_hover_text("Keep working alone; your edits sync when you reconnect")
                    .clicked()
                    && let Err(e) = ws.leave()
                {
                    errors.push(e);
                }
            });
        } else {
            ui.weak("This plan is not shared.");
            ui.add_space(2.0);
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.session_form.listen)
                        .desired_width(130.0)
                        .hint_text("address:port"),
                );
                if ui
                    .button("Host")
                    .on_hover_text("Serve this plan from this machine and make invites")
                    .clicked()
                {
                    match self.session_form.listen.trim().parse() {
                        Ok(addr) => start = Some(("Hosting…", Start::Host(addr))),
                        Err(_) => errors.push(format!(
                            "“{}” is not an address like 0.0.0.0:7071",
                            self.session_form.listen.trim()
                        )),
                    }
                }
            });
            if arxos_session::remembered_invite(ws.path()).is_ok()
                && ui
                    .button("Reconnect")
                    .on_hover_text("Sync again through the invite this plan remembers")
                    .clicked()
            {
                start = Some(("Reconnecting…", Start::Reconnect));
            }
            ui.add_space(4.0);
            ui.weak("Join a session");
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.session_form.code)
                        .desired_width(170.0)
                        .hint_text("paste an invite code"),
                );
                if ui.button("Join").clicked() {
                    match InviteCode::parse(self.session_form.code.trim()) {
                        Ok(code) => self.join(code, None),
                        Err(e) => errors.push(format!("not an invite code: {e}")),
                    }
                }
            });
            ui.add_space(4.0);
            egui::CollapsingHeader::new("Share to a relay").show(ui, |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.session_form.relay)
                        .hint_text("ws://relay:7000"),
                );
                ui.add(
                    egui::TextEdit::singleline(&mut self.session_form.token)
                        .password(true)
                        .hint_text("admin token"),
                );
                if ui.button("Share").clicked() {
                    start = Some((
                        "Sharing…",
                        Start::Share {
                            relay: self.session_form.relay.clone(),
                            admin_token: self.session_form.token.clone(),
                        },
                    ));
                }
            });
        }
        for e in errors {
            self.toast(&ctx, e, true);
        }
        if let Some((what, s)) = start {
            self.start_session(what, s);
        }
    }

    /// The People section.
    pub(super) fn people_section(&mut self, ui: &mut egui::Ui) {
        let Some(ws) = self.ws.as_mut() else { return };
        ui.horizontal(|ui| {
            let me = crate::overlay::parse_hex(&ws.color()).unwrap_or(egui::Color32::GRAY);
            swatch(ui, me);
            ui.label(egui::RichText::new(format!("{} (you)", ws.author())).strong());
        });
        ui.add(
            egui::TextEdit::singleline(&mut ws.status_text)
                .hint_text("your status, e.g. on site until 3"),
        );
        if ws.people.by_peer.is_empty() {
            ui.weak("Nobody else is here yet.");
            return;
        }
        let mut follow = None;
        for person in ws.people.by_peer.values() {
            let color =
                crate::overlay::parse_hex(&person.presence.color).unwrap_or(egui::Color32::GRAY);
            ui.horizontal(|ui| {
                swatch(ui, color);
                ui.label(egui::RichText::new(&person.presence.user).strong());
                ui.weak(person.role());
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let following = ws.following.as_deref() == Some(person.peer.as_str());
                    let label = if following { "Following" } else { "Follow" };
                    if ui
                        .selectable_label(following, label)
                        .on_hover_text("Your view follows theirs until you pan or zoom")
                        .clicked()
                    {
                        follow = Some((!following).then(|| person.peer.clone()));
                    }
                });
            });
            ui.weak(person.activity());
        }
        if let Some(f) = follow {
            ws.following = f;
        }
    }
}

fn swatch(ui: &mut egui::Ui, color: egui::Color32) {
    let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().circle_filled(r.center(), 5.0, color);
}

/// The first and last characters of a long code, for recognising it.
fn short(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() <= 24 {
        return code.to_owned();
    }
    let head: String = chars[..14].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}…{tail}")
}

impl EditorApp {
    /// Others' presence and leases for this frame; follows the person followed; a viewer's
    /// tool is the selection tool.
    pub(super) fn before_canvas(&mut self, ctx: &egui::Context, now: std::time::Instant) {
        let Some(ws) = self.ws.as_mut() else { return };
        ws.refresh_threads();
        if ws.refresh_collab(now) {
            ctx.request_repaint();
        }
        let read_only = ws.permission.read_only().is_some();
        if let Some(vp) = ws
            .following
            .as_ref()
            .and_then(|f| ws.people.by_peer.get(f))
            .and_then(|p| p.presence.viewport.clone())
        {
            let floor = arxos_doc::FloorId::new(vp.floor.as_str());
            if ws.read(|d| d.floors().contains_key(&floor)) == Some(true) {
                ws.floor = Some(floor);
            }
            if let Some(v) = self.canvas.view.as_mut() {
                *v = arxos_render::View::new(
                    arxos_doc::Point::new(vp.center_x_mm, vp.center_y_mm),
                    vp.zoom,
                    v.viewport_px,
                );
            }
        }
        if read_only && self.tool != crate::tools::Tool::Select {
            self.select_tool(crate::tools::Tool::Select);
        }
    }

    /// Leases on what is being worked on, our presence broadcast, following ended by a pan.
    pub(super) fn after_canvas(&mut self, ctx: &egui::Context, now: std::time::Instant) {
        let Some(ws) = self.ws.as_mut() else { return };
        if self.canvas.user_moved_camera && ws.following.take().is_some() {
            self.toast(ctx, "Stopped following", false);
            return;
        }
        let mut work: std::collections::BTreeSet<arxos_doc::ElementId> =
            self.canvas.working_ids().into_iter().collect();
        if self.inspector_editing {
            work.extend(ws.selection.iter().cloned());
        }
        ws.work_on(&work);
        let idle = now.saturating_duration_since(self.last_input);
        if let Some(wait) = ws.broadcast(
            self.canvas.pointer_plan,
            self.canvas.view.as_ref(),
            idle,
            now,
        ) {
            ctx.request_repaint_after(wait);
        }
    }
}

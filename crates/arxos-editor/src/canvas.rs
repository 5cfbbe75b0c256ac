//! The plan canvas: the camera, pointer input for every tool, and the frame handed to the GPU
//! bridge, with egui overlays on top.
//!
//! Pan: middle-drag, Space-drag or scroll. Zoom about the cursor: Ctrl+scroll, pinch, or the
//! + and − keys. Edits leave here only as typed commands through [`Workspace::edit`].

use arxos_doc::{Bounds, Command, ElementId, ElementKind, Geometry, Point};
use arxos_render::View;
use egui::{PointerButton, Pos2, Sense, Stroke, Vec2};

use crate::overlay::{self, Ink, Mapping};
use crate::picking::{BoxMode, box_select, local_from_world, pick, world};
use crate::snap::{Snap, SnapSettings, nearest_wall, snap};
use crate::tools::{self, Placement, Tool};
use crate::workspace::Workspace;

/// Pixels (points) within which a click catches a shape or a snap target.
const CATCH_PT: f64 = 6.0;
const SNAP_PT: f64 = 10.0;

/// A drag in progress.
#[derive(Clone, Debug, PartialEq)]
enum Gesture {
    Pan,
    Box { start: Pos2 },
    Move { start: Point, ids: Vec<ElementId> },
    Vertex { id: ElementId, index: usize },
    Rotate { id: ElementId },
    Resize { id: ElementId },
}

/// What the canvas remembers between frames.
#[derive(Debug)]
pub struct Canvas {
    /// The camera; `None` until the first frame fits the plan.
    pub view: Option<View>,
    /// The last canvas rectangle and scale, for tests and fitting.
    pub mapping: Option<Mapping>,
    gesture: Option<Gesture>,
    /// Points clicked so far by a multi-point tool.
    pub points: Vec<Point>,
    hover: Option<ElementId>,
    cursor: Option<Snap>,
    /// The plan point under the pointer (for the status bar).
    pub pointer_plan: Option<Point>,
    /// The person panned or zoomed in the last frame (ends following someone).
    pub user_moved_camera: bool,
    /// A reference being picked on the canvas: element and reference name.
    pub picking_ref: Option<(ElementId, String)>,
    /// The next click places a comment pin (the Comments section asked).
    pub pinning: bool,
    /// Where the last pin was placed, for the Comments section to take.
    pub pinned: Option<Point>,
    /// A message beside the cursor (why a click was refused).
    refusal: Option<(String, f64)>,
    fit_pending: Option<FitTarget>,
}

/// What to fit the view to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitTarget {
    /// The whole drawing on the floor shown.
    Drawing,
    /// The selection.
    Selection,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            view: None,
            mapping: None,
            gesture: None,
            points: Vec::new(),
            hover: None,
            cursor: None,
            pointer_plan: None,
            user_moved_camera: false,
            picking_ref: None,
            pinning: false,
            pinned: None,
            refusal: None,
            fit_pending: Some(FitTarget::Drawing),
        }
    }
}

/// What a frame of the canvas asks of the app.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages for the notification area.
    pub messages: Vec<String>,
    /// Errors for the notification area.
    pub errors: Vec<String>,
}

impl Canvas {
    /// Fits the view at the next frame.
    pub fn fit(&mut self, target: FitTarget) {
        self.fit_pending = Some(target);
    }

    /// Centres the view on a plan point, keeping the zoom.
    pub fn center_on(&mut self, p: Point) {
        if let Some(v) = self.view.as_mut() {
            v.center = p;
        }
    }

    /// Cancels what a tool collected (Esc).
    pub fn cancel(&mut self) {
        self.points.clear();
        self.gesture = None;
        self.picking_ref = None;
        self.pinning = false;
    }

    /// Zooms about the canvas centre (keyboard + and −).
    pub fn zoom_by(&mut self, factor: f64) {
        if let (Some(v), Some(m)) = (self.view, self.mapping) {
            let c = Point::new(
                f64::from(m.rect.width() * m.ppp) / 2.0,
                f64::from(m.rect.height() * m.ppp) / 2.0,
            );
            self.view = Some(v.zoomed_about(factor, c));
        }
    }

    /// Shows the canvas in `ui`, handles its input, and queues the GPU frame.
    #[allow(clippy::too_many_lines)] // one input state machine, easier to follow in one place
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        ws: &mut Workspace,
        tool: Tool,
        snapping: SnapSettings,
        show_grid: bool,
        gpu: Option<&egui_wgpu::RenderState>,
    ) -> Outcome {
        let mut out = Outcome::default();
        let rect = ui.available_rect_before_wrap();
        let response = ui.allocate_rect(rect, Sense::click_and_drag());
        let ppp = ui.ctx().pixels_per_point();
        let viewport = [
            (rect.width() * ppp).round().max(1.0) as u32,
            (rect.height() * ppp).round().max(1.0) as u32,
        ];
        let ink = Ink::from_theme(crate::bridge::lock_scene(&ws.scene).theme());

        // Camera: fit when asked, keep the viewport size current.
        if let Some(target) = self.fit_pending.take() {
            let bounds = ws.read(|doc| fit_bounds(doc, ws, target)).flatten();
            let b = bounds.unwrap_or(Bounds::from_corners(
                Point::new(0.0, 0.0),
                Point::new(20_000.0, 12_000.0),
            ));
            self.view = Some(View::fit(b, viewport, 48.0 * f64::from(ppp)));
        }
        let mut view = self
            .view
            .unwrap_or_else(|| View::new(Point::new(0.0, 0.0), 0.05, viewport));
        view.viewport_px = viewport;

        // Pan and zoom.
        let (scroll, zoom, space) = ui.input(|i| {
            (
                i.smooth_scroll_delta,
                i.zoom_delta(),
                i.key_down(egui::Key::Space),
            )
        });
        let before = view;
        if response.hovered() {
            if (zoom - 1.0).abs() > f32::EPSILON {
                if let Some(pos) = response.hover_pos() {
                    let a = (pos - rect.min) * ppp;
                    view = view
                        .zoomed_about(f64::from(zoom), Point::new(f64::from(a.x), f64::from(a.y)));
                }
            } else if scroll != Vec2::ZERO {
                view = view.panned_px(f64::from(-scroll.x * ppp), f64::from(-scroll.y * ppp));
            }
        }
        let panning = response.dragged_by(PointerButton::Middle)
            || (space && response.dragged_by(PointerButton::Primary));
        if panning {
            let d = response.drag_delta() * ppp;
            view = view.panned_px(f64::from(-d.x), f64::from(-d.y));
            self.gesture = Some(Gesture::Pan);
        }
        self.user_moved_camera = view.center != before.center
            || (view.zoom_px_per_mm - before.zoom_px_per_mm).abs() > f64::EPSILON;
        let m = Mapping { view, rect, ppp };
        self.view = Some(view);
        self.mapping = Some(m);

        let filter = ws.pick_filter();
        let catch_mm = CATCH_PT * m.mm_per_point();
        let hover_pos = response.hover_pos();
        self.pointer_plan = hover_pos.map(|p| m.to_plan(p));
        let place = Placement::on(
            ws.floor
                .clone()
                .unwrap_or_else(|| arxos_doc::FloorId::new("level-1")),
        );

        // Snapping and hover.
        let dragged_ids = self.working_ids();
        self.cursor = self.pointer_plan.and_then(|p| {
            let wants_snap = tool != Tool::Select || !dragged_ids.is_empty();
            wants_snap.then(|| {
                ws.read(|doc| {
                    snap(
                        doc,
                        p,
                        SNAP_PT * m.mm_per_point(),
                        snapping,
                        &filter,
                        &dragged_ids,
                    )
                })
                .unwrap_or(Snap {
                    point: p,
                    kind: crate::snap::SnapKind::Free,
                })
            })
        });
        self.hover = match (tool, self.pointer_plan, &self.gesture) {
            (Tool::Select, Some(p), None | Some(Gesture::Pan)) => {
                ws.read(|doc| pick(doc, p, catch_mm, &filter)).flatten()
            }
            _ => None,
        };

        // Primary button.
        let shift = ui.input(|i| i.modifiers.shift);
        if !space {
            if response.drag_started_by(PointerButton::Primary) && tool == Tool::Select {
                self.start_drag(ws, &response, &m, catch_mm, &filter);
            }
            if response.drag_stopped_by(PointerButton::Primary) {
                self.finish_drag(ws, &response, &m, shift, &filter, &mut out);
            }
            if response.clicked_by(PointerButton::Primary)
                && let Some(p) = self.pointer_plan
            {
                self.click(ws, tool, p, shift, &place, &filter, catch_mm, &mut out);
            }
            if response.double_clicked_by(PointerButton::Primary) && tool.is_multi_point() {
                self.finish_points(ws, tool, &place, &mut out);
            }
        }
        if !response.dragged() && matches!(self.gesture, Some(Gesture::Pan)) {
            self.gesture = None;
        }
        response.context_menu(|ui| match crate::context_menu::show(ui, ws) {
            Some(Ok(m)) => out.messages.push(m),
            Some(Err(e)) => out.errors.push(e),
            None => {}
        });

        // Paint: paper and grid below the plan, the plan on the GPU, overlays on top.
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, ink.paper);
        if show_grid {
            overlay::grid(&painter, &m, snapping.grid_mm, &ink);
        }
        if gpu.is_some() {
            let frame = ws.read(|doc| {
                let mut scene = crate::bridge::lock_scene(&ws.scene);
                let opts = ws.scene_options();
                if scene.options != opts {
                    scene.options = opts;
                }
                scene.plan_frame(doc, &view)
            });
            if let Some(frame) = frame {
                painter.add(egui_wgpu::Callback::new_paint_callback(
                    rect,
                    crate::bridge::CanvasCallback {
                        scene: ws.scene.clone(),
                        frame,
                    },
                ));
            }
        } else {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "No GPU adapter: the plan cannot be drawn here",
                egui::FontId::proportional(14.0),
                ink.text,
            );
        }
        self.paint_overlays(&painter, ws, tool, &m, &ink, &place, &filter);
        overlay::scale_bar(&painter, &m, &ink);
        if self
            .refusal
            .as_ref()
            .is_some_and(|(_, until)| *until < ui.input(|i| i.time))
        {
            self.refusal = None;
        }
        out
    }

    /// The elements a gesture in progress is changing (a move, a vertex, a rotation).
    pub fn working_ids(&self) -> Vec<ElementId> {
        match &self.gesture {
            Some(Gesture::Move { ids, .. }) => ids.clone(),
            Some(Gesture::Vertex { id, .. } | Gesture::Rotate { id } | Gesture::Resize { id }) => {
                vec![id.clone()]
            }
            _ => Vec::new(),
        }
    }

    fn start_drag(
        &mut self,
        ws: &Workspace,
        response: &egui::Response,
        m: &Mapping,
        catch_mm: f64,
        filter: &crate::picking::PickFilter,
    ) {
        let Some(pos) = response.interact_pointer_pos() else {
            return;
        };
        let origin = pos - response.drag_delta();
        let p = m.to_plan(origin);
        // Handles of a single selected element come first.
        if let Some(g) = Self::handle_at(ws, origin, m) {
            self.gesture = Some(g);
            self.refuse_if_held(ws, response.ctx.input(|i| i.time));
            return;
        }
        let hit = ws.read(|doc| pick(doc, p, catch_mm, filter)).flatten();
        self.gesture = Some(match hit {
            Some(id) => {
                let ids = if ws.selection.contains(&id) {
                    ws.selection.iter().cloned().collect()
                } else {
                    vec![id]
                };
                Gesture::Move { start: p, ids }
            }
            None => Gesture::Box { start: origin },
        });
        self.refuse_if_held(ws, response.ctx.input(|i| i.time));
    }

    /// Stops a gesture at once when its elements may not be changed (someone else holds
    /// them, or we may not edit), saying why beside the cursor.
    fn refuse_if_held(&mut self, ws: &Workspace, now: f64) {
        let ids = self.working_ids();
        if ids.is_empty() {
            return;
        }
        if let Some(why) = ws.read(|doc| ws.permission.refuse(doc, &ids)).flatten() {
            self.gesture = None;
            self.refusal = Some((why, now + 3.0));
        }
    }

    fn handle_at(ws: &Workspace, pos: Pos2, m: &Mapping) -> Option<Gesture> {
        let id = single(ws)?;
        let handles = ws.read(|doc| doc.element(&id).map(|e| handles(e, m)))??;
        handles
            .into_iter()
            .find(|(at, _)| at.distance(pos) <= 7.0)
            .map(|(_, h)| match h {
                Handle::Vertex(index) => Gesture::Vertex {
                    id: id.clone(),
                    index,
                },
                Handle::Rotate => Gesture::Rotate { id: id.clone() },
                Handle::Resize => Gesture::Resize { id: id.clone() },
            })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_drag(
        &mut self,
        ws: &mut Workspace,
        response: &egui::Response,
        m: &Mapping,
        shift: bool,
        filter: &crate::picking::PickFilter,
        out: &mut Outcome,
    ) {
        let Some(gesture) = self.gesture.take() else {
            return;
        };
        let Some(end_pos) = response.interact_pointer_pos().or(response.hover_pos()) else {
            return;
        };
        let end = self.cursor.map_or_else(|| m.to_plan(end_pos), |s| s.point);
        let result = match gesture {
            Gesture::Pan => Ok(()),
            Gesture::Box { start } => {
                let (a, b) = (m.to_plan(start), m.to_plan(end_pos));
                let mode = if end_pos.x >= start.x {
                    BoxMode::Inside
                } else {
                    BoxMode::Touching
                };
                let found = ws
                    .read(|doc| box_select(doc, Bounds::from_corners(a, b), mode, filter))
                    .unwrap_or_default();
                if !shift {
                    ws.selection.clear();
                }
                ws.selection.extend(found);
                Ok(())
            }
            Gesture::Move { start, ids } => {
                let start = ws
                    .read(|doc| snap_start(doc, start, &ids))
                    .flatten()
                    .unwrap_or(start);
                let (dx, dy) = (end.x - start.x, end.y - start.y);
                if dx.abs() < 1e-9 && dy.abs() < 1e-9 {
                    Ok(())
                } else {
                    let Some(cmd) = ws.read(|doc| tools::move_with_hosted(doc, &ids, dx, dy))
                    else {
                        return;
                    };
                    let touched = match &cmd {
                        Command::Move { ids, .. } => ids.clone(),
                        _ => ids.clone(),
                    };
                    ws.selection = ids.iter().cloned().collect();
                    ws.edit(
                        &format!("move {}", crate::actions::count(touched.len())),
                        &touched,
                        &[],
                        vec![cmd],
                    )
                    .map(|_| ())
                }
            }
            Gesture::Vertex { id, index } => edit_vertex(ws, &id, index, end),
            Gesture::Rotate { id } => {
                let Some(e) = ws.read(|doc| doc.element(&id).cloned()).flatten() else {
                    return;
                };
                let mut deg = (end.y - e.transform.y)
                    .atan2(end.x - e.transform.x)
                    .to_degrees()
                    + 90.0;
                if !shift {
                    deg = (deg / 15.0).round() * 15.0;
                }
                let deg = deg.rem_euclid(360.0);
                ws.edit(
                    "rotate",
                    std::slice::from_ref(&id),
                    &[],
                    vec![Command::Rotate {
                        id: id.clone(),
                        rotation_deg: deg,
                    }],
                )
                .map(|_| ())
            }
            Gesture::Resize { id } => {
                let Some(e) = ws.read(|doc| doc.element(&id).cloned()).flatten() else {
                    return;
                };
                let l = local_from_world(&e.transform, end);
                let geometry = match e.geometry {
                    Geometry::Rect { .. } => Geometry::Rect {
                        width: l.x.max(10.0),
                        height: l.y.max(10.0),
                    },
                    Geometry::Circle { .. } => Geometry::Circle {
                        radius: l.x.hypot(l.y).max(10.0),
                    },
                    _ => return,
                };
                ws.edit(
                    "resize",
                    std::slice::from_ref(&id),
                    &[],
                    vec![Command::SetGeometry {
                        id: id.clone(),
                        geometry,
                    }],
                )
                .map(|_| ())
            }
        };
        if let Err(e) = result {
            out.errors.push(e);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn click(
        &mut self,
        ws: &mut Workspace,
        tool: Tool,
        p: Point,
        shift: bool,
        place: &Placement,
        filter: &crate::picking::PickFilter,
        catch_mm: f64,
        out: &mut Outcome,
    ) {
        let at = self.cursor.map_or(p, |s| s.point);
        if self.pinning {
            self.pinning = false;
            self.pinned = Some(p);
            return;
        }
        if let Some((id, name)) = self.picking_ref.take() {
            let target = ws.read(|doc| pick(doc, p, catch_mm, filter)).flatten();
            if let Some(target) = target
                && let Err(e) = ws.edit(
                    &format!("set {name}"),
                    std::slice::from_ref(&id),
                    &[],
                    vec![Command::SetReference {
                        id: id.clone(),
                        name: name.clone(),
                        target: Some(target),
                    }],
                )
            {
                out.errors.push(e);
            }
            return;
        }
        let created = match tool {
            Tool::Select => {
                let hit = ws.read(|doc| pick(doc, p, catch_mm, filter)).flatten();
                match (hit, shift) {
                    (Some(id), true) => {
                        if !ws.selection.remove(&id) {
                            ws.selection.insert(id);
                        }
                    }
                    (Some(id), false) => {
                        ws.selection.clear();
                        ws.selection.insert(id);
                    }
                    (None, false) => ws.selection.clear(),
                    (None, true) => {}
                }
                return;
            }
            Tool::Wall | Tool::Room | Tool::Dimension => {
                if tool == Tool::Room
                    && self.points.len() >= 3
                    && self.points.first().is_some_and(|f| {
                        dist(*f, at) <= SNAP_PT * self.mapping.map_or(1.0, Mapping::mm_per_point)
                    })
                {
                    self.finish_points(ws, tool, place, out);
                    return;
                }
                self.points.push(at);
                if tool == Tool::Dimension && self.points.len() == 2 {
                    self.finish_points(ws, tool, place, out);
                }
                return;
            }
            Tool::Door | Tool::Window => {
                let kind = tool.kind().unwrap_or(ElementKind::Door);
                let hit = ws
                    .read(|doc| {
                        nearest_wall(
                            doc,
                            p,
                            SNAP_PT * self.mapping.map_or(1.0, Mapping::mm_per_point),
                            filter,
                            &[],
                        )
                    })
                    .flatten();
                match hit {
                    Some(hit) => ws.read(|doc| tools::opening(doc, place, kind, &hit)),
                    None => Some(Err(format!("a {kind} goes in a wall: click on a wall"))),
                }
            }
            Tool::Outlet | Tool::Switch | Tool::Light | Tool::Fixture => {
                let kind = tool.kind().unwrap_or(ElementKind::Outlet);
                ws.read(|doc| tools::equipment(doc, place, kind, at))
            }
            Tool::Text => ws.read(|doc| tools::text(doc, place, at, "Label")),
        };
        self.create(ws, tool, created, out);
    }

    /// Finishes a wall, room or dimension from the points clicked.
    pub fn finish_points(
        &mut self,
        ws: &mut Workspace,
        tool: Tool,
        place: &Placement,
        out: &mut Outcome,
    ) {
        let points = std::mem::take(&mut self.points);
        if points.is_empty() {
            return;
        }
        let created = match tool {
            Tool::Wall => ws.read(|doc| tools::wall(doc, place, &points)),
            Tool::Room => ws.read(|doc| tools::room(doc, place, &points)),
            Tool::Dimension if points.len() >= 2 => {
                ws.read(|doc| tools::dimension(doc, place, points[0], points[points.len() - 1]))
            }
            _ => None,
        };
        self.create(ws, tool, created, out);
    }

    fn create(
        &mut self,
        ws: &mut Workspace,
        tool: Tool,
        created: Option<Result<arxos_doc::NewElement, String>>,
        out: &mut Outcome,
    ) {
        match created {
            Some(Ok(n)) => {
                let Some(id) = n.id.clone() else { return };
                let label = format!("draw {}", n.tag);
                match ws.edit(
                    &label,
                    &[],
                    std::slice::from_ref(&id),
                    vec![Command::Create(Box::new(n))],
                ) {
                    Ok(_) => {
                        ws.selection.clear();
                        ws.selection.insert(id);
                    }
                    Err(e) => out.errors.push(e),
                }
            }
            Some(Err(why)) => {
                self.refusal = Some((why.clone(), f64::MAX));
                out.messages.push(format!("{}: {why}", tool.label()));
            }
            None => {}
        }
    }

    #[allow(clippy::too_many_arguments)] // the frame's context, computed once in `show`
    fn paint_overlays(
        &self,
        p: &egui::Painter,
        ws: &Workspace,
        tool: Tool,
        m: &Mapping,
        ink: &Ink,
        place: &Placement,
        filter: &crate::picking::PickFilter,
    ) {
        let cursor = self.cursor.map(|s| (m.to_screen(s.point), s));
        ws.read(|doc| {
            let floor = ws.floor.as_ref().map(arxos_doc::FloorId::as_str);
            crate::remote::pins(p, doc, floor, &ws.threads, m);
            crate::remote::paint(
                p,
                doc,
                floor,
                &ws.people,
                &ws.permission,
                m,
                std::time::Instant::now(),
            );
            for e in ws.highlighted.iter().filter_map(|id| doc.element(id)) {
                overlay::highlight(p, e, m, ink.changed, 3.0);
            }
            if let Some(e) = self.hover.as_ref().and_then(|id| doc.element(id))
                && !ws.selection.contains(&e.id)
            {
                overlay::highlight(p, e, m, ink.hover, 2.0);
            }
            for id in &ws.selection {
                if let Some(e) = doc.element(id) {
                    overlay::highlight(p, e, m, ink.selection, 2.0);
                }
            }
            if let Some(id) = single(ws)
                && let Some(e) = doc.element(&id)
            {
                for (at, h) in handles(e, m) {
                    match h {
                        Handle::Rotate => overlay::round_handle(p, at, ink),
                        _ => overlay::handle(p, at, ink),
                    }
                }
            }
            // A move in progress: ghosts where the elements will land.
            if let (Some(Gesture::Move { start, ids }), Some((_, s))) = (&self.gesture, cursor) {
                let d = m.to_screen(s.point) - m.to_screen(*start);
                for e in ids.iter().filter_map(|id| doc.element(id)) {
                    for line in overlay::outline(e, m) {
                        let moved: Vec<Pos2> = line.into_iter().map(|q| q + d).collect();
                        p.add(egui::Shape::line(moved, Stroke::new(1.5, ink.guide)));
                    }
                }
                overlay::tag(
                    p,
                    m.to_screen(s.point),
                    &format!("Δ {:.0}, {:.0}", s.point.x - start.x, s.point.y - start.y),
                    ink.guide,
                );
            }
            // A door or window ghost on the wall under the cursor.
            if matches!(tool, Tool::Door | Tool::Window)
                && let Some(pp) = self.pointer_plan
            {
                let kind = tool.kind().unwrap_or(ElementKind::Door);
                let hit = nearest_wall(doc, pp, SNAP_PT * m.mm_per_point(), filter, &[]);
                match hit.map(|h| tools::opening(doc, place, kind, &h)) {
                    Some(Ok(n)) => {
                        let lines = overlay::shape_outline(n.kind, &n.geometry, &n.transform, m);
                        for line in lines.unwrap_or_default() {
                            p.add(egui::Shape::line(line, Stroke::new(2.0, ink.guide)));
                        }
                    }
                    Some(Err(why)) => overlay::tag(p, m.to_screen(pp), &why, ink.refuse),
                    None => overlay::tag(
                        p,
                        m.to_screen(pp),
                        &format!("click on a wall to place the {kind}"),
                        ink.refuse,
                    ),
                }
            }
        });
        // Multi-point tools: what is drawn so far and the rubber band to the cursor.
        if !self.points.is_empty() {
            let mut pts: Vec<Pos2> = self.points.iter().map(|q| m.to_screen(*q)).collect();
            if let Some((c, _)) = cursor {
                pts.push(c);
            }
            if tool == Tool::Room && pts.len() >= 3 {
                p.add(egui::Shape::convex_polygon(
                    pts.clone(),
                    ink.guide.gamma_multiply(0.08),
                    Stroke::NONE,
                ));
            }
            p.add(egui::Shape::line(pts.clone(), Stroke::new(2.0, ink.guide)));
            for q in &pts {
                p.circle_filled(*q, 3.0, ink.guide);
            }
            if let (Some(last), Some((c, s))) = (self.points.last(), cursor) {
                let len = dist(*last, s.point);
                let mut label = format!("{len:.0} mm");
                if tool == Tool::Room && self.points.len() >= 2 {
                    let mut ring = self.points.clone();
                    ring.push(s.point);
                    label = format!("{label} · {:.2} m²", tools::polygon_area_m2(&ring));
                }
                overlay::tag(p, c, &label, ink.guide);
            }
        }
        if let Some((c, s)) = cursor {
            overlay::snap_guide(p, c, s.kind.label(), ink);
        }
        if let Some(Gesture::Box { start }) = &self.gesture
            && let Some((_, s)) = cursor.or_else(|| {
                self.pointer_plan.map(|q| {
                    (
                        m.to_screen(q),
                        Snap {
                            point: q,
                            kind: crate::snap::SnapKind::Free,
                        },
                    )
                })
            })
        {
            let end = m.to_screen(s.point);
            overlay::selection_box(p, *start, end, end.x < start.x, ink);
        }
        if let (Some((why, _)), Some(pp)) = (&self.refusal, self.pointer_plan)
            && !matches!(tool, Tool::Door | Tool::Window)
        {
            overlay::tag(p, m.to_screen(pp), why, ink.refuse);
        }
        if self.pinning
            && let Some(pp) = self.pointer_plan
        {
            overlay::tag(
                p,
                m.to_screen(pp),
                "click where the comment goes (Esc cancels)",
                ink.selection,
            );
        }
        if self.picking_ref.is_some()
            && let Some(pp) = self.pointer_plan
        {
            overlay::tag(
                p,
                m.to_screen(pp),
                "click the element to refer to (Esc cancels)",
                ink.selection,
            );
        }
    }

    /// Clears a refusal shown beside the cursor (the tool changed).
    pub fn clear_refusal(&mut self) {
        self.refusal = None;
    }
}

/// A handle of a selected element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handle {
    Vertex(usize),
    Rotate,
    Resize,
}

fn handles(e: &arxos_doc::Element, m: &Mapping) -> Vec<(Pos2, Handle)> {
    let t = &e.transform;
    match &e.geometry {
        Geometry::Polyline { points } | Geometry::Polygon { points } => world(t, points)
            .into_iter()
            .enumerate()
            .map(|(i, q)| (m.to_screen(q), Handle::Vertex(i)))
            .collect(),
        Geometry::Rect { width, height } => {
            let corner = arxos_doc::geometry::world_from_local(t, Point::new(*width, *height));
            let top = arxos_doc::geometry::world_from_local(t, Point::new(width / 2.0, 0.0));
            let mut r = vec![(m.to_screen(corner), Handle::Resize)];
            r.push((m.to_screen(top) + rotate_offset(t.rotation), Handle::Rotate));
            r
        }
        Geometry::Circle { radius } => {
            vec![(m.to_screen(Point::new(t.x + radius, t.y)), Handle::Resize)]
        }
        Geometry::Point => vec![(
            m.to_screen(Point::new(t.x, t.y)) + rotate_offset(t.rotation),
            Handle::Rotate,
        )],
        Geometry::Path { .. } => Vec::new(),
    }
}

/// The rotation handle sits 28 points "above" the element in its own frame.
fn rotate_offset(rotation: f64) -> Vec2 {
    let (s, c) = rotation.to_radians().sin_cos();
    Vec2::new((28.0 * s) as f32, (-28.0 * c) as f32)
}

fn single(ws: &Workspace) -> Option<ElementId> {
    (ws.selection.len() == 1)
        .then(|| ws.selection.iter().next().cloned())
        .flatten()
}

/// For a move, the grabbed point snapped like the cursor is, so an endpoint dragged onto an
/// endpoint lands exactly on it: the nearest vertex of the moved elements.
fn snap_start(doc: &arxos_doc::Document, start: Point, ids: &[ElementId]) -> Option<Point> {
    ids.iter()
        .filter_map(|id| doc.element(id))
        .flat_map(|e| match &e.geometry {
            Geometry::Polyline { points } | Geometry::Polygon { points } => {
                world(&e.transform, points)
            }
            _ => vec![Point::new(e.transform.x, e.transform.y)],
        })
        .map(|q| (dist(q, start), q))
        .filter(|(d, _)| *d < 400.0)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, q)| q)
}

fn edit_vertex(ws: &mut Workspace, id: &ElementId, index: usize, to: Point) -> Result<(), String> {
    let Some(e) = ws.read(|doc| doc.element(id).cloned()).flatten() else {
        return Ok(());
    };
    let local = local_from_world(&e.transform, to);
    let geometry = match e.geometry {
        Geometry::Polyline { mut points } if index < points.len() => {
            points[index] = local;
            Geometry::Polyline { points }
        }
        Geometry::Polygon { mut points } if index < points.len() => {
            points[index] = local;
            Geometry::Polygon { points }
        }
        _ => return Ok(()),
    };
    let mut cmds = vec![Command::SetGeometry {
        id: id.clone(),
        geometry: geometry.clone(),
    }];
    // A room keeps its area current when its outline changes.
    if e.kind == ElementKind::Room
        && let Geometry::Polygon { points } = &geometry
    {
        let area = tools::polygon_area_m2(&crate::picking::world(&e.transform, points));
        cmds.push(Command::SetProperties {
            id: id.clone(),
            set: vec![(
                "area".into(),
                arxos_doc::Property {
                    value: arxos_doc::PropValue::Number((area * 100.0).round() / 100.0),
                    unit: Some("m2".into()),
                },
            )],
            remove: vec![],
        });
    }
    ws.edit("edit shape", std::slice::from_ref(id), &[], cmds)
        .map(|_| ())
}

fn fit_bounds(doc: &arxos_doc::Document, ws: &Workspace, target: FitTarget) -> Option<Bounds> {
    let on_floor = |e: &&arxos_doc::Element| ws.floor.as_ref().is_none_or(|f| *f == e.floor);
    let pick: Box<dyn Fn(&&arxos_doc::Element) -> bool> = match target {
        FitTarget::Drawing => Box::new(on_floor),
        FitTarget::Selection => Box::new(|e: &&arxos_doc::Element| ws.selection.contains(&e.id)),
    };
    let b = doc
        .elements()
        .filter(|e| pick(e))
        .map(crate::picking::extent)
        .reduce(Bounds::union)?;
    // A lone outlet fills no screen: show at least a few metres around what is fitted, so
    // the element is seen in its room.
    let short = b.width().min(b.height());
    Some(if short < MIN_FIT_MM {
        b.expand((MIN_FIT_MM - short) / 2.0)
    } else {
        b
    })
}

/// The smallest side of what a fit shows, in plan millimetres.
const MIN_FIT_MM: f64 = 4_000.0;

fn dist(a: Point, b: Point) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

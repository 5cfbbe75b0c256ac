//! What the canvas shows of the other people in the session: their selections outlined in
//! their colour, badges on the elements they hold, and their cursors with name labels, gliding
//! between updates. Only what is on the floor shown here is drawn.

use std::time::Instant;

use arxos_doc::{Document, ElementId, Point};
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Shape, Stroke, Vec2};

use crate::collab::{People, Permission, initials};
use crate::overlay::{Mapping, highlight, parse_hex};
use crate::picking::extent;

/// A colour for someone whose colour we do not know (they left, or sent a bad one).
const UNKNOWN: Color32 = Color32::from_rgb(0x60, 0x7D, 0x8B);

fn color_of(hex: Option<&str>) -> Color32 {
    hex.and_then(parse_hex).unwrap_or(UNKNOWN)
}

/// Paints the others' selections, lock badges and cursors over the plan.
pub fn paint(
    p: &Painter,
    doc: &Document,
    floor: Option<&str>,
    people: &People,
    permission: &Permission,
    m: &Mapping,
    now: Instant,
) {
    let on_floor = |e: &arxos_doc::Element| floor.is_none_or(|f| e.floor.as_str() == f);
    for person in people.by_peer.values() {
        let color = color_of(Some(&person.presence.color));
        for id in &person.presence.selection {
            if let Some(e) = doc.element(&ElementId::new(id.as_str()))
                && on_floor(e)
            {
                highlight(p, e, m, color.gamma_multiply(0.85), 2.0);
            }
        }
    }
    for lease in permission.held_by_others.values() {
        let Some(e) = doc.element(&ElementId::new(lease.id.as_str())) else {
            continue;
        };
        if !on_floor(e) {
            continue;
        }
        let b = extent(e);
        let corner = m.to_screen(Point::new(b.max.x, b.min.y));
        badge(
            p,
            corner,
            &initials(&lease.holder_user),
            color_of(people.color_of(&lease.holder_peer)),
        );
    }
    for person in people.by_peer.values() {
        let (Some(c), Some(glide)) = (&person.presence.cursor, person.cursor) else {
            continue;
        };
        if floor.is_some_and(|f| c.floor != f) {
            continue;
        }
        let at = m.to_screen(glide.position(now));
        if !m.rect.contains(at) {
            continue;
        }
        cursor(
            p,
            at,
            &person.presence.user,
            color_of(Some(&person.presence.color)),
        );
    }
}

/// A round badge with initials, at an element's top-right corner.
fn badge(p: &Painter, at: Pos2, text: &str, color: Color32) {
    let center = at + Vec2::new(4.0, -4.0);
    p.circle_filled(center, 10.0, color);
    p.circle_stroke(center, 10.0, Stroke::new(1.5, Color32::WHITE));
    p.text(
        center,
        Align2::CENTER_CENTER,
        text,
        FontId::proportional(10.0),
        Color32::WHITE,
    );
}

/// An arrow pointer with the person's name on a pill beside it.
fn cursor(p: &Painter, at: Pos2, name: &str, color: Color32) {
    let arrow = vec![
        at,
        at + Vec2::new(0.0, 17.0),
        at + Vec2::new(4.5, 13.0),
        at + Vec2::new(8.0, 20.0),
        at + Vec2::new(10.5, 19.0),
        at + Vec2::new(7.0, 12.0),
        at + Vec2::new(12.5, 12.0),
    ];
    p.add(Shape::Path(egui::epaint::PathShape::closed_line(
        arrow.clone(),
        Stroke::new(2.0, Color32::WHITE),
    )));
    // The arrow is concave: fill it as two convex halves.
    p.add(Shape::convex_polygon(
        vec![arrow[0], arrow[1], arrow[2], arrow[5], arrow[6]],
        color,
        Stroke::NONE,
    ));
    p.add(Shape::convex_polygon(
        vec![arrow[2], arrow[3], arrow[4], arrow[5]],
        color,
        Stroke::NONE,
    ));
    let galley = p.layout_no_wrap(name.to_owned(), FontId::proportional(12.0), Color32::WHITE);
    let r =
        Rect::from_min_size(at + Vec2::new(14.0, 16.0), galley.size()).expand2(Vec2::new(6.0, 2.0));
    p.rect_filled(r, 4.0, color);
    p.galley(r.min + Vec2::new(6.0, 2.0), galley, Color32::WHITE);
}

/// A speech-bubble pin for every open comment thread on the floor shown, with its number of
/// replies, where the comment was pinned.
pub fn pins(
    p: &Painter,
    doc: &Document,
    floor: Option<&str>,
    threads: &[arxos_doc::comments::Thread],
    m: &Mapping,
) {
    const PIN: Color32 = Color32::from_rgb(0xF5, 0x7C, 0x00);
    for t in threads.iter().filter(|t| !t.root.resolved) {
        let Some((on, at)) = pin_at(doc, &t.root.anchor) else {
            continue;
        };
        if let (Some(f), Some(on)) = (floor, on.as_deref())
            && f != on
        {
            continue;
        }
        let tip = m.to_screen(at);
        if !m.rect.contains(tip) {
            continue;
        }
        let body = Rect::from_min_size(tip + Vec2::new(-2.0, -26.0), Vec2::new(24.0, 18.0));
        p.rect_filled(body, 5.0, PIN);
        p.add(Shape::convex_polygon(
            vec![
                tip,
                body.left_bottom() + Vec2::new(4.0, 0.0),
                body.left_bottom() + Vec2::new(11.0, 0.0),
            ],
            PIN,
            Stroke::NONE,
        ));
        p.text(
            body.center(),
            Align2::CENTER_CENTER,
            (t.replies.len() + 1).to_string(),
            FontId::proportional(11.0),
            Color32::WHITE,
        );
    }
}

/// Where a thread's pin goes: the element's top-left corner, or the point.
fn pin_at(
    doc: &Document,
    a: &arxos_doc::comments::Anchor,
) -> Option<(Option<String>, arxos_doc::Point)> {
    match a {
        arxos_doc::comments::Anchor::Element(id) => doc.element(id).map(|e| {
            let b = extent(e);
            (
                Some(e.floor.as_str().to_owned()),
                Point::new(b.min.x, b.min.y),
            )
        }),
        arxos_doc::comments::Anchor::Point { floor, x, y } => Some((
            floor.as_ref().map(|f| f.as_str().to_owned()),
            Point::new(*x, *y),
        )),
    }
}

//! Builders shared by the document-core integration tests.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset; test helpers

use arxos_doc::{
    Document, EditContext, ElementKind, FloorId, Geometry, LayerId, NewElement, Point, PropValue,
    Transform,
};

/// An edit by `tester` at a fixed time.
pub fn ctx() -> EditContext {
    EditContext::at("tester", 1_700_000_000_000)
}

/// A new plan with one floor and the default layers.
pub fn plan() -> Document {
    Document::new_plan("test", &ctx()).unwrap()
}

/// A 5 m wall along x from (`x`, 0) on level 1.
pub fn wall(tag: &str, x: f64) -> NewElement {
    NewElement::new(
        ElementKind::Wall,
        tag,
        FloorId::new("level-1"),
        LayerId::new("architectural"),
        Geometry::Polyline {
            points: vec![Point::new(0.0, 0.0), Point::new(5000.0, 0.0)],
        },
        Transform {
            x,
            y: 0.0,
            rotation: 0.0,
        },
    )
}

/// A 230 V outlet at (`x`, `y`) on level 1.
pub fn outlet(tag: &str, x: f64, y: f64) -> NewElement {
    NewElement::new(
        ElementKind::Outlet,
        tag,
        FloorId::new("level-1"),
        LayerId::new("electrical"),
        Geometry::Point,
        Transform {
            x,
            y,
            rotation: 0.0,
        },
    )
    .with_prop("voltage", PropValue::Number(230.0), None)
}

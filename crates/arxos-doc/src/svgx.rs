//! SVGX: SVG plus building semantics in the `arx:` XML namespace.
//!
//! [`export`] writes a plan as an SVG any viewer can show (floors as groups, layers as groups
//! coloured by the layer, equipment as markers) while every piece of the model travels in
//! `arx:` attributes, so that [`import`] of an export gives back the same plan: same ids, tags,
//! floors, layers, geometry (full `f64` precision), properties with their types and units,
//! references and z-order.
//!
//! Import reads SVGX semantics from the raw XML (roxmltree). Elements *without* `arx:kind`
//! (a plain SVG drawing, or decorations in an SVGX file) go through `usvg`, which resolves
//! CSS, `use`, transforms and shapes into absolute paths; they become `path` elements on the
//! annotation layer, with their SVG group recorded in the `group` property. SVGX elements do
//! not go through usvg on purpose: it works in `f32` and turns shapes into paths, which would
//! break the export → import law. usvg reads the file with every SVGX element cut out, so an
//! element is imported once: from its semantics, or, when they are damaged (a NaN, `1e400`,
//! geometry out of range), not at all, with a warning naming it by line, element and id. A
//! plain shape with such a number in its geometry (which usvg would read as 0) is cut out and
//! named in a warning the same way, never imported as zeroed geometry.

mod damage;
pub mod export;
pub mod import;
mod plain;

pub use export::{ExportOptions, LeftOut, export_svgx, left_out};
pub use import::{ImportReport, import_svg};

/// The SVGX namespace URI.
pub const NS: &str = "https://arxos.studio/ns/svgx/1";
/// The SVG namespace URI.
pub const SVG_NS: &str = "http://www.w3.org/2000/svg";
/// Marker radius for point equipment in exported drawings (document units).
pub const POINT_MARKER_R: f64 = 90.0;

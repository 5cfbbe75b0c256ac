//! Damaged elements of an SVG file, found in the one pass over its elements before import:
//! which numbers a plain shape must not carry, how a warning names an element, and the text
//! usvg reads with the skipped elements cut out.
//!
//! usvg does not refuse a bad number in a plain shape: svgtypes rejects `NaN`, `inf` and
//! `1e400`, and usvg then reads the attribute as absent, so `<rect x="NaN">` would land at 0
//! and `<path d="M 0 0 L 1e400 0">` would lose the segment. Such a shape is damaged or hostile,
//! never a drawing: it is skipped with a warning, as a damaged SVGX element is. So is a shape
//! whose geometry is not even a number (`x="abc"`), which usvg reads the same way.

use std::ops::Range;

use usvg::roxmltree::Node;

use crate::geometry::{MAX_COORD, in_range};

use super::SVG_NS;
use super::import::{arx, plain};

/// Line numbers of positions met in increasing order, counted once: warnings about a file
/// with many damaged elements cost one pass over the text, not one per warning.
pub(super) struct Lines<'t> {
    text: &'t str,
    pos: usize,
    line: usize,
}

impl<'t> Lines<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte offset `pos`.
    fn at(&mut self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        if pos < self.pos || !self.text.is_char_boundary(pos) {
            *self = Self::new(self.text);
            if !self.text.is_char_boundary(pos) {
                return self.line;
            }
        }
        self.line += self.text[self.pos..pos].matches('\n').count();
        self.pos = pos;
        self.line
    }
}

/// How a warning names an element of the file: its line, its element name and `id` (or
/// `arx:tag` when it has no id).
pub(super) fn describe(lines: &mut Lines<'_>, n: &Node<'_, '_>) -> String {
    let line = lines.at(n.range().start);
    let name = n.tag_name().name();
    match (plain(n, "id"), arx(n, "tag")) {
        (Some(id), _) => format!("line {line}: <{name} id=\"{id}\">"),
        (None, Some(tag)) => format!("line {line}: <{name} arx:tag=\"{tag}\">"),
        (None, None) => format!("line {line}: <{name}>"),
    }
}

/// The attributes holding numbers that usvg reads to draw or place a plain element. Elements
/// not listed (gradients, text, filters…) do not become plain paths.
fn geometry_attributes(element: &str) -> &'static [&'static str] {
    match element {
        "rect" => &["x", "y", "width", "height", "rx", "ry", "transform"],
        "circle" => &["cx", "cy", "r", "transform"],
        "ellipse" => &["cx", "cy", "rx", "ry", "transform"],
        "line" => &["x1", "y1", "x2", "y2", "transform"],
        "polyline" | "polygon" => &["points", "transform"],
        "path" => &["d", "transform"],
        // Containers: a bad offset or transform would move everything inside.
        "g" | "a" | "switch" => &["transform"],
        "use" | "svg" => &["x", "y", "width", "height", "transform"],
        _ => &[],
    }
}

/// Why the plain SVG element `n` (not the root `<svg>`) is damaged: the first of its geometry
/// attributes (or stroke width, or `transform` or `stroke-width` in its `style`) holding a
/// number that is not finite or beyond [`MAX_COORD`], or text usvg cannot read as what the
/// attribute holds (`x="abc"`, which usvg would read as 0); `None` when it has none.
pub(super) fn plain_damage(n: &Node<'_, '_>) -> Option<String> {
    if n.tag_name().namespace() != Some(SVG_NS) {
        return None;
    }
    let geometry = geometry_attributes(n.tag_name().name());
    if geometry.is_empty() {
        return None;
    }
    let own = geometry
        .iter()
        .chain(&["stroke-width"])
        .find_map(|&name| value_damage(name, plain(n, name)?, true));
    own.or_else(|| {
        simplecss::DeclarationTokenizer::from(plain(n, "style")?)
            .filter(|d| matches!(d.name, "transform" | "stroke-width"))
            // CSS writes transforms with units (`rotate(45deg)`): only their numbers are
            // checked, not their syntax.
            .find_map(|d| value_damage(d.name, d.value, d.name != "transform"))
            .map(|why| format!("style {why}"))
    })
}

/// Why `value` of attribute `name` is damaged: a bad number (always), or, when `syntax`,
/// text that is not what the attribute holds.
fn value_damage(name: &str, value: &str, syntax: bool) -> Option<String> {
    if let Some(bad) = bad_number(value) {
        return Some(if value.trim() == bad {
            format!("{name}=\"{bad}\" is not a finite number within ±{MAX_COORD:e}")
        } else {
            format!("{name} holds {bad}, not a finite number within ±{MAX_COORD:e}")
        });
    }
    if !syntax || value.trim().is_empty() {
        return None;
    }
    let what = match name {
        "transform" => value
            .parse::<svgtypes::Transform>()
            .is_err()
            .then_some("a transform"),
        "points" => svgtypes::NumberListParser::from(value)
            .any(|n| n.is_err())
            .then_some("a list of points"),
        "d" => svgtypes::PathParser::from(value)
            .any(|s| s.is_err())
            .then_some("path data"),
        "width" | "height" | "rx" | "ry" if value == "auto" => None,
        _ => value
            .parse::<svgtypes::Length>()
            .is_err()
            .then_some("a length"),
    }?;
    Some(format!("{name}=\"{}\" is not {what}", shortened(value)))
}

/// `value` cut to a length a warning line can show.
fn shortened(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}

/// The first number written in `value` (a length, a list of points, path data, a transform)
/// that is not finite or beyond [`MAX_COORD`], as written: `NaN`, `inf`, `1e400`, `2e9`.
/// Numbers are read as svgtypes reads them (sign, digits, fraction, exponent, not the `e` of
/// an `em` or `ex` unit), so the check sees what usvg would have zeroed.
fn bad_number(value: &str) -> Option<&str> {
    let b = value.as_bytes();
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let starts_number = |i: usize| b.get(i).is_some_and(|&c| c.is_ascii_digit() || c == b'.');
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i].is_ascii_alphabetic() {
            // A word: a path command, a transform's name, a unit, or a non-number.
            while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                i += 1;
            }
            // Path commands may be glued to it (`LNaN`); no command, unit or transform name
            // holds `nan` or `inf`.
            let word = &value[start..i];
            let lower = word.to_ascii_lowercase();
            if let Some(at) = lower.find("nan").or_else(|| lower.find("inf")) {
                let len = if lower[at..].starts_with("infinity") {
                    8
                } else {
                    3
                };
                return Some(&word[at..at + len]);
            }
        } else if starts_number(i) || (matches!(b[i], b'+' | b'-') && starts_number(i + 1)) {
            if !b[i].is_ascii_digit() && b[i] != b'.' {
                i += 1;
            }
            i = digits(i);
            if b.get(i) == Some(&b'.') {
                i = digits(i + 1);
            }
            if matches!(b.get(i), Some(b'e' | b'E')) {
                let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
                if b.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
                    i = digits(i + 1 + sign);
                }
            }
            let token = &value[start..i];
            if token.parse::<f64>().is_ok_and(|v| !in_range(v)) {
                return Some(token);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Element ranges to cut out of the text, in document order; a range inside one already cut
/// (a child of a skipped element) is not added again.
#[derive(Default)]
pub(super) struct Cuts(Vec<Range<usize>>);

impl Cuts {
    /// Whether `n` lies inside an element already cut out. Elements are met in document order
    /// (pre-order), so only the last cut can contain it.
    pub(super) fn contain(&self, n: &Node<'_, '_>) -> bool {
        self.0.last().is_some_and(|r| n.range().start < r.end)
    }

    /// Cuts `n`, with all it contains.
    pub(super) fn add(&mut self, n: &Node<'_, '_>) {
        if !self.contain(n) {
            self.0.push(n.range());
        }
    }

    /// Whether nothing is cut.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` without the cut elements: what usvg reads for the plain shapes, so that an
    /// SVGX element is imported from its semantics (or skipped) and a damaged plain shape is
    /// skipped, never also, or instead, imported as a zeroed plain path.
    pub(super) fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for r in &self.0 {
            if r.start < at || r.end > text.len() || !text.is_char_boundary(r.start) {
                continue;
            }
            out.push_str(&text[at..r.start]);
            at = r.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{bad_number, value_damage};

    #[test]
    fn text_that_is_not_what_the_attribute_holds_is_named() {
        for (name, value, what) in [
            ("x", "abc", "a length"),
            ("width", "10 apples", "a length"),
            ("transform", "translate(10,", "a transform"),
            ("transform", "spin(45)", "a transform"),
            ("points", "0,0 10,x", "a list of points"),
            ("d", "M 0 0 L 10 oops", "path data"),
            ("d", "L 10 10", "path data"),
            ("stroke-width", "thick", "a length"),
        ] {
            let why = value_damage(name, value, true).unwrap_or_default();
            assert!(
                why.ends_with(&format!("is not {what}")),
                "{name}={value}: {why}"
            );
        }
        for (name, value) in [
            ("x", "10"),
            ("x", "-2.5mm"),
            ("width", "50%"),
            ("width", "auto"),
            ("y", ""),
            ("transform", "rotate(45) translate(1 2)"),
            ("points", "0,0 10,10 5-5"),
            ("d", "M0,0L.5.5l10-3z"),
            ("stroke-width", "0.5"),
        ] {
            assert_eq!(value_damage(name, value, true), None, "{name}={value}");
        }
        // Without the syntax check (CSS transforms) only numbers count.
        assert_eq!(value_damage("transform", "rotate(45deg)", false), None);
        assert!(value_damage("transform", "rotate(NaN)", false).is_some());
        let long = "M 0 0 L 1 1 ".repeat(20) + "oops";
        let why = value_damage("d", &long, true).unwrap_or_default();
        assert!(why.contains('…') && why.len() < 120, "{why}");
    }

    #[test]
    fn numbers_beyond_range_or_not_finite_are_found_as_written() {
        for (value, bad) in [
            ("NaN", "NaN"),
            (" -inf", "inf"),
            ("Infinity", "Infinity"),
            ("1e400", "1e400"),
            ("-2e9", "-2e9"),
            ("0,0 10,10 1e400,0", "1e400"),
            ("M 0 0 L 1e400 0", "1e400"),
            ("M0,0L.5.5l1E+10-3z", "1E+10"),
            ("matrix(1 0 0 1 NaN 0)", "NaN"),
            ("M 0 0 LNaN 0", "NaN"),
            ("M 0 0 Linfinity", "infinity"),
            ("translate(1000000001)", "1000000001"),
        ] {
            assert_eq!(bad_number(value), Some(bad), "{value}");
        }
        for value in [
            "0",
            "-5.5e-3",
            "1e9",
            "10mm",
            "2em",
            "3ex",
            "50%",
            "M0,0L.5.5l10-3z",
            "a10 10 0 1020 20",
            "rotate(45) scale(2) skewX(10)",
            "1e-400",
            "",
        ] {
            assert_eq!(bad_number(value), None, "{value}");
        }
    }
}

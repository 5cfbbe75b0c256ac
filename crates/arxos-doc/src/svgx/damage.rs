//! Damaged elements of an SVG file, found in the one pass over its elements before import:
//! which numbers a plain shape must not carry, how a warning names an element, and the text
//! usvg reads with the skipped elements cut out.
//!
//! usvg does not refuse a bad number in a plain shape: svgtypes rejects `NaN`, `inf` and
//! `1e400`, and usvg then reads the attribute as absent, so `<rect x="NaN">` would land at 0
//! and `<path d="M 0 0 L 1e400 0">` would lose the segment. Such a shape is damaged or hostile,
//! never a drawing: it is skipped with a warning, as a damaged SVGX element is.

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
/// attributes holding a number that is not finite or beyond [`MAX_COORD`]; `None` when it has
/// none.
pub(super) fn plain_damage(n: &Node<'_, '_>) -> Option<String> {
    if n.tag_name().namespace() != Some(SVG_NS) {
        return None;
    }
    geometry_attributes(n.tag_name().name())
        .iter()
        .find_map(|&name| {
            let value = plain(n, name)?;
            let bad = bad_number(value)?;
            Some(if value.trim() == bad {
                format!("{name}=\"{bad}\" is not a finite number within ±{MAX_COORD:e}")
            } else {
                format!("{name} holds {bad}, not a finite number within ±{MAX_COORD:e}")
            })
        })
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
    use super::bad_number;

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

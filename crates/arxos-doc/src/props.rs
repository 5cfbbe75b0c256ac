//! Well-known property names, their value types and default units, and name/tag syntax.

use crate::error::DocError;
use crate::model::PropValue;

/// The type a well-known property must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropType {
    /// A number.
    Number,
    /// Text.
    Text,
    /// A flag.
    Bool,
}

impl PropType {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Text => "string",
            Self::Bool => "bool",
        }
    }

    /// The type of a value.
    pub fn of(v: &PropValue) -> Self {
        match v {
            PropValue::Number(_) => Self::Number,
            PropValue::Text(_) => Self::Text,
            PropValue::Bool(_) => Self::Bool,
        }
    }

    /// Whether `v` has this type.
    pub fn accepts(self, v: &PropValue) -> bool {
        matches!(
            (self, v),
            (Self::Number, PropValue::Number(_))
                | (Self::Text, PropValue::Text(_))
                | (Self::Bool, PropValue::Bool(_))
        )
    }
}

/// Properties every tool agrees on: (name, type, default unit).
pub const KNOWN: &[(&str, PropType, Option<&str>)] = &[
    ("voltage", PropType::Number, Some("V")),
    ("amperage", PropType::Number, Some("A")),
    ("wattage", PropType::Number, Some("W")),
    ("phase", PropType::Number, None),
    ("poles", PropType::Number, None),
    ("thickness", PropType::Number, Some("mm")),
    ("width", PropType::Number, Some("mm")),
    ("height", PropType::Number, Some("mm")),
    ("diameter", PropType::Number, Some("mm")),
    ("airflow", PropType::Number, Some("m3/h")),
    ("lumens", PropType::Number, Some("lm")),
    ("area", PropType::Number, Some("m2")),
    ("name", PropType::Text, None),
    ("number", PropType::Text, None),
    ("fire_rating", PropType::Text, None),
    ("gfci", PropType::Bool, None),
    ("emergency", PropType::Bool, None),
    ("dedicated", PropType::Bool, None),
];

/// The schema entry of a well-known property.
pub fn known(name: &str) -> Option<(PropType, Option<&'static str>)> {
    KNOWN
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, u)| (*t, *u))
}

/// Property and reference names: letters, digits, `_` and `-` (no `.`, which separates a tag
/// from a property on the command line).
pub fn validate_name(name: &str) -> Result<(), DocError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(DocError::InvalidPropertyName(name.to_owned()))
    }
}

/// The element's own fields, which a property must not be named after, each with the way to
/// change it: `set wall.x=5` would add a property `x` beside the position, not move the wall.
pub const ELEMENT_FIELDS: &[(&str, &str)] = &[
    ("id", "an element's id never changes"),
    (
        "kind",
        "an element's kind never changes (create a new element)",
    ),
    ("tag", "rename with a `SetTag` command (`arxos apply`)"),
    ("floor", "use a `SetFloor` command (`arxos apply`)"),
    ("layer", "use a `SetLayer` command (`arxos apply`)"),
    ("x", "use `arxos move --dx` (or a `MoveTo` command)"),
    ("y", "use `arxos move --dy` (or a `MoveTo` command)"),
    ("rotation", "use a `Rotate` command (`arxos apply`)"),
    ("geometry", "use a `SetGeometry` command (`arxos apply`)"),
    ("geom", "use a `SetGeometry` command (`arxos apply`)"),
    (
        "transform",
        "use `arxos move` or a `MoveTo`/`Rotate` command",
    ),
    ("text", "use a `SetText` command (`arxos apply`)"),
    ("style", "use a `SetStyle` command (`arxos apply`)"),
    ("stroke", "use a `SetStyle` command (`arxos apply`)"),
    ("fill", "use a `SetStyle` command (`arxos apply`)"),
    ("stroke_width", "use a `SetStyle` command (`arxos apply`)"),
    ("z", "use a `Reorder` command (`arxos apply`)"),
    ("deleted", "use `arxos delete` or `arxos restore`"),
];

/// Refuses a new property named like an element field (see [`ELEMENT_FIELDS`]), or with a
/// name [`validate_name`] refuses.
pub fn check_new_property_name(name: &str) -> Result<(), DocError> {
    validate_name(name)?;
    match ELEMENT_FIELDS
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(name))
    {
        Some((_, how)) => Err(DocError::ElementField {
            name: name.to_owned(),
            how,
        }),
        None => Ok(()),
    }
}

/// Tags: 1–200 characters, no whitespace, no `.` or `=` (the CLI's `TAG.prop=value` syntax).
pub fn validate_tag(tag: &str) -> Result<(), DocError> {
    let reason = if tag.is_empty() {
        "a tag cannot be empty"
    } else if tag.chars().count() > 200 {
        "a tag is at most 200 characters"
    } else if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "a tag cannot contain spaces or control characters"
    } else if tag.contains('.') || tag.contains('=') {
        "a tag cannot contain `.` or `=`"
    } else {
        return Ok(());
    };
    Err(DocError::InvalidTag {
        tag: tag.to_owned(),
        reason,
    })
}

/// Rejects control characters other than tab, newline and carriage return: XML (and so SVGX
/// export) cannot carry them, and they are never intended in a drawing.
pub fn check_text(what: &str, text: Option<&str>) -> Result<(), DocError> {
    match text.and_then(|t| {
        t.chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    }) {
        Some(c) => Err(DocError::ControlCharacter {
            what: what.to_owned(),
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// Splits `TAG.prop` at the last `.` (tags cannot contain one).
pub fn split_tag_prop(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('.') {
        Some((tag, prop)) => (tag, Some(prop)),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_names() {
        assert!(validate_tag("outlet:R45-23").is_ok());
        assert!(validate_tag("a b").is_err());
        assert!(validate_tag("a.b").is_err());
        assert!(validate_tag("").is_err());
        assert!(validate_name("voltage").is_ok());
        assert!(validate_name("volt.age").is_err());
        assert_eq!(
            split_tag_prop("outlet:R45-23.voltage"),
            ("outlet:R45-23", Some("voltage"))
        );
        assert_eq!(split_tag_prop("outlet:R45-23"), ("outlet:R45-23", None));
    }

    #[test]
    fn a_property_cannot_be_named_like_an_element_field() {
        for field in [
            "x", "y", "kind", "layer", "tag", "floor", "rotation", "Layer",
        ] {
            let e = check_new_property_name(field).unwrap_err().to_string();
            assert!(e.contains("not a property"), "{field}: {e}");
        }
        assert!(check_new_property_name("voltage").is_ok());
        assert!(check_new_property_name("x_offset").is_ok());
        assert!(check_new_property_name("a.b").is_err());
    }
}

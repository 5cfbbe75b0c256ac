//! Values typed by a person — a command-line argument, an inspector field — read as the type
//! the property already has, or else its well-known type ([`crate::props::KNOWN`]).
//!
//! Text is the ambiguous case: `05` typed for a text property must stay the text `05`, and
//! `240` typed for a number property must become the number 240. Reading by the property's
//! type, rather than by what the text looks like, is what keeps a room `number` from turning
//! into a float after one edit. Surrounding quotes force text (`"240"`), as everywhere on the
//! command line.

use crate::conflict::Conflict;
use crate::document::Document;
use crate::error::{DocError, Result};
use crate::ids::ElementId;
use crate::model::PropValue;
use crate::props::{self, PropType};

/// The type a new value for `property` of element `id` should have: the type of the value it
/// holds now, else the well-known type of its name, else `None` (anything goes).
pub fn expected_type(doc: &Document, id: &ElementId, property: &str) -> Option<PropType> {
    doc.element(id)
        .and_then(|e| e.props.get(property))
        .map(|p| PropType::of(&p.value))
        .or_else(|| props::known(property).map(|(t, _)| t))
}

/// Reads `raw` as a value of type `expected` (`None`: whatever it looks like, see
/// [`PropValue::parse_loose`]). `element` and `property` only name the target in the error.
///
/// Numbers and flags may carry surrounding spaces; text is kept as typed, minus one pair of
/// surrounding quotes.
pub fn parse_typed(
    raw: &str,
    expected: Option<PropType>,
    element: &str,
    property: &str,
) -> Result<PropValue> {
    let mismatch = |ty: PropType| DocError::WrongPropertyType {
        element: element.to_owned(),
        property: property.to_owned(),
        expected: ty.name(),
        found: PropValue::parse_loose(raw.trim()).type_name(),
    };
    match expected {
        None => Ok(PropValue::parse_loose(raw)),
        Some(PropType::Text) => Ok(PropValue::Text(
            raw.strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(raw)
                .to_owned(),
        )),
        Some(ty @ PropType::Number) => raw
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(PropValue::Number)
            .ok_or_else(|| mismatch(ty)),
        Some(ty @ PropType::Bool) => match raw.trim() {
            "true" => Ok(PropValue::Bool(true)),
            "false" => Ok(PropValue::Bool(false)),
            _ => Err(mismatch(ty)),
        },
    }
}

/// Reads `raw` as a new value for `property` of element `id` (shown as `label`, usually its
/// tag, in errors): the `set` command's and the inspector's reading. A property the element
/// does not have yet must have a valid name that is not one of the element's own fields
/// ([`props::check_new_property_name`]: `x`, `layer`, `kind`...).
pub fn property_value(
    doc: &Document,
    id: &ElementId,
    label: &str,
    property: &str,
    raw: &str,
) -> Result<PropValue> {
    if !doc
        .element(id)
        .is_some_and(|e| e.props.contains_key(property))
    {
        props::check_new_property_name(property)?;
    }
    parse_typed(raw, expected_type(doc, id, property), label, property)
}

/// Reads `raw` as a value of one's own for conflict `c`: typed like the competing values (the
/// base when no side has one), else by the well-known type of the property.
pub fn conflict_value(c: &Conflict, raw: &str) -> Result<PropValue> {
    let key = c.property.as_deref().unwrap_or_default();
    // Conflict keys are document keys (`props.voltage`, `x`); people know the property name.
    let name = key.strip_prefix("props.").unwrap_or(key);
    let expected = [c.local.as_ref(), c.remote.as_ref()]
        .into_iter()
        .flatten()
        .chain(&c.others)
        .find_map(|s| s.value.as_ref())
        .or(c.base.as_ref())
        .map(PropType::of)
        .or_else(|| props::known(name).map(|(t, _)| t));
    parse_typed(raw, expected, &c.tag, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conflict::{ConflictType, Severity, Side};

    #[test]
    fn raw_text_is_read_as_the_expected_type() {
        let t = |raw, ty| parse_typed(raw, ty, "room:101", "p");
        assert_eq!(
            t("05", Some(PropType::Text)).unwrap(),
            PropValue::Text("05".into())
        );
        assert_eq!(
            t("\"a b\"", Some(PropType::Text)).unwrap(),
            PropValue::Text("a b".into())
        );
        assert_eq!(
            t(" 240 ", Some(PropType::Number)).unwrap(),
            PropValue::Number(240.0)
        );
        assert_eq!(
            t("false", Some(PropType::Bool)).unwrap(),
            PropValue::Bool(false)
        );
        assert_eq!(t("240", None).unwrap(), PropValue::Number(240.0));
        assert_eq!(t("yes", None).unwrap(), PropValue::Text("yes".into()));
    }

    #[test]
    fn a_mismatch_names_element_property_and_both_types() {
        let e = parse_typed("lots", Some(PropType::Number), "outlet:R1", "voltage").unwrap_err();
        assert_eq!(
            e.to_string(),
            "property `voltage` of `outlet:R1` is a number, not a string"
        );
        let e = parse_typed("1", Some(PropType::Bool), "outlet:R1", "gfci").unwrap_err();
        assert_eq!(
            e.to_string(),
            "property `gfci` of `outlet:R1` is a bool, not a number"
        );
        // Infinity parses as an f64 but is no usable value.
        assert!(parse_typed("inf", Some(PropType::Number), "x", "y").is_err());
    }

    fn side(v: Option<PropValue>) -> Side {
        Side {
            value: v,
            author: "a".into(),
            time_ms: 0,
            change: String::new(),
        }
    }

    fn conflict(key: &str, local: Option<PropValue>, base: Option<PropValue>) -> Conflict {
        Conflict {
            id: "c1".into(),
            kind: ConflictType::Property,
            severity: Severity::Medium,
            element: ElementId::new("e1"),
            tag: "outlet:R1".into(),
            property: Some(key.into()),
            unit: None,
            base,
            local: Some(side(local)),
            remote: Some(side(None)),
            others: vec![],
            related: vec![],
            message: String::new(),
        }
    }

    #[test]
    fn conflict_values_follow_the_competing_values() {
        let c = conflict("props.voltage", Some(PropValue::Number(230.0)), None);
        assert_eq!(conflict_value(&c, "400").unwrap(), PropValue::Number(400.0));
        let e = conflict_value(&c, "high").unwrap_err().to_string();
        assert!(e.contains("`voltage` of `outlet:R1` is a number"), "{e}");
        // No side has a value: the base decides, then the well-known type.
        let c = conflict("props.name", None, Some(PropValue::Text("Lab".into())));
        assert_eq!(
            conflict_value(&c, "12").unwrap(),
            PropValue::Text("12".into())
        );
        let c = conflict("props.gfci", None, None);
        assert_eq!(conflict_value(&c, "true").unwrap(), PropValue::Bool(true));
    }
}

//! The checks an element's own values must pass, needing no plan: text without control
//! characters, a valid shape and a finite position in range, well-formed property and
//! reference names, finite numbers and the types well-known properties must have.
//!
//! The batch planner runs them on every element it stages; importers run them on each element
//! before the batch ([`crate::command::NewElement::check_values`]), so that one damaged element
//! is skipped with a warning naming it instead of refusing the whole file.

use std::collections::BTreeMap;

use crate::error::{DocError, Result};
use crate::geometry::{MAX_COORD, in_range, num_text};
use crate::ids::ElementId;
use crate::model::{Geometry, PropValue, Property, Style, Transform};
use crate::props;

/// An element's own values, borrowed from an `Element` or a `NewElement`.
pub(crate) struct OwnValues<'a> {
    /// How messages name the element (its tag, or its id when it has none).
    pub name: &'a str,
    pub geometry: &'a Geometry,
    pub transform: &'a Transform,
    pub style: &'a Style,
    pub text: Option<&'a str>,
    pub props: &'a BTreeMap<String, Property>,
    pub refs: &'a BTreeMap<String, ElementId>,
}

impl OwnValues<'_> {
    /// The text checks: what XML (and so SVGX export) could not carry.
    pub fn check_text(&self) -> Result<()> {
        let name = self.name;
        props::check_text(&format!("text of {name}"), self.text)?;
        props::check_text(&format!("style of {name}"), self.style.stroke.as_deref())?;
        props::check_text(&format!("style of {name}"), self.style.fill.as_deref())?;
        for (k, p) in self.props {
            if let PropValue::Text(t) = &p.value {
                props::check_text(&format!("{name}.{k}"), Some(t))?;
            }
            props::check_text(&format!("unit of {name}.{k}"), p.unit.as_deref())?;
        }
        Ok(())
    }

    /// Shape, position, property and reference names, numbers and types.
    pub fn check_values(&self) -> Result<()> {
        let name = self.name;
        self.geometry.validate()?;
        let t = self.transform;
        if !(t.x.is_finite() && t.y.is_finite() && t.rotation.is_finite()) {
            return Err(DocError::InvalidGeometry(
                "position and rotation must be finite numbers".into(),
            ));
        }
        if !(in_range(t.x) && in_range(t.y)) {
            return Err(DocError::InvalidGeometry(format!(
                "{name}: position ({}, {}) is out of range (at most {MAX_COORD:e} either way)",
                num_text(t.x),
                num_text(t.y)
            )));
        }
        if let Some(w) = self.style.stroke_width
            && !(w.is_finite() && (0.0..=MAX_COORD).contains(&w))
        {
            return Err(DocError::InvalidGeometry(format!(
                "{name}: stroke width {w} is not a number from 0 to {MAX_COORD:e}"
            )));
        }
        for (k, p) in self.props {
            props::validate_name(k)?;
            if let PropValue::Number(n) = p.value
                && !n.is_finite()
            {
                return Err(DocError::Parse {
                    what: "a finite number",
                    input: format!("{name}.{k} = {n}"),
                });
            }
            if let Some((ty, _)) = props::known(k)
                && !ty.accepts(&p.value)
            {
                return Err(DocError::WrongPropertyType {
                    element: name.to_owned(),
                    property: k.clone(),
                    expected: ty.name(),
                    found: p.value.type_name(),
                });
            }
        }
        for k in self.refs.keys() {
            props::validate_name(k)?;
        }
        Ok(())
    }
}

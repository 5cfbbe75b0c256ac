//! Stable identifiers of elements, floors and layers.
//!
//! Ids are random and never reused, so two offline replicas can create elements at the same
//! time without colliding. Tags (`outlet:R45-23`) are the human names; ids are the keys.

use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id, unique across replicas.
            pub fn random() -> Self {
                Self(format!(concat!($prefix, "{}"), uuid::Uuid::new_v4().simple()))
            }

            /// Wraps an existing id string (read from a document or typed by a user).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_id!(
    /// Identifies one element (wall, door, outlet...) for its whole life.
    ElementId,
    "e"
);
string_id!(
    /// Identifies one floor of the building.
    FloorId,
    "f"
);
string_id!(
    /// Identifies one layer (a building system's drawing layer).
    LayerId,
    "l"
);

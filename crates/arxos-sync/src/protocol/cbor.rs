//! Small helpers to read and write CBOR maps with text keys.

use ciborium::Value;

use super::ProtocolError;

/// Decodes one CBOR value from `bytes`, refusing trailing garbage.
pub(crate) fn decode_value(bytes: &[u8]) -> Result<Value, ProtocolError> {
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, 64)
        .map_err(|err| ProtocolError::Cbor(err.to_string()))?;
    if !reader.is_empty() {
        return Err(ProtocolError::Cbor(format!(
            "{} trailing bytes after the message",
            reader.len()
        )));
    }
    Ok(value)
}

/// Encodes one CBOR value.
pub(crate) fn encode_value(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail with an I/O error, and every `Value` we build is encodable.
    if let Err(err) = ciborium::ser::into_writer(value, &mut out) {
        tracing::error!(%err, "CBOR encoding into memory failed");
    }
    out
}

/// A borrowed view of a CBOR map with text keys.
pub(crate) struct MapView<'a> {
    pub(crate) kind: String,
    entries: &'a [(Value, Value)],
}

impl<'a> MapView<'a> {
    pub(crate) fn new(value: &'a Value) -> Result<Self, ProtocolError> {
        let Value::Map(entries) = value else {
            return Err(ProtocolError::Shape("expected a CBOR map".into()));
        };
        let kind = entries
            .iter()
            .find_map(|(k, v)| match (k, v) {
                (Value::Text(k), Value::Text(v)) if k == "type" => Some(v.clone()),
                _ => None,
            })
            .ok_or_else(|| ProtocolError::Shape("missing text field `type`".into()))?;
        Ok(Self { kind, entries })
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.entries.iter().find_map(|(k, v)| match k {
            Value::Text(k) if k == field => match v {
                Value::Null => None,
                other => Some(other),
            },
            _ => None,
        })
    }

    fn missing(&self, field: &'static str) -> ProtocolError {
        ProtocolError::MissingField {
            kind: self.kind.clone(),
            field,
        }
    }

    pub(crate) fn text(&self, field: &'static str) -> Result<String, ProtocolError> {
        match self.get(field) {
            Some(Value::Text(t)) => Ok(t.clone()),
            Some(_) => Err(ProtocolError::WrongType { field }),
            None => Err(self.missing(field)),
        }
    }

    pub(crate) fn opt_text(&self, field: &'static str) -> Result<Option<String>, ProtocolError> {
        match self.get(field) {
            Some(Value::Text(t)) => Ok(Some(t.clone())),
            None => Ok(None),
            Some(_) => Err(ProtocolError::WrongType { field }),
        }
    }

    pub(crate) fn bytes(&self, field: &'static str) -> Result<Vec<u8>, ProtocolError> {
        match self.get(field) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            // cbor-x may tag typed arrays; accept a tagged byte string too.
            Some(Value::Tag(_, inner)) => match inner.as_ref() {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(ProtocolError::WrongType { field }),
            },
            Some(_) => Err(ProtocolError::WrongType { field }),
            None => Err(self.missing(field)),
        }
    }

    pub(crate) fn uint(&self, field: &'static str) -> Result<u64, ProtocolError> {
        match self.get(field) {
            Some(Value::Integer(i)) => {
                u64::try_from(*i).map_err(|_| ProtocolError::WrongType { field })
            }
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15 => Ok(*f as u64),
            Some(_) => Err(ProtocolError::WrongType { field }),
            None => Err(self.missing(field)),
        }
    }

    pub(crate) fn text_list(&self, field: &'static str) -> Result<Vec<String>, ProtocolError> {
        match self.get(field) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Text(t) => Ok(t.clone()),
                    _ => Err(ProtocolError::WrongType { field }),
                })
                .collect(),
            Some(_) => Err(ProtocolError::WrongType { field }),
            None => Err(self.missing(field)),
        }
    }
}

/// Builds a CBOR map with text keys.
#[derive(Default)]
pub(crate) struct MapBuilder(Vec<(Value, Value)>);

impl MapBuilder {
    pub(crate) fn new(kind: &str) -> Self {
        Self(vec![(Value::Text("type".into()), Value::Text(kind.into()))])
    }

    pub(crate) fn text(mut self, key: &str, value: &str) -> Self {
        self.0
            .push((Value::Text(key.into()), Value::Text(value.into())));
        self
    }

    pub(crate) fn value(mut self, key: &str, value: Value) -> Self {
        self.0.push((Value::Text(key.into()), value));
        self
    }

    pub(crate) fn bytes(self, key: &str, value: &[u8]) -> Self {
        self.value(key, Value::Bytes(value.to_vec()))
    }

    pub(crate) fn build(self) -> Value {
        Value::Map(self.0)
    }
}

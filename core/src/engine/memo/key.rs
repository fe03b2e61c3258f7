//! The arguments of a memoized call as a key: only immutable values qualify, since the
//! function could change a mutable argument and a later call could not tell.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use starlark::values::tuple::TupleRef;
use starlark::values::{UnpackValue, Value, ValueLike};

use super::super::go_value::{GoObject, IncusObject};

/// Positional then named arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallKey {
    positional: Vec<KeyValue>,
    named: Vec<(String, KeyValue)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyValue {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Tuple(Vec<KeyValue>),
    /// An Incus object (a candidate member, an instance): immutable, equal only to itself. The
    /// key holds it, so its address cannot be reused by another object while the key lives.
    Object(ObjectKey),
}

#[derive(Debug, Clone)]
struct ObjectKey(Arc<GoObject>);

impl PartialEq for ObjectKey {
    fn eq(&self, other: &ObjectKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ObjectKey {}

impl Hash for ObjectKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

impl CallKey {
    /// The key of these arguments, or `None` when one is mutable (or a kind not handled).
    pub fn of(positional: &[Value], named: &[(String, Value)]) -> Option<CallKey> {
        Some(CallKey {
            positional: positional
                .iter()
                .map(|value| KeyValue::of(*value))
                .collect::<Option<_>>()?,
            named: named
                .iter()
                .map(|(name, value)| Some((name.clone(), KeyValue::of(*value)?)))
                .collect::<Option<_>>()?,
        })
    }
}

impl KeyValue {
    fn of(value: Value) -> Option<KeyValue> {
        if value.is_none() {
            return Some(KeyValue::None);
        }
        if let Some(boolean) = value.unpack_bool() {
            return Some(KeyValue::Bool(boolean));
        }
        if let Some(text) = value.unpack_str() {
            return Some(KeyValue::Str(text.to_owned()));
        }
        if value.get_type() == "int" {
            // Beyond 64 bits: not a key.
            return i64::unpack_value(value).ok().flatten().map(KeyValue::Int);
        }
        if let Some(object) = value.downcast_ref::<IncusObject>() {
            return Some(KeyValue::Object(ObjectKey(object.0.clone())));
        }
        if let Some(tuple) = TupleRef::from_value(value) {
            return tuple
                .iter()
                .map(KeyValue::of)
                .collect::<Option<_>>()
                .map(KeyValue::Tuple);
        }
        None
    }
}

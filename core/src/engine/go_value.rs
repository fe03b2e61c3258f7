//! Go values as Incus hands them to a scriptlet, and their Starlark form.
//!
//! Incus marshals Go structs by reflection (`shared/scriptlet/marshal.go`): a struct becomes an
//! attribute-only object whose `type()` is the Go type name, a map becomes a dict with sorted
//! keys, a slice a list, a nil pointer `None`, a `time.Time` an empty object. [`GoValue`] is that
//! shape, built once from the snapshot and shared (`Arc`); [`IncusObject`] is the Starlark value
//! that exposes a struct's fields, converting each field only when the scriptlet reads it.

use std::fmt;
use std::sync::Arc;

use allocative::Allocative;
use starlark::values::dict::AllocDict;
use starlark::values::list::AllocList;
use starlark::values::{
    starlark_value, FrozenHeap, FrozenValue, Heap, NoSerialize, ProvidesStaticType, StarlarkValue, Value,
    ValueLike,
};
use starlark::{starlark_simple_value, StarlarkPagablePanic};

#[derive(Debug, Clone, PartialEq)]
pub enum GoValue {
    None,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    List(Vec<GoValue>),
    /// Sorted by key, as Incus sorts map keys.
    Map(Vec<(String, GoValue)>),
    Object(Arc<GoObject>),
    /// Already a Starlark value on a [`PreparedCluster`](super::PreparedCluster)'s frozen heap,
    /// shared by every evaluation: reading it allocates nothing. The evaluation's heap must
    /// reference that frozen heap (the engine adds the reference before each call).
    Frozen(FrozenValue),
}

/// A Go struct: its type name and its fields in declaration order (embedded structs flattened).
#[derive(Debug, Clone, PartialEq)]
pub struct GoObject {
    pub type_name: String,
    pub fields: Vec<(String, GoValue)>,
}

impl GoObject {
    pub fn new(type_name: &str) -> GoObject {
        GoObject {
            type_name: type_name.to_owned(),
            fields: Vec::new(),
        }
    }

    pub fn field(mut self, name: &str, value: impl Into<GoValue>) -> GoObject {
        self.fields.push((name.to_owned(), value.into()));
        self
    }

    pub fn get(&self, name: &str) -> Option<&GoValue> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value)
    }

    pub fn into_value(self) -> GoValue {
        GoValue::Object(Arc::new(self))
    }
}

impl GoValue {
    /// A map from any sorted string-keyed collection.
    pub fn map<'a, V: Into<GoValue> + Clone + 'a>(
        entries: impl IntoIterator<Item = (&'a String, &'a V)>,
    ) -> GoValue {
        let mut pairs: Vec<(String, GoValue)> = entries
            .into_iter()
            .map(|(key, value)| (key.clone(), value.clone().into()))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        GoValue::Map(pairs)
    }

    pub fn strings(items: &[String]) -> GoValue {
        GoValue::List(items.iter().map(|item| GoValue::Str(item.clone())).collect())
    }

    /// The Starlark value of this Go value, allocated on `heap`.
    pub fn to_starlark<'v>(&self, heap: Heap<'v>) -> Value<'v> {
        match self {
            GoValue::None => Value::new_none(),
            GoValue::Bool(value) => Value::new_bool(*value),
            GoValue::Int(value) => heap.alloc(*value),
            GoValue::UInt(value) => heap.alloc(*value),
            GoValue::Float(value) => heap.alloc(*value),
            GoValue::Str(value) => heap.alloc(value.as_str()),
            GoValue::List(items) => heap.alloc(AllocList(items.iter().map(|item| item.to_starlark(heap)))),
            GoValue::Map(pairs) => heap.alloc(AllocDict(
                pairs
                    .iter()
                    .map(|(key, value)| (heap.alloc(key.as_str()), value.to_starlark(heap))),
            )),
            GoValue::Object(object) => heap.alloc(IncusObject(object.clone())),
            GoValue::Frozen(value) => value.to_value(),
        }
    }

    /// This value converted once onto `heap`, objects and their fields included. Frozen
    /// values are immutable: a scriptlet that mutates a builtin's result (a dict or list of an
    /// object) gets an error where Incus would let it change its private copy.
    pub fn freeze(&self, heap: &FrozenHeap) -> FrozenValue {
        match self {
            GoValue::None => FrozenValue::new_none(),
            GoValue::Bool(value) => FrozenValue::new_bool(*value),
            GoValue::Int(value) => heap.alloc(*value),
            GoValue::UInt(value) => heap.alloc(*value),
            GoValue::Float(value) => heap.alloc(*value),
            GoValue::Str(value) => heap.alloc(value.as_str()),
            GoValue::List(items) => heap.alloc(AllocList(items.iter().map(|item| item.freeze(heap)))),
            GoValue::Map(pairs) => heap.alloc(AllocDict(
                pairs
                    .iter()
                    .map(|(key, value)| (heap.alloc(key.as_str()), value.freeze(heap))),
            )),
            GoValue::Object(object) => heap.alloc(IncusObject(Arc::new(GoObject {
                type_name: object.type_name.clone(),
                fields: object
                    .fields
                    .iter()
                    .map(|(name, value)| (name.clone(), GoValue::Frozen(value.freeze(heap))))
                    .collect(),
            }))),
            GoValue::Frozen(value) => *value,
        }
    }
}

impl From<String> for GoValue {
    fn from(value: String) -> GoValue {
        GoValue::Str(value)
    }
}

impl From<&str> for GoValue {
    fn from(value: &str) -> GoValue {
        GoValue::Str(value.to_owned())
    }
}

impl From<bool> for GoValue {
    fn from(value: bool) -> GoValue {
        GoValue::Bool(value)
    }
}

impl From<u64> for GoValue {
    fn from(value: u64) -> GoValue {
        GoValue::UInt(value)
    }
}

impl From<i64> for GoValue {
    fn from(value: i64) -> GoValue {
        GoValue::Int(value)
    }
}

impl From<GoObject> for GoValue {
    fn from(value: GoObject) -> GoValue {
        value.into_value()
    }
}

/// A JSON value kept verbatim in the snapshot (e.g. most of `/1.0/resources`), as Incus would
/// marshal the Go value it came from. JSON cannot tell a struct from a map, so `type_of` names
/// the Go type of the object at each path (`None`: a map).
pub fn from_json(
    value: &serde_json::Value,
    path: &str,
    type_of: &dyn Fn(&str) -> Option<&'static str>,
) -> GoValue {
    use serde_json::Value as Json;
    match value {
        Json::Null => GoValue::None,
        Json::Bool(value) => GoValue::Bool(*value),
        Json::Number(number) => number
            .as_i64()
            .map(GoValue::Int)
            .or_else(|| number.as_u64().map(GoValue::UInt))
            .unwrap_or_else(|| GoValue::Float(number.as_f64().unwrap_or_default())),
        Json::String(value) => GoValue::Str(value.clone()),
        Json::Array(items) => {
            let element_path = format!("{path}[]");
            GoValue::List(
                items
                    .iter()
                    .map(|item| from_json(item, &element_path, type_of))
                    .collect(),
            )
        }
        Json::Object(entries) => {
            let child = |key: &str| {
                if path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{path}.{key}")
                }
            };
            match type_of(path) {
                Some(type_name) => GoValue::Object(Arc::new(GoObject {
                    type_name: type_name.to_owned(),
                    fields: entries
                        .iter()
                        .map(|(key, value)| (key.clone(), from_json(value, &child(key), type_of)))
                        .collect(),
                })),
                None => {
                    let mut pairs: Vec<(String, GoValue)> = entries
                        .iter()
                        .map(|(key, value)| (key.clone(), from_json(value, &format!("{path}{{}}"), type_of)))
                        .collect();
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    GoValue::Map(pairs)
                }
            }
        }
    }
}

/// A Go struct seen from Starlark: attribute access only, `type()` is the Go type name
/// (through Berth's `type` builtin), always truthy, unhashable, equal only to itself, and
/// printed like a dict, as go.starlark.net prints Incus's objects.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct IncusObject(#[allocative(skip)] pub Arc<GoObject>);

starlark_simple_value!(IncusObject);

impl fmt::Display for IncusObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr_object(&self.0))
    }
}

#[starlark_value(type = "IncusObject")]
impl<'v> StarlarkValue<'v> for IncusObject {
    fn collect_repr(&self, collector: &mut String) {
        collector.push_str(&repr_object(&self.0));
    }

    fn to_bool(&self) -> bool {
        true
    }

    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        self.0.get(attribute).map(|value| value.to_starlark(heap))
    }

    fn has_attr(&self, attribute: &str, _heap: Heap<'v>) -> bool {
        self.0.get(attribute).is_some()
    }

    fn dir_attr(&self) -> Vec<String> {
        self.0.fields.iter().map(|(name, _)| name.clone()).collect()
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<IncusObject>()
            .is_some_and(|other| Arc::ptr_eq(&self.0, &other.0)))
    }
}

impl IncusObject {
    /// The Go type name, for Berth's `type()`.
    pub fn type_name(&self) -> &str {
        &self.0.type_name
    }
}

fn repr_object(object: &GoObject) -> String {
    let mut text = String::from("{");
    for (index, (name, value)) in object.fields.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        text.push_str(&quote(name));
        text.push_str(": ");
        repr_value(value, &mut text);
    }
    text.push('}');
    text
}

fn repr_value(value: &GoValue, text: &mut String) {
    match value {
        GoValue::None => text.push_str("None"),
        GoValue::Bool(true) => text.push_str("True"),
        GoValue::Bool(false) => text.push_str("False"),
        GoValue::Int(value) => text.push_str(&value.to_string()),
        GoValue::UInt(value) => text.push_str(&value.to_string()),
        GoValue::Float(value) => text.push_str(&value.to_string()),
        GoValue::Str(value) => text.push_str(&quote(value)),
        GoValue::List(items) => {
            text.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    text.push_str(", ");
                }
                repr_value(item, text);
            }
            text.push(']');
        }
        GoValue::Map(pairs) => {
            text.push('{');
            for (index, (key, value)) in pairs.iter().enumerate() {
                if index > 0 {
                    text.push_str(", ");
                }
                text.push_str(&quote(key));
                text.push_str(": ");
                repr_value(value, text);
            }
            text.push('}');
        }
        GoValue::Object(object) => text.push_str(&repr_object(object)),
        GoValue::Frozen(value) => value.to_value().collect_repr(text),
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

//! A memoized call's result, kept beyond the heap of the call that computed it.
//!
//! Each call of the function would return new lists and dicts: a result answered from memory
//! is a new copy too, so a caller that changes it changes only its own. Frozen values (a
//! global's, or a cluster object's) and Incus objects are immutable and returned as they are,
//! as the function would. A result that shares one mutable list or dict in two places is not
//! kept: copies could not share it.

use std::collections::HashSet;
use std::sync::Arc;

use starlark::values::dict::{AllocDict, DictRef};
use starlark::values::float::StarlarkFloat;
use starlark::values::list::{AllocList, ListRef};
use starlark::values::tuple::{AllocTuple, TupleRef};
use starlark::values::{FrozenValue, Heap, UnpackValue, Value, ValueIdentity, ValueLike};

use super::super::go_value::{GoObject, IncusObject};

#[derive(Debug, Clone)]
pub enum Cached {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Cached>),
    Tuple(Vec<Cached>),
    Dict(Vec<(Cached, Cached)>),
    Object(Arc<GoObject>),
    /// On the module's or the prepared cluster's frozen heap: both outlive the cache entry's
    /// use (an entry is used only for the cluster state it was computed on).
    Frozen(FrozenValue),
}

impl Cached {
    /// `value` as a kept result, or `None` when it cannot be copied faithfully.
    pub fn of(value: Value) -> Option<Cached> {
        Cached::copy(value, &mut HashSet::new())
    }

    fn copy<'v>(value: Value<'v>, shared: &mut HashSet<ValueIdentity<'v>>) -> Option<Cached> {
        if value.is_none() {
            return Some(Cached::None);
        }
        if let Some(boolean) = value.unpack_bool() {
            return Some(Cached::Bool(boolean));
        }
        if let Some(frozen) = value.unpack_frozen() {
            return Some(Cached::Frozen(frozen));
        }
        if let Some(text) = value.unpack_str() {
            return Some(Cached::Str(text.to_owned()));
        }
        if value.get_type() == "int" {
            return i64::unpack_value(value).ok().flatten().map(Cached::Int);
        }
        if let Some(float) = value.downcast_ref::<StarlarkFloat>() {
            return Some(Cached::Float(float.0));
        }
        if let Some(object) = value.downcast_ref::<IncusObject>() {
            return Some(Cached::Object(object.0.clone()));
        }
        if let Some(tuple) = TupleRef::from_value(value) {
            let items = tuple.iter().map(|item| Cached::copy(item, shared));
            return items.collect::<Option<_>>().map(Cached::Tuple);
        }
        // Mutable from here on: each may appear once.
        if !shared.insert(value.identity()) {
            return None;
        }
        if let Some(list) = ListRef::from_value(value) {
            let items = list.iter().map(|item| Cached::copy(item, shared));
            return items.collect::<Option<_>>().map(Cached::List);
        }
        if let Some(dict) = DictRef::from_value(value) {
            let entries = dict
                .iter()
                .map(|(key, item)| Some((Cached::copy(key, shared)?, Cached::copy(item, shared)?)));
            return entries.collect::<Option<_>>().map(Cached::Dict);
        }
        None
    }

    /// A new copy on `heap`.
    pub fn to_value<'v>(&self, heap: Heap<'v>) -> Value<'v> {
        match self {
            Cached::None => Value::new_none(),
            Cached::Bool(boolean) => Value::new_bool(*boolean),
            Cached::Int(int) => heap.alloc(*int),
            Cached::Float(float) => heap.alloc(*float),
            Cached::Str(text) => heap.alloc(text.as_str()),
            Cached::List(items) => heap.alloc(AllocList(items.iter().map(|item| item.to_value(heap)))),
            Cached::Tuple(items) => heap.alloc(AllocTuple(items.iter().map(|item| item.to_value(heap)))),
            Cached::Dict(entries) => heap.alloc(AllocDict(
                entries
                    .iter()
                    .map(|(key, item)| (key.to_value(heap), item.to_value(heap))),
            )),
            Cached::Object(object) => heap.alloc(IncusObject(object.clone())),
            Cached::Frozen(frozen) => frozen.to_value(),
        }
    }
}

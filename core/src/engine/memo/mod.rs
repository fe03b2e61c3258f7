//! Memoized pure functions, for replays: many placement calls on one unchanged cluster,
//! where only decisions are kept.
//!
//! A scriptlet's helper that scans every instance of a project (to count an application's
//! instances per member, say) gives the same answer to every call of a replay that asks about
//! the same project, and a replay makes ten thousand such calls. When a scriptlet is compiled
//! to memoize ([`super::compile_memoizing`]), each function [`purity`] finds pure is bound, in
//! place of itself, to a [`Memoized`] wrapper: a call with immutable arguments (`key`) on a
//! cluster state seen before returns a copy of the earlier result (`cached`). Scriptlets see
//! the same values as without it; what differs is what a replay does not keep: the builtin
//! trace of a call answered from memory is shorter, and a call uses fewer steps of its limit.
//! So the wrapper answers from memory only when the evaluation keeps decisions alone
//! ([`super::Recording::DecisionOnly`]) and calls through otherwise.

mod cached;
mod key;
pub mod purity;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use allocative::Allocative;
use starlark::eval::{Arguments, Evaluator};
use starlark::values::{starlark_value, FrozenValue, NoSerialize, ProvidesStaticType, StarlarkValue, Value};
use starlark::{starlark_simple_value, StarlarkPagablePanic};

use super::builtins::Context;
use cached::Cached;
use key::CallKey;

/// Entries one function keeps before it starts afresh: bounds memory for a scriptlet whose
/// arguments never repeat.
const MAX_ENTRIES: usize = 4096;

/// The name the unwrapped function is kept under in the module: not an identifier, so no
/// scriptlet can name it.
pub fn unwrapped_name(name: &str) -> String {
    format!("{name} (not memoized)")
}

/// A pure function's stand-in; see the module documentation. A scriptlet compiled for
/// coverage also calls the functions the crate would inline through one that only forwards
/// ([`Memoized::forwarding`]): an inlined function's statement never runs as such.
#[derive(ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub struct Memoized {
    name: String,
    /// Whether it answers from memory at all (`false`: it only forwards).
    caches: bool,
    /// The function itself, set once the module is frozen (it lives on the module's heap).
    #[allocative(skip)]
    function: OnceLock<FrozenValue>,
    #[allocative(skip)]
    cache: Mutex<Cache>,
}

starlark_simple_value!(Memoized);

/// Results for one cluster state ([`super::PreparedCluster::generation`]).
#[derive(Default)]
struct Cache {
    generation: u64,
    results: HashMap<CallKey, Cached>,
}

impl Cache {
    fn for_generation(&mut self, generation: u64) -> &mut HashMap<CallKey, Cached> {
        if self.generation != generation || self.results.len() >= MAX_ENTRIES {
            self.generation = generation;
            self.results.clear();
        }
        &mut self.results
    }
}

impl Memoized {
    pub fn new(name: &str) -> Memoized {
        Memoized {
            name: name.to_owned(),
            caches: true,
            function: OnceLock::new(),
            cache: Mutex::default(),
        }
    }

    /// A stand-in that calls the function every time.
    pub fn forwarding(name: &str) -> Memoized {
        Memoized {
            caches: false,
            ..Memoized::new(name)
        }
    }

    /// Binds the wrapper to the function it stands for (once, after freezing).
    pub fn bind(&self, function: FrozenValue) {
        // A second bind would be the same function: the module is frozen once.
        let _ = self.function.set(function);
    }

    /// The cluster state to memoize for, when this evaluation keeps decisions alone.
    fn generation(eval: &Evaluator) -> Option<u64> {
        let context = eval.extra?.downcast_ref::<Context>()?;
        if context.recording.keeps_details() {
            return None;
        }
        Some(context.scope.as_ref()?.cluster.generation())
    }
}

impl fmt::Debug for Memoized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoized").field("name", &self.name).finish()
    }
}

impl fmt::Display for Memoized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function {}>", self.name)
    }
}

#[starlark_value(type = "function")]
impl<'v> StarlarkValue<'v> for Memoized {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let function = self
            .function
            .get()
            .ok_or_else(|| {
                starlark::Error::new_other(anyhow::anyhow!("{} called before it was bound", self.name))
            })?
            .to_value();
        let positional: Vec<Value<'v>> = args.positions(eval.heap())?.collect();
        let named: Vec<(String, Value<'v>)> = args
            .names_map()?
            .into_iter()
            .map(|(name, value)| (name.as_str().to_owned(), value))
            .collect();
        let key = Self::generation(eval)
            .filter(|_| self.caches)
            .and_then(|generation| CallKey::of(&positional, &named).map(|key| (generation, key)));
        if let Some((generation, key)) = &key {
            let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(result) = cache.for_generation(*generation).get(key) {
                return Ok(result.to_value(eval.heap()));
            }
        }
        let named_refs: Vec<(&str, Value<'v>)> = named
            .iter()
            .map(|(name, value)| (name.as_str(), *value))
            .collect();
        let result = eval.eval_function(function, &positional, &named_refs)?;
        if let Some((generation, key)) = key {
            if let Some(cached) = Cached::of(result) {
                let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                cache.for_generation(generation).insert(key, cached);
            }
        }
        Ok(result)
    }
}

/// Whether a global's value is plain data (None, booleans, numbers, strings, and lists,
/// tuples and dicts of those): what a pure function may read besides its arguments.
pub fn is_plain_data(value: Value) -> bool {
    use starlark::values::dict::DictRef;
    use starlark::values::list::ListRef;
    use starlark::values::tuple::TupleRef;
    if value.is_none() || value.unpack_bool().is_some() || value.unpack_str().is_some() {
        return true;
    }
    if matches!(value.get_type(), "int" | "float") {
        return true;
    }
    if let Some(list) = ListRef::from_value(value) {
        return list.iter().all(is_plain_data);
    }
    if let Some(tuple) = TupleRef::from_value(value) {
        return tuple.iter().all(is_plain_data);
    }
    if let Some(dict) = DictRef::from_value(value) {
        return dict
            .iter()
            .all(|(key, value)| is_plain_data(key) && is_plain_data(value));
    }
    // Anything else (a function, a set, …) may hide an effect or be changed by a call.
    false
}

#[cfg(test)]
mod tests;

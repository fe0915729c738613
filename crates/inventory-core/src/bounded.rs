//! Lists of a document, bounded while they are read. A document controls how long its arrays
//! are, and a 64 KiB gzip body inflates to 20 million `{}`: building every element before
//! counting them keeps a function busy for seconds and out of memory. So every array and map a
//! reader keeps is one of these types, counted against one budget for the whole document, and
//! reading stops at the element past it. The findings documents and the VEX documents use them.
//!
//! The budget is thread-local: serde's derive passes no state to nested fields short of a
//! hand-written seed for every struct, and one document is read synchronously on one thread,
//! from `read` to its return.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

/// A list whose elements are the document's items (findings, statements): counted against
/// `Limits::items`.
pub(crate) type ItemList<T> = Bounded<T, true>;
/// Any other list (targets, components, products, versions, digests): counted against
/// `Limits::entries`.
pub(crate) type EntryList<T> = Bounded<T, false>;

/// What one document may hold.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    pub items: usize,
    pub entries: usize,
}

/// What one document may still hold while it is read.
#[derive(Clone, Copy, Default)]
struct Budget {
    left: Limits,
    exceeded: Option<Overflow>,
}

#[derive(Clone, Copy)]
enum Overflow {
    Items,
    Entries,
}

/// Why a document was not read: a bound it went past, or the JSON error that stopped it.
#[derive(Debug)]
pub(crate) enum ReadError {
    TooManyItems,
    TooManyEntries,
    Json(serde_json::Error),
}

thread_local! {
    static BUDGET: Cell<Budget> = Cell::new(Budget::default());
}

/// Reads `body` as `T` under a fresh budget of `limits`.
pub(crate) fn read<'a, T: Deserialize<'a>>(body: &'a [u8], limits: Limits) -> Result<T, ReadError> {
    BUDGET.set(Budget { left: limits, exceeded: None });
    let read = serde_json::from_slice(body);
    let exceeded = BUDGET.replace(Budget::default()).exceeded;
    read.map_err(|error| match exceeded {
        Some(Overflow::Items) => ReadError::TooManyItems,
        Some(Overflow::Entries) => ReadError::TooManyEntries,
        None => ReadError::Json(error),
    })
}

/// Takes an element just read from the budget; past it, the error that stops reading there,
/// remembered for `read`. Only that one element is read past the bound, and its own lists are
/// bounded by the same budget.
fn take<E: de::Error>(item: bool) -> Result<(), E> {
    let mut budget = BUDGET.get();
    let left = if item { &mut budget.left.items } else { &mut budget.left.entries };
    let taken = match left.checked_sub(1) {
        Some(rest) => {
            *left = rest;
            Ok(())
        }
        None => {
            budget.exceeded = Some(if item { Overflow::Items } else { Overflow::Entries });
            Err(E::custom("more elements than a document may hold"))
        }
    };
    BUDGET.set(budget);
    taken
}

/// A JSON array read element by element, each taken from the document's budget.
#[derive(Debug)]
pub(crate) struct Bounded<T, const FINDINGS: bool>(pub Vec<T>);

impl<T, const FINDINGS: bool> Default for Bounded<T, FINDINGS> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T, const FINDINGS: bool> std::ops::Deref for Bounded<T, FINDINGS> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'b, T, const FINDINGS: bool> IntoIterator for &'b Bounded<T, FINDINGS> {
    type Item = &'b T;
    type IntoIter = std::slice::Iter<'b, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de, T: Deserialize<'de>, const FINDINGS: bool> Deserialize<'de> for Bounded<T, FINDINGS> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements<T, const FINDINGS: bool>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const FINDINGS: bool> Visitor<'de> for Elements<T, FINDINGS> {
            type Value = Bounded<T, FINDINGS>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut kept = Vec::new();
                while let Some(element) = seq.next_element()? {
                    take(FINDINGS)?;
                    kept.push(element);
                }
                Ok(Bounded(kept))
            }
        }

        deserializer.deserialize_seq(Elements(PhantomData))
    }
}

/// What a `KeptList` keeps of the elements it reads.
pub(crate) trait Keep {
    fn keep(&self) -> bool;
}

/// A JSON array whose elements are each taken from the entries budget, and kept only when they
/// say so: a list read for a few of its elements (an SBOM's dependencies, for the source
/// packages among them) holds those alone.
#[derive(Debug)]
pub(crate) struct KeptList<T>(pub Vec<T>);

impl<T> Default for KeptList<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de> + Keep> Deserialize<'de> for KeptList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Keep> Visitor<'de> for Elements<T> {
            type Value = KeptList<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut kept = Vec::new();
                while let Some(element) = seq.next_element::<T>()? {
                    take(false)?;
                    if element.keep() {
                        kept.push(element);
                    }
                }
                Ok(KeptList(kept))
            }
        }

        deserializer.deserialize_seq(Elements(PhantomData))
    }
}

/// A JSON object read entry by entry, each taken from the document's entries budget.
#[derive(Debug)]
pub(crate) struct EntryMap<'a, V>(pub Vec<(Cow<'a, str>, V)>);

impl<V> Default for EntryMap<'_, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> EntryMap<'_, V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, value)| value)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, value)| value)
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for EntryMap<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<'a, V>(PhantomData<(&'a (), V)>);

        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for Entries<'a, V> {
            type Value = EntryMap<'a, V>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut kept = Vec::new();
                while let Some(entry) = map.next_entry::<Cow<'a, str>, V>()? {
                    take(false)?;
                    kept.push(entry);
                }
                Ok(EntryMap(kept))
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { items: 1000, entries: 20_000 };

    #[derive(serde::Deserialize, Debug)]
    struct Nested {
        #[serde(default)]
        outer: EntryList<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    struct Inner {
        #[serde(default)]
        items: ItemList<de::IgnoredAny>,
    }

    fn items(lists: usize, each: usize) -> String {
        let list = format!("{{\"items\":[{}]}}", vec!["{}"; each].join(","));
        format!("{{\"outer\":[{}]}}", vec![list; lists].join(","))
    }

    #[test]
    fn the_items_budget_is_one_for_every_list_of_the_document() {
        let at_the_bound = items(4, LIMITS.items / 4);
        let nested: Nested = read(at_the_bound.as_bytes(), LIMITS).unwrap();
        assert_eq!(nested.outer.iter().map(|inner| inner.items.0.len()).sum::<usize>(), LIMITS.items);
        let one_more = items(4, LIMITS.items / 4).replacen("[{}", "[{},{}", 1);
        assert!(matches!(read::<Nested>(one_more.as_bytes(), LIMITS), Err(ReadError::TooManyItems)));
        // The next document starts with the whole budget again.
        assert!(read::<Nested>(at_the_bound.as_bytes(), LIMITS).is_ok());
    }

    #[test]
    fn other_lists_and_maps_share_the_entries_budget() {
        let lists = items(LIMITS.entries + 1, 0);
        assert!(matches!(read::<Nested>(lists.as_bytes(), LIMITS), Err(ReadError::TooManyEntries)));
        let keys: Vec<String> = (0..=LIMITS.entries).map(|n| format!("\"k{n}\":1")).collect();
        let map = format!("{{{}}}", keys.join(","));
        assert!(matches!(read::<EntryMap<u8>>(map.as_bytes(), LIMITS), Err(ReadError::TooManyEntries)));
        assert!(matches!(read::<Nested>(b"{\"outer\": 3}", LIMITS), Err(ReadError::Json(_))));
    }
}

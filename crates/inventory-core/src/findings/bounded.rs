//! Lists of a findings document, bounded while they are read. A document controls how long its
//! arrays are, and a 64 KiB gzip body inflates to 20 million `{}`: building every element before
//! counting them keeps a function busy for seconds and out of memory. So every array and map a
//! reader keeps is one of these types, counted against one budget for the whole document, and
//! reading stops at the element past it.
//!
//! The budget is thread-local: serde's derive passes no state to nested fields short of a
//! hand-written seed for every struct, and one document is read synchronously on one thread,
//! from `read` to its return.

use crate::findings::FindingsError;
use crate::limits::{MAX_DOCUMENT_ENTRIES, MAX_FINDINGS_PER_DOCUMENT};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

/// A list whose elements are findings: counted against `MAX_FINDINGS_PER_DOCUMENT`.
pub(super) type FindingList<T> = Bounded<T, true>;
/// Any other list (targets, components, scores, versions, digests): counted against
/// `MAX_DOCUMENT_ENTRIES`.
pub(super) type EntryList<T> = Bounded<T, false>;

/// What one document may still hold while it is read.
#[derive(Clone, Copy, Default)]
struct Budget {
    findings: usize,
    entries: usize,
    exceeded: Option<Exceeded>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exceeded {
    Findings,
    Entries,
}

thread_local! {
    static BUDGET: Cell<Budget> = Cell::new(Budget::default());
}

/// Reads `body` as `T` under a fresh budget: a list past it answers `TooMany` (findings) or
/// `TooManyEntries`, any other error is `field`'s.
pub(super) fn read<'a, T: Deserialize<'a>>(body: &'a [u8], field: &str) -> Result<T, FindingsError> {
    BUDGET.set(Budget { findings: MAX_FINDINGS_PER_DOCUMENT, entries: MAX_DOCUMENT_ENTRIES, exceeded: None });
    let read = serde_json::from_slice(body);
    let exceeded = BUDGET.replace(Budget::default()).exceeded;
    read.map_err(|error| match exceeded {
        Some(Exceeded::Findings) => FindingsError::TooMany,
        Some(Exceeded::Entries) => FindingsError::TooManyEntries,
        None => super::invalid(field, error),
    })
}

/// Takes an element just read from the budget; past it, the error that stops reading there,
/// remembered for `read`. Only that one element is read past the bound, and its own lists are
/// bounded by the same budget.
fn take<E: de::Error>(finding: bool) -> Result<(), E> {
    let mut budget = BUDGET.get();
    let left = if finding { &mut budget.findings } else { &mut budget.entries };
    let taken = match left.checked_sub(1) {
        Some(rest) => {
            *left = rest;
            Ok(())
        }
        None => {
            budget.exceeded = Some(if finding { Exceeded::Findings } else { Exceeded::Entries });
            Err(E::custom("more elements than a document may hold"))
        }
    };
    BUDGET.set(budget);
    taken
}

/// A JSON array read element by element, each taken from the document's budget.
#[derive(Debug)]
pub(super) struct Bounded<T, const FINDINGS: bool>(pub Vec<T>);

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

/// A JSON object read entry by entry, each taken from the document's entries budget.
#[derive(Debug)]
pub(super) struct EntryMap<'a, V>(pub Vec<(Cow<'a, str>, V)>);

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

    #[derive(serde::Deserialize, Debug)]
    struct Nested {
        #[serde(default)]
        outer: EntryList<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    struct Inner {
        #[serde(default)]
        findings: FindingList<de::IgnoredAny>,
    }

    fn findings(lists: usize, each: usize) -> String {
        let list = format!("{{\"findings\":[{}]}}", vec!["{}"; each].join(","));
        format!("{{\"outer\":[{}]}}", vec![list; lists].join(","))
    }

    #[test]
    fn the_findings_budget_is_one_for_every_list_of_the_document() {
        let at_the_bound = findings(4, MAX_FINDINGS_PER_DOCUMENT / 4);
        let nested: Nested = read(at_the_bound.as_bytes(), "outer").unwrap();
        assert_eq!(nested.outer.iter().map(|inner| inner.findings.0.len()).sum::<usize>(), MAX_FINDINGS_PER_DOCUMENT);
        let one_more = findings(4, MAX_FINDINGS_PER_DOCUMENT / 4).replacen("[{}", "[{},{}", 1);
        assert!(matches!(read::<Nested>(one_more.as_bytes(), "outer"), Err(FindingsError::TooMany)));
        // The next document starts with the whole budget again.
        assert!(read::<Nested>(at_the_bound.as_bytes(), "outer").is_ok());
    }

    #[test]
    fn other_lists_and_maps_share_the_entries_budget() {
        let lists = findings(MAX_DOCUMENT_ENTRIES + 1, 0);
        assert!(matches!(read::<Nested>(lists.as_bytes(), "outer"), Err(FindingsError::TooManyEntries)));
        let keys: Vec<String> = (0..=MAX_DOCUMENT_ENTRIES).map(|n| format!("\"k{n}\":1")).collect();
        let map = format!("{{{}}}", keys.join(","));
        assert!(matches!(read::<EntryMap<u8>>(map.as_bytes(), "map"), Err(FindingsError::TooManyEntries)));
        let error = read::<Nested>(b"{\"outer\": 3}", "outer").unwrap_err();
        assert_eq!(error.field(), "outer");
    }
}

//! Fields that most tasks and attempts never set, kept behind one pointer.
//!
//! A task of a mission without a repository never saves work, runs a task
//! gate or merges, and a plain command rarely reports an artifact or a
//! usage; yet each of those fields took its full inline size in every task
//! and attempt (about 260 bytes a task together: 2.6 MB of a 10,000-task
//! mission's peak RSS, bench/README.md "Engine"). [`Rare<T>`] keeps such a
//! group as one `Option<Box<T>>` (8 bytes): it reads as the empty `T` until
//! the first write through it allocates one, and it compares, clones,
//! prints and serialises as the `T` it stands for, so neither the state's
//! equality (the property tests compare replays) nor its JSON depend on
//! whether the box was ever made.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// A group of fields whose empty value can be shared: what a [`Rare`]
/// reads as before anything was written to it.
pub trait Empty: Default + Sync + 'static {
    fn empty() -> &'static Self;
}

/// `T`, allocated on the first write. Reading never allocates; writing
/// (any `&mut` access through `DerefMut`) does, once, so the fold mutates
/// a group only when it has something to put in it.
pub struct Rare<T: Empty>(Option<Box<T>>);

impl<T: Empty> Rare<T> {
    pub const fn new() -> Self {
        Rare(None)
    }
}

impl<T: Empty + PartialEq> Rare<T> {
    /// `value`, allocated only when it is not the empty `T`.
    pub fn of(value: T) -> Self {
        if value == *T::empty() {
            Rare(None)
        } else {
            Rare(Some(Box::new(value)))
        }
    }
}

impl<T: Empty> Default for Rare<T> {
    fn default() -> Self {
        Rare::new()
    }
}

impl<T: Empty> Deref for Rare<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or_else(|| T::empty())
    }
}

impl<T: Empty> DerefMut for Rare<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Empty + Clone> Clone for Rare<T> {
    fn clone(&self) -> Self {
        Rare(self.0.clone())
    }
}

impl<T: Empty + PartialEq> PartialEq for Rare<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Empty + fmt::Debug> fmt::Debug for Rare<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Empty + Serialize> Serialize for Rare<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

/// Reads a `T`; one equal to the empty `T` allocates nothing.
impl<'de, T: Empty + PartialEq + Deserialize<'de>> Deserialize<'de> for Rare<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Rare::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
    struct Group {
        names: Vec<String>,
        count: u32,
    }

    static EMPTY: Group = Group {
        names: Vec::new(),
        count: 0,
    };

    impl Empty for Group {
        fn empty() -> &'static Self {
            &EMPTY
        }
    }

    #[test]
    fn reads_as_empty_until_written_and_compares_by_value() {
        let mut rare: Rare<Group> = Rare::new();
        assert!(rare.0.is_none());
        assert_eq!(rare.count, 0);
        assert!(rare.names.is_empty());
        assert!(rare.0.is_none(), "reading allocates nothing");
        rare.count += 1;
        assert!(rare.0.is_some());
        assert_ne!(rare, Rare::new());
        rare.count -= 1;
        assert_eq!(rare, Rare::new(), "an emptied group equals one never made");
        assert_eq!(format!("{rare:?}"), format!("{:?}", Group::default()));
    }

    #[test]
    fn a_flattened_group_serialises_as_its_fields_whether_made_or_not() {
        #[derive(Serialize)]
        struct Outer {
            id: u32,
            #[serde(flatten)]
            group: Rare<Group>,
        }
        let never = Outer {
            id: 1,
            group: Rare::new(),
        };
        let mut made = Outer {
            id: 1,
            group: Rare::new(),
        };
        made.group.names.push("a".into());
        made.group.names.clear();
        let expected = r#"{"id":1,"names":[],"count":0}"#;
        assert_eq!(serde_json::to_string(&never).unwrap(), expected);
        assert_eq!(serde_json::to_string(&made).unwrap(), expected);
    }

    #[test]
    fn a_flattened_group_reads_back_and_an_empty_one_allocates_nothing() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Outer {
            id: u32,
            #[serde(flatten)]
            group: Rare<Group>,
        }
        let empty: Outer = serde_json::from_str(r#"{"id":1,"names":[],"count":0}"#).unwrap();
        assert!(empty.group.0.is_none(), "an empty group is not boxed");
        let full: Outer = serde_json::from_str(r#"{"id":2,"names":["a"],"count":3}"#).unwrap();
        assert!(full.group.0.is_some());
        assert_eq!(full.group.names, ["a"]);
        assert_eq!(full.group.count, 3);
        let text = serde_json::to_string(&full).unwrap();
        assert_eq!(serde_json::from_str::<Outer>(&text).unwrap(), full);
    }
}

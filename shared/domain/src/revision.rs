//! The revision rule: a record changes only when the incoming revision is strictly higher
//! than the stored one. Out-of-order and redelivered events therefore change nothing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A number that only grows for one record in its source system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Revision(u64);

impl Revision {
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    pub fn value(&self) -> u64 {
        self.0
    }

    /// The revision of a record whose sender gave none (an order's first version).
    pub fn first() -> Self {
        Self(1)
    }

    /// The rule itself: `incoming` replaces `stored` only if it is strictly newer.
    /// Stores implement it as a conditional write so that concurrent writers cannot race it.
    pub fn supersedes(self, stored: Option<Revision>) -> bool {
        match stored {
            None => true,
            Some(stored) => self > stored,
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What applying a revisioned record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum ApplyOutcome {
    /// The record was written.
    Applied,
    /// A record with this or a higher revision was already stored; nothing changed.
    Stale { stored: Revision },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_revision_supersedes() {
        assert!(Revision::new(7).supersedes(Some(Revision::new(6))));
        assert!(Revision::new(0).supersedes(None));
    }

    #[test]
    fn an_equal_or_lower_revision_is_stale() {
        assert!(!Revision::new(7).supersedes(Some(Revision::new(7))));
        assert!(!Revision::new(6).supersedes(Some(Revision::new(7))));
    }
}

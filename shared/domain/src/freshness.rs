//! Freshness: how long ago each data category last flowed successfully, against its SLA.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A category of data with its own freshness promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Prices,
    Stock,
    Customers,
    Products,
    /// Orders sent to the ERP and waiting for its status: per order, since its submission.
    OrderStatus,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Prices,
        Category::Stock,
        Category::Customers,
        Category::Products,
        Category::OrderStatus,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Prices => "prices",
            Category::Stock => "stock",
            Category::Customers => "customers",
            Category::Products => "products",
            Category::OrderStatus => "order_status",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// The contract's default SLA (the template's parameters may change it).
    pub fn default_sla(&self) -> Duration {
        match self {
            Category::Prices | Category::Stock | Category::OrderStatus => Duration::hours(1),
            Category::Customers => Duration::hours(24),
            Category::Products => Duration::hours(26),
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessState {
    Fresh,
    Stale,
    /// Nothing of this category has flowed yet.
    Never,
}

/// The state of a category whose last success was `last` (if ever), at `now`.
pub fn freshness(last: Option<DateTime<Utc>>, sla: Duration, now: DateTime<Utc>) -> FreshnessState {
    match last {
        None => FreshnessState::Never,
        Some(last) if now - last > sla => FreshnessState::Stale,
        Some(_) => FreshnessState::Fresh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_turns_stale_past_its_sla() {
        let now = Utc::now();
        let sla = Duration::hours(1);
        assert_eq!(
            freshness(Some(now - Duration::minutes(59)), sla, now),
            FreshnessState::Fresh
        );
        assert_eq!(
            freshness(Some(now - Duration::minutes(61)), sla, now),
            FreshnessState::Stale
        );
        assert_eq!(freshness(None, sla, now), FreshnessState::Never);
        assert_eq!(Category::parse("stock"), Some(Category::Stock));
    }
}

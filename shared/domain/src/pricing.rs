//! Customer-specific price resolution (contract section 2).
//!
//! The effective price for (customer, sku, quantity, date) comes from the customer's price
//! lists in priority order: the first list with a record for the sku that is valid at the
//! date and has a tier at or below the quantity wins, and within it the tier with the
//! highest `min_qty` not above the quantity. Nothing applicable means "price on request",
//! never zero.
//!
//! A list may hold several windows for a sku (contract v2): the one in force at a date is
//! the window with the latest start at or before it (an open start is the earliest); it
//! ends at its `valid_to` or where the next window begins. Deleted windows do not count.

use crate::events::{PriceChanged, PricePer, ValidityWindow};
use crate::ids::{PriceListId, Sku};
use crate::money::{Currency, Quantity, UnitCode};
use crate::revision::Revision;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// A price that applies, and exactly where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedPrice {
    pub price_list: PriceListId,
    /// 1 = the customer's highest-priority list.
    pub priority: usize,
    pub tier_min_qty: Quantity,
    pub unit_price: Decimal,
    pub currency: Currency,
    pub price_unit: UnitCode,
    pub price_per: PricePer,
    /// quantity × unit_price ÷ price_per: exact, except that a `price_per` that does not
    /// divide it is rounded to 28 significant digits; `None` beyond the decimal range.
    pub line_total: Option<Decimal>,
    pub revision: Revision,
    pub validity: ValidityWindow,
}

/// Why a list the customer has did not give a price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ListSkipped {
    /// The list has no price for the sku at all.
    NotListed { price_list: PriceListId },
    /// The list prices the sku, but not at that date.
    NotValidAt { price_list: PriceListId },
    /// The quantity is below the list's first tier.
    BelowMinimumQuantity {
        price_list: PriceListId,
        min_qty: Quantity,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PriceResolution {
    Priced(ResolvedPrice),
    /// No list gives a price: the shop shows "price on request", never 0.
    OnRequest {
        skipped: Vec<ListSkipped>,
    },
}

/// quantity × unit price ÷ price_per, keeping the price's scale where the division is exact
/// (so 12 × 9.80 reads 117.60, not 117.6); `None` when it leaves the decimal range.
fn line_total(quantity: Quantity, unit_price: Decimal, price_per: PricePer) -> Option<Decimal> {
    let gross = quantity.value().checked_mul(unit_price)?;
    if price_per.value() == Decimal::ONE {
        return Some(gross);
    }
    let mut total = gross.checked_div(price_per.value())?;
    if total.scale() < unit_price.scale() {
        total.rescale(unit_price.scale());
    }
    Some(total)
}

/// Resolves the price of `sku` × `quantity` at `at` from the customer's `price_lists`
/// (highest priority first), given every stored price record of that sku in those lists.
pub fn resolve_price(
    price_lists: &[PriceListId],
    records: &[PriceChanged],
    sku: &Sku,
    quantity: Quantity,
    at: DateTime<Utc>,
) -> PriceResolution {
    let mut skipped = Vec::new();
    for (index, list) in price_lists.iter().enumerate() {
        let windows: Vec<&PriceChanged> = records
            .iter()
            .filter(|r| &r.price_list == list && &r.sku == sku && !r.deleted)
            .collect();
        if windows.is_empty() {
            skipped.push(ListSkipped::NotListed {
                price_list: list.clone(),
            });
            continue;
        }
        // `None < Some`: an open start is the earliest; the revision only breaks ties
        // between records a store should not hold twice.
        let in_force = windows
            .iter()
            .filter(|r| r.validity.from().is_none_or(|from| from <= at))
            .max_by_key(|r| (r.validity.from(), r.revision));
        let Some(record) = in_force.filter(|r| r.validity.until().is_none_or(|until| at < until))
        else {
            skipped.push(ListSkipped::NotValidAt {
                price_list: list.clone(),
            });
            continue;
        };
        // Where the next window begins, this one ends.
        let next_start = windows
            .iter()
            .filter_map(|r| r.validity.from())
            .filter(|from| record.validity.from().is_none_or(|start| *from > start))
            .min();
        let until = match (record.validity.until(), next_start) {
            (Some(until), Some(next)) => Some(until.min(next)),
            (until, next) => until.or(next),
        };
        let validity =
            ValidityWindow::new(record.validity.from(), until).unwrap_or(record.validity);
        let Some(tier) = record.tiers.tier_for(quantity) else {
            skipped.push(ListSkipped::BelowMinimumQuantity {
                price_list: list.clone(),
                min_qty: record.tiers.as_slice()[0].min_qty,
            });
            continue;
        };
        let unit_price = tier.unit_price.value();
        return PriceResolution::Priced(ResolvedPrice {
            price_list: list.clone(),
            priority: index + 1,
            tier_min_qty: tier.min_qty,
            unit_price,
            currency: record.currency,
            price_unit: record.price_unit.clone(),
            price_per: record.price_per,
            line_total: line_total(quantity, unit_price, record.price_per),
            revision: record.revision,
            validity,
        });
    }
    PriceResolution::OnRequest { skipped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{PriceTier, PriceTiers, UnitPrice};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::new(d(s)).unwrap()
    }
    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn list(s: &str) -> PriceListId {
        PriceListId::parse(s).unwrap()
    }

    fn record(
        price_list: &str,
        tiers: &[(&str, &str)],
        window: (Option<&str>, Option<&str>),
    ) -> PriceChanged {
        PriceChanged {
            price_list: list(price_list),
            sku: Sku::parse("SKU-1").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            tiers: PriceTiers::new(
                tiers
                    .iter()
                    .map(|(min, price)| PriceTier {
                        min_qty: q(min),
                        unit_price: UnitPrice::new(d(price)).unwrap(),
                    })
                    .collect(),
            )
            .unwrap(),
            revision: Revision::new(1),
            price_unit: UnitCode::piece(),
            price_per: PricePer::ONE,
            validity: ValidityWindow::new(window.0.map(at), window.1.map(at)).unwrap(),
            deleted: false,
        }
    }

    fn sku() -> Sku {
        Sku::parse("SKU-1").unwrap()
    }

    #[test]
    fn the_highest_priority_list_that_prices_the_sku_wins() {
        let records = vec![
            record("BASE", &[("1", "10.00")], (None, None)),
            record("CONTRACT", &[("1", "8.50"), ("10", "7.90")], (None, None)),
        ];
        let lists = [list("CONTRACT"), list("BASE")];
        let PriceResolution::Priced(price) = resolve_price(
            &lists,
            &records,
            &sku(),
            q("12"),
            at("2026-06-01T00:00:00Z"),
        ) else {
            panic!("expected a price");
        };
        assert_eq!(price.price_list, list("CONTRACT"));
        assert_eq!(price.priority, 1);
        assert_eq!(price.unit_price, d("7.90"));
        assert_eq!(price.tier_min_qty, q("10"));
        assert_eq!(price.line_total.unwrap().to_string(), "94.80");
    }

    #[test]
    fn a_list_outside_its_validity_window_falls_through_to_the_next() {
        let records = vec![
            record(
                "PROMO",
                &[("1", "5")],
                (Some("2026-01-01T00:00:00Z"), Some("2026-02-01T00:00:00Z")),
            ),
            record("BASE", &[("1", "10")], (None, None)),
        ];
        let lists = [list("PROMO"), list("BASE")];
        let in_promo = resolve_price(&lists, &records, &sku(), q("1"), at("2026-01-15T00:00:00Z"));
        let after = resolve_price(&lists, &records, &sku(), q("1"), at("2026-02-01T00:00:00Z"));
        assert!(matches!(in_promo, PriceResolution::Priced(p) if p.unit_price == d("5")));
        assert!(matches!(after, PriceResolution::Priced(p) if p.price_list == list("BASE")));
    }

    #[test]
    fn a_window_announced_for_next_month_leaves_todays_price_in_force_until_then() {
        let mut current = record("BASE", &[("1", "10.00")], (None, None));
        current.revision = Revision::new(4);
        // Announced weeks ahead, under a lower revision of its own window.
        let next = record(
            "BASE",
            &[("1", "11.00")],
            (Some("2027-01-01T00:00:00Z"), None),
        );
        let records = vec![current, next];
        let lists = [list("BASE")];
        let price = |when: &str| match resolve_price(&lists, &records, &sku(), q("1"), at(when)) {
            PriceResolution::Priced(p) => p,
            other => panic!("{other:?}"),
        };
        let today = price("2026-12-03T12:00:00Z");
        assert_eq!(today.unit_price, d("10.00"));
        // Today's window ends where the next begins.
        assert_eq!(today.validity.until(), Some(at("2027-01-01T00:00:00Z")));
        assert_eq!(price("2027-01-01T00:00:00Z").unit_price, d("11.00"));
        assert_eq!(price("2027-06-01T00:00:00Z").validity.until(), None);
    }

    #[test]
    fn a_deleted_window_gives_way_to_the_one_before_it() {
        let current = record("BASE", &[("1", "10.00")], (None, None));
        let mut next = record(
            "BASE",
            &[("1", "11.00")],
            (Some("2027-01-01T00:00:00Z"), None),
        );
        next.deleted = true;
        next.revision = Revision::new(2);
        let records = vec![current, next.clone()];
        let resolution = resolve_price(
            &[list("BASE")],
            &records,
            &sku(),
            q("1"),
            at("2027-02-01T00:00:00Z"),
        );
        assert!(
            matches!(resolution, PriceResolution::Priced(p) if p.unit_price == d("10.00") && p.validity.until().is_none())
        );
        // Every window deleted: the list does not price the sku any more.
        let only_deleted = vec![next];
        let resolution = resolve_price(
            &[list("BASE")],
            &only_deleted,
            &sku(),
            q("1"),
            at("2027-02-01T00:00:00Z"),
        );
        assert!(
            matches!(resolution, PriceResolution::OnRequest { skipped } if matches!(skipped[0], ListSkipped::NotListed { .. }))
        );
    }

    #[test]
    fn a_window_that_ended_before_the_next_began_leaves_a_gap() {
        let records = vec![
            record(
                "BASE",
                &[("1", "9")],
                (Some("2026-01-01T00:00:00Z"), Some("2026-02-01T00:00:00Z")),
            ),
            record("BASE", &[("1", "12")], (Some("2026-03-01T00:00:00Z"), None)),
        ];
        let gap = resolve_price(
            &[list("BASE")],
            &records,
            &sku(),
            q("1"),
            at("2026-02-15T00:00:00Z"),
        );
        assert!(
            matches!(gap, PriceResolution::OnRequest { skipped } if matches!(skipped[0], ListSkipped::NotValidAt { .. }))
        );
        let before = resolve_price(
            &[list("BASE")],
            &records,
            &sku(),
            q("1"),
            at("2025-12-15T00:00:00Z"),
        );
        assert!(matches!(before, PriceResolution::OnRequest { .. }));
    }

    #[test]
    fn a_quantity_below_every_first_tier_is_price_on_request() {
        let records = vec![record("BASE", &[("10", "10")], (None, None))];
        let resolution = resolve_price(
            &[list("BASE")],
            &records,
            &sku(),
            q("5"),
            at("2026-01-01T00:00:00Z"),
        );
        assert_eq!(
            resolution,
            PriceResolution::OnRequest {
                skipped: vec![ListSkipped::BelowMinimumQuantity {
                    price_list: list("BASE"),
                    min_qty: q("10")
                }]
            }
        );
    }

    #[test]
    fn no_list_covering_the_sku_is_price_on_request_never_zero() {
        let resolution = resolve_price(
            &[list("BASE")],
            &[],
            &sku(),
            q("1"),
            at("2026-01-01T00:00:00Z"),
        );
        assert!(matches!(resolution, PriceResolution::OnRequest { .. }));
        let resolution = resolve_price(&[], &[], &sku(), q("1"), at("2026-01-01T00:00:00Z"));
        assert_eq!(resolution, PriceResolution::OnRequest { skipped: vec![] });
    }

    #[test]
    fn price_per_divides_the_line_total() {
        let mut per_hundred = record("BASE", &[("1", "250.00")], (None, None));
        per_hundred.price_per = PricePer::new(d("100")).unwrap();
        let PriceResolution::Priced(price) = resolve_price(
            &[list("BASE")],
            &[per_hundred],
            &sku(),
            q("30"),
            at("2026-01-01T00:00:00Z"),
        ) else {
            panic!("expected a price")
        };
        assert_eq!(price.line_total.unwrap().to_string(), "75.00");
    }

    #[test]
    fn a_line_total_beyond_the_decimal_range_is_none_not_a_panic() {
        let records = vec![record(
            "BASE",
            &[("1", "79228162514264337593543950335")],
            (None, None),
        )];
        let PriceResolution::Priced(price) = resolve_price(
            &[list("BASE")],
            &records,
            &sku(),
            q("2"),
            at("2026-01-01T00:00:00Z"),
        ) else {
            panic!("expected a price")
        };
        assert_eq!(price.line_total, None);
    }

    #[test]
    fn records_of_lists_the_customer_lacks_are_ignored() {
        let records = vec![record("OTHER", &[("1", "1")], (None, None))];
        let resolution = resolve_price(
            &[list("BASE")],
            &records,
            &sku(),
            q("1"),
            at("2026-01-01T00:00:00Z"),
        );
        assert!(matches!(resolution, PriceResolution::OnRequest { .. }));
    }
}

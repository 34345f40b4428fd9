//! Prices (contract section 6): a sku's prices per combination of price lists as embedded
//! prices of its product's master variant, one per customer group (`pl-…`, see
//! [`bridge_domain::shop_prices`]) and period, with tiers; what the shop's price selection
//! then gives each customer is the bridge's price.
//!
//! The bridge's prices are those of its customer groups without channel or country; a
//! merchant's own prices (other groups, channels, countries, none) stay. A price that
//! differs is removed and added again in the same update (removals first, so two periods
//! never overlap on the way).
//!
//! No revision travels with a price: it is computed from the whole price table, read after
//! the product was read, and written with the product's version. A write planned on a read
//! older than another writer's write fails on the version (409) and is planned again from a
//! fresh read of both, so an older state of the table never replaces a newer one.

use crate::MAX_WRITE_ATTEMPTS;
use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{MoneyDraft, PriceDraft, PriceTierDraft, Reference, UpdateAction};
use crate::orders::TypedMoney;
use crate::plan::{Plan, PlanError};
use crate::product::{ProductResource, find_product};
use crate::setup::Setup;
use crate::write::{Writable, write};
use bridge_domain::shop::{Published, ShopPriceSource};
use bridge_domain::shop_prices::{GroupPrice, SkuPrices};
use bridge_domain::{Currency, PortError, PriceListId, Sku};
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

const OPERATION: &str = "shop.publish_prices";

/// The most fraction digits the bridge writes: a price per 12 units divided out repeats
/// forever (10/12), and commercetools keeps at most 20 digits in a 64-bit amount.
const MAX_FRACTION_DIGITS: u32 = 12;

/// What the shop holds of an amount: exact up to [`MAX_FRACTION_DIGITS`], rounded beyond.
pub fn shop_amount(amount: Decimal) -> Decimal {
    let exact = amount.normalize();
    if exact.scale() > MAX_FRACTION_DIGITS {
        exact.round_dp(MAX_FRACTION_DIGITS).normalize()
    } else {
        exact
    }
}

/// An embedded price as the API returns it (the fields the bridge reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceResource {
    pub id: String,
    pub value: TypedMoney,
    pub customer_group: Option<Reference>,
    pub channel: Option<Reference>,
    pub country: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    #[serde(default)]
    pub tiers: Vec<PriceTierResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTierResource {
    pub minimum_quantity: u64,
    pub value: TypedMoney,
}

/// A price reduced to what the shop's selection reads, to compare the shop's with the
/// bridge's regardless of how either writes its amounts (`19.9` is `19.90`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    group_id: String,
    currency: String,
    value: Decimal,
    tiers: Vec<(u64, Decimal)>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
}

fn date(text: &Option<String>) -> Option<DateTime<Utc>> {
    // An unreadable date never equals a wanted one: the price is written again.
    text.as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|d| d.with_timezone(&Utc))
}

impl Shape {
    fn of(price: &PriceResource, group_id: &str) -> Self {
        Self {
            group_id: group_id.to_string(),
            currency: price.value.currency_code.clone(),
            value: price.value.amount().normalize(),
            tiers: price
                .tiers
                .iter()
                .map(|t| (t.minimum_quantity, t.value.amount().normalize()))
                .collect(),
            valid_from: date(&price.valid_from),
            valid_until: date(&price.valid_until),
        }
    }

    /// Validity to the millisecond: what commercetools keeps of a date.
    fn wanted(price: &GroupPrice, group_id: &str) -> Self {
        Self {
            group_id: group_id.to_string(),
            currency: price.currency.code().to_string(),
            value: shop_amount(price.value),
            tiers: price
                .tiers
                .iter()
                .map(|(minimum, value)| (*minimum, shop_amount(*value)))
                .collect(),
            valid_from: price.valid_from.map(to_millis),
            valid_until: price.valid_until.map(to_millis),
        }
    }
}

/// `at` without what is below a millisecond (commercetools stores dates in milliseconds;
/// a boundary between two milliseconds moves to the earlier one).
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// `amount` as commercetools money: in the currency's digits where it fits them, else in
/// as many as it has.
pub fn money(currency: Currency, amount: Decimal) -> Result<MoneyDraft, PlanError> {
    let unrepresentable = || PlanError::UnrepresentableValue {
        attribute: "price",
        value: format!("{amount} {}", currency.code()),
    };
    let digits = currency.minor_units();
    let exact = shop_amount(amount);
    let scale = exact.scale().max(digits);
    if scale > MAX_FRACTION_DIGITS {
        return Err(unrepresentable());
    }
    let mut scaled = exact;
    scaled.rescale(scale);
    let units = i64::try_from(scaled.mantissa()).map_err(|_| unrepresentable())?;
    let currency_code = currency.code().to_string();
    Ok(if scale == digits {
        MoneyDraft::CentPrecision {
            currency_code,
            cent_amount: units,
        }
    } else {
        MoneyDraft::HighPrecision {
            currency_code,
            precise_amount: units,
            fraction_digits: scale,
        }
    })
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The draft of one wanted price.
pub fn price_draft(price: &GroupPrice, group_id: &str) -> Result<PriceDraft, PlanError> {
    Ok(PriceDraft {
        value: money(price.currency, price.value)?,
        customer_group: Reference {
            type_id: "customer-group".into(),
            id: group_id.to_string(),
        },
        valid_from: price.valid_from.map(timestamp),
        valid_until: price.valid_until.map(timestamp),
        tiers: price
            .tiers
            .iter()
            .map(|(minimum, value)| {
                Ok(PriceTierDraft {
                    minimum_quantity: *minimum,
                    value: money(price.currency, *value)?,
                })
            })
            .collect::<Result<_, PlanError>>()?,
    })
}

/// What publishing `wanted` does to `current`, the shop's product of `sku` (`None`: the shop
/// has none, and prices go with a product: `Absent`). `group_ids` maps every group key of
/// `wanted` to the group's id.
pub fn plan_prices(
    current: Option<&ProductResource>,
    sku: &str,
    wanted: &SkuPrices,
    group_ids: &BTreeMap<String, String>,
) -> Result<Plan<()>, PlanError> {
    let Some(product) = current else {
        return Ok(Plan::Absent);
    };
    let mut desired: Vec<(Shape, PriceDraft)> = Vec::new();
    for (key, group) in &wanted.groups {
        let Some(group_id) = group_ids.get(key) else {
            continue;
        };
        for price in &group.prices {
            desired.push((
                Shape::wanted(price, group_id),
                price_draft(price, group_id)?,
            ));
        }
    }
    let managed: Vec<&String> = wanted
        .groups
        .keys()
        .filter_map(|key| group_ids.get(key))
        .collect();
    let ours = |prices: &[PriceResource]| -> Vec<(String, Shape)> {
        let mut ours: Vec<(String, Shape)> = prices
            .iter()
            .filter(|p| p.channel.is_none() && p.country.is_none())
            .filter_map(|p| {
                let group = &p.customer_group.as_ref()?.id;
                managed
                    .contains(&group)
                    .then(|| (p.id.clone(), Shape::of(p, group)))
            })
            .collect();
        ours.sort_by(|a, b| a.1.cmp(&b.1));
        ours
    };
    let staged = ours(&product.master_data.staged.master_variant.prices);
    // Both copies are written alike (`staged: false`): where a merchant changed the
    // bridge's prices in the staged copy only, an operator decides which copy is right.
    if let Some(current) = &product.master_data.current {
        let published = ours(&current.master_variant.prices);
        let shapes = |prices: &[(String, Shape)]| -> Vec<Shape> {
            prices.iter().map(|(_, shape)| shape.clone()).collect()
        };
        if shapes(&published) != shapes(&staged) {
            return Err(PlanError::StagedPriceChanges {
                product: product.id.clone(),
            });
        }
    }
    let mut removals = Vec::new();
    for (price_id, shape) in staged {
        match desired.iter().position(|(wanted, _)| *wanted == shape) {
            // The shop has it: nothing to add.
            Some(index) => {
                desired.remove(index);
            }
            None => removals.push(UpdateAction::RemovePrice {
                price_id,
                staged: false,
            }),
        }
    }
    let mut actions = removals;
    actions.extend(
        desired
            .into_iter()
            .map(|(_, price)| UpdateAction::AddPrice {
                sku: sku.to_string(),
                price,
                staged: false,
            }),
    );
    Ok(if actions.is_empty() {
        Plan::AlreadyCurrent
    } else {
        Plan::Update {
            id: product.id.clone(),
            version: product.version,
            actions,
        }
    })
}

/// The name a price group shows in the Merchant Center: its lists in order.
pub fn price_group_name(lists: &[PriceListId]) -> String {
    let lists: Vec<&str> = lists.iter().map(PriceListId::as_str).collect();
    format!("Price lists {}", lists.join(", "))
}

pub(crate) async fn publish(
    client: &Client,
    setup: &Setup,
    call: &mut Call<'_>,
    sku: &Sku,
    source: &dyn ShopPriceSource,
) -> Result<Published, PortError> {
    let priced = Priced { sku, source, setup };
    match write(client, call, &priced).await {
        // A group the process knew was deleted in the shop: look the groups up again, once.
        Err(err) if err.message.contains("ReferencedResourceNotFound") => {
            tracing::warn!(sku = %sku, error = %err, "a known customer group is gone from the shop; looking the groups up again");
            setup.forget_customer_groups();
            write(client, call, &priced).await
        }
        result => result,
    }
}

/// A sku's prices bound for the shop.
struct Priced<'a> {
    sku: &'a Sku,
    source: &'a dyn ShopPriceSource,
    setup: &'a Setup,
}

/// The product as the shop holds it, then what the price table says now, and the ids of
/// the groups named.
struct PricedProduct {
    product: ProductResource,
    wanted: SkuPrices,
    group_ids: BTreeMap<String, String>,
}

#[async_trait::async_trait]
impl Writable for Priced<'_> {
    type Current = PricedProduct;
    type Updated = ProductResource;
    type Draft = ();
    type Created = ProductResource;
    const OPERATION: &'static str = OPERATION;
    const ENDPOINT: &'static str = "products";

    async fn read(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<Option<PricedProduct>, ShopError> {
        let Some(product) = find_product(client, call, self.sku.as_str(), false).await? else {
            return Ok(None);
        };
        // After the product: see the module.
        let wanted = self
            .source
            .prices_of(self.sku, Utc::now())
            .await
            .map_err(ShopError::Source)?;
        let mut group_ids = BTreeMap::new();
        for (key, group) in &wanted.groups {
            let name = price_group_name(&group.lists);
            let id = self.setup.customer_group(client, call, key, &name).await?;
            group_ids.insert(key.clone(), id);
        }
        Ok(Some(PricedProduct {
            product,
            wanted,
            group_ids,
        }))
    }

    fn plan(&self, current: Option<&PricedProduct>) -> Result<Plan<()>, PlanError> {
        match current {
            None => plan_prices(
                None,
                self.sku.as_str(),
                &SkuPrices::default(),
                &BTreeMap::new(),
            ),
            Some(current) => plan_prices(
                Some(&current.product),
                self.sku.as_str(),
                &current.wanted,
                &current.group_ids,
            ),
        }
    }

    fn contested(&self) -> String {
        format!(
            "the prices of {} changed under {MAX_WRITE_ATTEMPTS} writes in a row; the batch retries later",
            self.sku
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge_domain::shop_prices::GroupPrices;
    use serde_json::json;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// A product whose master variant holds `prices` (JSON as the API returns them).
    fn product(prices: serde_json::Value) -> ProductResource {
        serde_json::from_value(json!({
            "id": "p-1", "version": 4, "key": "SKU-1",
            "masterData": {"published": true, "staged": {
                "name": {"en": "x"},
                "masterVariant": {"sku": "SKU-1", "prices": prices},
            }},
        }))
        .unwrap()
    }

    fn wanted(groups: &[(&str, &[&str], Vec<GroupPrice>)]) -> SkuPrices {
        SkuPrices {
            groups: groups
                .iter()
                .map(|(key, lists, prices)| {
                    (
                        key.to_string(),
                        GroupPrices {
                            lists: lists
                                .iter()
                                .map(|l| PriceListId::parse(l).unwrap())
                                .collect(),
                            prices: prices.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn ids() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("pl-a".to_string(), "cg-a".to_string()),
            ("pl-b".to_string(), "cg-b".to_string()),
        ])
    }

    fn tiered(value: &str, tiers: &[(u64, &str)]) -> GroupPrice {
        GroupPrice {
            currency: eur(),
            value: d(value),
            tiers: tiers.iter().map(|(q, v)| (*q, d(v))).collect(),
            valid_from: None,
            valid_until: None,
        }
    }

    #[test]
    fn amounts_are_cent_precision_where_they_fit_and_high_precision_where_not() {
        assert_eq!(
            serde_json::to_value(money(eur(), d("19.9")).unwrap()).unwrap(),
            json!({"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1990})
        );
        assert_eq!(
            serde_json::to_value(money(eur(), d("0.0345")).unwrap()).unwrap(),
            json!({"type": "highPrecision", "currencyCode": "EUR", "preciseAmount": 345, "fractionDigits": 4})
        );
        assert_eq!(
            serde_json::to_value(money(Currency::parse("JPY").unwrap(), d("1200")).unwrap())
                .unwrap(),
            json!({"type": "centPrecision", "currencyCode": "JPY", "centAmount": 1200})
        );
    }

    #[test]
    fn new_prices_are_added_with_tiers_and_windows_for_both_copies() {
        let mut window = tiered("9.50", &[(10, "9"), (100, "8.125")]);
        window.valid_from = Some(at("2027-01-01T00:00:00Z"));
        window.valid_until = Some(at("2027-02-01T00:00:00Z"));
        let plan = plan_prices(
            Some(&product(json!([]))),
            "SKU-1",
            &wanted(&[("pl-a", &["L1", "L2"], vec![window])]),
            &ids(),
        )
        .unwrap();
        let Plan::Update {
            id,
            version,
            actions,
        } = plan
        else {
            panic!("{plan:?}")
        };
        assert_eq!((id.as_str(), version), ("p-1", 4));
        assert_eq!(
            serde_json::to_value(&actions).unwrap(),
            json!([{"action": "addPrice", "sku": "SKU-1", "staged": false, "price": {
                "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 950},
                "customerGroup": {"typeId": "customer-group", "id": "cg-a"},
                "validFrom": "2027-01-01T00:00:00.000Z",
                "validUntil": "2027-02-01T00:00:00.000Z",
                "tiers": [
                    {"minimumQuantity": 10, "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 900}},
                    {"minimumQuantity": 100, "value": {"type": "highPrecision", "currencyCode": "EUR", "preciseAmount": 8125, "fractionDigits": 3}},
                ],
            }}])
        );
    }

    #[test]
    fn the_same_prices_cost_nothing_a_changed_one_is_replaced_and_others_stay() {
        let shop = json!([
            // The bridge's, as the shop answers it (validity to the millisecond, money typed).
            {"id": "pr-1", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 950, "fractionDigits": 2},
             "customerGroup": {"typeId": "customer-group", "id": "cg-a"},
             "tiers": [{"minimumQuantity": 10, "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 900, "fractionDigits": 2}}]},
            {"id": "pr-2", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1200, "fractionDigits": 2},
             "customerGroup": {"typeId": "customer-group", "id": "cg-b"}},
            // A merchant's: no group, another group, a channel.
            {"id": "pr-3", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1500, "fractionDigits": 2}},
            {"id": "pr-4", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1400, "fractionDigits": 2},
             "customerGroup": {"typeId": "customer-group", "id": "cg-merchant"}},
            {"id": "pr-5", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1300, "fractionDigits": 2},
             "customerGroup": {"typeId": "customer-group", "id": "cg-a"},
             "channel": {"typeId": "channel", "id": "ch-1"}},
        ]);
        let current = product(shop);
        let same = wanted(&[
            ("pl-a", &["L1"], vec![tiered("9.5", &[(10, "9.00")])]),
            ("pl-b", &["L2"], vec![tiered("12", &[])]),
        ]);
        assert_eq!(
            plan_prices(Some(&current), "SKU-1", &same, &ids()).unwrap(),
            Plan::AlreadyCurrent
        );
        // Only group b named: a's prices are not looked at.
        let changed = wanted(&[("pl-b", &["L2"], vec![tiered("11.99", &[])])]);
        let Plan::Update { actions, .. } =
            plan_prices(Some(&current), "SKU-1", &changed, &ids()).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            serde_json::to_value(&actions).unwrap(),
            json!([
                {"action": "removePrice", "priceId": "pr-2", "staged": false},
                {"action": "addPrice", "sku": "SKU-1", "staged": false, "price": {
                    "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1199},
                    "customerGroup": {"typeId": "customer-group", "id": "cg-b"}}},
            ])
        );
        // A group with no price any more (on request): its prices go.
        let none = wanted(&[("pl-a", &["L1"], vec![])]);
        let Plan::Update { actions, .. } =
            plan_prices(Some(&current), "SKU-1", &none, &ids()).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            actions,
            vec![UpdateAction::RemovePrice {
                price_id: "pr-1".into(),
                staged: false
            }]
        );
    }

    #[test]
    fn a_price_per_twelve_is_rounded_once_and_then_current() {
        // 10 EUR per 12 pieces: 0.8333… a piece, held to 12 digits.
        let per_piece = d("10") / d("12");
        let draft = money(eur(), per_piece).unwrap();
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            json!({"type": "highPrecision", "currencyCode": "EUR", "preciseAmount": 833_333_333_333i64, "fractionDigits": 12})
        );
        let shop = json!([{"id": "pr-1", "value": {"type": "highPrecision", "currencyCode": "EUR",
            "centAmount": 83, "preciseAmount": 833_333_333_333i64, "fractionDigits": 12},
            "customerGroup": {"typeId": "customer-group", "id": "cg-a"}}]);
        let wanted = wanted(&[("pl-a", &["L1"], vec![tiered("0", &[])])]);
        let mut wanted = wanted;
        wanted.groups.get_mut("pl-a").unwrap().prices[0].value = per_piece;
        assert_eq!(
            plan_prices(Some(&product(shop)), "SKU-1", &wanted, &ids()).unwrap(),
            Plan::AlreadyCurrent
        );
    }

    #[test]
    fn unpublished_changes_to_the_bridges_prices_are_for_an_operator() {
        let mut current = product(json!([
            {"id": "pr-1", "value": {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 950, "fractionDigits": 2},
             "customerGroup": {"typeId": "customer-group", "id": "cg-a"}}]));
        let mut published = current.master_data.staged.clone();
        published.master_variant.prices[0].value.cent_amount = 990;
        current.master_data.current = Some(published);
        let err = plan_prices(
            Some(&current),
            "SKU-1",
            &wanted(&[("pl-a", &["L1"], vec![tiered("9.5", &[])])]),
            &ids(),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::StagedPriceChanges { .. }), "{err}");
    }

    #[test]
    fn no_product_in_the_shop_is_absent() {
        assert_eq!(
            plan_prices(
                None,
                "SKU-1",
                &wanted(&[("pl-a", &["L1"], vec![tiered("1", &[])])]),
                &ids()
            )
            .unwrap(),
            Plan::Absent
        );
    }
}

//! Stock: `(sku, warehouse)` → the inventory entry of that sku in the warehouse's supply
//! channel; `available` → `quantityOnStock`, `next_delivery` → `expectedDelivery`, the
//! revision → the `bridgeRevision` field of the `bridge-inventory` Type.

use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{
    CustomFieldsDraft, FieldValue, InventoryEntry, InventoryEntryDraft, PagedQuery, TypeKey,
    UpdateAction,
};
use crate::plan::{Plan, PlanError, Resource, decide, revision_action};
use crate::setup::{INVENTORY_TYPE, REVISION_FIELD, Setup, channel_reference};
use crate::write::{Writable, write};
use crate::{MAX_WRITE_ATTEMPTS, quoted};
use bridge_domain::PortError;
use bridge_domain::events::StockChanged;
use bridge_domain::money::Quantity;
use bridge_domain::shop::Published;
use chrono::{DateTime, NaiveDate, SecondsFormat};
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;

const OPERATION: &str = "shop.publish_stock";

/// Where a stock level goes in the shop: its warehouse's channel and the bridge's Type.
#[derive(Debug, Clone, Copy)]
pub struct StockTarget<'a> {
    pub channel_id: &'a str,
    pub type_id: &'a str,
}

/// What publishing `wanted` does to `current`, the entry the shop holds for its sku in its
/// warehouse's channel (`None`: there is none).
pub fn plan_stock(
    current: Option<&InventoryEntry>,
    wanted: &StockChanged,
    target: StockTarget<'_>,
) -> Result<Plan<InventoryEntryDraft>, PlanError> {
    let quantity = quantity_on_stock(wanted.available)?;
    let expected_delivery = wanted
        .next_delivery
        .as_ref()
        .map(|delivery| expected_delivery(delivery.date));
    let Some(entry) = current else {
        return Ok(Plan::Create(InventoryEntryDraft {
            sku: wanted.sku.to_string(),
            supply_channel: channel_reference(target.channel_id),
            quantity_on_stock: quantity,
            expected_delivery,
            custom: CustomFieldsDraft {
                type_key: TypeKey::new(INVENTORY_TYPE.key),
                fields: BTreeMap::from([(
                    REVISION_FIELD,
                    FieldValue::Number(wanted.revision.value()),
                )]),
            },
        }));
    };
    let resource = Resource {
        kind: "inventory entry",
        id: &entry.id,
        custom: entry.custom.as_ref(),
    };
    let fields = resource.bridge_fields(target.type_id, INVENTORY_TYPE.key)?;
    let stored = resource.stored_revision(fields)?;
    let mut actions = Vec::new();
    if entry.quantity_on_stock != quantity {
        actions.push(UpdateAction::ChangeQuantity { quantity });
    }
    if !same_instant(
        entry.expected_delivery.as_deref(),
        expected_delivery.as_deref(),
    ) {
        // Without a value this removes the date (the emulator answers that with a 500; the
        // API reference documents it, and it is what the ERP said).
        actions.push(UpdateAction::SetExpectedDelivery { expected_delivery });
    }
    Ok(decide(
        &resource,
        entry.version,
        stored,
        wanted.revision,
        actions,
        revision_action(
            fields.is_some(),
            INVENTORY_TYPE.key,
            wanted.revision,
            BTreeMap::new(),
        ),
    ))
}

/// `quantityOnStock` is a whole number in commercetools, the ERP's quantity a decimal: it
/// is rounded down, so the shop never offers more than the warehouse has (12.7 → 12).
pub fn quantity_on_stock(available: Quantity) -> Result<i64, PlanError> {
    let value = available.value();
    value
        .floor()
        .to_i64()
        .ok_or(PlanError::QuantityOutOfRange(value))
}

/// The expected delivery of a delivery date: midnight at its start in the business time
/// zone (contract v2: a date without a time is that midnight), as the API's UTC DateTime
/// (2027-01-02 in Europe/Berlin: `2027-01-01T23:00:00.000Z`). A storefront showing it in the
/// shop's zone shows the ERP's date.
pub fn expected_delivery(date: NaiveDate) -> String {
    bridge_contract::json::business_midnight(date).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether two API DateTimes are the same moment (`…00.000Z` and `…00Z` are).
fn same_instant(stored: Option<&str>, wanted: Option<&str>) -> bool {
    match (stored, wanted) {
        (None, None) => true,
        (Some(stored), Some(wanted)) => match (
            DateTime::parse_from_rfc3339(stored),
            DateTime::parse_from_rfc3339(wanted),
        ) {
            (Ok(stored), Ok(wanted)) => stored == wanted,
            _ => stored == wanted,
        },
        _ => false,
    }
}

pub(crate) async fn publish(
    client: &Client,
    setup: &Setup,
    call: &mut Call<'_>,
    stock: &StockChanged,
) -> Result<Published, PortError> {
    let shop_error = |err: ShopError| err.into_port_error(OPERATION);
    // Refused before any request: no setup is worth doing for a record that cannot be sent.
    quantity_on_stock(stock.available)
        .map_err(|err| PortError::permanent(OPERATION, err.to_string()))?;
    let type_id = setup
        .inventory_type(client, call)
        .await
        .map_err(shop_error)?;
    let channel_id = setup
        .channel(client, call, stock.warehouse.as_str())
        .await
        .map_err(shop_error)?;
    let level = Level {
        stock,
        target: StockTarget {
            channel_id: &channel_id,
            type_id: &type_id,
        },
        setup,
    };
    write(client, call, &level).await
}

/// A stock level bound for its warehouse's channel.
struct Level<'a> {
    stock: &'a StockChanged,
    target: StockTarget<'a>,
    setup: &'a Setup,
}

#[async_trait::async_trait]
impl Writable for Level<'_> {
    type Current = InventoryEntry;
    type Updated = InventoryEntry;
    type Draft = InventoryEntryDraft;
    type Created = InventoryEntry;
    const OPERATION: &'static str = OPERATION;
    const ENDPOINT: &'static str = "inventory";

    async fn read(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<Option<InventoryEntry>, ShopError> {
        find_entry(
            client,
            call,
            self.stock.sku.as_str(),
            self.target.channel_id,
        )
        .await
    }

    fn plan(
        &self,
        current: Option<&InventoryEntry>,
    ) -> Result<Plan<InventoryEntryDraft>, PlanError> {
        plan_stock(current, self.stock, self.target)
    }

    fn known(&self) -> Option<InventoryEntry> {
        self.setup
            .known_entry(self.stock.sku.as_str(), self.target.channel_id)
    }

    fn remember_updated(&self, answer: &InventoryEntry) {
        self.setup.remember_entry(answer);
    }

    fn remember_created(&self, answer: &InventoryEntry) {
        self.setup.remember_entry(answer);
    }

    fn forget(&self) {
        self.setup
            .forget_entry(self.stock.sku.as_str(), self.target.channel_id);
    }

    fn contested(&self) -> String {
        format!(
            "the inventory entry of {} in {} changed under {MAX_WRITE_ATTEMPTS} writes in a row; the batch retries later",
            self.stock.sku, self.stock.warehouse
        )
    }
}

/// The entry of `sku` in the channel, by query: the API allows one per (sku, channel).
async fn find_entry(
    client: &Client,
    call: &mut Call<'_>,
    sku: &str,
    channel_id: &str,
) -> Result<Option<InventoryEntry>, ShopError> {
    let mut url = client.url(&["inventory"]);
    url.query_pairs_mut()
        .append_pair(
            "where",
            &format!(
                "sku={} and supplyChannel(id={})",
                quoted(sku),
                quoted(channel_id)
            ),
        )
        // Two, to notice a duplicate the API should have refused (the emulator stores them).
        .append_pair("limit", "2")
        .append_pair("withTotal", "false");
    let request = format!("GET {}", url.path());
    let page: PagedQuery<InventoryEntry> = client.get(call, url).await?;
    let mut entries = page.results.into_iter();
    match (entries.next(), entries.next()) {
        (first, None) => Ok(first),
        (Some(first), Some(second)) => Err(ShopError::Unexpected {
            request,
            reason: format!(
                "two inventory entries ({}, {}) for sku {sku} in channel {channel_id}; the API allows one, an operator removes the other",
                first.id, second.id
            ),
        }),
        (None, Some(_)) => unreachable!("an iterator yields no item after its end"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomFields, Reference};
    use bridge_domain::events::NextDelivery;
    use bridge_domain::{Revision, Sku, WarehouseId};
    use serde_json::json;
    use std::str::FromStr;

    const TARGET: StockTarget<'static> = StockTarget {
        channel_id: "ch-1",
        type_id: "type-inv",
    };

    fn stock(available: &str, revision: u64, delivery: Option<&str>) -> StockChanged {
        StockChanged {
            sku: Sku::parse("SKU-1").unwrap(),
            warehouse: WarehouseId::parse("W1").unwrap(),
            available: Quantity::new(Decimal::from_str(available).unwrap()).unwrap(),
            revision: Revision::new(revision),
            as_of: None,
            next_delivery: delivery.map(|date| NextDelivery {
                date: NaiveDate::from_str(date).unwrap(),
                quantity: Quantity::new(Decimal::TEN).unwrap(),
            }),
        }
    }

    use rust_decimal::Decimal;

    fn entry(quantity: i64, revision: Option<u64>, delivery: Option<&str>) -> InventoryEntry {
        InventoryEntry {
            id: "inv-1".into(),
            version: 4,
            sku: "SKU-1".into(),
            supply_channel: Some(channel_reference("ch-1")),
            quantity_on_stock: quantity,
            expected_delivery: delivery.map(str::to_string),
            custom: Some(CustomFields {
                type_ref: Reference {
                    type_id: "type".into(),
                    id: "type-inv".into(),
                },
                fields: revision
                    .map(|r| BTreeMap::from([(REVISION_FIELD.to_string(), json!(r))]))
                    .unwrap_or_default(),
            }),
        }
    }

    fn update(actions: Vec<UpdateAction>) -> Plan<InventoryEntryDraft> {
        Plan::Update {
            id: "inv-1".into(),
            version: 4,
            actions,
        }
    }

    fn revision(value: u64) -> UpdateAction {
        UpdateAction::SetCustomField {
            name: REVISION_FIELD,
            value: FieldValue::Number(value),
        }
    }

    #[test]
    fn a_new_stock_level_is_a_draft_with_channel_type_and_revision() {
        let plan = plan_stock(None, &stock("12.7", 41, Some("2027-01-02")), TARGET).unwrap();
        let Plan::Create(draft) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            json!({
                "sku": "SKU-1",
                "supplyChannel": {"typeId": "channel", "id": "ch-1"},
                "quantityOnStock": 12,
                "expectedDelivery": "2027-01-01T23:00:00.000Z",
                "custom": {"type": {"typeId": "type", "key": "bridge-inventory"},
                           "fields": {"bridgeRevision": 41}},
            })
        );
        let Plan::Create(draft) = plan_stock(None, &stock("3", 1, None), TARGET).unwrap() else {
            panic!()
        };
        assert!(
            !serde_json::to_value(&draft)
                .unwrap()
                .as_object()
                .unwrap()
                .contains_key("expectedDelivery")
        );
    }

    #[test]
    fn a_new_quantity_changes_only_the_quantity_and_the_revision() {
        let current = entry(10, Some(41), Some("2027-01-01T23:00:00.000Z"));
        let plan = plan_stock(Some(&current), &stock("7", 42, Some("2027-01-02")), TARGET).unwrap();
        assert_eq!(
            plan,
            update(vec![
                UpdateAction::ChangeQuantity { quantity: 7 },
                revision(42)
            ])
        );
    }

    #[test]
    fn a_delivery_date_is_set_changed_or_removed_and_the_same_moment_is_no_change() {
        let none = entry(10, Some(1), None);
        assert_eq!(
            plan_stock(Some(&none), &stock("10", 2, Some("2027-03-01")), TARGET).unwrap(),
            update(vec![
                UpdateAction::SetExpectedDelivery {
                    expected_delivery: Some("2027-02-28T23:00:00.000Z".into())
                },
                revision(2)
            ])
        );
        let dated = entry(10, Some(1), Some("2027-02-28T23:00:00Z"));
        assert_eq!(
            plan_stock(Some(&dated), &stock("10", 2, None), TARGET).unwrap(),
            update(vec![
                UpdateAction::SetExpectedDelivery {
                    expected_delivery: None
                },
                revision(2)
            ])
        );
        // Neither holds a date: no setExpectedDelivery at all.
        assert_eq!(
            plan_stock(Some(&none), &stock("10", 2, None), TARGET).unwrap(),
            update(vec![revision(2)])
        );
        assert_eq!(
            plan_stock(Some(&dated), &stock("10", 1, Some("2027-03-01")), TARGET).unwrap(),
            Plan::AlreadyCurrent
        );
    }

    #[test]
    fn a_lower_revision_is_stale_and_an_equal_one_is_current_or_stale_by_content() {
        let current = entry(10, Some(42), None);
        let shop_revision = Revision::new(42);
        assert_eq!(
            plan_stock(Some(&current), &stock("5", 41, None), TARGET).unwrap(),
            Plan::Stale { shop_revision }
        );
        assert_eq!(
            plan_stock(Some(&current), &stock("10", 42, None), TARGET).unwrap(),
            Plan::AlreadyCurrent
        );
        assert_eq!(
            plan_stock(Some(&current), &stock("5", 42, None), TARGET).unwrap(),
            Plan::Stale { shop_revision }
        );
    }

    #[test]
    fn a_higher_revision_with_the_same_content_writes_only_the_revision() {
        let current = entry(10, Some(42), None);
        assert_eq!(
            plan_stock(Some(&current), &stock("10.9", 43, None), TARGET).unwrap(),
            update(vec![revision(43)])
        );
    }

    #[test]
    fn an_entry_without_custom_fields_gets_the_bridge_type_and_one_of_another_type_is_refused() {
        let mut bare = entry(10, None, None);
        bare.custom = None;
        assert_eq!(
            plan_stock(Some(&bare), &stock("10", 5, None), TARGET).unwrap(),
            update(vec![UpdateAction::SetCustomType {
                type_key: TypeKey::new("bridge-inventory"),
                fields: BTreeMap::from([(REVISION_FIELD, FieldValue::Number(5))]),
            }])
        );
        let mut foreign = entry(10, Some(99), None);
        foreign.custom.as_mut().unwrap().type_ref.id = "merchant-type".into();
        let err = plan_stock(Some(&foreign), &stock("10", 5, None), TARGET).unwrap_err();
        assert!(
            matches!(err, PlanError::ForeignCustomType { ref type_id, .. } if type_id == "merchant-type")
        );
        // Our Type without the field yet (written by hand): the revision is written.
        let unrevised = entry(3, None, None);
        assert_eq!(
            plan_stock(Some(&unrevised), &stock("3", 5, None), TARGET).unwrap(),
            update(vec![revision(5)])
        );
    }

    #[test]
    fn a_revision_that_is_not_a_number_is_refused_rather_than_overwritten() {
        let mut odd = entry(10, None, None);
        odd.custom
            .as_mut()
            .unwrap()
            .fields
            .insert(REVISION_FIELD.into(), json!("forty"));
        assert!(matches!(
            plan_stock(Some(&odd), &stock("10", 5, None), TARGET).unwrap_err(),
            PlanError::UnreadableRevision { .. }
        ));
    }

    #[test]
    fn quantities_are_rounded_down_and_a_huge_one_is_refused() {
        let q = |s: &str| Quantity::new(Decimal::from_str(s).unwrap()).unwrap();
        assert_eq!(quantity_on_stock(q("12.7")), Ok(12));
        assert_eq!(quantity_on_stock(q("0.99")), Ok(0));
        assert_eq!(quantity_on_stock(q("9223372036854775807")), Ok(i64::MAX));
        assert!(matches!(
            quantity_on_stock(q("9223372036854775808")),
            Err(PlanError::QuantityOutOfRange(_))
        ));
    }
}

//! An order's progress in the ERP onto the shop's order (contract section 6): order state,
//! shipment state, a delivery with a parcel per tracking code, the ERP's order number as
//! sync info under the bridge's OrderExport channel (`bridge-erp`), and the progress's
//! revision in the order's `bridgeRevision` custom field, checked before every write.
//!
//! The shop's order is found by its number (the order id the shop's orders come in under),
//! else by its id; one the shop does not have (an order placed elsewhere) is left alone.
//! An order without custom fields gets the bridge's Type `bridge-order`; one with a Type of
//! the shop's own (its B2B fields) keeps it, and that Type gets the optional
//! `bridgeRevision` field added once.

use crate::MAX_WRITE_ATTEMPTS;
use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{DeliveryItem, Order, ParcelDraft, TrackingData, UpdateAction};
use crate::plan::{Plan, PlanError, Resource, decide, revision_action};
use crate::setup::{ORDER_TYPE, Setup, channel_reference};
use crate::write::{Writable, write};
use bridge_domain::PortError;
use bridge_domain::shop::{OrderProgress, Published, ShopOrderState, ShopShipmentState};
use std::collections::{BTreeMap, BTreeSet};

const OPERATION: &str = "shop.publish_order_progress";

/// Where a progress goes in the shop: the ERP channel and the bridge's order Type.
#[derive(Debug, Clone, Copy)]
pub struct OrderTarget<'a> {
    pub erp_channel_id: &'a str,
    pub order_type_id: &'a str,
}

fn order_state(state: ShopOrderState) -> &'static str {
    match state {
        ShopOrderState::Open => "Open",
        ShopOrderState::Confirmed => "Confirmed",
        ShopOrderState::Complete => "Complete",
        ShopOrderState::Cancelled => "Cancelled",
    }
}

fn shipment_state(state: ShopShipmentState) -> &'static str {
    match state {
        ShopShipmentState::Partial => "Partial",
        ShopShipmentState::Shipped => "Shipped",
        ShopShipmentState::Delivered => "Delivered",
    }
}

/// What showing `wanted` on `current` (the shop's order, `None`: it has none) takes.
pub fn plan_order_progress(
    current: Option<&Order>,
    wanted: &OrderProgress,
    target: OrderTarget<'_>,
) -> Result<Plan<()>, PlanError> {
    let Some(order) = current else {
        return Ok(Plan::Absent);
    };
    let resource = Resource {
        kind: "order",
        id: &order.id,
        custom: order.custom.as_ref(),
    };
    // The order's own Type (the shop's or the bridge's) holds the field: the read made
    // sure of it.
    let stored = resource.stored_revision(order.custom.as_ref())?;
    let mut actions = Vec::new();
    let state = order_state(wanted.state);
    if order.order_state != state {
        actions.push(UpdateAction::ChangeOrderState { order_state: state });
    }
    if let Some(shipment) = wanted.shipment.map(shipment_state)
        && order.shipment_state.as_deref() != Some(shipment)
    {
        actions.push(UpdateAction::ChangeShipmentState {
            shipment_state: shipment,
        });
    }
    actions.extend(parcel_actions(order, wanted));
    if let Some(number) = &wanted.erp_order_number {
        let recorded = order.sync_info.iter().any(|info| {
            info.channel.id == target.erp_channel_id && info.external_id.as_deref() == Some(number)
        });
        if !recorded {
            actions.push(UpdateAction::UpdateSyncInfo {
                channel: channel_reference(target.erp_channel_id),
                external_id: number.clone(),
            });
        }
    }
    let has_type = order.custom.is_some();
    Ok(decide(
        &resource,
        order.version,
        stored,
        wanted.revision,
        actions,
        revision_action(has_type, ORDER_TYPE.key, wanted.revision, BTreeMap::new()),
    ))
}

/// A parcel for each tracking code the order's deliveries do not show yet: in a first
/// delivery of every line item, or added to the order's first delivery. An order without
/// shipping info cannot take a delivery (the API refuses one): its states still change, and
/// the tracking is logged instead.
fn parcel_actions(order: &Order, wanted: &OrderProgress) -> Vec<UpdateAction> {
    let shown: BTreeSet<&str> = order
        .shipping_info
        .iter()
        .flat_map(|info| &info.deliveries)
        .flat_map(|delivery| &delivery.parcels)
        .filter_map(|parcel| parcel.tracking_data.as_ref()?.tracking_id.as_deref())
        .collect();
    let mut seen = BTreeSet::new();
    let new: Vec<TrackingData> = wanted
        .tracking
        .iter()
        .filter_map(|tracking| {
            let code = tracking.code.as_deref()?;
            (!shown.contains(code) && seen.insert(code)).then(|| TrackingData {
                tracking_id: Some(code.to_string()),
                carrier: tracking.carrier.clone(),
            })
        })
        .collect();
    if new.is_empty() {
        return Vec::new();
    }
    let Some(info) = &order.shipping_info else {
        tracing::warn!(
            order = %order.id,
            parcels = new.len(),
            "the shop's order has no shipping info, so it cannot show a delivery; its tracking stays in the bridge (bridgectl order)"
        );
        return Vec::new();
    };
    match info.deliveries.first() {
        None => vec![UpdateAction::AddDelivery {
            items: order
                .line_items
                .iter()
                .map(|item| DeliveryItem {
                    id: item.id.clone(),
                    quantity: item.quantity,
                })
                .collect(),
            parcels: new
                .into_iter()
                .map(|tracking_data| ParcelDraft { tracking_data })
                .collect(),
        }],
        Some(delivery) => new
            .into_iter()
            .map(|tracking_data| UpdateAction::AddParcelToDelivery {
                delivery_id: delivery.id.clone(),
                tracking_data,
            })
            .collect(),
    }
}

pub(crate) async fn publish(
    client: &Client,
    setup: &Setup,
    call: &mut Call<'_>,
    progress: &OrderProgress,
) -> Result<Published, PortError> {
    let shop_error = |err: ShopError| err.into_port_error(OPERATION);
    let order_type_id = setup.order_type(client, call).await.map_err(shop_error)?;
    let erp_channel_id = if progress.erp_order_number.is_some() {
        setup.erp_channel(client, call).await.map_err(shop_error)?
    } else {
        String::new()
    };
    let shown = Shown {
        progress,
        setup,
        target: OrderTarget {
            erp_channel_id: &erp_channel_id,
            order_type_id: &order_type_id,
        },
    };
    write(client, call, &shown).await
}

/// A progress bound for the shop's order.
struct Shown<'a> {
    progress: &'a OrderProgress,
    setup: &'a Setup,
    target: OrderTarget<'a>,
}

#[async_trait::async_trait]
impl Writable for Shown<'_> {
    type Current = Order;
    type Updated = Order;
    type Draft = ();
    type Created = Order;
    const OPERATION: &'static str = OPERATION;
    const ENDPOINT: &'static str = "orders";

    async fn read(&self, client: &Client, call: &mut Call<'_>) -> Result<Option<Order>, ShopError> {
        let id = self.progress.order_id.as_str();
        let by_number = client.url(&["orders", &format!("order-number={id}")]);
        let order = match client.get_optional::<Order>(call, by_number).await? {
            Some(order) => Some(order),
            None => {
                client
                    .get_optional(call, client.url(&["orders", id]))
                    .await?
            }
        };
        if let Some(custom) = order.as_ref().and_then(|o| o.custom.as_ref())
            && custom.type_ref.id != self.target.order_type_id
        {
            self.setup
                .revision_field_on(client, call, &custom.type_ref.id)
                .await?;
        }
        Ok(order)
    }

    fn plan(&self, current: Option<&Order>) -> Result<Plan<()>, PlanError> {
        plan_order_progress(current, self.progress, self.target)
    }

    fn contested(&self) -> String {
        format!(
            "order {} changed under {MAX_WRITE_ATTEMPTS} writes in a row; the batch retries later",
            self.progress.order_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        CustomFields, DeliveryResource, FieldValue, OrderLineItem, ParcelResource, Reference,
        ShippingInfo, SyncInfo, TypeKey,
    };
    use crate::setup::REVISION_FIELD;
    use bridge_domain::events::Tracking;
    use bridge_domain::{OrderId, Revision};
    use serde_json::json;

    const TARGET: OrderTarget<'static> = OrderTarget {
        erp_channel_id: "ch-erp",
        order_type_id: "t-bridge-order",
    };

    fn progress(
        state: ShopOrderState,
        shipment: Option<ShopShipmentState>,
        revision: u64,
        codes: &[&str],
    ) -> OrderProgress {
        OrderProgress {
            order_id: OrderId::parse("SHOP-1").unwrap(),
            revision: Revision::new(revision),
            state,
            shipment,
            erp_order_number: Some("SO-9".into()),
            tracking: codes
                .iter()
                .map(|code| Tracking {
                    carrier: Some("DHL".into()),
                    code: Some(code.to_string()),
                })
                .collect(),
        }
    }

    fn order(revision: Option<u64>) -> Order {
        Order {
            id: "o-1".into(),
            version: 7,
            order_number: Some("SHOP-1".into()),
            order_state: "Open".into(),
            shipment_state: None,
            line_items: vec![
                OrderLineItem {
                    id: "li-1".into(),
                    quantity: 12,
                },
                OrderLineItem {
                    id: "li-2".into(),
                    quantity: 1,
                },
            ],
            shipping_info: Some(ShippingInfo { deliveries: vec![] }),
            sync_info: vec![],
            custom: Some(CustomFields {
                type_ref: Reference {
                    type_id: "type".into(),
                    id: "t-shop-b2b".into(),
                },
                fields: revision
                    .map(|r| BTreeMap::from([(REVISION_FIELD.to_string(), json!(r))]))
                    .unwrap_or_default(),
            }),
        }
    }

    fn revision(value: u64) -> UpdateAction {
        UpdateAction::SetCustomField {
            name: REVISION_FIELD,
            value: FieldValue::Number(value),
        }
    }

    fn actions(plan: Plan<()>) -> Vec<UpdateAction> {
        match plan {
            Plan::Update {
                id,
                version,
                actions,
            } => {
                assert_eq!((id.as_str(), version), ("o-1", 7));
                actions
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_shipment_confirms_the_order_adds_a_delivery_with_its_parcels_and_records_the_erp_number() {
        let wanted = progress(
            ShopOrderState::Confirmed,
            Some(ShopShipmentState::Shipped),
            4,
            &["1Z1", "1Z2", "1Z1"],
        );
        let plan = plan_order_progress(Some(&order(None)), &wanted, TARGET).unwrap();
        assert_eq!(
            serde_json::to_value(actions(plan)).unwrap(),
            json!([
                {"action": "changeOrderState", "orderState": "Confirmed"},
                {"action": "changeShipmentState", "shipmentState": "Shipped"},
                {"action": "addDelivery",
                 "items": [{"id": "li-1", "quantity": 12}, {"id": "li-2", "quantity": 1}],
                 "parcels": [{"trackingData": {"trackingId": "1Z1", "carrier": "DHL"}},
                             {"trackingData": {"trackingId": "1Z2", "carrier": "DHL"}}]},
                {"action": "updateSyncInfo", "channel": {"typeId": "channel", "id": "ch-erp"},
                 "externalId": "SO-9"},
                {"action": "setCustomField", "name": "bridgeRevision", "value": 4},
            ])
        );
    }

    #[test]
    fn what_the_order_shows_already_is_not_sent_again_and_new_parcels_join_the_delivery() {
        let mut shown = order(Some(3));
        shown.order_state = "Confirmed".into();
        shown.shipment_state = Some("Shipped".into());
        shown.shipping_info = Some(ShippingInfo {
            deliveries: vec![DeliveryResource {
                id: "d-1".into(),
                parcels: vec![ParcelResource {
                    tracking_data: Some(TrackingData {
                        tracking_id: Some("1Z1".into()),
                        carrier: Some("DHL".into()),
                    }),
                }],
            }],
        });
        shown.sync_info = vec![SyncInfo {
            channel: channel_reference("ch-erp"),
            external_id: Some("SO-9".into()),
        }];
        let delivered = progress(
            ShopOrderState::Confirmed,
            Some(ShopShipmentState::Delivered),
            5,
            &["1Z1", "1Z3"],
        );
        assert_eq!(
            actions(plan_order_progress(Some(&shown), &delivered, TARGET).unwrap()),
            vec![
                UpdateAction::ChangeShipmentState {
                    shipment_state: "Delivered"
                },
                UpdateAction::AddParcelToDelivery {
                    delivery_id: "d-1".into(),
                    tracking_data: TrackingData {
                        tracking_id: Some("1Z3".into()),
                        carrier: Some("DHL".into()),
                    },
                },
                revision(5),
            ]
        );
        // The same progress again: nothing to write.
        let same = progress(
            ShopOrderState::Confirmed,
            Some(ShopShipmentState::Shipped),
            3,
            &["1Z1"],
        );
        assert_eq!(
            plan_order_progress(Some(&shown), &same, TARGET).unwrap(),
            Plan::AlreadyCurrent
        );
        // An older one (a redelivery after a newer status): never written over it.
        let older = progress(ShopOrderState::Confirmed, None, 1, &[]);
        assert_eq!(
            plan_order_progress(Some(&shown), &older, TARGET).unwrap(),
            Plan::Stale {
                shop_revision: Revision::new(3)
            }
        );
    }

    #[test]
    fn an_order_without_custom_fields_gets_the_bridge_type_and_one_the_shop_lacks_is_absent() {
        let mut bare = order(None);
        bare.custom = None;
        let cancelled = progress(ShopOrderState::Cancelled, None, 2, &[]);
        let sent = actions(plan_order_progress(Some(&bare), &cancelled, TARGET).unwrap());
        assert_eq!(
            sent.last(),
            Some(&UpdateAction::SetCustomType {
                type_key: TypeKey::new("bridge-order"),
                fields: BTreeMap::from([(REVISION_FIELD, FieldValue::Number(2))]),
            })
        );
        assert_eq!(
            sent[0],
            UpdateAction::ChangeOrderState {
                order_state: "Cancelled"
            }
        );
        assert_eq!(
            plan_order_progress(None, &cancelled, TARGET).unwrap(),
            Plan::Absent
        );
    }

    #[test]
    fn an_order_without_shipping_info_changes_state_but_takes_no_delivery() {
        let mut unshipped = order(None);
        unshipped.shipping_info = None;
        let shipped = progress(
            ShopOrderState::Confirmed,
            Some(ShopShipmentState::Shipped),
            2,
            &["1Z1"],
        );
        let sent = actions(plan_order_progress(Some(&unshipped), &shipped, TARGET).unwrap());
        assert!(
            !sent.iter().any(|a| matches!(
                a,
                UpdateAction::AddDelivery { .. } | UpdateAction::AddParcelToDelivery { .. }
            )),
            "{sent:?}"
        );
        assert!(sent.contains(&UpdateAction::ChangeShipmentState {
            shipment_state: "Shipped"
        }));
    }
}

//! The commercetools resources and update actions the connector reads and writes, as the
//! HTTP API reference names them (only the fields the bridge uses; others are ignored).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `{typeId, id}` as resources refer to each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub type_id: String,
    pub id: String,
}

/// A reference read with its resource expanded (where the read asked for it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExpandedReference {
    pub id: String,
    pub obj: Option<KeyedResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyedResource {
    pub key: Option<String>,
}

/// The custom fields of a resource: the Type (always returned by id) and the values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomFields {
    #[serde(rename = "type")]
    pub type_ref: Reference,
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

/// A stock level of one sku in one supply channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryEntry {
    pub id: String,
    pub version: u64,
    pub sku: String,
    pub supply_channel: Option<Reference>,
    pub quantity_on_stock: i64,
    /// RFC 3339, as the shop stores it (`2027-01-01T23:00:00.000Z`).
    pub expected_delivery: Option<String>,
    pub custom: Option<CustomFields>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: String,
    pub version: u64,
    pub key: Option<String>,
    pub company_name: Option<String>,
    /// Read expanded, so that its key tells the bridge's price groups apart.
    pub customer_group: Option<ExpandedReference>,
    pub custom: Option<CustomFields>,
}

/// `POST /customers` answers a sign-in result, not the bare customer.
#[derive(Debug, Deserialize)]
pub(crate) struct CustomerSignInResult {
    pub customer: Customer,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PagedQuery<T> {
    pub results: Vec<T>,
}

/// A Type by key, as drafts and `setCustomType` name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeKey {
    pub type_id: &'static str,
    pub key: &'static str,
}

impl TypeKey {
    pub fn new(key: &'static str) -> Self {
        Self {
            type_id: "type",
            key,
        }
    }
}

/// A custom field value the bridge writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A revision (a Number field).
    Number(u64),
    Boolean(bool),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomFieldsDraft {
    #[serde(rename = "type")]
    pub type_key: TypeKey,
    pub fields: BTreeMap<&'static str, FieldValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryEntryDraft {
    pub sku: String,
    pub supply_channel: Reference,
    pub quantity_on_stock: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_delivery: Option<String>,
    pub custom: CustomFieldsDraft,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDraft {
    pub key: String,
    pub email: String,
    pub authentication_mode: &'static str,
    pub company_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_group: Option<Reference>,
    pub custom: CustomFieldsDraft,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub url: String,
    #[serde(default = "Dimensions::unknown")]
    pub dimensions: Dimensions,
}

/// An image's size in pixels: the PIM gives none, so an external image is `0 × 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimensions {
    pub w: u32,
    pub h: u32,
}

impl Dimensions {
    pub fn unknown() -> Self {
        Self { w: 0, h: 0 }
    }
}

impl Image {
    pub fn external(url: &str) -> Self {
        Self {
            url: url.to_string(),
            dimensions: Dimensions::unknown(),
        }
    }
}

/// A shop order as the bridge reads it to show the ERP's progress (the fields it uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub version: u64,
    pub order_number: Option<String>,
    pub order_state: String,
    pub shipment_state: Option<String>,
    #[serde(default)]
    pub line_items: Vec<OrderLineItem>,
    pub shipping_info: Option<ShippingInfo>,
    #[serde(default)]
    pub sync_info: Vec<SyncInfo>,
    pub custom: Option<CustomFields>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderLineItem {
    pub id: String,
    pub quantity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShippingInfo {
    #[serde(default)]
    pub deliveries: Vec<DeliveryResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeliveryResource {
    pub id: String,
    #[serde(default)]
    pub parcels: Vec<ParcelResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParcelResource {
    pub tracking_data: Option<TrackingData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncInfo {
    pub channel: Reference,
    pub external_id: Option<String>,
}

/// `{id, quantity}` of a line item, as a delivery names what it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryItem {
    pub id: String,
    pub quantity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParcelDraft {
    pub tracking_data: TrackingData,
}

/// The update actions the bridge sends (inventory entries, customers, orders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum UpdateAction {
    /// Sets `quantityOnStock` (absolute, not a delta).
    ChangeQuantity {
        quantity: i64,
    },
    /// Without a value it removes the expected delivery.
    SetExpectedDelivery {
        #[serde(skip_serializing_if = "Option::is_none")]
        expected_delivery: Option<String>,
    },
    SetCompanyName {
        company_name: String,
    },
    SetCustomField {
        name: &'static str,
        value: FieldValue,
    },
    ChangeOrderState {
        order_state: &'static str,
    },
    ChangeShipmentState {
        shipment_state: &'static str,
    },
    /// The order's first delivery: every line item in full, a parcel per tracking code.
    AddDelivery {
        items: Vec<DeliveryItem>,
        parcels: Vec<ParcelDraft>,
    },
    AddParcelToDelivery {
        delivery_id: String,
        tracking_data: TrackingData,
    },
    /// Records the ERP's order number under the bridge's OrderExport channel.
    UpdateSyncInfo {
        channel: Reference,
        external_id: String,
    },
    /// Product content, written to the published and the staged copy alike
    /// (`staged: false`).
    ChangeName {
        name: BTreeMap<String, String>,
        staged: bool,
    },
    /// Without a description it removes the one there is.
    SetDescription {
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<BTreeMap<String, String>>,
        staged: bool,
    },
    AddToCategory {
        category: Reference,
        staged: bool,
    },
    RemoveFromCategory {
        category: Reference,
        staged: bool,
    },
    /// A product variant's attribute; without a value it removes the attribute.
    SetAttribute {
        sku: String,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
        staged: bool,
    },
    AddExternalImage {
        sku: String,
        image: Image,
        staged: bool,
    },
    RemoveImage {
        sku: String,
        image_url: String,
        staged: bool,
    },
    /// An embedded price on the variant of `sku`, to the published and the staged copy.
    AddPrice {
        sku: String,
        price: PriceDraft,
        staged: bool,
    },
    /// Changing a price is a remove and an add in one update: the emulator's `changePrice`
    /// leaves the published copy as it was (tools/commercetools-mock/README.md).
    RemovePrice {
        price_id: String,
        staged: bool,
    },
    /// Without a group it takes the customer out of the one it is in.
    SetCustomerGroup {
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_group: Option<Reference>,
    },
    Publish,
    Unpublish,
    /// For a resource without custom fields: attaches the bridge's Type with its values.
    SetCustomType {
        #[serde(rename = "type")]
        type_key: TypeKey,
        fields: BTreeMap<&'static str, FieldValue>,
    },
}

/// An embedded price the bridge writes: one customer group's price in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceDraft {
    pub value: MoneyDraft,
    pub customer_group: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<PriceTierDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTierDraft {
    pub minimum_quantity: u64,
    pub value: MoneyDraft,
}

/// Money in the currency's own digits (cent precision), or in more where the ERP's price
/// has them (high precision: 0.0345 EUR a screw).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum MoneyDraft {
    CentPrecision {
        currency_code: String,
        cent_amount: i64,
    },
    HighPrecision {
        currency_code: String,
        precise_amount: i64,
        fraction_digits: u32,
    },
}

/// `{version, actions}`, the body of every update.
#[derive(Debug, Serialize)]
pub(crate) struct Update<'a> {
    pub version: u64,
    pub actions: &'a [UpdateAction],
}

/// The shop's error body: `{statusCode, message, errors: [{code, message, ...}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorResponse {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorObject>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorObject {
    pub code: String,
    #[serde(default)]
    pub message: String,
    /// `DuplicateField` names the field.
    #[serde(default)]
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_serialize_as_the_api_names_them() {
        let actions = [
            UpdateAction::ChangeQuantity { quantity: 7 },
            UpdateAction::SetExpectedDelivery {
                expected_delivery: None,
            },
            UpdateAction::SetCustomField {
                name: "bridgeRevision",
                value: FieldValue::Number(42),
            },
            UpdateAction::SetCustomType {
                type_key: TypeKey::new("bridge-customer"),
                fields: BTreeMap::from([("orderBlocked", FieldValue::Boolean(true))]),
            },
        ];
        assert_eq!(
            serde_json::to_value(actions).unwrap(),
            json!([
                {"action": "changeQuantity", "quantity": 7},
                {"action": "setExpectedDelivery"},
                {"action": "setCustomField", "name": "bridgeRevision", "value": 42},
                {"action": "setCustomType", "type": {"typeId": "type", "key": "bridge-customer"},
                 "fields": {"orderBlocked": true}},
            ])
        );
    }
}

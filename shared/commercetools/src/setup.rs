//! What the project must hold before the bridge writes stock and customers: its two custom
//! Types (where the source revision lives) and one InventorySupply channel per warehouse.
//! Each is read by key, created when missing, and remembered for the client's lifetime, so
//! a warm connector spends no request on it.

use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{InventoryEntry, Reference};
use crate::product::{AttributeSpec, category_key};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The custom field holding the source revision, on inventory entries and customers.
pub const REVISION_FIELD: &str = "bridgeRevision";
/// The customer's "may not order" flag, for the storefront (or an API extension) to enforce.
pub const ORDER_BLOCKED_FIELD: &str = "orderBlocked";

/// A custom Type the bridge needs, with the fields it writes.
#[derive(Debug)]
pub struct TypeSpec {
    pub key: &'static str,
    pub resource_type_id: &'static str,
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
}

#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    /// The field type's name: `Number`, `Boolean`.
    pub type_name: &'static str,
    pub label: &'static str,
}

pub const INVENTORY_TYPE: TypeSpec = TypeSpec {
    key: "bridge-inventory",
    resource_type_id: "inventory-entry",
    name: "ERP bridge: stock level",
    fields: &[FieldSpec {
        name: REVISION_FIELD,
        type_name: "Number",
        label: "ERP revision",
    }],
};

pub const CUSTOMER_TYPE: TypeSpec = TypeSpec {
    key: "bridge-customer",
    resource_type_id: "customer",
    name: "ERP bridge: customer",
    fields: &[
        FieldSpec {
            name: REVISION_FIELD,
            type_name: "Number",
            label: "ERP revision",
        },
        FieldSpec {
            name: ORDER_BLOCKED_FIELD,
            type_name: "Boolean",
            label: "Blocked from ordering",
        },
    ],
};

/// Where the revision of an order's ERP progress lives on an order without custom fields.
/// An order that has a Type of the shop's own (its B2B fields) gets the `bridgeRevision`
/// field added to that Type instead ([`Setup::revision_field_on`]).
pub const ORDER_TYPE: TypeSpec = TypeSpec {
    key: "bridge-order",
    resource_type_id: "order",
    name: "ERP bridge: order",
    fields: &[FieldSpec {
        name: REVISION_FIELD,
        type_name: "Number",
        label: "ERP revision",
    }],
};

/// The product type of every product the bridge publishes; its attributes grow with the
/// PIM's codes.
pub const PRODUCT_TYPE_KEY: &str = "bridge-product";

/// The channel the ERP's order numbers are recorded under, as the orders' sync info.
pub const ERP_CHANNEL_KEY: &str = "bridge-erp";

/// The role a channel needs to supply inventory entries.
const INVENTORY_SUPPLY: &str = "InventorySupply";
/// The role of a channel orders are exported through (what sync info records).
const ORDER_EXPORT: &str = "OrderExport";

/// Attempts at bringing a Type up to date when someone else changes it meanwhile.
const MAX_TYPE_ATTEMPTS: u32 = 3;

#[derive(Default)]
pub(crate) struct Setup {
    inventory_type: OnceCell<String>,
    customer_type: OnceCell<String>,
    order_type: OnceCell<String>,
    erp_channel: OnceCell<String>,
    /// `bridge-product`'s id and the attributes it is known to define.
    product_type: tokio::sync::Mutex<Option<(String, HashSet<String>)>>,
    /// Category key → id, one cell per key (a level is looked up or created once).
    categories: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    /// Types of the shop's own (on its orders) known to hold `bridgeRevision`.
    revision_fields: Mutex<HashMap<String, Arc<OnceCell<()>>>>,
    /// Warehouse → channel id. One cell per warehouse, so two publishes for a new warehouse
    /// look it up once and never create it twice.
    channels: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    /// Customer group key (`pl-…`, a combination of price lists) → id.
    customer_groups: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    /// Inventory entries as this process last wrote them, by (sku, channel id): the next
    /// change of a level is written without a read (the version guards it).
    inventory: Mutex<HashMap<(String, String), InventoryEntry>>,
}

/// The most inventory entries a process keeps (a few hundred bytes each); past it the
/// cache starts over, and the next write of each level reads first.
const KNOWN_INVENTORY_MAX: usize = 50_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeResource {
    id: String,
    version: u64,
    resource_type_ids: Vec<String>,
    #[serde(default)]
    field_definitions: Vec<FieldDefinition>,
}

#[derive(Debug, Deserialize)]
struct FieldDefinition {
    name: String,
    #[serde(rename = "type")]
    field_type: FieldType,
}

#[derive(Debug, Deserialize)]
struct FieldType {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
}

impl Setup {
    /// The id of `bridge-inventory`.
    pub async fn inventory_type(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<String, ShopError> {
        self.inventory_type
            .get_or_try_init(|| ensure_type(client, call, &INVENTORY_TYPE))
            .await
            .cloned()
    }

    /// The id of `bridge-customer`.
    pub async fn customer_type(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<String, ShopError> {
        self.customer_type
            .get_or_try_init(|| ensure_type(client, call, &CUSTOMER_TYPE))
            .await
            .cloned()
    }

    /// The id of `bridge-order`.
    pub async fn order_type(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<String, ShopError> {
        self.order_type
            .get_or_try_init(|| ensure_type(client, call, &ORDER_TYPE))
            .await
            .cloned()
    }

    /// The id of the channel (key `bridge-erp`, role OrderExport) the ERP's order numbers
    /// are recorded under.
    pub async fn erp_channel(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<String, ShopError> {
        self.erp_channel
            .get_or_try_init(|| {
                ensure_channel(client, call, ERP_CHANNEL_KEY, ORDER_EXPORT, "ERP (bridge)")
            })
            .await
            .cloned()
    }

    /// Makes sure the Type `type_id` (the shop's own, on its orders) defines
    /// `bridgeRevision` as a Number, adding it (optional, so nothing the shop writes breaks)
    /// when it lacks it; once per Type and client.
    pub async fn revision_field_on(
        &self,
        client: &Client,
        call: &mut Call<'_>,
        type_id: &str,
    ) -> Result<(), ShopError> {
        let cell = self
            .revision_fields
            .lock()
            .expect("type cache lock")
            .entry(type_id.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| ensure_fields_by_id(client, call, type_id, &ORDER_TYPE))
            .await
            .copied()
    }

    /// The id of `bridge-product`, defining (at least) `needed`: created when missing, and
    /// extended with an attribute it lacks (a new `attr.*` code of the PIM).
    pub async fn product_type(
        &self,
        client: &Client,
        call: &mut Call<'_>,
        needed: &[AttributeSpec],
    ) -> Result<String, ShopError> {
        let mut known = self.product_type.lock().await;
        if let Some((id, attributes)) = known.as_ref()
            && needed.iter().all(|a| attributes.contains(&a.name))
        {
            return Ok(id.clone());
        }
        let (id, attributes) = ensure_product_type(client, call, needed).await?;
        *known = Some((id.clone(), attributes));
        Ok(id)
    }

    /// The id of the category at the end of `path` (from the root), each level created when
    /// missing (key [`category_key`], named in `locales`, below its parent).
    pub async fn category(
        &self,
        client: &Client,
        call: &mut Call<'_>,
        path: &[String],
        locales: &[String],
    ) -> Result<String, ShopError> {
        let mut parent: Option<String> = None;
        let mut id = String::new();
        for depth in 1..=path.len() {
            let key = category_key(&path[..depth]);
            let cell = self
                .categories
                .lock()
                .expect("category cache lock")
                .entry(key.clone())
                .or_default()
                .clone();
            let name = &path[depth - 1];
            id = cell
                .get_or_try_init(|| {
                    ensure_category(client, call, &key, name, locales, parent.as_deref())
                })
                .await?
                .clone();
            parent = Some(key);
        }
        Ok(id)
    }

    /// Forgets the categories looked up so far (one of them is gone from the shop).
    pub fn forget_categories(&self) {
        self.categories.lock().expect("category cache lock").clear();
    }

    /// The id of the warehouse's supply channel (key = warehouse code).
    pub async fn channel(
        &self,
        client: &Client,
        call: &mut Call<'_>,
        warehouse: &str,
    ) -> Result<String, ShopError> {
        let cell = self
            .channels
            .lock()
            .expect("channel cache lock")
            .entry(warehouse.to_string())
            .or_default()
            .clone();
        let name = format!("Warehouse {warehouse}");
        cell.get_or_try_init(|| ensure_channel(client, call, warehouse, INVENTORY_SUPPLY, &name))
            .await
            .cloned()
    }

    /// The id of the customer group `key`, created (named `name`) when missing.
    pub async fn customer_group(
        &self,
        client: &Client,
        call: &mut Call<'_>,
        key: &str,
        name: &str,
    ) -> Result<String, ShopError> {
        let cell = self
            .customer_groups
            .lock()
            .expect("customer group cache lock")
            .entry(key.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| ensure_customer_group(client, call, key, name))
            .await
            .cloned()
    }

    /// The entry of `sku` in `channel_id` as this process last wrote it.
    pub fn known_entry(&self, sku: &str, channel_id: &str) -> Option<InventoryEntry> {
        self.inventory
            .lock()
            .expect("inventory cache lock")
            .get(&(sku.to_string(), channel_id.to_string()))
            .cloned()
    }

    pub fn forget_entry(&self, sku: &str, channel_id: &str) {
        self.inventory
            .lock()
            .expect("inventory cache lock")
            .remove(&(sku.to_string(), channel_id.to_string()));
    }

    pub fn remember_entry(&self, entry: &InventoryEntry) {
        let Some(channel) = &entry.supply_channel else {
            return;
        };
        let mut known = self.inventory.lock().expect("inventory cache lock");
        if known.len() >= KNOWN_INVENTORY_MAX {
            known.clear();
        }
        known.insert((entry.sku.clone(), channel.id.clone()), entry.clone());
    }

    /// Forgets the customer groups looked up so far (one of them is gone from the shop).
    pub fn forget_customer_groups(&self) {
        self.customer_groups
            .lock()
            .expect("customer group cache lock")
            .clear();
    }
}

#[derive(Debug, Deserialize)]
struct CustomerGroup {
    id: String,
}

async fn ensure_customer_group(
    client: &Client,
    call: &mut Call<'_>,
    key: &str,
    name: &str,
) -> Result<String, ShopError> {
    let by_key = client.url(&["customer-groups", &format!("key={key}")]);
    if let Some(group) = client
        .get_optional::<CustomerGroup>(call, by_key.clone())
        .await?
    {
        return Ok(group.id);
    }
    let draft = json!({"key": key, "groupName": name});
    match client
        .post::<CustomerGroup>(call, client.url(&["customer-groups"]), &draft)
        .await
    {
        Ok(created) => Ok(created.id),
        // Created by someone else after our read: theirs is the group.
        Err(err) if err.is_duplicate_field() => Ok(client
            .get_optional::<CustomerGroup>(call, by_key)
            .await?
            .ok_or(err)?
            .id),
        Err(err) => Err(err),
    }
}

async fn ensure_type(
    client: &Client,
    call: &mut Call<'_>,
    spec: &TypeSpec,
) -> Result<String, ShopError> {
    let by_key = client.url(&["types", &format!("key={}", spec.key)]);
    for _ in 0..MAX_TYPE_ATTEMPTS {
        let found: Option<TypeResource> = client.get_optional(call, by_key.clone()).await?;
        let existing = match found {
            Some(existing) => existing,
            None => match create_type(client, call, spec).await {
                Ok(created) => return Ok(created.id),
                // Someone else created it after our read (the emulator would have stored a
                // second one; the API refuses): take theirs.
                Err(err) if err.is_duplicate_field() => continue,
                Err(err) => return Err(err),
            },
        };
        let missing = missing_fields(&existing, spec).map_err(|reason| ShopError::Unexpected {
            request: format!("GET {}", by_key.path()),
            reason,
        })?;
        if let Some(id) = add_fields(client, call, &existing, &missing).await? {
            return Ok(id);
        }
    }
    Err(ShopError::Unavailable {
        request: format!("POST {}", client.url(&["types"]).path()),
        reason: format!(
            "type {} kept changing while the bridge set it up ({MAX_TYPE_ATTEMPTS} attempts)",
            spec.key
        ),
        retry_after: None,
    })
}

/// Adds `missing` to `existing` (adding never breaks a reader): its id, or `None` when
/// someone changed the Type meanwhile (read it again).
async fn add_fields(
    client: &Client,
    call: &mut Call<'_>,
    existing: &TypeResource,
    missing: &[&FieldSpec],
) -> Result<Option<String>, ShopError> {
    if missing.is_empty() {
        return Ok(Some(existing.id.clone()));
    }
    let actions: Vec<_> = missing
        .iter()
        .map(|field| json!({"action": "addFieldDefinition", "fieldDefinition": field_definition(field)}))
        .collect();
    let url = client.url(&["types", &existing.id]);
    match client
        .post::<TypeResource>(
            call,
            url,
            &json!({"version": existing.version, "actions": actions}),
        )
        .await
    {
        Ok(updated) => Ok(Some(updated.id)),
        Err(ShopError::Conflict { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Gives the Type `type_id` (not the bridge's) the fields of `spec` it lacks.
async fn ensure_fields_by_id(
    client: &Client,
    call: &mut Call<'_>,
    type_id: &str,
    spec: &TypeSpec,
) -> Result<(), ShopError> {
    let by_id = client.url(&["types", type_id]);
    for _ in 0..MAX_TYPE_ATTEMPTS {
        let existing: TypeResource = client.get(call, by_id.clone()).await?;
        let missing = missing_fields(&existing, spec).map_err(|reason| ShopError::Unexpected {
            request: format!("GET {}", by_id.path()),
            reason: reason.replacen(spec.key, &format!("{type_id} (the shop's own)"), 1),
        })?;
        if add_fields(client, call, &existing, &missing)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(ShopError::Unavailable {
        request: format!("POST {}", by_id.path()),
        reason: format!(
            "type {type_id} kept changing while the bridge added {REVISION_FIELD} ({MAX_TYPE_ATTEMPTS} attempts)"
        ),
        retry_after: None,
    })
}

#[derive(Debug, Deserialize)]
struct ProductType {
    id: String,
    version: u64,
    #[serde(default)]
    attributes: Vec<AttributeDefinition>,
}

#[derive(Debug, Deserialize)]
struct AttributeDefinition {
    name: String,
    #[serde(rename = "type")]
    attribute_type: FieldType,
}

fn attribute_definition(spec: &AttributeSpec) -> serde_json::Value {
    json!({
        "type": {"name": spec.type_name},
        "name": spec.name,
        "label": {"en": spec.label},
        "isRequired": false,
        "attributeConstraint": "None",
        "isSearchable": false,
        "inputHint": "SingleLine",
    })
}

/// `bridge-product` with every attribute of `needed`: its id and the names it defines.
async fn ensure_product_type(
    client: &Client,
    call: &mut Call<'_>,
    needed: &[AttributeSpec],
) -> Result<(String, HashSet<String>), ShopError> {
    let by_key = client.url(&["product-types", &format!("key={PRODUCT_TYPE_KEY}")]);
    for _ in 0..MAX_TYPE_ATTEMPTS {
        let Some(existing) = client
            .get_optional::<ProductType>(call, by_key.clone())
            .await?
        else {
            let draft = json!({
                "key": PRODUCT_TYPE_KEY,
                "name": "ERP bridge: PIM product",
                "description": "Products of the PIM, published by the ERP bridge",
                "attributes": needed.iter().map(attribute_definition).collect::<Vec<_>>(),
            });
            match client
                .post::<ProductType>(call, client.url(&["product-types"]), &draft)
                .await
            {
                Ok(created) => {
                    let names = created.attributes.into_iter().map(|a| a.name).collect();
                    return Ok((created.id, names));
                }
                Err(err) if err.is_duplicate_field() => continue,
                Err(err) => return Err(err),
            }
        };
        let mut missing = Vec::new();
        for spec in needed {
            match existing.attributes.iter().find(|a| a.name == spec.name) {
                None => missing.push(spec),
                Some(defined) if defined.attribute_type.name == spec.type_name => {}
                Some(defined) => {
                    return Err(ShopError::Unexpected {
                        request: format!("GET {}", by_key.path()),
                        reason: format!(
                            "product type {PRODUCT_TYPE_KEY} defines {} as {}, the bridge writes {}",
                            spec.name, defined.attribute_type.name, spec.type_name
                        ),
                    });
                }
            }
        }
        let mut names: HashSet<String> =
            existing.attributes.iter().map(|a| a.name.clone()).collect();
        if missing.is_empty() {
            return Ok((existing.id, names));
        }
        let actions: Vec<_> = missing
            .iter()
            .map(|spec| json!({"action": "addAttributeDefinition", "attribute": attribute_definition(spec)}))
            .collect();
        let url = client.url(&["product-types", &existing.id]);
        match client
            .post::<ProductType>(
                call,
                url,
                &json!({"version": existing.version, "actions": actions}),
            )
            .await
        {
            Ok(updated) => {
                names.extend(missing.iter().map(|spec| spec.name.clone()));
                return Ok((updated.id, names));
            }
            Err(ShopError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ShopError::Unavailable {
        request: format!("POST {}", client.url(&["product-types"]).path()),
        reason: format!(
            "product type {PRODUCT_TYPE_KEY} kept changing while the bridge extended it ({MAX_TYPE_ATTEMPTS} attempts)"
        ),
        retry_after: None,
    })
}

#[derive(Debug, Deserialize)]
struct Category {
    id: String,
}

/// The category of `key`, created (named `name` in `locales`, below `parent`) when missing.
async fn ensure_category(
    client: &Client,
    call: &mut Call<'_>,
    key: &str,
    name: &str,
    locales: &[String],
    parent: Option<&str>,
) -> Result<String, ShopError> {
    let by_key = client.url(&["categories", &format!("key={key}")]);
    if let Some(found) = client
        .get_optional::<Category>(call, by_key.clone())
        .await?
    {
        return Ok(found.id);
    }
    let locales: Vec<&str> = if locales.is_empty() {
        vec!["en"]
    } else {
        locales.iter().map(String::as_str).collect()
    };
    let mut draft = json!({
        "key": key,
        "name": locales.iter().map(|l| (l.to_string(), json!(name))).collect::<serde_json::Map<_, _>>(),
        "slug": locales.iter().map(|l| (l.to_string(), json!(key))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(parent) = parent {
        draft["parent"] = json!({"typeId": "category", "key": parent});
    }
    match client
        .post::<Category>(call, client.url(&["categories"]), &draft)
        .await
    {
        Ok(created) => Ok(created.id),
        // Made by someone else after our read: theirs is the category.
        Err(err) if err.is_duplicate_field() => client
            .get_optional::<Category>(call, by_key)
            .await?
            .map(|c| c.id)
            .ok_or(err),
        Err(err) => Err(err),
    }
}

async fn create_type(
    client: &Client,
    call: &mut Call<'_>,
    spec: &TypeSpec,
) -> Result<TypeResource, ShopError> {
    let draft = json!({
        "key": spec.key,
        "name": {"en": spec.name},
        "resourceTypeIds": [spec.resource_type_id],
        "fieldDefinitions": spec.fields.iter().map(field_definition).collect::<Vec<_>>(),
    });
    client.post(call, client.url(&["types"]), &draft).await
}

fn field_definition(field: &FieldSpec) -> serde_json::Value {
    json!({
        "name": field.name,
        "label": {"en": field.label},
        "required": false,
        "type": {"name": field.type_name},
        "inputHint": "SingleLine",
    })
}

/// The spec's fields the Type lacks; an error when the Type cannot serve (other resource,
/// a field of another type), which only an operator can resolve.
fn missing_fields<'s>(
    existing: &TypeResource,
    spec: &'s TypeSpec,
) -> Result<Vec<&'s FieldSpec>, String> {
    if !existing
        .resource_type_ids
        .iter()
        .any(|id| id == spec.resource_type_id)
    {
        return Err(format!(
            "type {} exists for {:?}, not {}; the bridge will not repurpose it",
            spec.key, existing.resource_type_ids, spec.resource_type_id
        ));
    }
    let mut missing = Vec::new();
    for field in spec.fields {
        match existing
            .field_definitions
            .iter()
            .find(|d| d.name == field.name)
        {
            None => missing.push(field),
            Some(defined) if defined.field_type.name == field.type_name => {}
            Some(defined) => {
                return Err(format!(
                    "type {} defines {} as {}, the bridge writes a {}",
                    spec.key, field.name, defined.field_type.name, field.type_name
                ));
            }
        }
    }
    Ok(missing)
}

/// The channel of `key`, created with `role` when missing; an error when it exists without
/// that role (someone keeps it for another purpose: an operator decides).
async fn ensure_channel(
    client: &Client,
    call: &mut Call<'_>,
    key: &str,
    role: &str,
    name: &str,
) -> Result<String, ShopError> {
    let by_key = client.url(&["channels", &format!("key={key}")]);
    let channel = match client.get_optional::<Channel>(call, by_key.clone()).await? {
        Some(channel) => channel,
        None => {
            let draft = json!({
                "key": key,
                "roles": [role],
                "name": {"en": name},
            });
            match client
                .post::<Channel>(call, client.url(&["channels"]), &draft)
                .await
            {
                Ok(created) => created,
                // Created by someone else after our read: theirs is the channel.
                Err(err) if err.is_duplicate_field() => client
                    .get_optional(call, by_key.clone())
                    .await?
                    .ok_or(err)?,
                Err(err) => return Err(err),
            }
        }
    };
    if !channel.roles.iter().any(|r| r == role) {
        // Someone made this channel for another purpose (prices, orders); an operator decides
        // whether it is the one the bridge needs.
        return Err(ShopError::Unexpected {
            request: format!("GET {}", by_key.path()),
            reason: format!(
                "channel {key:?} has roles {:?}, not {role}; the bridge will not use it for {name}",
                channel.roles
            ),
        });
    }
    Ok(channel.id)
}

/// A reference to a channel by id, as drafts carry it.
pub(crate) fn channel_reference(id: &str) -> Reference {
    Reference {
        type_id: "channel".to_string(),
        id: id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_resource(ids: &[&str], fields: &[(&str, &str)]) -> TypeResource {
        TypeResource {
            id: "t".into(),
            version: 1,
            resource_type_ids: ids.iter().map(|s| s.to_string()).collect(),
            field_definitions: fields
                .iter()
                .map(|(name, type_name)| FieldDefinition {
                    name: name.to_string(),
                    field_type: FieldType {
                        name: type_name.to_string(),
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn an_older_type_lacking_a_field_gets_it_added() {
        let existing = type_resource(&["customer"], &[("bridgeRevision", "Number")]);
        let missing = missing_fields(&existing, &CUSTOMER_TYPE).unwrap();
        assert_eq!(
            missing.iter().map(|f| f.name).collect::<Vec<_>>(),
            ["orderBlocked"]
        );
    }

    #[test]
    fn a_type_for_another_resource_or_with_another_field_type_is_not_taken_over() {
        let other_resource = type_resource(&["order"], &[("bridgeRevision", "Number")]);
        assert!(missing_fields(&other_resource, &INVENTORY_TYPE).is_err());
        let other_field = type_resource(&["inventory-entry"], &[("bridgeRevision", "String")]);
        let reason = missing_fields(&other_field, &INVENTORY_TYPE).unwrap_err();
        assert!(reason.contains("as String"), "{reason}");
    }
}

//! What the project must hold before the bridge writes stock and customers: its two custom
//! Types (where the source revision lives) and one InventorySupply channel per warehouse.
//! Each is read by key, created when missing, and remembered for the client's lifetime, so
//! a warm connector spends no request on it.

use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::Reference;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
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

/// The role a channel needs to supply inventory entries.
const INVENTORY_SUPPLY: &str = "InventorySupply";

/// Attempts at bringing a Type up to date when someone else changes it meanwhile.
const MAX_TYPE_ATTEMPTS: u32 = 3;

#[derive(Default)]
pub(crate) struct Setup {
    inventory_type: OnceCell<String>,
    customer_type: OnceCell<String>,
    /// Warehouse → channel id. One cell per warehouse, so two publishes for a new warehouse
    /// look it up once and never create it twice.
    channels: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
}

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
        cell.get_or_try_init(|| ensure_channel(client, call, warehouse))
            .await
            .cloned()
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
        if missing.is_empty() {
            return Ok(existing.id);
        }
        // An older bridge's Type: add what this one writes (adding never breaks a reader).
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
            Ok(updated) => return Ok(updated.id),
            Err(ShopError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
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

async fn ensure_channel(
    client: &Client,
    call: &mut Call<'_>,
    warehouse: &str,
) -> Result<String, ShopError> {
    let by_key = client.url(&["channels", &format!("key={warehouse}")]);
    let channel = match client.get_optional::<Channel>(call, by_key.clone()).await? {
        Some(channel) => channel,
        None => {
            let draft = json!({
                "key": warehouse,
                "roles": [INVENTORY_SUPPLY],
                "name": {"en": format!("Warehouse {warehouse}")},
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
    if !channel.roles.iter().any(|role| role == INVENTORY_SUPPLY) {
        // Someone made this channel for another purpose (prices, orders); an operator decides
        // whether it is this warehouse.
        return Err(ShopError::Unexpected {
            request: format!("GET {}", by_key.path()),
            reason: format!(
                "channel {warehouse:?} has roles {:?}, not {INVENTORY_SUPPLY}; the bridge will not supply stock through it",
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

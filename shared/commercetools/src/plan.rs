//! What a publish does, decided without I/O from what the shop holds and what the bridge
//! wants: create, update with the actions that change something, or nothing (the shop is
//! current, or holds a newer revision). Shared by stock and customers.

use crate::model::{CustomFields, FieldValue, TypeKey, UpdateAction};
use crate::setup::REVISION_FIELD;
use bridge_domain::Revision;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan<Draft> {
    /// The shop has no such resource.
    Create(Draft),
    /// The shop has no such resource, and the bridge does not create one (an order placed
    /// elsewhere).
    Absent,
    /// `actions` against the resource at `version`; never empty.
    Update {
        id: String,
        version: u64,
        actions: Vec<UpdateAction>,
    },
    /// Same revision, same content: nothing to write.
    AlreadyCurrent,
    /// The shop holds this revision with other content, or a higher one: nothing is written
    /// (contract section 2: a revision lower than or equal to the stored one is ignored).
    Stale { shop_revision: Revision },
}

/// A record the bridge will not send, or a shop state it will not write over. Retrying
/// changes neither, so each is permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "available quantity {0} does not fit commercetools' quantityOnStock (a 64-bit integer)"
    )]
    QuantityOutOfRange(Decimal),
    #[error(
        "the shop's {resource} {id} has custom type {type_id}, not the bridge's {expected}; setting the bridge's type would erase that type's fields, so an operator decides"
    )]
    ForeignCustomType {
        resource: &'static str,
        id: String,
        type_id: String,
        expected: &'static str,
    },
    #[error("the shop's {resource} {id} holds {REVISION_FIELD} = {value}, which is not a revision")]
    UnreadableRevision {
        resource: &'static str,
        id: String,
        value: String,
    },
    #[error(
        "customer id {0:?} cannot be a commercetools customer key (2 to 256 of A-Z a-z 0-9 _ -)"
    )]
    InvalidCustomerKey(String),
    #[error("{attribute} {value} cannot be written as a commercetools number")]
    UnrepresentableValue {
        attribute: &'static str,
        value: String,
    },
    #[error(
        "product {product} has staged changes to the bridge's prices that are not published; publish or revert them in the shop, then resync the sku's prices"
    )]
    StagedPriceChanges { product: String },
    #[error("product {0} has no name in any locale; commercetools requires one")]
    NoName(String),
}

/// Which resource a plan is about, for the errors an operator reads.
pub(crate) struct Resource<'a> {
    pub kind: &'static str,
    pub id: &'a str,
    pub custom: Option<&'a CustomFields>,
}

impl<'a> Resource<'a> {
    /// The resource's custom fields if they are the bridge's Type (`type_id`), `None` when
    /// it has none; an error for another Type, which the bridge leaves alone.
    pub fn bridge_fields(
        &self,
        type_id: &str,
        type_key: &'static str,
    ) -> Result<Option<&'a CustomFields>, PlanError> {
        match self.custom {
            None => Ok(None),
            Some(custom) if custom.type_ref.id == type_id => Ok(Some(custom)),
            Some(custom) => Err(PlanError::ForeignCustomType {
                resource: self.kind,
                id: self.id.to_string(),
                type_id: custom.type_ref.id.clone(),
                expected: type_key,
            }),
        }
    }

    /// The revision stored on the resource; `None` when the field is absent (a resource the
    /// bridge has not written yet).
    pub fn stored_revision(
        &self,
        fields: Option<&CustomFields>,
    ) -> Result<Option<Revision>, PlanError> {
        let Some(value) = fields.and_then(|f| f.fields.get(REVISION_FIELD)) else {
            return Ok(None);
        };
        if value.is_null() {
            return Ok(None);
        }
        revision_of(value)
            .map(Some)
            .ok_or_else(|| PlanError::UnreadableRevision {
                resource: self.kind,
                id: self.id.to_string(),
                value: value.to_string(),
            })
    }
}

/// A Number field's value as a revision: a non-negative integer (`42`, or `42.0` from a
/// platform that stores numbers as decimals).
pub(crate) fn revision_of(value: &Value) -> Option<Revision> {
    if let Some(whole) = value.as_u64() {
        return Some(Revision::new(whole));
    }
    let text = value.as_number()?.to_string();
    let decimal: Decimal = text.parse().ok()?;
    if decimal.is_sign_negative() || !decimal.fract().is_zero() {
        return None;
    }
    u64::try_from(decimal).ok().map(Revision::new)
}

/// Applies the revision rule to what the content diff found. `actions` are the content
/// changes; `revision_action` is added when the plan writes.
pub(crate) fn decide<Draft>(
    resource: &Resource<'_>,
    version: u64,
    stored: Option<Revision>,
    wanted: Revision,
    mut actions: Vec<UpdateAction>,
    revision_action: UpdateAction,
) -> Plan<Draft> {
    if let Some(stored) = stored
        && stored >= wanted
    {
        return if stored == wanted && actions.is_empty() {
            Plan::AlreadyCurrent
        } else {
            Plan::Stale {
                shop_revision: stored,
            }
        };
    }
    // Also when the content is already right: the stored revision then says so, and a late
    // redelivery of an older one is recognised without a diff.
    actions.push(revision_action);
    Plan::Update {
        id: resource.id.to_string(),
        version,
        actions,
    }
}

/// Writes the revision: into the bridge's Type when the resource has it, else by attaching
/// the Type with `fields` (which then carries every value the Type holds).
pub(crate) fn revision_action(
    has_bridge_type: bool,
    type_key: &'static str,
    revision: Revision,
    mut fields: BTreeMap<&'static str, FieldValue>,
) -> UpdateAction {
    let value = FieldValue::Number(revision.value());
    if has_bridge_type {
        UpdateAction::SetCustomField {
            name: REVISION_FIELD,
            value,
        }
    } else {
        fields.insert(REVISION_FIELD, value);
        UpdateAction::SetCustomType {
            type_key: TypeKey::new(type_key),
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn revisions_are_read_from_integers_and_whole_decimals_only() {
        let number = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(revision_of(&number("42")), Some(Revision::new(42)));
        assert_eq!(revision_of(&number("42.0")), Some(Revision::new(42)));
        assert_eq!(revision_of(&number("42.5")), None);
        assert_eq!(revision_of(&number("-1")), None);
        assert_eq!(revision_of(&json!("42")), None);
    }
}

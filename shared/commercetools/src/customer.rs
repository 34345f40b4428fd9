//! Customers: the ERP's customer → the commercetools customer with key = customer id, its
//! name as `companyName`, `blocked` as the `orderBlocked` field and the revision as
//! `bridgeRevision` (Type `bridge-customer`).
//!
//! The customer group is the one of its ordered price lists (`pl-…`, see
//! [`bridge_domain::shop_prices`]), whose prices the price sync publishes; a customer
//! without lists leaves the bridge's group (a merchant's own group stays).

use crate::MAX_WRITE_ATTEMPTS;
use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{
    CustomFieldsDraft, Customer, CustomerDraft, CustomerSignInResult, ExpandedReference,
    FieldValue, Reference, TypeKey, UpdateAction,
};
use crate::plan::{Plan, PlanError, Resource, decide, revision_action};
use crate::prices::price_group_name;
use crate::setup::{CUSTOMER_TYPE, ORDER_BLOCKED_FIELD, REVISION_FIELD, Setup};
use crate::write::{Writable, write};
use bridge_domain::PortError;
use bridge_domain::events::CustomerChanged;
use bridge_domain::shop::Published;
use bridge_domain::shop_prices::{PRICE_GROUP_PREFIX, price_group_key};
use std::collections::BTreeMap;

const OPERATION: &str = "shop.publish_customer";

/// Where customers the bridge creates get their required, project-unique email: a
/// placeholder under `.invalid` (RFC 2606), which no mail can ever reach. The ERP sends no
/// email; the shop's own sign-up or a CRM sets the real one, and the bridge never changes
/// an email afterwards.
pub const PLACEHOLDER_EMAIL_DOMAIN: &str = "customers.invalid";

/// The customer key commercetools accepts: 2 to 256 of `A-Z a-z 0-9 _ -`. The ERP's ids may
/// also hold `. / :` or be one character; those are refused before any request (the API
/// would answer 400).
pub fn customer_key(customer_id: &str) -> Result<&str, PlanError> {
    let fits = (2..=256).contains(&customer_id.len())
        && customer_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if fits {
        Ok(customer_id)
    } else {
        Err(PlanError::InvalidCustomerKey(customer_id.to_string()))
    }
}

/// `<customer id, lower case>@customers.invalid`: derived from the key, so it is unique
/// wherever the key is. Lower case because commercetools compares emails without case (the
/// emulator also stores them lowered): ids that differ only in case collide, and the shop
/// refuses the second with DuplicateField on `email`, a permanent error naming it.
pub fn placeholder_email(key: &str) -> String {
    format!("{}@{PLACEHOLDER_EMAIL_DOMAIN}", key.to_ascii_lowercase())
}

/// What publishing `wanted` does to `current`, the shop's customer with its key (`None`:
/// there is none). `type_id` is the id of `bridge-customer`.
pub fn plan_customer(
    current: Option<&Customer>,
    wanted: &CustomerChanged,
    type_id: &str,
    group_id: Option<&str>,
) -> Result<Plan<CustomerDraft>, PlanError> {
    let key = customer_key(wanted.customer_id.as_str())?;
    let group_reference = |id: &str| Reference {
        type_id: "customer-group".into(),
        id: id.to_string(),
    };
    let Some(customer) = current else {
        return Ok(Plan::Create(CustomerDraft {
            key: key.to_string(),
            email: placeholder_email(key),
            // Signs in through the storefront's identity provider, not a commercetools
            // password (the bridge has none to give).
            authentication_mode: "ExternalAuth",
            company_name: wanted.name.clone(),
            customer_group: group_id.map(group_reference),
            custom: CustomFieldsDraft {
                type_key: TypeKey::new(CUSTOMER_TYPE.key),
                fields: BTreeMap::from([
                    (REVISION_FIELD, FieldValue::Number(wanted.revision.value())),
                    (ORDER_BLOCKED_FIELD, FieldValue::Boolean(wanted.blocked)),
                ]),
            },
        }));
    };
    let resource = Resource {
        kind: "customer",
        id: &customer.id,
        custom: customer.custom.as_ref(),
    };
    let fields = resource.bridge_fields(type_id, CUSTOMER_TYPE.key)?;
    let stored = resource.stored_revision(fields)?;
    let mut actions = Vec::new();
    if customer.company_name.as_deref() != Some(wanted.name.as_str()) {
        actions.push(UpdateAction::SetCompanyName {
            company_name: wanted.name.clone(),
        });
    }
    // Absent counts as not blocked: that is what a storefront reading the field assumes.
    // Without the Type at all, attaching it (the revision action below) sets the flag.
    let stored_blocked = fields.map(|f| {
        f.fields
            .get(ORDER_BLOCKED_FIELD)
            .and_then(|value| value.as_bool())
            .unwrap_or(false)
    });
    if stored_blocked.is_some_and(|blocked| blocked != wanted.blocked) {
        actions.push(UpdateAction::SetCustomField {
            name: ORDER_BLOCKED_FIELD,
            value: FieldValue::Boolean(wanted.blocked),
        });
    }
    // The group follows from the record's price lists: written also at the revision the
    // shop holds (customers published before the bridge had price groups get theirs).
    let current_group = customer.customer_group.as_ref();
    let group_action = match group_id {
        Some(id) if current_group.is_none_or(|group| group.id != id) => {
            Some(UpdateAction::SetCustomerGroup {
                customer_group: Some(group_reference(id)),
            })
        }
        // No price lists any more: out of the bridge's group (a merchant's own stays).
        None if current_group.is_some_and(is_price_group) => Some(UpdateAction::SetCustomerGroup {
            customer_group: None,
        }),
        _ => None,
    };
    let plan = decide(
        &resource,
        customer.version,
        stored,
        wanted.revision,
        actions,
        revision_action(
            fields.is_some(),
            CUSTOMER_TYPE.key,
            wanted.revision,
            BTreeMap::from([(ORDER_BLOCKED_FIELD, FieldValue::Boolean(wanted.blocked))]),
        ),
    );
    Ok(match (plan, group_action) {
        (plan, None) => plan,
        (
            Plan::Update {
                id,
                version,
                mut actions,
            },
            Some(group),
        ) => {
            // Before the revision, which comes last.
            actions.insert(actions.len().saturating_sub(1), group);
            Plan::Update {
                id,
                version,
                actions,
            }
        }
        (Plan::AlreadyCurrent, Some(group)) => Plan::Update {
            id: customer.id.clone(),
            version: customer.version,
            actions: vec![group],
        },
        (Plan::Stale { shop_revision }, Some(group)) if shop_revision == wanted.revision => {
            Plan::Update {
                id: customer.id.clone(),
                version: customer.version,
                actions: vec![group],
            }
        }
        (plan, Some(_)) => plan,
    })
}

/// A customer group the bridge made for a combination of price lists.
fn is_price_group(group: &ExpandedReference) -> bool {
    group
        .obj
        .as_ref()
        .and_then(|g| g.key.as_deref())
        .is_some_and(|key| key.starts_with(PRICE_GROUP_PREFIX))
}

pub(crate) async fn publish(
    client: &Client,
    setup: &Setup,
    call: &mut Call<'_>,
    customer: &CustomerChanged,
) -> Result<Published, PortError> {
    let key = customer_key(customer.customer_id.as_str())
        .map_err(|err| PortError::permanent(OPERATION, err.to_string()))?;
    let shop_error = |err: ShopError| err.into_port_error(OPERATION);
    let type_id = setup
        .customer_type(client, call)
        .await
        .map_err(shop_error)?;
    let group_id = match price_group_key(&customer.price_lists) {
        Some(group) => Some(
            setup
                .customer_group(
                    client,
                    call,
                    &group,
                    &price_group_name(&customer.price_lists),
                )
                .await
                .map_err(shop_error)?,
        ),
        None => None,
    };
    let account = Account {
        customer,
        key,
        type_id: &type_id,
        group_id: group_id.as_deref(),
    };
    write(client, call, &account).await
}

/// A customer bound for the shop under its key.
struct Account<'a> {
    customer: &'a CustomerChanged,
    key: &'a str,
    type_id: &'a str,
    /// The customer group of its price lists.
    group_id: Option<&'a str>,
}

#[async_trait::async_trait]
impl Writable for Account<'_> {
    type Current = Customer;
    type Updated = Customer;
    type Draft = CustomerDraft;
    type Created = CustomerSignInResult;
    const OPERATION: &'static str = OPERATION;
    const ENDPOINT: &'static str = "customers";

    async fn read(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<Option<Customer>, ShopError> {
        let mut by_key = client.url(&["customers", &format!("key={}", self.key)]);
        by_key
            .query_pairs_mut()
            .append_pair("expand", "customerGroup");
        client.get_optional(call, by_key).await
    }

    fn plan(&self, current: Option<&Customer>) -> Result<Plan<CustomerDraft>, PlanError> {
        plan_customer(current, self.customer, self.type_id, self.group_id)
    }

    fn completion(
        &self,
        created: &CustomerSignInResult,
    ) -> Option<(String, u64, Vec<UpdateAction>)> {
        let group_id = self.group_id?;
        let customer = &created.customer;
        (customer.customer_group.is_none()).then(|| {
            (
                customer.id.clone(),
                customer.version,
                vec![UpdateAction::SetCustomerGroup {
                    customer_group: Some(Reference {
                        type_id: "customer-group".into(),
                        id: group_id.to_string(),
                    }),
                }],
            )
        })
    }

    fn contested(&self) -> String {
        format!(
            "customer {} changed under {MAX_WRITE_ATTEMPTS} writes in a row; the batch retries later",
            self.customer.customer_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomFields, Reference};
    use bridge_domain::{CustomerId, Revision};
    use serde_json::json;

    fn wanted(name: &str, blocked: bool, revision: u64) -> CustomerChanged {
        CustomerChanged {
            customer_id: CustomerId::parse("C-10001").unwrap(),
            name: name.into(),
            revision: Revision::new(revision),
            blocked,
            credit_limit: None,
            open_items: None,
            payment_terms: None,
            delivery_terms: None,
            price_lists: vec![],
            cost_centers: vec![],
            approval_rules: vec![],
            framework_agreement: None,
        }
    }

    fn stored(name: &str, blocked: Option<bool>, revision: u64) -> Customer {
        let mut fields = BTreeMap::from([(REVISION_FIELD.to_string(), json!(revision))]);
        if let Some(blocked) = blocked {
            fields.insert(ORDER_BLOCKED_FIELD.to_string(), json!(blocked));
        }
        Customer {
            id: "cu-1".into(),
            version: 2,
            key: Some("C-10001".into()),
            company_name: Some(name.into()),
            customer_group: None,
            custom: Some(CustomFields {
                type_ref: Reference {
                    type_id: "type".into(),
                    id: "type-cu".into(),
                },
                fields,
            }),
        }
    }

    fn update(actions: Vec<UpdateAction>) -> Plan<CustomerDraft> {
        Plan::Update {
            id: "cu-1".into(),
            version: 2,
            actions,
        }
    }

    fn set_revision(value: u64) -> UpdateAction {
        UpdateAction::SetCustomField {
            name: REVISION_FIELD,
            value: FieldValue::Number(value),
        }
    }

    #[test]
    fn a_new_customer_is_created_with_key_placeholder_email_name_and_fields() {
        let Plan::Create(draft) =
            plan_customer(None, &wanted("ACME", true, 7), "type-cu", None).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            json!({
                "key": "C-10001",
                "email": "c-10001@customers.invalid",
                "authenticationMode": "ExternalAuth",
                "companyName": "ACME",
                "custom": {"type": {"typeId": "type", "key": "bridge-customer"},
                           "fields": {"bridgeRevision": 7, "orderBlocked": true}},
            })
        );
    }

    #[test]
    fn only_what_changed_is_sent() {
        let current = stored("ACME", Some(false), 7);
        assert_eq!(
            plan_customer(Some(&current), &wanted("ACME", true, 8), "type-cu", None).unwrap(),
            update(vec![
                UpdateAction::SetCustomField {
                    name: ORDER_BLOCKED_FIELD,
                    value: FieldValue::Boolean(true)
                },
                set_revision(8)
            ])
        );
        assert_eq!(
            plan_customer(
                Some(&current),
                &wanted("ACME GmbH", false, 8),
                "type-cu",
                None
            )
            .unwrap(),
            update(vec![
                UpdateAction::SetCompanyName {
                    company_name: "ACME GmbH".into()
                },
                set_revision(8)
            ])
        );
    }

    #[test]
    fn an_absent_blocked_flag_means_not_blocked() {
        let current = stored("ACME", None, 7);
        assert_eq!(
            plan_customer(Some(&current), &wanted("ACME", false, 7), "type-cu", None).unwrap(),
            Plan::AlreadyCurrent
        );
    }

    #[test]
    fn older_and_equal_revisions_change_nothing() {
        let current = stored("ACME", Some(false), 7);
        let shop_revision = Revision::new(7);
        assert_eq!(
            plan_customer(Some(&current), &wanted("Other", true, 6), "type-cu", None).unwrap(),
            Plan::Stale { shop_revision }
        );
        assert_eq!(
            plan_customer(Some(&current), &wanted("Other", false, 7), "type-cu", None).unwrap(),
            Plan::Stale { shop_revision }
        );
        assert_eq!(
            plan_customer(Some(&current), &wanted("ACME", false, 7), "type-cu", None).unwrap(),
            Plan::AlreadyCurrent
        );
    }

    #[test]
    fn a_customer_without_custom_fields_gets_the_type_with_both_values() {
        let mut bare = stored("ACME", None, 0);
        bare.custom = None;
        assert_eq!(
            plan_customer(Some(&bare), &wanted("ACME", true, 3), "type-cu", None).unwrap(),
            update(vec![UpdateAction::SetCustomType {
                type_key: TypeKey::new("bridge-customer"),
                fields: BTreeMap::from([
                    (REVISION_FIELD, FieldValue::Number(3)),
                    (ORDER_BLOCKED_FIELD, FieldValue::Boolean(true)),
                ]),
            }])
        );
    }

    #[test]
    fn the_customer_goes_into_the_group_of_its_price_lists_and_out_of_it_without_lists() {
        let group = |id: &str| Reference {
            type_id: "customer-group".into(),
            id: id.into(),
        };
        let Plan::Create(draft) =
            plan_customer(None, &wanted("ACME", false, 7), "type-cu", Some("cg-1")).unwrap()
        else {
            panic!()
        };
        assert_eq!(draft.customer_group, Some(group("cg-1")));
        let mut current = stored("ACME", Some(false), 7);
        assert_eq!(
            plan_customer(
                Some(&current),
                &wanted("ACME", false, 8),
                "type-cu",
                Some("cg-1")
            )
            .unwrap(),
            update(vec![
                UpdateAction::SetCustomerGroup {
                    customer_group: Some(group("cg-1"))
                },
                set_revision(8)
            ])
        );
        let in_group = |key: &str| {
            Some(ExpandedReference {
                id: "cg-1".into(),
                obj: Some(crate::model::KeyedResource {
                    key: Some(key.into()),
                }),
            })
        };
        current.customer_group = in_group("pl-00000000000000aa");
        assert_eq!(
            plan_customer(
                Some(&current),
                &wanted("ACME", false, 8),
                "type-cu",
                Some("cg-1")
            )
            .unwrap(),
            update(vec![set_revision(8)]),
            "already in it"
        );
        assert_eq!(
            plan_customer(Some(&current), &wanted("ACME", false, 8), "type-cu", None).unwrap(),
            update(vec![
                UpdateAction::SetCustomerGroup {
                    customer_group: None
                },
                set_revision(8)
            ]),
            "no lists: out of the bridge's group"
        );
        current.customer_group = in_group("key-accounts");
        assert_eq!(
            plan_customer(Some(&current), &wanted("ACME", false, 8), "type-cu", None).unwrap(),
            update(vec![set_revision(8)]),
            "a merchant's own group stays"
        );
    }

    #[test]
    fn a_customer_at_the_shops_revision_still_gets_the_group_of_its_lists() {
        let current = stored("ACME", Some(false), 7);
        assert_eq!(
            plan_customer(
                Some(&current),
                &wanted("ACME", false, 7),
                "type-cu",
                Some("cg-1")
            )
            .unwrap(),
            update(vec![UpdateAction::SetCustomerGroup {
                customer_group: Some(Reference {
                    type_id: "customer-group".into(),
                    id: "cg-1".into()
                })
            }])
        );
        // An older revision changes nothing, the group neither.
        assert_eq!(
            plan_customer(
                Some(&current),
                &wanted("ACME", false, 6),
                "type-cu",
                Some("cg-1")
            )
            .unwrap(),
            Plan::Stale {
                shop_revision: Revision::new(7)
            }
        );
    }

    #[test]
    fn ids_that_cannot_be_keys_are_refused() {
        for bad in ["C.1", "C/1", "C:1", "7"] {
            assert!(customer_key(bad).is_err(), "{bad}");
        }
        assert_eq!(customer_key("C-1_a"), Ok("C-1_a"));
    }
}

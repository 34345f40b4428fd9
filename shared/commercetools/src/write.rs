//! The one write loop of every resource the bridge publishes: read what the shop holds,
//! plan without I/O, write once; a write that lost a race (409, the resource deleted, or
//! created by someone else in between) reads and plans again, up to [`MAX_WRITE_ATTEMPTS`].

use crate::MAX_WRITE_ATTEMPTS;
use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{Update, UpdateAction};
use crate::plan::{Plan, PlanError};
use bridge_domain::PortError;
use bridge_domain::shop::Published;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One resource the bridge writes, with what it found out before (its Type, channel...).
#[async_trait::async_trait]
pub(crate) trait Writable: Sync {
    /// The resource as read, and as an update answers it.
    type Current: Send + Sync;
    type Draft: Serialize + Send + Sync;
    /// What a create answers (a customer's create answers a sign-in result): read for its
    /// shape, a 201 without it is unexpected.
    type Created: DeserializeOwned;
    /// What an update answers: read for its shape (the resource, for most).
    type Updated: DeserializeOwned;
    /// The operation named in errors (`shop.publish_stock`).
    const OPERATION: &'static str;
    /// The resource's endpoint (`inventory`, `customers`).
    const ENDPOINT: &'static str;

    /// The resource as the shop holds it, if it does.
    async fn read(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<Option<Self::Current>, ShopError>;

    fn plan(&self, current: Option<&Self::Current>) -> Result<Plan<Self::Draft>, PlanError>;

    /// Why the publish gives up after [`MAX_WRITE_ATTEMPTS`] lost races, for the log.
    fn contested(&self) -> String;

    /// What this process learnt of the resource from its last write, planned against
    /// instead of a read. Safe because every write carries the version it was planned on:
    /// if the shop changed since, the write fails (409, 404) and the loop reads.
    fn known(&self) -> Option<Self::Current> {
        None
    }

    /// Keeps the resource as a successful update answered it, for [`Writable::known`].
    fn remember_updated(&self, _answer: &Self::Updated) {}

    /// Keeps the resource as a successful create answered it, for [`Writable::known`].
    fn remember_created(&self, _answer: &Self::Created) {}

    /// Drops what [`Writable::known`] holds: the shop changed the resource since.
    fn forget(&self) {}

    /// What a create left out of the draft, as an update of the created resource (id,
    /// version, actions): the emulator drops some draft fields the API takes (a customer's
    /// group). `None`: the resource is as drafted.
    fn completion(&self, _created: &Self::Created) -> Option<(String, u64, Vec<UpdateAction>)> {
        None
    }
}

pub(crate) async fn write<W: Writable>(
    client: &Client,
    call: &mut Call<'_>,
    resource: &W,
) -> Result<Published, PortError> {
    let shop_error = |err: ShopError| err.into_port_error(W::OPERATION);
    let plan_error = |err: PlanError| PortError::permanent(W::OPERATION, err.to_string());
    // What the process knows is only planned on for a write, which the version checks; a
    // decision not to write (current, stale) is made on what the shop holds (a level
    // deleted or edited by hand since is then seen).
    let known = resource
        .known()
        .filter(|known| matches!(resource.plan(Some(known)), Ok(Plan::Update { .. })));
    let mut current = match known {
        Some(known) => Some(known),
        None => resource.read(client, call).await.map_err(shop_error)?,
    };
    for attempt in 1..=MAX_WRITE_ATTEMPTS {
        let written = match resource.plan(current.as_ref()).map_err(plan_error)? {
            Plan::AlreadyCurrent => {
                return Ok(Published::AlreadyCurrent {
                    requests: call.requests,
                });
            }
            Plan::Absent => {
                return Ok(Published::Absent {
                    requests: call.requests,
                });
            }
            Plan::Stale { shop_revision } => {
                return Ok(Published::Stale {
                    shop_revision,
                    requests: call.requests,
                });
            }
            Plan::Create(draft) => {
                match client
                    .post::<W::Created>(call, client.url(&[W::ENDPOINT]), &draft)
                    .await
                {
                    Ok(created) => match resource.completion(&created) {
                        Some((id, version, actions)) => {
                            let update = Update {
                                version,
                                actions: &actions,
                            };
                            client
                                .post::<W::Updated>(call, client.url(&[W::ENDPOINT, &id]), &update)
                                .await
                                .map(|answer| resource.remember_updated(&answer))
                        }
                        None => {
                            resource.remember_created(&created);
                            Ok(())
                        }
                    },
                    Err(err) => Err(err),
                }
            }
            Plan::Update {
                id,
                version,
                actions,
            } => {
                let update = Update {
                    version,
                    actions: &actions as &[UpdateAction],
                };
                client
                    .post::<W::Updated>(call, client.url(&[W::ENDPOINT, &id]), &update)
                    .await
                    .map(|answer| resource.remember_updated(&answer))
            }
        };
        let duplicate = match written {
            Ok(()) => {
                return Ok(Published::Written {
                    requests: call.requests,
                });
            }
            // Changed (409), deleted (404) or created (DuplicateField) by someone else since
            // our read: read again and decide again.
            Err(ShopError::Conflict { .. }) => {
                resource.forget();
                None
            }
            Err(err) if err.is_not_found() && current.is_some() => {
                resource.forget();
                None
            }
            Err(err) if err.is_duplicate_field() && current.is_none() => Some(err),
            Err(err) => return Err(shop_error(err)),
        };
        if attempt == MAX_WRITE_ATTEMPTS {
            break;
        }
        current = resource.read(client, call).await.map_err(shop_error)?;
        if let Some(refusal) = duplicate
            && current.is_none()
        {
            // What is duplicate is not the resource we read (a customer's email held by
            // another customer, say): the shop's refusal stands, for an operator.
            return Err(shop_error(refusal));
        }
    }
    Err(PortError::retryable(W::OPERATION, resource.contested()))
}

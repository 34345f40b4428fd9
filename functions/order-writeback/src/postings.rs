//! Returns and incoming payments to the ERP (contract section 9), exactly once in effect by
//! the orders' machinery: the posting is saved `submitted` before the ERP is called, an
//! attempt that finds it `submitted` asks the ERP first (returns; payments are sent again
//! under the same idempotency key, the contract having no lookup of them), and the call
//! carries the id as its idempotency key. A payment also counts in the customer's open
//! items at once and releases the customer's credit-held orders that it clears. A new B2B
//! account's registration becomes a lead in the CRM the same way.

use crate::{OrderWriteback, erp_failure, store_failure};
use bridge_domain::feedback::{
    AccountRegistered, PaymentReceived, Posted, Posting, PostingState, ReturnRequested,
    ReturnStatusChanged, check_return,
};
use bridge_domain::orders::AdjustOutcome;
use bridge_domain::ports::{ErpError, PostingStore};
use bridge_lambda::{MessageError, MessageOutcome};
use chrono::Utc;
use std::future::Future;
use tracing::{info, warn};

impl OrderWriteback {
    /// A return from the shop: recorded once, checked against what was shipped, and sent to
    /// the ERP when the checks allow it.
    pub async fn return_requested(
        &self,
        request: ReturnRequested,
    ) -> Result<MessageOutcome, MessageError> {
        let store = self.ports.returns.as_ref();
        let mut posting = match recorded(store, &request).await? {
            Recorded::Fresh(posting) => posting,
            Recorded::Done(outcome) => return Ok(outcome),
        };
        if matches!(
            posting.state,
            PostingState::Received | PostingState::Held { .. }
        ) {
            let order = self
                .ports
                .orders
                .get(&request.order_id)
                .await
                .map_err(store_failure)?;
            let others: Vec<ReturnRequested> = store
                .of_group(&request.group())
                .await
                .map_err(store_failure)?
                .into_iter()
                .filter(|other| {
                    other.request.return_id != request.return_id
                        && !matches!(other.state, PostingState::Rejected { .. })
                })
                .map(|other| other.request)
                .collect();
            let holds = check_return(&posting.request, order.as_ref(), &others);
            if !holds.is_empty() {
                let reasons: Vec<String> = holds.iter().map(ToString::to_string).collect();
                if posting.state
                    != (PostingState::Held {
                        reasons: reasons.clone(),
                    })
                {
                    posting.advance(
                        PostingState::Held {
                            reasons: reasons.clone(),
                        },
                        Utc::now(),
                    );
                    save(store, &posting).await?;
                }
                warn!(return_id = %request.return_id, order_id = %request.order_id, reasons = ?reasons, outcome = "return_held", "the return is held: it does not match what was shipped");
                return Ok("ReturnHeld");
            }
            posting.advance(PostingState::Submitted, Utc::now());
            save(store, &posting).await?;
            let order = order.expect("checked: the order is known").order;
            return self
                .post(store, posting, None, || {
                    self.ports.erp_postings.create_return(&request, &order)
                })
                .await;
        }
        // Submitted before (a crash, a lost answer, a redelivery): ask the ERP first.
        let order = self
            .ports
            .orders
            .get(&request.order_id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                MessageError::permanent(
                    "unknown_order",
                    format!(
                        "the order {} of a submitted return is gone",
                        request.order_id
                    ),
                )
            })?
            .order;
        let found = self
            .ports
            .erp_postings
            .find_return(&request.return_id)
            .await
            .map_err(|err| self.erp_error(&request.return_id.to_string(), err));
        let found = match found {
            Ok(found) => found,
            Err(err) => {
                remember_failure(store, posting, &err).await;
                return Err(err);
            }
        };
        self.post(store, posting, found, || {
            self.ports.erp_postings.create_return(&request, &order)
        })
        .await
    }

    /// The ERP's status of a return, under its revision there.
    pub async fn return_status(
        &self,
        event: ReturnStatusChanged,
    ) -> Result<MessageOutcome, MessageError> {
        let store = self.ports.returns.as_ref();
        for _ in 0..3 {
            let Some(mut posting) = store
                .get(event.return_id.as_str())
                .await
                .map_err(store_failure)?
            else {
                return Err(MessageError::permanent(
                    "unknown_return",
                    format!("the return {} is not known to the bridge", event.return_id),
                ));
            };
            if posting
                .erp_status
                .is_some_and(|(_, stored)| !event.revision.supersedes(Some(stored)))
            {
                return Ok("Stale");
            }
            posting.erp_status = Some((event.status, event.revision));
            // The ERP's status of a return it has is its acceptance, whatever our attempt saw.
            let number = event
                .erp_return_number
                .clone()
                .or_else(|| posting.number().map(str::to_string));
            let at = Utc::now();
            match (&posting.state, number) {
                (PostingState::Accepted { .. }, _) => posting.version += 1,
                (_, Some(number)) => posting.advance(PostingState::Accepted { number }, at),
                _ => posting.version += 1,
            }
            if store.save(&posting).await.map_err(store_failure)? {
                info!(return_id = %event.return_id, status = event.status.as_str(), revision = %event.revision, "return status applied");
                return Ok("ReturnStatusApplied");
            }
        }
        Err(MessageError::retryable(
            "concurrent_update",
            "the return kept changing",
        ))
    }

    /// An incoming payment: counted in the customer's open items at once, the customer's
    /// credit-held orders checked again, then posted to the ERP once.
    pub async fn payment_received(
        &self,
        payment: PaymentReceived,
    ) -> Result<MessageOutcome, MessageError> {
        let store = self.ports.payments.as_ref();
        let mut posting = match recorded(store, &payment).await? {
            Recorded::Fresh(posting) => posting,
            Recorded::Done(outcome) => return Ok(outcome),
        };
        if !posting.counted {
            let outcome = self
                .ports
                .customers
                .adjust_open_items(&payment.customer_id, &payment.open_items_adjustment())
                .await
                .map_err(store_failure)?;
            match outcome {
                AdjustOutcome::Applied { open_items } => {
                    info!(payment_id = %payment.payment_id, customer_id = %payment.customer_id, open_items = %open_items.amount, "payment counted in the open items");
                }
                AdjustOutcome::AlreadyApplied => {}
                other => {
                    // Still the ERP's to book: the credit waits for its next customer record.
                    warn!(payment_id = %payment.payment_id, customer_id = %payment.customer_id, outcome = ?other, "the payment cannot be counted in the open items");
                }
            }
            posting.counted = true;
            posting.version += 1;
            save(store, &posting).await?;
            let released = self
                .release_credit_held_of(&payment.customer_id)
                .await
                .map_err(store_failure)?;
            if released > 0 {
                info!(customer_id = %payment.customer_id, released, "the payment released credit-held orders");
            }
        }
        if posting.state == PostingState::Received {
            posting.advance(PostingState::Submitted, Utc::now());
            save(store, &posting).await?;
        }
        self.post(store, posting, None, || {
            self.ports.erp_postings.create_payment(&payment)
        })
        .await
    }

    /// A new B2B account's registration: a lead in the CRM, once.
    pub async fn account_registered(
        &self,
        registration: AccountRegistered,
    ) -> Result<MessageOutcome, MessageError> {
        let store = self.ports.leads.as_ref();
        let mut posting = match recorded(store, &registration).await? {
            Recorded::Fresh(posting) => posting,
            Recorded::Done(outcome) => return Ok(outcome),
        };
        if posting.state == PostingState::Received {
            posting.advance(PostingState::Submitted, Utc::now());
            save(store, &posting).await?;
        }
        // The CRM has no lookup of leads: a resend under the same key answers what it has.
        self.post(store, posting, None, || {
            self.ports.crm.create_lead(&registration)
        })
        .await
    }

    /// Calls the ERP for a submitted posting (unless `found` says it has it already) and
    /// saves what it answered.
    async fn post<T, F, Fut>(
        &self,
        store: &dyn PostingStore<T>,
        mut posting: Posting<T>,
        found: Option<String>,
        send: F,
    ) -> Result<MessageOutcome, MessageError>
    where
        T: Posted,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, ErpError>>,
    {
        let id = posting.request.id();
        let sent = match found {
            Some(number) => Ok(number),
            None => send().await,
        };
        match sent {
            Ok(number) => {
                posting.last_error = None;
                posting.advance(
                    PostingState::Accepted {
                        number: number.clone(),
                    },
                    Utc::now(),
                );
                save(store, &posting).await?;
                info!(kind = T::KIND, id = %id, erp_number = %number, "accepted by the ERP");
                Ok(accepted_outcome(T::KIND))
            }
            Err(ErpError::Rejected { errors }) => {
                posting.advance(
                    PostingState::Rejected {
                        errors: errors.clone(),
                    },
                    Utc::now(),
                );
                save(store, &posting).await?;
                Err(MessageError::permanent(
                    "erp_rejected",
                    format!("the ERP rejected {} {id}: {}", T::KIND, errors.join("; ")),
                ))
            }
            Err(err) => {
                let err = self.erp_error(&id, err);
                remember_failure(store, posting, &err).await;
                Err(err)
            }
        }
    }

    fn erp_error(&self, id: &str, err: ErpError) -> MessageError {
        match err {
            ErpError::Conflict(message) => MessageError::permanent(
                "erp_conflict",
                format!("the ERP has {id} under another key: {message}"),
            ),
            other => erp_failure(other),
        }
    }
}

fn accepted_outcome(kind: &str) -> MessageOutcome {
    match kind {
        "return" => "ReturnSentToErp",
        "payment" => "PaymentSentToErp",
        "lead" => "LeadCreatedInCrm",
        _ => "PostedToErp",
    }
}

/// A posting as stored, or the outcome when there is nothing left to do.
enum Recorded<T: Posted> {
    Fresh(Posting<T>),
    Done(MessageOutcome),
}

/// The stored posting of `request` (recorded now when it is new). The same id with other
/// content is refused by name, never a silent replacement; a held or unsent return may be
/// replaced by a higher revision.
async fn recorded<T: Posted + PartialEq + Revised>(
    store: &dyn PostingStore<T>,
    request: &T,
) -> Result<Recorded<T>, MessageError> {
    for _ in 0..3 {
        let Some(mut stored) = store.get(&request.id()).await.map_err(store_failure)? else {
            if store
                .insert(&Posting::new(request.clone(), Utc::now()))
                .await
                .map_err(store_failure)?
            {
                let posting = store
                    .get(&request.id())
                    .await
                    .map_err(store_failure)?
                    .ok_or_else(|| {
                        MessageError::retryable(
                            "store_unavailable",
                            "the posting just saved is not readable yet",
                        )
                    })?;
                return Ok(Recorded::Fresh(posting));
            }
            continue;
        };
        if stored.request != *request {
            let unsent = matches!(
                stored.state,
                PostingState::Received | PostingState::Held { .. }
            );
            match request.revision().cmp(&stored.request.revision()) {
                std::cmp::Ordering::Greater if unsent => {
                    stored.request = request.clone();
                    stored.version += 1;
                    if !store.save(&stored).await.map_err(store_failure)? {
                        continue;
                    }
                }
                std::cmp::Ordering::Less => return Ok(Recorded::Done("Stale")),
                _ => {
                    return Err(MessageError::permanent(
                        "conflict",
                        format!(
                            "{} {} was received before with other content ({}); the first stands",
                            T::KIND,
                            request.id(),
                            stored.state.name()
                        ),
                    ));
                }
            }
        }
        return Ok(match stored.state {
            PostingState::Accepted { .. } => Recorded::Done("AlreadyPosted"),
            PostingState::Rejected { .. } => Recorded::Done("AlreadyRejected"),
            _ => Recorded::Fresh(stored),
        });
    }
    Err(MessageError::retryable(
        "concurrent_update",
        "the posting kept changing",
    ))
}

/// The version a request carries: a return's revision; a payment has one content only.
pub trait Revised {
    fn revision(&self) -> u64;
}

impl Revised for ReturnRequested {
    fn revision(&self) -> u64 {
        self.revision.value()
    }
}

impl Revised for PaymentReceived {
    fn revision(&self) -> u64 {
        0
    }
}

impl Revised for AccountRegistered {
    fn revision(&self) -> u64 {
        0
    }
}

async fn save<T: Posted>(
    store: &dyn PostingStore<T>,
    posting: &Posting<T>,
) -> Result<(), MessageError> {
    if store.save(posting).await.map_err(store_failure)? {
        Ok(())
    } else {
        Err(MessageError::retryable(
            "concurrent_update",
            format!("{} {} changed meanwhile", T::KIND, posting.request.id()),
        ))
    }
}

/// Keeps the last failure on the posting (`bridgectl return` shows it); a failure to save
/// it changes nothing about the retry.
async fn remember_failure<T: Posted>(
    store: &dyn PostingStore<T>,
    mut posting: Posting<T>,
    err: &MessageError,
) {
    posting.last_error = Some(format!("{}: {}", err.code, err.message));
    posting.version += 1;
    if let Err(save_err) = store.save(&posting).await {
        warn!(kind = T::KIND, id = %posting.request.id(), error = %save_err, "could not record the failure");
    }
}

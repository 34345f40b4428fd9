//! Returns and incoming payments to the ERP (contract section 9), exactly once in effect by
//! the orders' machinery: the posting is saved `submitted` before the ERP is called, an
//! attempt that finds it `submitted` asks the ERP first (returns; payments are sent again
//! under the same idempotency key, the contract having no lookup of them), and the call
//! carries the id as its idempotency key. A payment also counts in the customer's open
//! items at once and releases the customer's credit-held orders that it clears. A new B2B
//! account's registration becomes a lead in the CRM the same way.

use crate::{ERP_CIRCUIT_OPEN, Edit, OrderWriteback, erp_failure, store_failure, waits_for_erp};
use bridge_domain::feedback::{
    AccountRegistered, PaymentReceived, Posted, Posting, PostingState, ReturnHold, ReturnRequested,
    ReturnStatus, ReturnStatusChanged, check_return,
};
use bridge_domain::orders::{AdjustOutcome, OpenItemsAdjustment};
use bridge_domain::ports::{ErpError, PostingStore};
use bridge_domain::{ErrorClass, EventType, PortError, Route, Source};
use bridge_lambda::{MessageError, MessageOutcome};
use chrono::Utc;
use std::future::Future;
use tracing::{error, info, warn};

impl OrderWriteback {
    /// A return from the shop: recorded once, checked against what was shipped, and sent to
    /// the ERP when the checks allow it.
    pub async fn return_requested(
        &self,
        request: ReturnRequested,
    ) -> Result<MessageOutcome, MessageError> {
        let result = self.send_return(&request).await;
        if matches!(&result, Err(err) if err.code == "erp_rejected") {
            // What the ERP refused takes nothing back: another return may. Also on a
            // redelivery, in case the delivery that met the refusal died before this.
            self.release_return(&request).await?;
        }
        result
    }

    async fn send_return(&self, request: &ReturnRequested) -> Result<MessageOutcome, MessageError> {
        let store = self.ports.returns.as_ref();
        let mut posting = match recorded(store, request).await? {
            Recorded::Fresh(posting) => posting,
            Recorded::Done(outcome) => return Ok(outcome),
            Recorded::Refused { error, .. } => return Err(error),
        };
        let unsent = matches!(
            posting.state,
            PostingState::Received | PostingState::Held { .. }
        );
        if unsent {
            let holds = match self.reserve_return(request).await? {
                Ok(()) => Vec::new(),
                Err(holds) => holds,
            };
            if !holds.is_empty() {
                let reasons: Vec<String> = holds.iter().map(ToString::to_string).collect();
                let held = PostingState::Held { reasons };
                if posting.state != held {
                    posting.advance(held.clone(), Utc::now());
                    save(store, &posting).await?;
                }
                warn!(return_id = %request.return_id, order_id = %request.order_id, reasons = ?holds, outcome = "return_held", "the return is held: it does not match what was shipped");
                return Ok("ReturnHeld");
            }
            posting.advance(PostingState::Submitted, Utc::now());
            save(store, &posting).await?;
        }
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
        // Submitted before (a crash, a lost answer, a redelivery): ask the ERP first.
        let found = if unsent {
            None
        } else {
            match self
                .ports
                .erp_postings
                .find_return(&request.return_id)
                .await
            {
                Ok(found) => found,
                Err(err) => {
                    let err = self.erp_error(&request.return_id.to_string(), err);
                    remember_failure(store, posting, &err).await;
                    return Err(err);
                }
            }
        };
        self.post(store, posting, found, || {
            self.ports.erp_postings.create_return(request, &order)
        })
        .await
    }

    /// Checks the return against its order and reserves its quantities there in the same
    /// conditional save (`StoredOrder::returns`): `Err(holds)` when it may not go.
    async fn reserve_return(
        &self,
        request: &ReturnRequested,
    ) -> Result<Result<(), Vec<ReturnHold>>, MessageError> {
        let mut holds = Vec::new();
        let id = request.return_id.to_string();
        let edited = self
            .edit_order(
                &request.order_id,
                || format!("the order {} is not known", request.order_id),
                |stored| {
                    // The check leaves this return's own reservation out; a held return
                    // reserves nothing (a delivery that reserved and died, or an earlier
                    // revision with other lines, leaves no reservation behind).
                    holds = check_return(request, Some(stored));
                    if !holds.is_empty() {
                        return Ok(match stored.returns.remove(&id) {
                            Some(_) => Edit::Save(()),
                            None => Edit::Leave("ReturnHeld"),
                        });
                    }
                    if stored.returns.get(&id) == Some(&request.lines) {
                        return Ok(Edit::Leave("Reserved"));
                    }
                    stored.returns.insert(id.clone(), request.lines.clone());
                    Ok(Edit::Save(()))
                },
            )
            .await;
        match edited {
            Err(err) if err.code == "unknown_order" => Ok(Err(vec![ReturnHold::UnknownOrder])),
            Err(err) => Err(err),
            Ok(_) if !holds.is_empty() => Ok(Err(holds)),
            Ok(_) => Ok(Ok(())),
        }
    }

    /// Gives a return's reservation back (the ERP refused or rejected it).
    async fn release_return(&self, request: &ReturnRequested) -> Result<(), MessageError> {
        let id = request.return_id.to_string();
        let released = self
            .edit_order(
                &request.order_id,
                || format!("the order {} is not known", request.order_id),
                |stored| {
                    Ok(match stored.returns.remove(&id) {
                        Some(_) => Edit::Save(()),
                        None => Edit::Leave("NotReserved"),
                    })
                },
            )
            .await;
        match released {
            Err(err) if err.code == "unknown_order" => Ok(()),
            Err(err) => Err(err),
            Ok(_) => Ok(()),
        }
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
            if let Some((status, stored)) = posting.erp_status
                && !event.revision.supersedes(Some(stored))
            {
                if status == ReturnStatus::Rejected {
                    // The release after a saved rejection may have failed: it is idempotent.
                    self.release_return(&posting.request).await?;
                }
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
                if event.status == ReturnStatus::Rejected {
                    // The ERP did not take the goods back: the quantity may be returned again.
                    self.release_return(&posting.request).await?;
                }
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
            Recorded::Refused { posting, error } => {
                // A redelivery of a refused payment: the take-back may not have happened.
                if error.code == "erp_rejected" && posting.counted {
                    self.take_back(&payment).await;
                }
                return Err(error);
            }
        };
        let mut not_counted = false;
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
                    posting.counted = true;
                }
                AdjustOutcome::AlreadyApplied => posting.counted = true,
                other => {
                    // Still the ERP's to book: the credit waits for its next customer record.
                    warn!(payment_id = %payment.payment_id, customer_id = %payment.customer_id, outcome = ?other, "the payment cannot be counted in the open items");
                    not_counted = true;
                }
            }
            if posting.counted {
                posting.version += 1;
                save(store, &posting).await?;
            }
        }
        // Every delivery checks the customer's credit-held orders (each release is a
        // conditional save): a release a crash or a failure cut short is done by the
        // redelivery, not only by the next schedule.
        let released = self
            .release_credit_held_of(&payment.customer_id)
            .await
            .map_err(store_failure)?;
        if released > 0 {
            info!(customer_id = %payment.customer_id, released, "the payment released credit-held orders");
        }
        if posting.state == PostingState::Received {
            posting.advance(PostingState::Submitted, Utc::now());
            save(store, &posting).await?;
        }
        let counted = posting.counted;
        let result = self
            .post(store, posting, None, || {
                self.ports.erp_postings.create_payment(&payment)
            })
            .await;
        match result {
            Err(err) if err.code == "erp_rejected" && counted => {
                self.take_back(&payment).await;
                Err(err)
            }
            Ok(_) if not_counted => Ok("PaymentSentToErpNotCounted"),
            other => other,
        }
    }

    /// The ERP refused the payment: the credit it gave is taken back at once (once, by its
    /// id; after the ERP's next customer record, which never had it, the take-back counts
    /// on top: tighter, not looser).
    async fn take_back(&self, payment: &PaymentReceived) {
        let reversal = OpenItemsAdjustment {
            id: format!("payment:{}:refused", payment.payment_id),
            amount: payment.amount,
        };
        let outcome = self
            .ports
            .customers
            .adjust_open_items(&payment.customer_id, &reversal)
            .await;
        error!(payment_id = %payment.payment_id, customer_id = %payment.customer_id, take_back = ?outcome, "the ERP refused the payment; its count in the open items is taken back");
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
            Recorded::Refused { error, .. } => return Err(error),
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

    /// The last delivery of a return, payment or lead the ERP (or the CRM) could not take,
    /// or one that met an open circuit, ends here instead of in the dead-letter queue: it is
    /// `submitted` and the schedule sends it once the partner is back (`resume_postings`).
    pub(crate) fn wait_at_last(
        &self,
        message: &aws_lambda_events::event::sqs::SqsMessage,
        result: Result<MessageOutcome, MessageError>,
    ) -> Result<MessageOutcome, MessageError> {
        match result {
            Err(err)
                if waits_for_erp(&err)
                    && (err.code == ERP_CIRCUIT_OPEN
                        || bridge_lambda::batch::receive_count(message)
                            >= self.settings.max_receive_count) =>
            {
                warn!(code = %err.code, reason = %err.message, outcome = "waiting_for_erp", "the partner cannot be reached; the schedule sends it when it is back");
                Ok("WaitingForErp")
            }
            other => other,
        }
    }

    /// The schedule's part for returns, payments and leads: those sent but unanswered for
    /// `resume_after` are sent again (a return looked up first), held returns checked again
    /// (a shipment may have come since). `ErpWaitMinutes` counts the oldest wait, so the
    /// unreachable-ERP alarm pages for these as for orders.
    pub async fn resume_postings(
        &self,
        now: chrono::DateTime<Utc>,
        budget: std::time::Duration,
    ) -> Result<PostingsResumed, PortError> {
        let started = std::time::Instant::now();
        let mut resumed = PostingsResumed::default();
        // Untouched for `resume_after`: no delivery is still working on it.
        let stale = |at: chrono::DateTime<Utc>| now - at >= self.settings.resume_after;
        let returns = self.ports.returns.pending().await?;
        let payments = self.ports.payments.pending().await?;
        let leads = self.ports.leads.pending().await?;
        let held = self.ports.returns.held().await?;
        let longest = |waits: &mut dyn Iterator<Item = chrono::DateTime<Utc>>| {
            waits.map(|at| (now - at).num_seconds()).max().unwrap_or(0)
        };
        // The ERP's waits page as the orders' do; the CRM's (leads) have their own figure.
        resumed.longest_wait_seconds = longest(
            &mut returns
                .iter()
                .map(Posting::since)
                .chain(payments.iter().map(Posting::since)),
        );
        resumed.longest_crm_wait_seconds = longest(&mut leads.iter().map(Posting::since));
        let mut work: Vec<(chrono::DateTime<Utc>, Job)> = Vec::new();
        work.extend(
            returns
                .into_iter()
                .map(|p| (p.touched(), Job::Return(p.request))),
        );
        work.extend(
            payments
                .into_iter()
                .map(|p| (p.touched(), Job::Payment(p.request))),
        );
        work.extend(
            leads
                .into_iter()
                .map(|p| (p.touched(), Job::Lead(p.request))),
        );
        work.extend(
            held.into_iter()
                .map(|p| (p.touched(), Job::HeldReturn(p.request))),
        );
        for (since, job) in work {
            if !stale(since) {
                resumed.in_flight += 1;
                continue;
            }
            if started.elapsed() >= budget {
                resumed.deferred += 1;
                continue;
            }
            let held = matches!(job, Job::HeldReturn(_));
            let (route, source, body) = job.dead_letter_form(now);
            let job_id = job.id();
            let result = match job {
                Job::Return(r) | Job::HeldReturn(r) => self.return_requested(r).await,
                Job::Payment(p) => self.payment_received(p).await,
                Job::Lead(l) => self.account_registered(l).await,
            };
            match result {
                Ok("ReturnHeld") => resumed.still_held += 1,
                Ok(_) if held => resumed.released += 1,
                Ok(_) => resumed.sent += 1,
                Err(err) if waits_for_erp(&err) => resumed.waiting_for_erp += 1,
                Err(err) if err.class == ErrorClass::Permanent => {
                    // Refused for good (the ERP's 422 or 409): no message is left to carry
                    // the reason, so one goes to the route's dead-letter queue (alarmed; a
                    // redrive dead-letters it again with the reason, never sends it).
                    error!(code = %err.code, reason = %err.message, outcome = "dead_lettered", "a resumed posting was refused");
                    resumed.failed += 1;
                    let webhook_id = format!("{}.resumed", job_id);
                    if let Err(dlq_err) = self
                        .dead_letter_event(route, source, webhook_id, body, &err, now)
                        .await
                    {
                        error!(error = %dlq_err.message, "could not dead-letter a refused posting");
                    }
                }
                Err(err) => {
                    warn!(code = %err.code, reason = %err.message, "resuming a posting failed; the next run tries again");
                    resumed.failed += 1;
                }
            }
        }
        let mut metrics = bridge_lambda::Metrics::new(crate::FUNCTION_NAME);
        metrics.add("PostingsResumed", resumed.sent);
        metrics.add("PostingsWaitingForErp", resumed.waiting_for_erp);
        metrics.add("ReturnsStillHeld", resumed.still_held);
        metrics.add("ReturnsReleased", resumed.released);
        metrics.add("PostingsResumeFailed", resumed.failed);
        metrics.add(
            "ErpWaitMinutes",
            u64::try_from(resumed.longest_wait_seconds / 60).unwrap_or(0),
        );
        metrics.add(
            "CrmWaitMinutes",
            u64::try_from(resumed.longest_crm_wait_seconds / 60).unwrap_or(0),
        );
        metrics.flush();
        Ok(resumed)
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
            // 422, or 409 (the reference is in the ERP under another key: a person must
            // look): refused for good, never sent again.
            Err(err @ (ErpError::Rejected { .. } | ErpError::Conflict(_))) => {
                let errors = match err {
                    ErpError::Rejected { errors } => errors,
                    other => vec![format!("{CONFLICT_PREFIX}{other}")],
                };
                posting.advance(
                    PostingState::Rejected {
                        errors: errors.clone(),
                    },
                    Utc::now(),
                );
                save(store, &posting).await?;
                Err(refusal(T::KIND, &id, &errors))
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

/// What the schedule did with returns, payments and leads.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PostingsResumed {
    /// The partner has them now.
    pub sent: u64,
    pub waiting_for_erp: u64,
    /// Held returns whose check passed now (sent).
    pub released: u64,
    pub still_held: u64,
    /// Touched too recently: a delivery may still be working on them.
    pub in_flight: u64,
    pub deferred: u64,
    pub failed: u64,
    /// The oldest return or payment waiting for the ERP, in seconds.
    pub longest_wait_seconds: i64,
    /// The oldest lead waiting for the CRM, in seconds.
    pub longest_crm_wait_seconds: i64,
}

enum Job {
    Return(ReturnRequested),
    HeldReturn(ReturnRequested),
    Payment(PaymentReceived),
    Lead(AccountRegistered),
}

impl Job {
    /// The route, sender and webhook body the posting came as: what its dead letter carries.
    fn dead_letter_form(&self, now: chrono::DateTime<Utc>) -> (Route, Source, serde_json::Value) {
        let body = |kind: EventType, data: serde_json::Result<serde_json::Value>| {
            serde_json::json!({
                "type": kind.as_str(),
                "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "data": data.unwrap_or_default(),
            })
        };
        match self {
            Job::Return(r) | Job::HeldReturn(r) => (
                Route::Returns,
                Source::shop(),
                body(EventType::ReturnRequested, serde_json::to_value(r)),
            ),
            Job::Payment(p) => (
                Route::Payments,
                Source::shop(),
                body(EventType::PaymentReceived, serde_json::to_value(p)),
            ),
            Job::Lead(l) => (
                Route::Leads,
                Source::shop(),
                body(EventType::AccountRegistered, serde_json::to_value(l)),
            ),
        }
    }

    /// `<kind>.<id>`, for the dead letter's id.
    fn id(&self) -> String {
        match self {
            Job::Return(r) | Job::HeldReturn(r) => format!("return.{}", r.id()),
            Job::Payment(p) => format!("payment.{}", p.id()),
            Job::Lead(l) => format!("lead.{}", l.id()),
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

/// The dead-letter reason of a posting refused for good: `erp_conflict` when the partner has
/// the reference under another key (it may well have it: nothing is given back), else
/// `erp_rejected` (422: what it took is given back).
fn refusal(kind: &str, id: &str, errors: &[String]) -> MessageError {
    let code = if errors.iter().any(|e| e.starts_with(CONFLICT_PREFIX)) {
        "erp_conflict"
    } else {
        "erp_rejected"
    };
    MessageError::permanent(
        code,
        format!("the partner refused {kind} {id}: {}", errors.join("; ")),
    )
}

const CONFLICT_PREFIX: &str = "erp_conflict: ";

/// A posting as stored, or the outcome when there is nothing left to do.
enum Recorded<T: Posted> {
    Fresh(Posting<T>),
    Done(MessageOutcome),
    /// Refused for good before: again to the dead-letter queue with the reason (the first
    /// delivery may have died before it got there), never deleted as a duplicate.
    Refused {
        posting: Posting<T>,
        error: MessageError,
    },
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
        return match stored.state {
            PostingState::Accepted { .. } => Ok(Recorded::Done("AlreadyPosted")),
            PostingState::Rejected { ref errors } => Ok(Recorded::Refused {
                error: refusal(T::KIND, &request.id(), errors),
                posting: stored,
            }),
            _ => Ok(Recorded::Fresh(stored)),
        };
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
    posting.last_attempt = Some(Utc::now());
    posting.version += 1;
    if let Err(save_err) = store.save(&posting).await {
        warn!(kind = T::KIND, id = %posting.request.id(), error = %save_err, "could not record the failure");
    }
}

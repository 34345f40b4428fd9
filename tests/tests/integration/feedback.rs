//! What flows back to the ERP and in from the CRM (contract section 9) through the order
//! writeback as deployed, on moto and the ERP simulator: returns, payments, contacts' roles
//! on approvals, leads.

use super::orders::{Setup, event, setup};
use bridge_domain::feedback::{Posting, PostingState, ReturnRequested};
use bridge_domain::ports::{CustomerStore, PostingStore};
use bridge_domain::{DomainEvent, ErrorClass, Source};
use bridge_lambda::MessageError;
use serde_json::{Value, json};

impl Setup {
    /// What the simulator booked under `book` (`orders`, `returns`, `payments`, `leads`).
    async fn booked(&self, book: &str) -> Vec<Value> {
        self.erp_listing().await[book].as_array().unwrap().clone()
    }

    fn returns(&self) -> bridge_aws::DynamoPostingStore<ReturnRequested> {
        bridge_aws::DynamoPostingStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("PostingTable"),
        )
    }

    async fn the_return(&self, id: &str) -> Posting<ReturnRequested> {
        self.returns()
            .get(id)
            .await
            .unwrap()
            .expect("the return is stored")
    }

    /// Hands `body` (an event of `source`) to the writeback as its queue would, until it
    /// stops asking for a retry.
    async fn hand_over(
        &self,
        source: &str,
        body: Value,
        attempts: usize,
    ) -> Result<&'static str, MessageError> {
        let mut last = None;
        for _ in 0..attempts {
            let result = match event(Source::parse(source).unwrap(), body.clone()) {
                DomainEvent::ReturnRequested(r) => self.writeback.return_requested(r).await,
                DomainEvent::ReturnStatusChanged(s) => self.writeback.return_status(s).await,
                DomainEvent::PaymentReceived(p) => self.writeback.payment_received(p).await,
                DomainEvent::AccountRegistered(a) => self.writeback.account_registered(a).await,
                DomainEvent::OrderStatusChanged(s) => self.writeback.status(s).await,
                other => panic!("not a section 9 event: {other:?}"),
            };
            match result {
                Err(err) if err.class == ErrorClass::Retryable => last = Some(err),
                other => return other,
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// POSTs the simulator answered 200 for a key it had seen: a resend without a lookup.
    async fn replays(&self) -> u64 {
        self.erp_listing().await["replays"].as_u64().unwrap()
    }

    /// The schedule's run over returns, payments and leads, as if `minutes` had passed.
    async fn resume(&self, minutes: i64) -> order_writeback::postings::PostingsResumed {
        self.writeback
            .resume_postings(
                chrono::Utc::now() + chrono::Duration::minutes(minutes),
                std::time::Duration::from_secs(60),
            )
            .await
            .unwrap()
    }

    async fn shipped(&self, order: &str, revision: u64) {
        let body = json!({"type": "order.status_changed", "timestamp": "2026-12-08T10:00:00Z",
            "data": {"order_id": order, "status": "shipped", "revision": revision}});
        self.hand_over("erp", body, 1).await.unwrap();
    }

    async fn open_items(&self) -> String {
        let store = bridge_aws::DynamoCustomerStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("CustomerTable"),
        );
        let customer = store
            .customer(&bridge_domain::CustomerId::parse("C-1").unwrap())
            .await
            .unwrap()
            .unwrap();
        customer.open_items.unwrap().amount.to_string()
    }
}

fn return_body(id: &str, order: &str, quantity: &str) -> Value {
    json!({"type": "return.requested", "timestamp": "2026-12-08T10:00:00Z",
        "data": {"return_id": id, "order_id": order, "revision": 1,
            "lines": [{"line": 1, "sku": "A", "quantity": quantity, "reason": "damaged"}]}})
}

#[tokio::test]
async fn a_return_delivered_three_times_after_a_crash_or_a_lost_answer_is_one_erp_return() {
    let s = setup().await;
    for id in ["SO-R1", "SO-R2"] {
        assert_eq!(
            s.deliver(&s.order(id, "5", "10.00"), 1).await,
            Ok("Submitted")
        );
        s.shipped(id, 1).await;
    }

    // Three deliveries of one return: one ERP return.
    let first = return_body("R-1", "SO-R1", "2");
    assert_eq!(
        s.hand_over("shop", first.clone(), 1).await.unwrap(),
        "ReturnSentToErp"
    );
    for _ in 0..2 {
        assert_eq!(
            s.hand_over("shop", first.clone(), 1).await.unwrap(),
            "AlreadyPosted"
        );
    }
    assert_eq!(s.booked("returns").await.len(), 1);
    let stored = s.the_return("R-1").await;
    let PostingState::Accepted { number } = &stored.state else {
        panic!("{stored:?}")
    };
    assert_eq!(s.booked("returns").await[0]["erp_order_number"], *number);

    // The ERP's answer lost after it booked the return: the retry asks first, sends nothing.
    s.faults(json!({"script": ["lost_after_commit"]})).await;
    let lost = return_body("R-2", "SO-R1", "1");
    let err = s.hand_over("shop", lost.clone(), 1).await.unwrap_err();
    assert_eq!(err.code, "erp_ambiguous");
    assert_eq!(s.the_return("R-2").await.state, PostingState::Submitted);
    assert!(s.the_return("R-2").await.last_error.is_some());
    assert_eq!(
        s.hand_over("shop", lost, 1).await.unwrap(),
        "ReturnSentToErp"
    );
    assert_eq!(s.booked("returns").await.len(), 2);

    // A run that crashed after the ERP accepted, before it saved the answer: the return is
    // stored `submitted`, the ERP has it; the redelivery finds it.
    let DomainEvent::ReturnRequested(crashed) =
        event(Source::shop(), return_body("R-3", "SO-R2", "5"))
    else {
        unreachable!()
    };
    let mut posting = Posting::new(crashed.clone(), chrono::Utc::now());
    assert!(s.returns().insert(&posting).await.unwrap());
    posting.advance(PostingState::Submitted, chrono::Utc::now());
    assert!(s.returns().save(&posting).await.unwrap());
    let order = s.stored("SO-R2").await.order;
    let answer = s
        .http
        .post(format!("{}/returns", s.sim.base_url))
        .bearer_auth("erp-test-token")
        .header("Idempotency-Key", "R-3")
        .json(&order_writeback::erp::return_body(&crashed, &order))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201);
    assert_eq!(
        s.hand_over("shop", return_body("R-3", "SO-R2", "5"), 1)
            .await
            .unwrap(),
        "ReturnSentToErp"
    );
    let booked = s.booked("returns").await;
    assert_eq!(booked.len(), 3);
    assert_eq!(
        booked
            .iter()
            .filter(|r| r["external_reference"] == "R-3")
            .count(),
        1
    );
    // Neither the retry after the lost answer nor the one after the crash sent it again:
    // each found the ERP's return by its reference first.
    assert_eq!(s.replays().await, 0);

    // More than was shipped (5, of which 3 are being returned) is held by name; the ERP
    // sees nothing of it, nor of a return for an order the bridge does not know.
    assert_eq!(
        s.hand_over("shop", return_body("R-4", "SO-R1", "3"), 1)
            .await
            .unwrap(),
        "ReturnHeld"
    );
    let PostingState::Held { reasons } = s.the_return("R-4").await.state else {
        panic!()
    };
    assert!(
        reasons[0].starts_with("above_shipped: line 1 returns 3, 2 can be returned"),
        "{reasons:?}"
    );
    assert_eq!(
        s.hand_over("shop", return_body("R-5", "SO-UNKNOWN", "1"), 1)
            .await
            .unwrap(),
        "ReturnHeld"
    );
    assert_eq!(s.booked("returns").await.len(), 3);

    // The ERP's statuses of a return, under their revision.
    let status = |status: &str, revision: u64| {
        json!({"type": "return.status_changed", "timestamp": "2026-12-09T10:00:00Z",
            "data": {"return_id": "R-1", "status": status, "revision": revision}})
    };
    assert_eq!(
        s.hand_over("erp", status("inspected", 3), 1).await.unwrap(),
        "ReturnStatusApplied"
    );
    assert_eq!(
        s.hand_over("erp", status("received", 2), 1).await.unwrap(),
        "Stale"
    );
    let stored = s.the_return("R-1").await;
    assert_eq!(stored.erp_status.unwrap().0.as_str(), "inspected");
    assert!(matches!(stored.state, PostingState::Accepted { .. }));
    let unknown = json!({"type": "return.status_changed", "timestamp": "2026-12-09T10:00:00Z",
        "data": {"return_id": "R-404", "status": "received", "revision": 1}});
    assert_eq!(
        s.hand_over("erp", unknown, 1).await.unwrap_err().code,
        "unknown_return"
    );
}

#[tokio::test]
async fn two_returns_at_once_never_take_back_more_than_was_shipped_and_a_held_one_goes_once_shipped()
 {
    let s = setup().await;
    assert_eq!(
        s.deliver(&s.order("SO-C1", "5", "10.00"), 1).await,
        Ok("Submitted")
    );
    s.shipped("SO-C1", 1).await;
    // Two returns of 4 of the 5 shipped, handled at the same time: one goes, one is held.
    let (a, b) = tokio::join!(
        s.hand_over("shop", return_body("R-C1", "SO-C1", "4"), 5),
        s.hand_over("shop", return_body("R-C2", "SO-C1", "4"), 5),
    );
    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort();
    assert_eq!(outcomes, ["ReturnHeld", "ReturnSentToErp"]);
    assert_eq!(s.booked("returns").await.len(), 1);
    let sent = if s.the_return("R-C1").await.number().is_some() {
        "R-C1"
    } else {
        "R-C2"
    };

    // A return the shop sends before the order was shipped is held, and goes to the ERP by
    // the schedule once the shipment is known.
    assert_eq!(
        s.deliver(&s.order("SO-C2", "3", "10.00"), 1).await,
        Ok("Submitted")
    );
    assert_eq!(
        s.hand_over("shop", return_body("R-C3", "SO-C2", "3"), 1)
            .await
            .unwrap(),
        "ReturnHeld"
    );
    let first = s.resume(10).await;
    assert_eq!((first.still_held, first.released), (2, 0), "{first:?}");
    s.shipped("SO-C2", 1).await;
    let second = s.resume(10).await;
    assert_eq!((second.still_held, second.released), (1, 1), "{second:?}");
    assert!(matches!(
        s.the_return("R-C3").await.state,
        PostingState::Accepted { .. }
    ));
    assert_eq!(s.booked("returns").await.len(), 2);

    // The ERP rejects the first return after inspection: its 4 may be returned again, and
    // the held one goes.
    let rejected = json!({"type": "return.status_changed", "timestamp": "2026-12-09T10:00:00Z",
        "data": {"return_id": sent, "status": "rejected", "revision": 5}});
    assert_eq!(
        s.hand_over("erp", rejected, 1).await.unwrap(),
        "ReturnStatusApplied"
    );
    let third = s.resume(10).await;
    assert_eq!((third.still_held, third.released), (0, 1), "{third:?}");
    assert_eq!(s.booked("returns").await.len(), 3);
}

#[tokio::test]
async fn a_payment_frees_a_credit_held_order_at_once_and_counts_once_after_the_erps_update() {
    let s = setup().await;
    s.customer(
        json!({"revision": 2, "credit_limit": {"amount": "1000", "currency": "EUR"},
        "open_items": {"amount": "600", "currency": "EUR"}}),
    )
    .await;
    // 600 open + 50 × 10 = 1100 > 1000.
    let order = s.order("SO-P1", "50", "10.00");
    let order = bridge_domain::OrderPlaced {
        approvals: vec![bridge_domain::events::Approval {
            role: "manager".into(),
            user_id: "u-1".into(),
            at: None,
        }],
        ..order
    };
    assert_eq!(s.deliver(&order, 1).await, Ok("Held"));
    assert_eq!(s.state("SO-P1").await, "held");

    // A payment of 250: counted at once (600 - 250 + 500 = 850), the order released in the
    // same delivery, the payment booked in the ERP once.
    let payment = json!({"type": "payment.received", "timestamp": "2026-12-08T11:00:00Z",
        "data": {"payment_id": "PAY-1", "customer_id": "C-1", "amount": {"amount": "250.00", "currency": "EUR"},
            "received_at": "2026-12-08T10:59:00Z", "invoices": ["RE-1"]}});
    assert_eq!(
        s.hand_over("psp", payment.clone(), 1).await.unwrap(),
        "PaymentSentToErp"
    );
    assert_eq!(s.state("SO-P1").await, "accepted");
    assert_eq!(s.open_items().await, "350.00");
    assert_eq!(s.booked("payments").await.len(), 1);
    assert_eq!(s.booked("orders").await.len(), 1);

    // Again (a redelivery, the shop and the PSP both sending it): nothing more.
    assert_eq!(
        s.hand_over("shop", payment.clone(), 1).await.unwrap(),
        "AlreadyPosted"
    );
    assert_eq!(s.open_items().await, "350.00");

    // The ERP's own record, which includes the payment, replaces the count; a late copy of
    // the payment does not count it a second time.
    s.customer(
        json!({"revision": 3, "credit_limit": {"amount": "1000", "currency": "EUR"},
        "open_items": {"amount": "350.00", "currency": "EUR"}}),
    )
    .await;
    assert_eq!(
        s.hand_over("psp", payment, 1).await.unwrap(),
        "AlreadyPosted"
    );
    assert_eq!(s.open_items().await, "350.00");
    assert_eq!(s.booked("payments").await.len(), 1);

    // An ERP down for a while: the payment counts at once, reaches the ERP once it is back.
    s.faults(json!({"down": true})).await;
    let second = json!({"type": "payment.received", "timestamp": "2026-12-08T12:00:00Z",
        "data": {"payment_id": "PAY-2", "customer_id": "C-1", "amount": {"amount": "50", "currency": "EUR"},
            "received_at": "2026-12-08T11:59:00Z"}});
    let err = s.hand_over("psp", second.clone(), 3).await.unwrap_err();
    assert_eq!(err.code, "erp_ambiguous");
    assert_eq!(s.open_items().await, "300.00");
    // Its deliveries ran out while the ERP was down: the schedule sends it when it is back.
    let waiting = s.resume(10).await;
    assert_eq!(
        (waiting.waiting_for_erp, waiting.sent),
        (1, 0),
        "{waiting:?}"
    );
    assert!(waiting.longest_wait_seconds >= 600);
    s.faults(json!({})).await;
    let back = s.resume(10).await;
    assert_eq!((back.waiting_for_erp, back.sent), (0, 1), "{back:?}");
    assert_eq!(
        s.hand_over("psp", second, 1).await.unwrap(),
        "AlreadyPosted"
    );
    assert_eq!(s.open_items().await, "300.00");
    assert_eq!(s.booked("payments").await.len(), 2);

    // A payment the ERP refuses: counted at once, taken back when the ERP says no.
    s.faults(json!({"reject_customers": ["C-1"]})).await;
    let refused = json!({"type": "payment.received", "timestamp": "2026-12-08T13:00:00Z",
        "data": {"payment_id": "PAY-3", "customer_id": "C-1", "amount": {"amount": "100", "currency": "EUR"},
            "received_at": "2026-12-08T12:59:00Z"}});
    let err = s.hand_over("psp", refused.clone(), 1).await.unwrap_err();
    assert_eq!(err.code, "erp_rejected");
    assert_eq!(s.open_items().await, "300.00");
    assert_eq!(
        s.hand_over("psp", refused, 1).await.unwrap_err().code,
        "erp_rejected"
    );
    assert_eq!(s.open_items().await, "300.00");
    assert_eq!(s.booked("payments").await.len(), 2);

    // One counted while the ERP was down, whose run died right after the ERP refused it
    // (saved rejected, not yet taken back): the redelivery takes it back.
    s.faults(json!({"down": true})).await;
    let died = json!({"type": "payment.received", "timestamp": "2026-12-08T14:00:00Z",
        "data": {"payment_id": "PAY-4", "customer_id": "C-1", "amount": {"amount": "40", "currency": "EUR"},
            "received_at": "2026-12-08T13:59:00Z"}});
    s.hand_over("psp", died.clone(), 1).await.unwrap_err();
    assert_eq!(s.open_items().await, "260.00");
    let payments: bridge_aws::DynamoPostingStore<bridge_domain::feedback::PaymentReceived> =
        bridge_aws::DynamoPostingStore::new(
            aws_sdk_dynamodb::Client::new(&s.stack.sdk),
            s.stack.table("PostingTable"),
        );
    let mut stored = payments.get("PAY-4").await.unwrap().unwrap();
    assert!(stored.counted);
    stored.advance(
        PostingState::Rejected {
            errors: vec!["customer C-1 has no account for payments".into()],
        },
        chrono::Utc::now(),
    );
    assert!(payments.save(&stored).await.unwrap());
    assert_eq!(
        s.hand_over("psp", died, 1).await.unwrap_err().code,
        "erp_rejected"
    );
    assert_eq!(s.open_items().await, "300.00");

    // One whose deliveries ran out while the ERP was down, refused when the schedule sends
    // it: dead-lettered with the reason (no message is left to carry it), taken back.
    let late = json!({"type": "payment.received", "timestamp": "2026-12-08T15:00:00Z",
        "data": {"payment_id": "PAY-5", "customer_id": "C-1", "amount": {"amount": "10", "currency": "EUR"},
            "received_at": "2026-12-08T14:59:00Z"}});
    s.hand_over("psp", late, 1).await.unwrap_err();
    assert_eq!(s.open_items().await, "290.00");
    s.faults(json!({"reject_customers": ["C-1"]})).await;
    let refused = s.resume(10).await;
    assert_eq!(refused.failed, 1, "{refused:?}");
    assert_eq!(s.open_items().await, "300.00");
    let (code, reason) = s.only_dead_letter("PaymentDeadLetterQueue").await;
    assert_eq!(code, "erp_rejected");
    assert!(reason.contains("PAY-5"), "{reason}");
}

#[tokio::test]
async fn a_held_return_leaves_no_reservation_behind() {
    let s = setup().await;
    assert_eq!(
        s.deliver(&s.order("SO-H1", "5", "10.00"), 1).await,
        Ok("Submitted")
    );
    s.shipped("SO-H1", 1).await;
    // A delivery reserved 4 for R-H1 and died before it saved the return as submitted.
    let orders = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("OrderTable"),
    );
    let mut order = s.stored("SO-H1").await;
    let DomainEvent::ReturnRequested(first) =
        event(Source::shop(), return_body("R-H1", "SO-H1", "4"))
    else {
        unreachable!()
    };
    order.returns.insert("R-H1".into(), first.lines.clone());
    order.version += 1;
    assert!(
        bridge_domain::ports::OrderStore::save(&orders, &order)
            .await
            .unwrap()
    );
    // The shop then sends the return again under revision 2 with more than was shipped:
    // held, and the 4 reserved by the dead delivery are given back.
    let mut second = return_body("R-H1", "SO-H1", "6");
    second["data"]["revision"] = json!(2);
    assert_eq!(s.hand_over("shop", second, 1).await.unwrap(), "ReturnHeld");
    assert!(s.stored("SO-H1").await.returns.is_empty());
    assert_eq!(
        s.hand_over("shop", return_body("R-H2", "SO-H1", "5"), 1)
            .await
            .unwrap(),
        "ReturnSentToErp"
    );
}

#[tokio::test]
async fn an_approval_counts_only_from_a_contact_holding_the_role() {
    let s = setup().await;
    s.price("B", "250.00").await;
    s.contact("u-2", &["buyer"], 1, true).await;
    let big = |id: &str, user: &str| {
        let DomainEvent::OrderPlaced(order) = event(
            Source::shop(),
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                     "approvals": [{"role": "manager", "user_id": user}],
                     "lines": [{"line": 1, "sku": "B", "quantity": 3, "unit_price": "250.00"}]}}),
        ) else {
            unreachable!()
        };
        order
    };
    // A buyer approving as manager, and someone the CRM does not know: held by name.
    for (id, user) in [("SO-A1", "u-2"), ("SO-A2", "u-99")] {
        assert_eq!(s.deliver(&big(id, user), 1).await, Ok("Held"));
        let stored = s.stored(id).await;
        let bridge_domain::orders::OrderState::Held { reasons } = &stored.state else {
            panic!()
        };
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons[0].code(), "approval_invalid");
    }
    assert!(s.booked("orders").await.is_empty());

    // The CRM makes u-2 a manager: the release sends the order it approved.
    s.contact("u-2", &["buyer", "manager"], 2, true).await;
    let release = s
        .writeback
        .release_held(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((release.submitted, release.still_held), (1, 1));
    assert_eq!(s.state("SO-A1").await, "accepted");

    // An order held for credit with a valid approval; the approver loses the role before
    // the credit clears: it stays held, now for its approval.
    s.customer(
        json!({"revision": 2, "credit_limit": {"amount": "1000", "currency": "EUR"},
        "open_items": {"amount": "900", "currency": "EUR"}}),
    )
    .await;
    assert_eq!(s.deliver(&big("SO-A3", "u-1"), 1).await, Ok("Held"));
    s.contact("u-1", &["manager"], 2, false).await;
    s.customer(
        json!({"revision": 3, "credit_limit": {"amount": "100000", "currency": "EUR"},
        "open_items": {"amount": "0", "currency": "EUR"}}),
    )
    .await;
    s.writeback
        .release_held(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let stored = s.stored("SO-A3").await;
    let bridge_domain::orders::OrderState::Held { reasons } = &stored.state else {
        panic!("{:?}", stored.state)
    };
    assert_eq!(
        reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
        ["approval_invalid"]
    );
    assert_eq!(s.booked("orders").await.len(), 1);
}

#[tokio::test]
async fn a_lead_is_created_once_under_retries() {
    let s = setup().await;
    let registration = json!({"type": "account.registered", "timestamp": "2026-12-08T10:00:00Z",
        "data": {"registration_id": "REG-1", "company": "Muster GmbH", "vat_id": "DE123456789",
            "contact": {"name": "Jan Muster", "email": "jan@muster.example"}}});
    s.faults(json!({"script": ["server_error", "lost_after_commit", "throttled"]}))
        .await;
    assert_eq!(
        s.hand_over("shop", registration.clone(), 10).await.unwrap(),
        "LeadCreatedInCrm"
    );
    assert_eq!(
        s.hand_over("shop", registration, 1).await.unwrap(),
        "AlreadyPosted"
    );
    let leads = s.booked("leads").await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["body"]["company"], "Muster GmbH");
}

//! `bridgectl dlq redrive --filter` against moto: it ends, and it reports each message once,
//! even when the messages it skips come back while it works.

use std::time::Duration;

#[tokio::test]
async fn a_filtered_redrive_ends_and_counts_each_message_once_when_skipped_ones_reappear() {
    let stack = super::support::stack(false).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let dlq = stack.queue_url("StockPriceDeadLetterQueue").to_string();
    let string = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    for n in 0..15 {
        let code = if n % 5 == 0 {
            "store_unavailable"
        } else {
            "invalid_event"
        };
        sqs.send_message()
            .queue_url(&dlq)
            .message_body(format!("message {n}"))
            .message_attributes("failure_code", string(code))
            .send()
            .await
            .unwrap();
    }
    let filter = bridgectl::dlq::Filter::parse(Some("failure_code=store_unavailable")).unwrap();
    // While the redrive runs, a moved message fails again and is dead-lettered anew (its
    // consumer is running): this run leaves it, or it would never end.
    let late = {
        let (sqs, dlq) = (sqs.clone(), dlq.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sqs.send_message()
                .queue_url(&dlq)
                .message_body("message 0, failed again")
                .message_attributes(
                    "failure_code",
                    aws_sdk_sqs::types::MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value("store_unavailable")
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        })
    };
    // Skipped messages are hidden for a second only, and every round takes longer than
    // that: they come back again and again while the redrive goes on.
    let mut rounds = 0;
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        bridgectl::dlq::redrive(&sqs, &dlq, &filter, Duration::from_secs(1), |_| {
            rounds += 1;
            std::thread::sleep(Duration::from_millis(1200));
        }),
    )
    .await
    .expect("the redrive ends")
    .unwrap();
    late.await.unwrap();
    assert_eq!(
        (result.moved, result.kept),
        (3, 12),
        "after {rounds} rounds"
    );
    let moved = stack.drain_queue("StockPriceQueue").await;
    assert_eq!(moved.len(), 3);
    assert!(
        moved
            .iter()
            .all(|m| ["message 0", "message 5", "message 10"].contains(&m.body().unwrap()))
    );
    // The skipped ones and the late one are still there, visible again, nothing lost.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(bridgectl::dev::queue_depth(&sqs, &dlq).await.unwrap(), 13);
}

//! The template: lint-clean, and consistent in what the code relies on.

use bridge_infra::Template;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn template() -> Template {
    Template::load(&bridge_testkit::repo_root().join("template.yaml")).unwrap()
}

#[test]
fn the_template_passes_cfn_lint_as_sam_and_as_translated_cloudformation() {
    let root = bridge_testkit::repo_root();
    let output = std::process::Command::new("bash")
        .arg(root.join("scripts/lint-template.sh"))
        .output()
        .expect("the lint script runs");
    assert!(
        output.status.success(),
        "cfn-lint failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The checked-in template is what its parts render (as rust-analyzer checks its generated
/// files): a part edited without regenerating, or the template edited by hand, fails here.
#[test]
fn the_template_is_what_its_parts_under_infra_template_render() {
    let root = bridge_testkit::repo_root();
    let rendered =
        bridge_infra::generate::render(&root.join(bridge_infra::generate::SOURCE_DIR)).unwrap();
    let checked_in = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    assert!(
        rendered == checked_in,
        "template.yaml is not what infra/template/ renders; run `cargo run -p bridge-infra --bin generate-template`"
    );
}

#[test]
fn every_function_is_a_uniquely_named_cargo_lambda_binary_on_arm64() {
    let text = std::fs::read_to_string(bridge_testkit::repo_root().join("template.yaml")).unwrap();
    assert!(text.contains("Runtime: provided.al2023"));
    assert!(text.contains("Architectures: [arm64]"));
    let t = template();
    let mut binaries = BTreeSet::new();
    for function in t.resources_of("AWS::Serverless::Function") {
        assert_eq!(
            function.metadata["BuildMethod"], "rust-cargolambda",
            "{}",
            function.logical_id
        );
        let binary = function.metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        assert!(
            binaries.insert(binary.to_string()),
            "binary {binary} used twice"
        );
        assert!(
            bridge_testkit::repo_root()
                .join("functions")
                .join(binary)
                .is_dir(),
            "no functions/{binary}"
        );
    }
    // The template, the registry and functions/ name the same functions.
    let registered: BTreeSet<String> = bridge_registry::names().map(str::to_string).collect();
    assert_eq!(
        binaries, registered,
        "template functions against the registry"
    );
    let folders: BTreeSet<String> =
        std::fs::read_dir(bridge_testkit::repo_root().join("functions"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(folders, registered, "functions/ against the registry");
}

fn alarms_on(t: &Template, namespace: &str, metric: &str) -> Vec<Value> {
    t.resources_of("AWS::CloudWatch::Alarm")
        .filter(|a| a.properties["Namespace"] == namespace && a.properties["MetricName"] == metric)
        .map(|a| a.properties["Dimensions"][0]["Value"].clone())
        .collect()
}

#[test]
fn every_queue_has_a_dead_letter_queue_with_an_alarm_and_explicit_limits() {
    let t = template();
    let dlq_alarms = alarms_on(&t, "AWS/SQS", "ApproximateNumberOfMessagesVisible");
    let queues: Vec<_> = t.resources_of("AWS::SQS::Queue").collect();
    let redrive_targets: BTreeSet<String> = queues
        .iter()
        .filter_map(|q| {
            q.properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str()
        })
        .map(str::to_string)
        .collect();
    // A stream consumer's on-failure destination is a dead-letter queue too.
    let stream_failure_targets: BTreeSet<String> = t
        .functions()
        .unwrap()
        .into_iter()
        .flat_map(|f| f.stream_events.into_iter().filter_map(|s| s.on_failure))
        .collect();
    let dead_letter_targets: BTreeSet<String> = redrive_targets
        .union(&stream_failure_targets)
        .cloned()
        .collect();
    for queue in &queues {
        let props = &queue.properties;
        assert_eq!(
            props["SqsManagedSseEnabled"], true,
            "{} is not encrypted",
            queue.logical_id
        );
        assert_eq!(
            props["MaximumMessageSize"],
            json!({"Ref": "QueueMaxMessageBytes"}),
            "{}",
            queue.logical_id
        );
        if dead_letter_targets.contains(&queue.logical_id) {
            let alarm = json!({"Fn::GetAtt": [queue.logical_id, "QueueName"]});
            assert!(
                dlq_alarms.contains(&alarm),
                "{} has no alarm",
                queue.logical_id
            );
        } else {
            assert_eq!(
                props["RedrivePolicy"]["maxReceiveCount"],
                json!({"Ref": "RedriveBackstopReceiveCount"}),
                "{} has no redrive policy",
                queue.logical_id
            );
        }
    }
    // One dead-letter queue per queue a function consumes.
    let consumed: BTreeSet<String> = t
        .functions()
        .unwrap()
        .into_iter()
        .flat_map(|f| f.sqs_events.into_iter().map(|(queue, _)| queue))
        .collect();
    assert_eq!(redrive_targets.len(), consumed.len(), "{consumed:?}");
    // Every stream event source gives up on a batch into a dead-letter queue, not silently.
    for function in t.functions().unwrap() {
        for stream in &function.stream_events {
            assert!(
                stream.on_failure.is_some()
                    && stream.report_batch_item_failures
                    && stream.bisect_on_error,
                "{}: the stream of {} needs an on-failure destination, partial batch responses and bisection",
                function.logical_id,
                stream.table
            );
            assert!(
                stream.maximum_retry_attempts >= 0,
                "{}: unbounded retries of {}",
                function.logical_id,
                stream.table
            );
        }
    }
}

#[test]
fn every_function_has_an_errors_alarm_and_every_alarm_pages_on_call_and_links_its_runbook() {
    let t = template();
    let error_alarms = alarms_on(&t, "AWS/Lambda", "Errors");
    let throttle_alarms = alarms_on(&t, "AWS/Lambda", "Throttles");
    let runbook =
        std::fs::read_to_string(bridge_testkit::repo_root().join("docs/runbook.md")).unwrap();
    for function in t.resources_of("AWS::Serverless::Function") {
        assert!(
            error_alarms.contains(&json!({"Ref": function.logical_id})),
            "{} has no errors alarm",
            function.logical_id
        );
        assert!(
            throttle_alarms.contains(&json!({"Ref": function.logical_id})),
            "{} has no throttles alarm",
            function.logical_id
        );
    }
    for alarm in t.resources_of("AWS::CloudWatch::Alarm") {
        let topic = json!([{"Ref": "OnCallTopic"}]);
        assert_eq!(
            alarm.properties["AlarmActions"], topic,
            "{}",
            alarm.logical_id
        );
        assert_eq!(alarm.properties["OKActions"], topic, "{}", alarm.logical_id);
        let description = alarm.properties["AlarmDescription"].as_str().unwrap();
        let anchor: String = description
            .split("docs/runbook.md#")
            .nth(1)
            .unwrap_or_else(|| panic!("{} links no runbook section", alarm.logical_id))
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        assert!(
            runbook.lines().any(|l| l == format!("## {anchor}")),
            "{} links docs/runbook.md#{anchor}, which does not exist",
            alarm.logical_id
        );
    }
}

#[test]
fn tables_and_buckets_are_encrypted_and_the_bucket_is_private_and_tls_only() {
    let t = template();
    for table in t.resources_of("AWS::DynamoDB::Table") {
        assert_eq!(
            table.properties["SSESpecification"]["SSEEnabled"], true,
            "{}",
            table.logical_id
        );
        assert_eq!(
            table.properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true,
            "{} has no point-in-time recovery",
            table.logical_id
        );
    }
    for bucket in t.resources_of("AWS::S3::Bucket") {
        let block = &bucket.properties["PublicAccessBlockConfiguration"];
        for flag in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(block[flag], true, "{} {flag}", bucket.logical_id);
        }
        assert!(bucket.properties["BucketEncryption"].is_object());
        let policy = t
            .resources_of("AWS::S3::BucketPolicy")
            .find(|p| p.properties["Bucket"] == json!({"Ref": bucket.logical_id}))
            .unwrap_or_else(|| panic!("{} has no bucket policy", bucket.logical_id));
        assert!(
            policy
                .properties
                .to_string()
                .contains("aws:SecureTransport")
        );
    }
}

#[test]
fn the_consumers_read_the_same_limits_the_queues_are_created_with() {
    let t = template();
    // The consumer dead-letters with its reason first; the queue's redrive is the backstop
    // for invocations that died on every delivery.
    let consumer: u32 = t.parameters["MaxReceiveCount"].parse().unwrap();
    let backstop: u32 = t.parameters["RedriveBackstopReceiveCount"].parse().unwrap();
    assert!(
        backstop > consumer + 1,
        "the queue would dead-letter before the consumer could give the reason"
    );
    for function in t.functions().unwrap() {
        if let Some(value) = function.environment.get("MAX_RECEIVE_COUNT") {
            assert_eq!(value, &json!({"Ref": "MaxReceiveCount"}));
        }
        if let Some(value) = function.environment.get("MAX_QUEUE_MESSAGE_BYTES") {
            assert_eq!(value, &json!({"Ref": "QueueMaxMessageBytes"}));
        }
    }
    let intake = t
        .functions()
        .unwrap()
        .into_iter()
        .find(|f| f.binary == "webhook-intake")
        .unwrap();
    for variable in [
        "STOCK_PRICE_QUEUE_URL",
        "CUSTOMER_QUEUE_URL",
        "ORDER_STATUS_QUEUE_URL",
        "ORDER_PLACED_QUEUE_URL",
    ] {
        assert!(intake.environment.contains_key(variable), "{variable}");
    }
}

#[test]
fn every_source_queue_has_an_age_alarm_and_keeps_messages_14_days() {
    let t = template();
    let age_alarms = alarms_on(&t, "AWS/SQS", "ApproximateAgeOfOldestMessage");
    for queue in t.resources_of("AWS::SQS::Queue") {
        assert_eq!(
            queue.properties["MessageRetentionPeriod"], 1209600,
            "{}",
            queue.logical_id
        );
        if queue.properties.get("RedrivePolicy").is_some() {
            let alarm = json!({"Fn::GetAtt": [queue.logical_id, "QueueName"]});
            assert!(
                age_alarms.contains(&alarm),
                "{} has no age alarm",
                queue.logical_id
            );
        }
    }
}

#[test]
fn the_on_call_topic_uses_a_key_cloudwatch_may_use() {
    let t = template();
    let topic = t.resource("OnCallTopic").unwrap();
    let key = &topic.properties["KmsMasterKeyId"];
    assert_ne!(
        key, "alias/aws/sns",
        "CloudWatch cannot publish to a topic under the AWS-managed key"
    );
    let key_id = key["Ref"].as_str().expect("a key of the stack");
    let policy = t.resource(key_id).unwrap().properties["KeyPolicy"].to_string();
    assert!(policy.contains("cloudwatch.amazonaws.com") && policy.contains("kms:GenerateDataKey*"));
}

/// What each function's code calls, per resource: if the code gains a call, this list
/// and the template must both follow.
#[test]
fn each_function_is_granted_exactly_the_calls_its_code_makes() {
    let t = template();
    let statements = |function: &str| -> Vec<(BTreeSet<String>, String)> {
        let f = t.resource(function).unwrap();
        let mut out = Vec::new();
        for policy in f.properties["Policies"].as_array().unwrap() {
            for statement in policy["Statement"].as_array().unwrap() {
                if statement["Effect"] == "Deny" {
                    // The guard on SAM's SQS policy: see no_grant_is_on_every_resource.
                    continue;
                }
                assert_eq!(statement["Effect"], "Allow");
                let actions: BTreeSet<String> = match &statement["Action"] {
                    Value::String(a) => [a.clone()].into(),
                    Value::Array(items) => items
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    other => panic!("{other}"),
                };
                for action in &actions {
                    assert!(
                        !action.contains('*'),
                        "{function}: wildcard action {action}"
                    );
                }
                out.push((actions, statement["Resource"].to_string()));
            }
        }
        out
    };
    let grants = |function: &str, action: &str, resource: &str| {
        statements(function)
            .iter()
            .any(|(actions, resources)| actions.contains(action) && resources.contains(resource))
    };
    let intake_needs = [
        ("sqs:SendMessage", "StockPriceQueue"),
        ("sqs:SendMessage", "CustomerQueue"),
        ("sqs:SendMessage", "OrderStatusQueue"),
        ("sqs:SendMessage", "OrderPlacedQueue"),
        ("dynamodb:PutItem", "WebhookReceiptTable"),
        ("dynamodb:UpdateItem", "WebhookReceiptTable"),
        ("dynamodb:DeleteItem", "WebhookReceiptTable"),
        // A redelivered id is answered from a read of its receipt.
        ("dynamodb:GetItem", "WebhookReceiptTable"),
        ("s3:PutObject", "PayloadBucket.Arn}/claims/*"),
        ("secretsmanager:GetSecretValue", "WebhookSigningSecret"),
    ];
    for (action, resource) in intake_needs {
        assert!(
            grants("WebhookIntakeFunction", action, resource),
            "intake lacks {action} on {resource}"
        );
    }
    let sync_needs = [
        ("dynamodb:PutItem", "StockTable"),
        ("dynamodb:PutItem", "PriceTable"),
        ("dynamodb:PutItem", "CustomerTable"),
        // The revision guard reads the stored revision before it writes.
        ("dynamodb:GetItem", "StockTable"),
        ("dynamodb:GetItem", "PriceTable"),
        ("dynamodb:GetItem", "CustomerTable"),
        // A price window and its index entry are one transaction.
        ("dynamodb:UpdateItem", "PriceIndexTable"),
        ("s3:GetObject", "PayloadBucket.Arn}/claims/*"),
        ("sqs:SendMessage", "StockPriceDeadLetterQueue"),
        ("sqs:SendMessage", "CustomerDeadLetterQueue"),
    ];
    for (action, resource) in sync_needs {
        assert!(
            grants("PriceStockSyncFunction", action, resource),
            "sync lacks {action} on {resource}"
        );
    }
    let import_needs = [
        ("s3:GetObject", "CatalogBucket.Arn}/pim/*"),
        ("s3:PutObject", "CatalogBucket.Arn}/pim/*"),
        ("s3:DeleteObject", "CatalogBucket.Arn}/pim/*"),
        ("s3:GetObjectVersion", "CatalogBucket.Arn}/pim/*"),
        ("s3:DeleteObjectVersion", "CatalogBucket.Arn}/pim/*"),
        ("s3:ListBucket", "CatalogBucket"),
        ("dynamodb:BatchGetItem", "ProductTable"),
        ("dynamodb:BatchWriteItem", "ProductTable"),
        ("dynamodb:Scan", "ProductTable"),
        ("dynamodb:UpdateItem", "ProductTable"),
        ("dynamodb:GetItem", "ImportTable"),
        ("dynamodb:PutItem", "ImportTable"),
        ("dynamodb:Scan", "ImportTable"),
        ("sqs:SendMessage", "PimImportQueue"),
        ("sqs:SendMessage", "PimImportDeadLetterQueue"),
    ];
    for (action, resource) in import_needs {
        assert!(
            grants("PimImportFunction", action, resource),
            "import lacks {action} on {resource}"
        );
    }
    let writeback_needs = [
        ("dynamodb:GetItem", "OrderTable"),
        ("dynamodb:PutItem", "OrderTable"),
        ("dynamodb:Scan", "OrderTable"),
        ("dynamodb:GetItem", "CustomerTable"),
        // The validity windows of a sku (`DynamoPriceStore::prices_of`).
        ("dynamodb:Query", "PriceTable"),
        // A customer's orders for its exposure (`DynamoOrderStore::of_customer`).
        ("dynamodb:Query", "OrderTable.Arn}/index/by_customer"),
        // The scheduled walks' positions (`OrderWriteback::end_walk`).
        ("dynamodb:GetItem", "PullStateTable"),
        ("dynamodb:PutItem", "PullStateTable"),
        ("s3:GetObject", "PayloadBucket.Arn}/claims/*"),
        ("sqs:SendMessage", "OrderPlacedDeadLetterQueue"),
        ("sqs:SendMessage", "OrderStatusDeadLetterQueue"),
        ("secretsmanager:GetSecretValue", "ErpTokenSecret"),
        // The openTRANS connector (`DocumentErp`): the ORDER written once, the answer read,
        // the key's versions listed (`S3FileStore::ever_written`).
        ("s3:PutObject", "erp/outbox/orders/*"),
        ("s3:GetObject", "erp/outbox/orders/*"),
        ("s3:GetObject", "erp/answers/orders/*"),
        ("s3:ListBucketVersions", "CatalogBucket"),
        ("s3:ListBucket", "CatalogBucket"),
    ];
    for (action, resource) in writeback_needs {
        assert!(
            !grants("OrderWritebackFunction", "s3:PutObject", "erp/answers"),
            "the writeback only reads the ERP's answers"
        );
        assert!(
            grants("OrderWritebackFunction", action, resource),
            "writeback lacks {action} on {resource}"
        );
    }
    let pull_needs = [
        ("dynamodb:GetItem", "PullStateTable"),
        ("dynamodb:PutItem", "PullStateTable"),
        ("dynamodb:PutItem", "WebhookReceiptTable"),
        ("dynamodb:UpdateItem", "WebhookReceiptTable"),
        ("dynamodb:DeleteItem", "WebhookReceiptTable"),
        ("dynamodb:GetItem", "WebhookReceiptTable"),
        ("s3:PutObject", "PayloadBucket.Arn}/claims/*"),
        ("sqs:SendMessage", "StockPriceQueue"),
        ("sqs:SendMessage", "CustomerQueue"),
        ("sqs:SendMessage", "OrderStatusQueue"),
        ("sqs:SendMessage", "StockPriceDeadLetterQueue"),
        ("sqs:SendMessage", "CustomerDeadLetterQueue"),
        ("sqs:SendMessage", "OrderStatusDeadLetterQueue"),
        ("secretsmanager:GetSecretValue", "ErpTokenSecret"),
        ("dynamodb:UpdateItem", "FreshnessTable"),
    ];
    for (action, resource) in pull_needs {
        assert!(
            grants("DeltaPullFunction", action, resource),
            "delta pull lacks {action} on {resource}"
        );
    }
    let reconcile_needs = [
        ("s3:GetObject", "CatalogBucket.Arn}/erp/snapshots/*"),
        ("s3:GetObjectVersion", "CatalogBucket.Arn}/erp/snapshots/*"),
        ("s3:GetObject", "CatalogBucket.Arn}/erp/reports/*"),
        ("s3:PutObject", "CatalogBucket.Arn}/erp/reports/*"),
        ("s3:ListBucket", "CatalogBucket"),
        ("dynamodb:Scan", "StockTable"),
        ("dynamodb:PutItem", "StockTable"),
        ("dynamodb:GetItem", "StockTable"),
        ("dynamodb:GetItem", "PriceTable"),
        ("dynamodb:Scan", "PriceTable"),
        ("dynamodb:PutItem", "PriceTable"),
        ("dynamodb:UpdateItem", "PriceIndexTable"),
        ("sqs:SendMessage", "ReconcileDeadLetterQueue"),
    ];
    for (action, resource) in reconcile_needs {
        assert!(
            grants("ReconcileFunction", action, resource),
            "reconcile lacks {action} on {resource}"
        );
    }
    let shop_sync_needs = [
        ("sqs:SendMessage", "ShopSyncDeadLetterQueue"),
        ("secretsmanager:GetSecretValue", "ShopClientSecret"),
        // When the shop caught up with each category (bridgectl shop status), and the
        // combinations of price lists it publishes (read once a batch, added to).
        ("dynamodb:UpdateItem", "FreshnessTable"),
        ("dynamodb:GetItem", "FreshnessTable"),
        // A sku's prices in a group's lists; a list's skus for a new group.
        ("dynamodb:Query", "PriceTable"),
    ];
    for (action, resource) in shop_sync_needs {
        assert!(
            grants("ShopSyncFunction", action, resource),
            "shop-sync lacks {action} on {resource}"
        );
    }
    // The shop sync reads the tables through their streams (and the prices by query): it
    // writes no record but its freshness and price groups.
    assert!(
        !statements("ShopSyncFunction")
            .iter()
            .any(|(actions, resources)| {
                let dynamo: Vec<&String> = actions
                    .iter()
                    .filter(|a| a.starts_with("dynamodb:"))
                    .collect();
                let freshness = resources.contains("FreshnessTable")
                    && dynamo
                        .iter()
                        .all(|a| *a == "dynamodb:UpdateItem" || *a == "dynamodb:GetItem");
                let prices = resources.contains("PriceTable")
                    && !resources.contains("FreshnessTable")
                    && dynamo.iter().all(|a| *a == "dynamodb:Query");
                !dynamo.is_empty() && !freshness && !prices
            })
    );
    // The shop's orders go through the intake's receipts and queue, and nowhere else.
    let shop_orders_needs = [
        ("sqs:SendMessage", "OrderPlacedQueue"),
        ("sqs:SendMessage", "ShopOrderDeadLetterQueue"),
        ("sqs:ChangeMessageVisibility", "ShopOrderQueue"),
        ("dynamodb:PutItem", "WebhookReceiptTable"),
        ("dynamodb:UpdateItem", "WebhookReceiptTable"),
        ("dynamodb:DeleteItem", "WebhookReceiptTable"),
        ("dynamodb:GetItem", "WebhookReceiptTable"),
        ("s3:PutObject", "PayloadBucket.Arn}/claims/*"),
        ("secretsmanager:GetSecretValue", "ShopClientSecret"),
    ];
    for (action, resource) in shop_orders_needs {
        assert!(
            grants("ShopOrdersFunction", action, resource),
            "shop-orders lacks {action} on {resource}"
        );
    }
    for queue in ["StockPriceQueue", "CustomerQueue", "OrderStatusQueue"] {
        assert!(
            !grants("ShopOrdersFunction", "sqs:SendMessage", queue),
            "shop-orders may send to {queue}"
        );
    }
    // The read API reads: the customer, a cart's prices (batches from the price index and
    // its completeness marker, or per sku), levels, the customer's orders, and its keys. It
    // writes nothing but its clients' request counters.
    let shop_api_needs = [
        ("dynamodb:GetItem", "CustomerTable"),
        ("dynamodb:BatchGetItem", "PriceIndexTable"),
        ("dynamodb:GetItem", "PriceIndexTable"),
        ("dynamodb:UpdateItem", "ShopApiClientRateTable"),
        ("dynamodb:Query", "PriceTable"),
        ("dynamodb:Query", "StockTable"),
        ("dynamodb:BatchGetItem", "StockTable"),
        ("dynamodb:Query", "OrderTable.Arn}/index/by_customer"),
        ("secretsmanager:GetSecretValue", "ShopApiKeysSecret"),
    ];
    for (action, resource) in shop_api_needs {
        assert!(
            grants("ShopApiFunction", action, resource),
            "shop-api lacks {action} on {resource}"
        );
    }
    let read_only = [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
    ];
    for (actions, resources) in statements("ShopApiFunction") {
        if resources.contains("ShopApiClientRateTable") {
            assert_eq!(
                actions,
                BTreeSet::from(["dynamodb:UpdateItem".to_string()]),
                "shop-api may {actions:?} on {resources}"
            );
            continue;
        }
        assert!(
            actions.iter().all(|a| read_only.contains(&a.as_str())),
            "shop-api may {actions:?} on {resources}"
        );
    }
    // Documents become shipments and order statuses through the intake's receipts and the
    // order status queue; the function reads the inboxes and the orders and writes only its
    // reports and the ERP's answers.
    let document_needs = [
        ("s3:GetObject", "logistics/inbox/*"),
        ("s3:GetObjectVersion", "logistics/inbox/*"),
        ("s3:GetObject", "logistics/reports/*"),
        ("s3:PutObject", "logistics/reports/*"),
        ("s3:GetObject", "erp/inbox/*"),
        ("s3:GetObjectVersion", "erp/inbox/*"),
        ("s3:PutObject", "erp/reports/inbox/*"),
        ("s3:PutObject", "erp/answers/orders/*"),
        ("s3:GetObject", "erp/answers/orders/*"),
        ("s3:PutObject", "erp/answers/invoices/*"),
        ("s3:GetObject", "erp/answers/invoices/*"),
        ("dynamodb:GetItem", "OrderTable"),
        // Invoices in the customers' open items (`DynamoCustomerStore::adjust_open_items`).
        ("dynamodb:GetItem", "CustomerTable"),
        ("dynamodb:PutItem", "CustomerTable"),
        ("sqs:SendMessage", "OrderStatusQueue"),
        ("sqs:SendMessage", "DocumentDeadLetterQueue"),
        ("dynamodb:PutItem", "WebhookReceiptTable"),
        ("dynamodb:UpdateItem", "WebhookReceiptTable"),
        ("dynamodb:DeleteItem", "WebhookReceiptTable"),
        ("dynamodb:GetItem", "WebhookReceiptTable"),
        ("s3:PutObject", "PayloadBucket.Arn}/claims/*"),
    ];
    for (action, resource) in document_needs {
        assert!(
            grants("DocumentInboxFunction", action, resource),
            "document-inbox lacks {action} on {resource}"
        );
    }
    for (queue, action) in [
        ("OrderPlacedQueue", "sqs:SendMessage"),
        ("StockPriceQueue", "sqs:SendMessage"),
        ("CustomerQueue", "sqs:SendMessage"),
        ("logistics/inbox/", "s3:PutObject"),
        ("erp/inbox/", "s3:PutObject"),
        ("erp/outbox/", "s3:PutObject"),
        ("OrderTable", "dynamodb:PutItem"),
        ("OrderTable", "dynamodb:UpdateItem"),
    ] {
        assert!(
            !grants("DocumentInboxFunction", action, queue),
            "document-inbox may {action} on {queue}"
        );
    }
    // A pull never places orders, and reconciliation never writes snapshots (the ERP's).
    assert!(!grants(
        "DeltaPullFunction",
        "sqs:SendMessage",
        "OrderPlacedQueue"
    ));
    assert!(!grants(
        "ReconcileFunction",
        "s3:PutObject",
        "erp/snapshots/"
    ));
    // Nothing beyond: the sync never writes receipts or claim checks, the intake never
    // touches the record tables.
    assert!(
        !statements("PriceStockSyncFunction")
            .iter()
            .any(|(_, r)| r.contains("WebhookReceiptTable"))
    );
    assert!(
        !statements("WebhookIntakeFunction")
            .iter()
            .any(|(_, r)| r.contains("StockTable")
                || r.contains("PriceTable")
                || r.contains("CustomerTable"))
    );
    assert!(!grants(
        "PriceStockSyncFunction",
        "s3:PutObject",
        "PayloadBucket"
    ));
}

#[test]
fn every_data_category_has_a_freshness_alarm_on_its_sla_parameter() {
    let t = template();
    for category in bridge_domain::freshness::Category::ALL {
        if category == bridge_domain::freshness::Category::OrderStatus {
            // Per order, since its submission: the reconciliation counts the late ones.
            let alarm = t
                .resources_of("AWS::CloudWatch::Alarm")
                .find(|a| a.properties["MetricName"] == "OrdersUnconfirmed")
                .expect("no freshness alarm for order status");
            assert!(
                alarm.properties["AlarmDescription"]
                    .as_str()
                    .unwrap()
                    .contains("#freshness")
            );
            assert_eq!(t.parameters["OrderUnconfirmedAfterMinutes"], "60");
            continue;
        }
        let alarm = t
            .resources_of("AWS::CloudWatch::Alarm")
            .find(|a| {
                a.properties["MetricName"] == "Heartbeat"
                    && a.properties["Dimensions"][0]["Value"] == category.as_str()
            })
            .unwrap_or_else(|| panic!("no freshness alarm for {category}"));
        let mut name = category.as_str().to_string();
        name[..1].make_ascii_uppercase();
        let parameter = format!("FreshnessSla{name}Hours");
        assert_eq!(
            alarm.properties["EvaluationPeriods"],
            json!({"Ref": parameter})
        );
        assert_eq!(
            alarm.properties["TreatMissingData"], "breaching",
            "silence is staleness"
        );
        let default: i64 = t.parameters[&parameter].parse().unwrap();
        assert_eq!(
            default * 3600,
            category.default_sla().num_seconds(),
            "{parameter} default"
        );
    }
    // The functions that make data flow may record it.
    for function in [
        "PriceStockSyncFunction",
        "PimImportFunction",
        "OrderWritebackFunction",
    ] {
        let text = t.resource(function).unwrap().properties["Policies"].to_string();
        assert!(
            text.contains("FreshnessTable"),
            "{function} cannot record freshness"
        );
    }
}

fn statements_of(function: &bridge_infra::template::Resource) -> Vec<Value> {
    function.properties["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["Statement"].as_array().unwrap().clone())
        .collect()
}

fn as_set(value: &Value) -> BTreeSet<String> {
    match value {
        Value::Array(items) => items.iter().map(Value::to_string).collect(),
        other => [other.to_string()].into(),
    }
}

/// Least privilege: no grant names `*` where the resource is known, and the managed policy
/// SAM attaches for SQS event sources (receive and delete on every queue) is cut down to
/// the queues the function consumes.
#[test]
fn no_grant_is_on_every_resource() {
    let t = template();
    for function in t.functions().unwrap() {
        let resource = t.resource(&function.logical_id).unwrap();
        let statements = statements_of(resource);
        for statement in &statements {
            for key in ["Resource", "NotResource"] {
                assert!(
                    !as_set(&statement[key]).contains("\"*\""),
                    "{}: {key} \"*\" in {statement}",
                    function.logical_id
                );
            }
        }
        let consumed: BTreeSet<String> = function
            .sqs_events
            .iter()
            .map(|(queue, _)| json!({"Fn::GetAtt": [queue, "Arn"]}).to_string())
            .collect();
        let streams: BTreeSet<String> = function
            .stream_events
            .iter()
            .map(|s| json!({"Fn::GetAtt": [s.table, "StreamArn"]}).to_string())
            .collect();
        let (stream_guards, guards): (Vec<_>, Vec<_>) = statements
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .partition(|s| as_set(&s["Action"]).contains("\"dynamodb:GetRecords\""));
        // SAM's AWSLambdaDynamoDBExecutionRole reads every stream: only the consumed ones.
        if streams.is_empty() {
            assert!(stream_guards.is_empty(), "{}", function.logical_id);
        } else {
            assert_eq!(stream_guards.len(), 1, "{}", function.logical_id);
            assert_eq!(
                as_set(&stream_guards[0]["NotResource"]),
                streams,
                "{}: the stream guard must name exactly the consumed streams",
                function.logical_id
            );
        }
        if consumed.is_empty() {
            assert!(guards.is_empty(), "{}", function.logical_id);
            continue;
        }
        assert_eq!(guards.len(), 1, "{}", function.logical_id);
        assert_eq!(
            as_set(&guards[0]["Action"]),
            as_set(&json!([
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes"
            ])),
            "{}",
            function.logical_id
        );
        assert_eq!(
            as_set(&guards[0]["NotResource"]),
            consumed,
            "{}: the SQS guard must name exactly the consumed queues",
            function.logical_id
        );
    }
}

#[test]
fn every_log_group_is_encrypted_with_the_stacks_logs_key() {
    let t = template();
    let key = t.resource("LogsKey").expect("the logs key");
    assert_eq!(key.properties["EnableKeyRotation"], true);
    let policy = key.properties["KeyPolicy"].to_string();
    assert!(
        policy.contains("logs.${AWS::Region}.amazonaws.com")
            && policy.contains("kms:GenerateDataKey*")
            && policy.contains("kms:EncryptionContext:aws:logs:arn"),
        "CloudWatch Logs may not use the key: {policy}"
    );
    let groups: Vec<_> = t.resources_of("AWS::Logs::LogGroup").collect();
    for group in &groups {
        assert_eq!(
            group.properties["KmsKeyId"],
            json!({"Fn::GetAtt": ["LogsKey", "Arn"]}),
            "{} is not encrypted with the stack's key",
            group.logical_id
        );
        assert_eq!(
            group.properties["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{}",
            group.logical_id
        );
    }
    // Each function writes to a group of the stack, not to one Lambda creates unencrypted.
    for function in t.resources_of("AWS::Serverless::Function") {
        let name = json!({"Fn::Sub": format!("/aws/lambda/${{{}}}", function.logical_id)});
        assert!(
            groups.iter().any(|g| g.properties["LogGroupName"] == name),
            "{} has no log group of the stack",
            function.logical_id
        );
    }
}

/// A function that calls the ERP has reserved concurrency, and its event sources fit in it:
/// a throttled SQS batch counts a delivery toward maxReceiveCount without having run.
#[test]
fn functions_calling_the_erp_have_reserved_concurrency_their_event_sources_fit() {
    let t = template();
    let mut callers = 0;
    for function in t.functions().unwrap() {
        if !function.environment.contains_key("ERP_BASE_URL") {
            continue;
        }
        callers += 1;
        let resource = t.resource(&function.logical_id).unwrap();
        let reserved = resource.properties["ReservedConcurrentExecutions"]
            .as_u64()
            .unwrap_or_else(|| panic!("{} has no reserved concurrency", function.logical_id));
        let mut needed = 0;
        for event in resource.properties["Events"].as_object().unwrap().values() {
            needed += match event["Type"].as_str().unwrap() {
                "SQS" => event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
                    .as_u64()
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: an SQS event without MaximumConcurrency",
                            function.logical_id
                        )
                    }),
                "Schedule" | "ScheduleV2" => 1,
                other => panic!("{}: {other} event", function.logical_id),
            };
        }
        assert!(
            needed <= reserved,
            "{}: event sources need {needed}, reserved {reserved}",
            function.logical_id
        );
    }
    assert_eq!(callers, 2, "order writeback and delta pull");
}

/// Secrets live in Secrets Manager: the environment names them, never holds them.
#[test]
fn the_environment_holds_no_secret_only_secret_ids() {
    let t = template();
    for function in t.functions().unwrap() {
        for (name, value) in &function.environment {
            let upper = name.to_ascii_uppercase();
            // commercetools' name for the project's identifier, not a credential.
            let named_key = name == "CTP_PROJECT_KEY";
            if !named_key
                && ["SECRET", "TOKEN", "PASSWORD", "KEY"]
                    .iter()
                    .any(|w| upper.contains(w))
            {
                assert!(
                    name.ends_with("_SECRET_ID"),
                    "{}: {name}",
                    function.logical_id
                );
                let secret = value["Ref"].as_str().unwrap_or_default();
                assert_eq!(
                    t.resource(secret).map(|r| r.kind.as_str()),
                    Some("AWS::SecretsManager::Secret"),
                    "{}: {name} is not a secret of the stack",
                    function.logical_id
                );
            }
        }
    }
}

/// cfn-lint and checkov pass with no unexplained suppression.
#[test]
fn every_checkov_suppression_states_its_reason() {
    let t = template();
    let mut skips = 0;
    for resource in &t.resources {
        for skip in resource.metadata["checkov"]["skip"]
            .as_array()
            .into_iter()
            .flatten()
        {
            skips += 1;
            assert!(skip["id"].as_str().is_some_and(|id| id.starts_with("CKV")));
            assert!(
                skip["comment"].as_str().is_some_and(|c| c.len() > 40),
                "{}: {} without a reason",
                resource.logical_id,
                skip["id"]
            );
        }
    }
    assert!(skips > 0);
    let config =
        std::fs::read_to_string(bridge_testkit::repo_root().join(".checkov.yaml")).unwrap();
    let lines: Vec<&str> = config.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("- CKV") {
            assert!(
                i > 0 && lines[i - 1].starts_with('#'),
                ".checkov.yaml skips {line} without a comment above it"
            );
        }
    }
    assert!(
        !config.contains("soft-fail"),
        "checkov must fail on findings"
    );
}

/// The WebhookSources parameter refuses at deploy time what the intake would refuse at init
/// (a mistyped event type), and takes every form the docs show.
#[test]
fn the_sources_parameter_pattern_agrees_with_the_intakes_parser() {
    let text = std::fs::read_to_string(bridge_testkit::repo_root().join("template.yaml")).unwrap();
    let block = text
        .split("\n  WebhookSources:\n")
        .nth(1)
        .expect("the WebhookSources parameter");
    let pattern = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedPattern: "))
        .expect("an AllowedPattern")
        .trim_matches('\'');
    let default = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .expect("a default");
    let every_type = format!(
        "all={}",
        bridge_domain::EventType::ALL.map(|t| t.as_str()).join(",")
    );
    let contract = bridge_domain::Sources::contract().to_string();
    let good = [
        default,
        contract.as_str(),
        "erp=stock.changed,price.changed,customer.changed,order.status_changed;shop=order.placed;erp-eu=stock.changed,price.changed",
        every_type.as_str(),
    ];
    let bad = [
        "erp=stock.chnged",
        "erp=",
        "Erp=stock.changed",
        "erp=stock.changed;;shop=order.placed",
    ];
    let values: Vec<&str> = good.iter().chain(bad.iter()).copied().collect();
    let verdicts = pattern_verdicts(pattern, &values);
    for (value, matched) in good.iter().chain(bad.iter()).zip(&verdicts) {
        let parsed = bridge_domain::Sources::parse(value).is_ok();
        let expected = good.contains(value);
        assert_eq!(*matched, expected, "the pattern on {value:?}");
        if expected {
            assert!(
                parsed,
                "the intake refuses {value:?}, which the template takes"
            );
        }
    }
    assert_eq!(verdicts.len(), good.len() + bad.len());
}

/// The BusinessTimeZone parameter admits exactly the zones the functions carry (chrono-tz's
/// build filter in .cargo/config.toml): a zone the template takes parses at init, and one
/// the build leaves out (the saving of its load-time relocations) is refused at deploy.
#[test]
fn the_time_zone_parameter_pattern_agrees_with_the_zones_the_build_carries() {
    let text = std::fs::read_to_string(bridge_testkit::repo_root().join("template.yaml")).unwrap();
    let block = text
        .split("\n  BusinessTimeZone:\n")
        .nth(1)
        .expect("the BusinessTimeZone parameter");
    let pattern = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedPattern: "))
        .expect("an AllowedPattern")
        .trim_matches('"');
    let zones = [
        "Europe/Berlin",
        "Europe/Vienna",
        "Europe/Isle_of_Man",
        "Europe/Zurich",
        "UTC",
        "Etc/UTC",
        "America/New_York",
        "Asia/Tokyo",
        "Africa/Abidjan",
        "europe/berlin",
    ];
    let verdicts = pattern_verdicts(pattern, &zones);
    assert_eq!(verdicts.len(), zones.len());
    for (zone, admitted) in zones.iter().zip(verdicts) {
        let carried = zone.parse::<chrono_tz::Tz>().is_ok();
        assert_eq!(
            admitted,
            carried,
            "{zone}: the template {} it, the build {} it",
            if admitted { "admits" } else { "refuses" },
            if carried { "carries" } else { "lacks" }
        );
    }
    assert!(
        "America/New_York".parse::<chrono_tz::Tz>().is_err(),
        "the build carries every zone again: each function pays their relocations at init"
    );
}

/// Whether each value matches a parameter's `AllowedPattern` in full. CloudFormation's
/// regular expressions are Java's; Python's agree on the subset the template uses.
fn pattern_verdicts(pattern: &str, values: &[&str]) -> Vec<bool> {
    let script = "import re, sys\npattern = sys.argv[1]\nfor value in sys.argv[2:]:\n    print('1' if re.fullmatch(pattern, value) else '0')\n";
    let output = std::process::Command::new(bridge_testkit::venv().join("bin/python"))
        .args(["-c", script, pattern])
        .args(values)
        .output()
        .expect("python runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l == "1")
        .collect()
}

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
    assert_eq!(binaries.len(), 6);
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
    let dead_letter_targets: BTreeSet<String> = queues
        .iter()
        .filter_map(|q| {
            q.properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str()
        })
        .map(str::to_string)
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
                json!({"Ref": "MaxReceiveCount"}),
                "{} has no redrive policy",
                queue.logical_id
            );
        }
    }
    assert_eq!(dead_letter_targets.len(), 6);
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
        ("dynamodb:GetItem", "PriceTable"),
        ("s3:GetObject", "PayloadBucket.Arn}/claims/*"),
        ("sqs:SendMessage", "OrderPlacedDeadLetterQueue"),
        ("sqs:SendMessage", "OrderStatusDeadLetterQueue"),
        ("secretsmanager:GetSecretValue", "ErpTokenSecret"),
    ];
    for (action, resource) in writeback_needs {
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
        ("dynamodb:Scan", "PriceTable"),
        ("dynamodb:PutItem", "PriceTable"),
        ("sqs:SendMessage", "ReconcileDeadLetterQueue"),
    ];
    for (action, resource) in reconcile_needs {
        assert!(
            grants("ReconcileFunction", action, resource),
            "reconcile lacks {action} on {resource}"
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

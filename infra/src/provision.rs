//! Creates the template's queues, tables, buckets and secrets on an AWS endpoint (the
//! moto server locally) and resolves `Ref`/`GetAtt`/`Sub` against what it created.

use crate::template::{FunctionDef, Template};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, SseSpecification, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("creating {resource} failed: {message}")]
    Aws { resource: String, message: String },
    #[error("cannot resolve {0} in the local stack")]
    Unresolvable(String),
}

fn aws_error(resource: &str, err: impl std::error::Error + 'static) -> ProvisionError {
    // The SDK's Display is terse; the source chain has the service's message.
    ProvisionError::Aws {
        resource: resource.to_string(),
        message: bridge_domain::error::cause_chain(&err),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// What the local stack created, by logical id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    pub name: String,
    pub region: String,
    pub account: String,
    pub parameters: BTreeMap<String, String>,
    pub queues: BTreeMap<String, QueueInfo>,
    pub tables: BTreeMap<String, String>,
    pub buckets: BTreeMap<String, String>,
    /// Secret ARNs.
    pub secrets: BTreeMap<String, String>,
    /// The stream ARN of each table with a `StreamSpecification`, by the table's logical id.
    #[serde(default)]
    pub streams: BTreeMap<String, String>,
}

/// moto's account id.
const LOCAL_ACCOUNT: &str = "123456789012";

fn int_property(props: &Value, key: &str, stack: &Stack) -> Result<Option<String>, ProvisionError> {
    props.get(key).map(|v| stack.resolve(v)).transpose()
}

impl Stack {
    /// Creates every queue, table, bucket and secret of `template` under names prefixed by
    /// `name`. `secret_values` gives secrets their value by logical id.
    pub async fn provision(
        template: &Template,
        config: &aws_config::SdkConfig,
        name: &str,
        secret_values: &BTreeMap<String, String>,
    ) -> Result<Stack, ProvisionError> {
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        let mut stack = Stack {
            name: name.to_string(),
            region,
            account: LOCAL_ACCOUNT.to_string(),
            parameters: template.parameters.clone(),
            ..Default::default()
        };
        stack.create_queues(template, config).await?;
        stack.create_tables(template, config).await?;
        stack.create_buckets(template, config).await?;
        stack
            .create_secrets(template, config, secret_values)
            .await?;
        Ok(stack)
    }

    fn physical_name(&self, logical_id: &str) -> String {
        format!("{}-{logical_id}", self.name)
    }

    async fn create_queues(
        &mut self,
        template: &Template,
        config: &aws_config::SdkConfig,
    ) -> Result<(), ProvisionError> {
        let client = aws_sdk_sqs::Client::new(config);
        // Dead-letter queues first: the others name them in their redrive policy.
        let mut queues: Vec<_> = template.resources_of("AWS::SQS::Queue").collect();
        queues.sort_by_key(|q| q.properties.get("RedrivePolicy").is_some());
        for queue in queues {
            let props = &queue.properties;
            let fifo = props.get("FifoQueue").and_then(Value::as_bool) == Some(true);
            let mut name = self.physical_name(&queue.logical_id);
            if fifo {
                name.push_str(".fifo");
            }
            let mut request = client.create_queue().queue_name(&name);
            for (property, attribute) in [
                ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
                (
                    "MessageRetentionPeriod",
                    QueueAttributeName::MessageRetentionPeriod,
                ),
                ("MaximumMessageSize", QueueAttributeName::MaximumMessageSize),
                ("DelaySeconds", QueueAttributeName::DelaySeconds),
                (
                    "ReceiveMessageWaitTimeSeconds",
                    QueueAttributeName::ReceiveMessageWaitTimeSeconds,
                ),
            ] {
                if let Some(value) = int_property(props, property, self)? {
                    request = request.attributes(attribute, value);
                }
            }
            if fifo {
                request = request.attributes(QueueAttributeName::FifoQueue, "true");
            }
            if let Some(redrive) = props.get("RedrivePolicy") {
                let target = self.resolve(&redrive["deadLetterTargetArn"])?;
                let max = self.resolve(&redrive["maxReceiveCount"])?;
                let policy = serde_json::json!({
                    "deadLetterTargetArn": target,
                    "maxReceiveCount": max.parse::<u32>().map_err(|_| ProvisionError::Unresolvable(format!("maxReceiveCount {max}")))?,
                });
                request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
            }
            let url = request
                .send()
                .await
                .map_err(|e| aws_error(&queue.logical_id, e))?
                .queue_url
                .unwrap_or_default();
            let arn = client
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .map_err(|e| aws_error(&queue.logical_id, e))?
                .attributes
                .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                .unwrap_or_default();
            self.queues
                .insert(queue.logical_id.clone(), QueueInfo { name, url, arn });
        }
        Ok(())
    }

    async fn create_tables(
        &mut self,
        template: &Template,
        config: &aws_config::SdkConfig,
    ) -> Result<(), ProvisionError> {
        let client = aws_sdk_dynamodb::Client::new(config);
        for table in template.resources_of("AWS::DynamoDB::Table") {
            let props = &table.properties;
            let name = self.physical_name(&table.logical_id);
            let mut request = client
                .create_table()
                .table_name(&name)
                .billing_mode(BillingMode::PayPerRequest);
            for attribute in props["AttributeDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                request = request.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(attribute["AttributeName"].as_str().unwrap_or_default())
                        .attribute_type(ScalarAttributeType::from(
                            attribute["AttributeType"].as_str().unwrap_or("S"),
                        ))
                        .build()
                        .map_err(|e| aws_error(&table.logical_id, e))?,
                );
            }
            for key in props["KeySchema"].as_array().into_iter().flatten() {
                request = request.key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(key["AttributeName"].as_str().unwrap_or_default())
                        .key_type(KeyType::from(key["KeyType"].as_str().unwrap_or("HASH")))
                        .build()
                        .map_err(|e| aws_error(&table.logical_id, e))?,
                );
            }
            for index in props["GlobalSecondaryIndexes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let mut gsi = GlobalSecondaryIndex::builder()
                    .index_name(index["IndexName"].as_str().unwrap_or_default())
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                index
                                    .pointer("/Projection/ProjectionType")
                                    .and_then(Value::as_str)
                                    .unwrap_or("ALL"),
                            ))
                            .build(),
                    );
                for key in index["KeySchema"].as_array().into_iter().flatten() {
                    gsi = gsi.key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(key["AttributeName"].as_str().unwrap_or_default())
                            .key_type(KeyType::from(key["KeyType"].as_str().unwrap_or("HASH")))
                            .build()
                            .map_err(|e| aws_error(&table.logical_id, e))?,
                    );
                }
                request = request.global_secondary_indexes(
                    gsi.build().map_err(|e| aws_error(&table.logical_id, e))?,
                );
            }
            if props.pointer("/SSESpecification/SSEEnabled") == Some(&Value::Bool(true)) {
                request =
                    request.sse_specification(SseSpecification::builder().enabled(true).build());
            }
            if let Some(view) = props
                .pointer("/StreamSpecification/StreamViewType")
                .and_then(Value::as_str)
            {
                request = request.stream_specification(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::from(view))
                        .build()
                        .map_err(|e| aws_error(&table.logical_id, e))?,
                );
            }
            let created = request
                .send()
                .await
                .map_err(|e| aws_error(&table.logical_id, e))?;
            if let Some(stream) = created
                .table_description()
                .and_then(|t| t.latest_stream_arn())
            {
                self.streams
                    .insert(table.logical_id.clone(), stream.to_string());
            }
            if let Some(ttl) = props.get("TimeToLiveSpecification") {
                client
                    .update_time_to_live()
                    .table_name(&name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .attribute_name(ttl["AttributeName"].as_str().unwrap_or_default())
                            .enabled(ttl["Enabled"].as_bool().unwrap_or(true))
                            .build()
                            .map_err(|e| aws_error(&table.logical_id, e))?,
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(&table.logical_id, e))?;
            }
            self.tables.insert(table.logical_id.clone(), name);
        }
        Ok(())
    }

    async fn create_buckets(
        &mut self,
        template: &Template,
        config: &aws_config::SdkConfig,
    ) -> Result<(), ProvisionError> {
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .force_path_style(true)
                .build(),
        );
        for bucket in template.resources_of("AWS::S3::Bucket") {
            let props = &bucket.properties;
            let name = self.physical_name(&bucket.logical_id).to_ascii_lowercase();
            let mut request = client.create_bucket().bucket(&name);
            if self.region != "us-east-1" {
                request = request.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                        .build(),
                );
            }
            request
                .send()
                .await
                .map_err(|e| aws_error(&bucket.logical_id, e))?;
            if props.pointer("/VersioningConfiguration/Status") == Some(&Value::from("Enabled")) {
                client
                    .put_bucket_versioning()
                    .bucket(&name)
                    .versioning_configuration(
                        VersioningConfiguration::builder()
                            .status(BucketVersioningStatus::Enabled)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(&bucket.logical_id, e))?;
            }
            if props.get("BucketEncryption").is_some() {
                let rule = ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(ServerSideEncryption::Aes256)
                            .build()
                            .map_err(|e| aws_error(&bucket.logical_id, e))?,
                    )
                    .build();
                client
                    .put_bucket_encryption()
                    .bucket(&name)
                    .server_side_encryption_configuration(
                        ServerSideEncryptionConfiguration::builder()
                            .rules(rule)
                            .build()
                            .map_err(|e| aws_error(&bucket.logical_id, e))?,
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(&bucket.logical_id, e))?;
            }
            if let Some(block) = props.get("PublicAccessBlockConfiguration") {
                let flag = |key: &str| block.get(key).and_then(Value::as_bool).unwrap_or(false);
                client
                    .put_public_access_block()
                    .bucket(&name)
                    .public_access_block_configuration(
                        PublicAccessBlockConfiguration::builder()
                            .block_public_acls(flag("BlockPublicAcls"))
                            .block_public_policy(flag("BlockPublicPolicy"))
                            .ignore_public_acls(flag("IgnorePublicAcls"))
                            .restrict_public_buckets(flag("RestrictPublicBuckets"))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(&bucket.logical_id, e))?;
            }
            self.buckets.insert(bucket.logical_id.clone(), name.clone());
            self.configure_notifications(&client, &bucket.logical_id, &name, props)
                .await?;
        }
        Ok(())
    }

    /// S3 event notifications to queues, as the template declares them.
    async fn configure_notifications(
        &self,
        client: &aws_sdk_s3::Client,
        logical_id: &str,
        bucket: &str,
        props: &Value,
    ) -> Result<(), ProvisionError> {
        use aws_sdk_s3::types::{
            Event, FilterRule, FilterRuleName, NotificationConfiguration,
            NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
        };
        let Some(queues) = props
            .pointer("/NotificationConfiguration/QueueConfigurations")
            .and_then(Value::as_array)
        else {
            return Ok(());
        };
        let mut configuration = NotificationConfiguration::builder();
        for entry in queues {
            let rules = entry
                .pointer("/Filter/S3Key/Rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|rule| {
                    FilterRule::builder()
                        .name(FilterRuleName::from(
                            rule["Name"].as_str().unwrap_or("prefix"),
                        ))
                        .value(rule["Value"].as_str().unwrap_or_default())
                        .build()
                })
                .collect::<Vec<_>>();
            let queue = QueueConfiguration::builder()
                .queue_arn(self.resolve(&entry["Queue"])?)
                .events(Event::from(
                    entry["Event"].as_str().unwrap_or("s3:ObjectCreated:*"),
                ))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                        .build(),
                )
                .build()
                .map_err(|e| aws_error(logical_id, e))?;
            configuration = configuration.queue_configurations(queue);
        }
        client
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(configuration.build())
            .send()
            .await
            .map_err(|e| aws_error(logical_id, e))?;
        Ok(())
    }

    async fn create_secrets(
        &mut self,
        template: &Template,
        config: &aws_config::SdkConfig,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ProvisionError> {
        let client = aws_sdk_secretsmanager::Client::new(config);
        for secret in template.resources_of("AWS::SecretsManager::Secret") {
            let value = values
                .get(&secret.logical_id)
                .cloned()
                .or_else(|| {
                    secret
                        .properties
                        .pointer("/GenerateSecretString/SecretStringTemplate")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let arn = client
                .create_secret()
                .name(self.physical_name(&secret.logical_id))
                .secret_string(value)
                .send()
                .await
                .map_err(|e| aws_error(&secret.logical_id, e))?
                .arn
                .unwrap_or_default();
            self.secrets.insert(secret.logical_id.clone(), arn);
        }
        Ok(())
    }

    /// The value of an intrinsic (`Ref`, `Fn::GetAtt`, `Fn::Sub`) or a literal.
    pub fn resolve(&self, value: &Value) -> Result<String, ProvisionError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(map) if map.len() == 1 => {
                let (key, inner) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(inner.as_str().unwrap_or_default()),
                    "Fn::GetAtt" => {
                        let resource = inner[0].as_str().unwrap_or_default();
                        let attribute = inner[1].as_str().unwrap_or_default();
                        self.attribute(resource, attribute)
                    }
                    "Fn::Sub" => self.substitute(inner.as_str().unwrap_or_default()),
                    _ => Err(ProvisionError::Unresolvable(value.to_string())),
                }
            }
            other => Err(ProvisionError::Unresolvable(other.to_string())),
        }
    }

    fn reference(&self, name: &str) -> Result<String, ProvisionError> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        match name {
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::AccountId" => return Ok(self.account.clone()),
            "AWS::StackName" => return Ok(self.name.clone()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".into()),
            _ => {}
        }
        if let Some(queue) = self.queues.get(name) {
            return Ok(queue.url.clone());
        }
        if let Some(table) = self.tables.get(name) {
            return Ok(table.clone());
        }
        if let Some(bucket) = self.buckets.get(name) {
            return Ok(bucket.clone());
        }
        if let Some(secret) = self.secrets.get(name) {
            return Ok(secret.clone());
        }
        Err(ProvisionError::Unresolvable(format!("Ref {name}")))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, ProvisionError> {
        let unresolvable =
            || ProvisionError::Unresolvable(format!("GetAtt {resource}.{attribute}"));
        if let Some(queue) = self.queues.get(resource) {
            return match attribute {
                "Arn" => Ok(queue.arn.clone()),
                "QueueName" => Ok(queue.name.clone()),
                "QueueUrl" => Ok(queue.url.clone()),
                _ => Err(unresolvable()),
            };
        }
        if let Some(table) = self.tables.get(resource) {
            return match attribute {
                "Arn" => Ok(format!(
                    "arn:aws:dynamodb:{}:{}:table/{table}",
                    self.region, self.account
                )),
                "StreamArn" => self.streams.get(resource).cloned().ok_or_else(unresolvable),
                _ => Err(unresolvable()),
            };
        }
        if let Some(bucket) = self.buckets.get(resource) {
            return match attribute {
                "Arn" => Ok(format!("arn:aws:s3:::{bucket}")),
                _ => Err(unresolvable()),
            };
        }
        Err(unresolvable())
    }

    fn substitute(&self, text: &str) -> Result<String, ProvisionError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| ProvisionError::Unresolvable(text.to_string()))?;
            let name = &rest[start + 2..start + end];
            let value = match name.split_once('.') {
                Some((resource, attribute)) if !name.starts_with("AWS::") => {
                    self.attribute(resource, attribute)?
                }
                _ => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A function's environment with every intrinsic resolved against this stack.
    pub fn function_environment(
        &self,
        function: &FunctionDef,
    ) -> Result<HashMap<String, String>, ProvisionError> {
        function
            .environment
            .iter()
            .map(|(name, value)| Ok((name.clone(), self.resolve(value)?)))
            .collect()
    }
}

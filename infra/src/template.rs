//! Reads the SAM template, normalising the short intrinsic tags (`!Ref`, `!GetAtt`,
//! `!Sub`) to their long JSON form.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("template: {0}")]
    Shape(String),
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    pub properties: Value,
    pub metadata: Value,
}

/// A function as the template declares it.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: which binary (and handler) it runs.
    pub binary: String,
    pub environment: Map<String, Value>,
    /// Logical ids of the queues it consumes, with their batch sizes.
    pub sqs_events: Vec<(String, u32)>,
    /// The table streams it consumes, with their event source mapping's settings.
    pub stream_events: Vec<StreamEventDef>,
    /// Paths of its HTTP API routes.
    pub http_paths: Vec<String>,
    /// Schedule expressions of its Schedule events.
    pub schedules: Vec<String>,
    pub timeout_seconds: u64,
    /// The AWS services its policies allow it to call (`sqs`, `dynamodb`...): the clients
    /// it builds.
    pub services: BTreeSet<String>,
}

/// A DynamoDB stream event source: what Lambda's poller does with the stream's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEventDef {
    /// Logical id of the table whose stream it reads.
    pub table: String,
    pub batch_size: u32,
    pub bisect_on_error: bool,
    /// -1: until the record expires.
    pub maximum_retry_attempts: i64,
    /// -1: as long as the stream keeps it (24 h).
    pub maximum_record_age_seconds: i64,
    /// Logical id of the queue that receives a batch given up on.
    pub on_failure: Option<String>,
    pub report_batch_item_failures: bool,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub parameters: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
    pub globals_environment: Map<String, Value>,
    pub globals_timeout: Option<u64>,
}

fn normalise(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(normalise).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), normalise(v))))
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = normalise(tagged.value);
            let (key, inner) = match name {
                "Ref" => ("Ref".to_string(), inner),
                "GetAtt" => {
                    let parts = match inner {
                        Value::String(s) => {
                            let (resource, attribute) = s.split_once('.').unwrap_or((&s, ""));
                            Value::Array(vec![resource.into(), attribute.into()])
                        }
                        other => other,
                    };
                    ("Fn::GetAtt".to_string(), parts)
                }
                other => (format!("Fn::{other}"), inner),
            };
            Value::Object(Map::from_iter([(key, inner)]))
        }
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root = normalise(serde_yaml_ng::from_str(text)?);
        let parameters = root
            .get("Parameters")
            .and_then(Value::as_object)
            .map(|params| {
                params
                    .iter()
                    .filter_map(|(name, p)| {
                        let default = p.get("Default")?;
                        Some((
                            name.clone(),
                            match default {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let resources = root
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or_else(|| TemplateError::Shape("no Resources".into()))?
            .iter()
            .map(|(id, r)| Resource {
                logical_id: id.clone(),
                kind: r
                    .get("Type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                properties: r.get("Properties").cloned().unwrap_or(Value::Null),
                metadata: r.get("Metadata").cloned().unwrap_or(Value::Null),
            })
            .collect();
        let globals_environment = root
            .pointer("/Globals/Function/Environment/Variables")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let globals_timeout = root
            .pointer("/Globals/Function/Timeout")
            .and_then(Value::as_u64);
        Ok(Self {
            parameters,
            resources,
            globals_environment,
            globals_timeout,
        })
    }

    pub fn resources_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// Every `AWS::Serverless::Function`, with its binary, environment and events.
    pub fn functions(&self) -> Result<Vec<FunctionDef>, TemplateError> {
        self.resources_of("AWS::Serverless::Function")
            .map(|r| {
                let binary = r
                    .metadata
                    .pointer("/BuildProperties/Binary")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TemplateError::Shape(format!(
                            "{} has no Metadata.BuildProperties.Binary",
                            r.logical_id
                        ))
                    })?
                    .to_string();
                let mut environment = self.globals_environment.clone();
                if let Some(vars) = r
                    .properties
                    .pointer("/Environment/Variables")
                    .and_then(Value::as_object)
                {
                    environment.extend(vars.clone());
                }
                let mut sqs_events = Vec::new();
                let mut stream_events = Vec::new();
                let mut http_paths = Vec::new();
                let mut schedules = Vec::new();
                if let Some(events) = r.properties.get("Events").and_then(Value::as_object) {
                    for event in events.values() {
                        let props = event.get("Properties").cloned().unwrap_or(Value::Null);
                        match event.get("Type").and_then(Value::as_str) {
                            Some("SQS") => {
                                let queue = props
                                    .pointer("/Queue/Fn::GetAtt/0")
                                    .and_then(Value::as_str)
                                    .ok_or_else(|| {
                                        TemplateError::Shape(format!(
                                            "{}: SQS event without !GetAtt Queue.Arn",
                                            r.logical_id
                                        ))
                                    })?;
                                let batch =
                                    props.get("BatchSize").and_then(Value::as_u64).unwrap_or(10)
                                        as u32;
                                sqs_events.push((queue.to_string(), batch));
                            }
                            Some("DynamoDB") => {
                                let table = props
                                    .pointer("/Stream/Fn::GetAtt/0")
                                    .and_then(Value::as_str)
                                    .ok_or_else(|| {
                                        TemplateError::Shape(format!(
                                            "{}: DynamoDB event without !GetAtt Table.StreamArn",
                                            r.logical_id
                                        ))
                                    })?;
                                let number = |key: &str, default: i64| {
                                    props.get(key).and_then(Value::as_i64).unwrap_or(default)
                                };
                                stream_events.push(StreamEventDef {
                                    table: table.to_string(),
                                    batch_size: number("BatchSize", 100) as u32,
                                    bisect_on_error: props
                                        .get("BisectBatchOnFunctionError")
                                        .and_then(Value::as_bool)
                                        .unwrap_or(false),
                                    maximum_retry_attempts: number("MaximumRetryAttempts", -1),
                                    maximum_record_age_seconds: number(
                                        "MaximumRecordAgeInSeconds",
                                        -1,
                                    ),
                                    on_failure: props
                                        .pointer(
                                            "/DestinationConfig/OnFailure/Destination/Fn::GetAtt/0",
                                        )
                                        .and_then(Value::as_str)
                                        .map(str::to_string),
                                    report_batch_item_failures: props
                                        .get("FunctionResponseTypes")
                                        .and_then(Value::as_array)
                                        .is_some_and(|types| {
                                            types.iter().any(|t| t == "ReportBatchItemFailures")
                                        }),
                                });
                            }
                            Some("HttpApi") | Some("Api") => {
                                if let Some(path) = props.get("Path").and_then(Value::as_str) {
                                    http_paths.push(path.to_string());
                                }
                            }
                            Some("Schedule") | Some("ScheduleV2") => {
                                let expression =
                                    match props.get("Schedule").or(props.get("ScheduleExpression"))
                                    {
                                        Some(Value::Object(reference)) => reference
                                            .get("Ref")
                                            .and_then(Value::as_str)
                                            .and_then(|p| self.parameters.get(p))
                                            .cloned(),
                                        Some(Value::String(s)) => Some(s.clone()),
                                        _ => None,
                                    };
                                schedules.extend(expression);
                            }
                            _ => {}
                        }
                    }
                }
                let timeout_seconds = r
                    .properties
                    .get("Timeout")
                    .and_then(Value::as_u64)
                    .or(self.globals_timeout)
                    .unwrap_or(3);
                let services = r
                    .properties
                    .get("Policies")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|policy| policy.get("Statement").and_then(Value::as_array))
                    .flatten()
                    .filter(|statement| statement["Effect"] == "Allow")
                    .flat_map(|statement| match &statement["Action"] {
                        Value::Array(actions) => actions.clone(),
                        action => vec![action.clone()],
                    })
                    .filter_map(|action| {
                        action
                            .as_str()
                            .and_then(|a| a.split_once(':'))
                            .map(|(service, _)| service.to_string())
                    })
                    .collect();
                Ok(FunctionDef {
                    logical_id: r.logical_id.clone(),
                    binary,
                    environment,
                    sqs_events,
                    stream_events,
                    http_paths,
                    schedules,
                    timeout_seconds,
                    services,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tags_become_long_intrinsics() {
        let t = Template::parse(
            "Parameters:\n  N: {Type: Number, Default: 5}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      A: !Ref N\n      B: !GetAtt D.Arn\n      C: !Sub \"${D}/x\"\n",
        )
        .unwrap();
        assert_eq!(t.parameters["N"], "5");
        let props = &t.resource("Q").unwrap().properties;
        assert_eq!(props["A"], serde_json::json!({"Ref": "N"}));
        assert_eq!(props["B"], serde_json::json!({"Fn::GetAtt": ["D", "Arn"]}));
        assert_eq!(props["C"], serde_json::json!({"Fn::Sub": "${D}/x"}));
    }
}

//! `template.yaml` is generated from the hand-written parts under `infra/template/`: the
//! head (parameters, globals, what every flow shares), one file per flow (its queues and
//! dead-letter queues, its function with IAM and events, the alarms only it has) and the
//! tail (dashboard, outputs). What every function and every consumed queue has in the same
//! shape is written once, here, and follows each flow: the function's log group, its errors
//! and throttles alarms, and per queue it consumes the dead-letter and queue-age alarms; the
//! dashboard's rows of queues, dead-letter queues and functions are filled the same way.
//! A test holds the checked-in `template.yaml` to what this renders
//! (`cargo run -p bridge-infra --bin generate-template` writes it).

use crate::template::{Template, TemplateError};
use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

/// Where the parts live, relative to the repository root.
pub const SOURCE_DIR: &str = "infra/template";

/// The placeholders of the tail's dashboard that the flows fill.
const QUEUE_AGE_METRICS: &str = "@QUEUE_AGE_METRICS@";
const DEAD_LETTER_METRICS: &str = "@DEAD_LETTER_METRICS@";
const FUNCTION_METRICS: &str = "@FUNCTION_METRICS@";

/// A function of a flow and the queues (with their dead-letter queues) it consumes.
struct FlowFunction {
    logical_id: String,
    description: String,
    queues: Vec<(String, String)>,
}

fn read(path: &Path) -> Result<String, TemplateError> {
    std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn functions_of(flow: &str, name: &str) -> Result<Vec<FlowFunction>, TemplateError> {
    let template = Template::parse(&format!("Resources:\n{flow}"))
        .map_err(|e| TemplateError::Shape(format!("{name}: {e}")))?;
    let dead_letter_of = |queue: &str| -> Result<String, TemplateError> {
        template
            .resource(queue)
            .and_then(|q| {
                q.properties
                    .pointer("/RedrivePolicy/deadLetterTargetArn/Fn::GetAtt/0")
                    .and_then(Value::as_str)
            })
            .map(str::to_string)
            .ok_or_else(|| {
                TemplateError::Shape(format!(
                    "{name}: {queue} is consumed by a function of this flow but is not declared in it with a redrive policy"
                ))
            })
    };
    template
        .functions()?
        .into_iter()
        .map(|function| {
            let description = template
                .resource(&function.logical_id)
                .and_then(|r| r.properties.get("Description"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TemplateError::Shape(format!(
                        "{name}: {} has no Description (its alarms quote it)",
                        function.logical_id
                    ))
                })?
                .to_string();
            let queues = function
                .sqs_events
                .iter()
                .map(|(queue, _)| Ok((queue.clone(), dead_letter_of(queue)?)))
                .collect::<Result<_, TemplateError>>()?;
            Ok(FlowFunction {
                logical_id: function.logical_id,
                description,
                queues,
            })
        })
        .collect()
}

/// `WebhookIntakeFunction` -> `WebhookIntake`, `StockPriceQueue` -> `StockPrice`.
fn stem<'a>(logical_id: &'a str, suffix: &str) -> &'a str {
    logical_id.strip_suffix(suffix).unwrap_or(logical_id)
}

/// One alarm that pages on-call and says OK again, in the template's one shape.
struct Alarm<'a> {
    logical_id: String,
    description: String,
    namespace: &'a str,
    metric: &'a str,
    dimension: (&'a str, String),
    statistic: &'a str,
    period: u32,
    threshold: &'a str,
}

fn write_alarm(out: &mut String, alarm: Alarm<'_>) {
    let (name, value) = alarm.dimension;
    let _ = write!(
        out,
        "
  {id}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: {description}
      Namespace: {namespace}
      MetricName: {metric}
      Dimensions: [{{Name: {name}, Value: {value}}}]
      Statistic: {statistic}
      Period: {period}
      EvaluationPeriods: 1
      Threshold: {threshold}
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref OnCallTopic]
      OKActions: [!Ref OnCallTopic]
",
        id = alarm.logical_id,
        description = alarm.description,
        namespace = alarm.namespace,
        metric = alarm.metric,
        statistic = alarm.statistic,
        period = alarm.period,
        threshold = alarm.threshold,
    );
}

fn write_common(out: &mut String, function: &FlowFunction) {
    let id = &function.logical_id;
    let stem_id = stem(id, "Function");
    let _ = write!(
        out,
        "
  # ---- {id}: log group and alarms every function has (generated)
  {stem_id}LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${{{id}}}
      RetentionInDays: !Ref LogRetentionDays
      KmsKeyId: !GetAtt LogsKey.Arn
"
    );
    let what = function.description.trim_end_matches('.');
    write_alarm(
        out,
        Alarm {
            logical_id: format!("{stem_id}ErrorsAlarm"),
            description: format!(
                "{id} failed invocations ({what}) (see docs/runbook.md#function-errors)."
            ),
            namespace: "AWS/Lambda",
            metric: "Errors",
            dimension: ("FunctionName", format!("!Ref {id}")),
            statistic: "Sum",
            period: 300,
            threshold: "0",
        },
    );
    write_alarm(
        out,
        Alarm {
            logical_id: format!("{stem_id}ThrottlesAlarm"),
            description: format!(
                "Lambda throttled {id}; its events wait or their senders retry (see docs/runbook.md#throttles)."
            ),
            namespace: "AWS/Lambda",
            metric: "Throttles",
            dimension: ("FunctionName", format!("!Ref {id}")),
            statistic: "Sum",
            period: 300,
            threshold: "0",
        },
    );
    for (queue, dead_letter) in &function.queues {
        let queue_stem = stem(queue, "Queue");
        write_alarm(
            out,
            Alarm {
                logical_id: format!("{queue_stem}DeadLetterAlarm"),
                description: format!(
                    "Messages of {queue} failed for good and wait in {dead_letter} (see docs/runbook.md#dead-letter-queue)."
                ),
                namespace: "AWS/SQS",
                metric: "ApproximateNumberOfMessagesVisible",
                dimension: ("QueueName", format!("!GetAtt {dead_letter}.QueueName")),
                statistic: "Maximum",
                period: 60,
                threshold: "0",
            },
        );
        write_alarm(
            out,
            Alarm {
                logical_id: format!("{queue}AgeAlarm"),
                description: format!(
                    "Messages wait on {queue} longer than QueueAgeAlarmSeconds; {id} is stuck, throttled or failing (see docs/runbook.md#queue-age)."
                ),
                namespace: "AWS/SQS",
                metric: "ApproximateAgeOfOldestMessage",
                dimension: ("QueueName", format!("!GetAtt {queue}.QueueName")),
                statistic: "Maximum",
                period: 300,
                threshold: "!Ref QueueAgeAlarmSeconds",
            },
        );
    }
}

/// A dashboard metrics list: the first entry in full, the others repeating it (`...`).
fn metrics(first: [&str; 3], values: &[String]) -> String {
    let entries: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            if i == 0 {
                format!(
                    "[\"{}\", \"{}\", \"{}\", \"{value}\"]",
                    first[0], first[1], first[2]
                )
            } else {
                format!("[\"...\", \"{value}\"]")
            }
        })
        .collect();
    entries.join(", ")
}

/// Renders `template.yaml` from the parts under `source` (an `infra/template` directory).
pub fn render(source: &Path) -> Result<String, TemplateError> {
    let head = read(&source.join("head.yaml"))?;
    let tail = read(&source.join("tail.yaml"))?;
    let flows_dir = source.join("flows");
    let mut flow_files: Vec<_> = std::fs::read_dir(&flows_dir)
        .map_err(|source| TemplateError::Read {
            path: flows_dir.display().to_string(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    flow_files.sort();

    let mut out = String::from(
        "# Generated from infra/template/ by `cargo run -p bridge-infra --bin generate-template`:\n\
         # edit the parts there, then run it (a test fails while this file is not current).\n",
    );
    out.push_str(&head);
    let (mut queues, mut dead_letters, mut functions) = (Vec::new(), Vec::new(), Vec::new());
    for path in &flow_files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let flow = read(path)?;
        let _ = write!(
            out,
            "\n  # ================================================ flow: {name}\n"
        );
        out.push_str(&flow);
        for function in functions_of(&flow, &name)? {
            write_common(&mut out, &function);
            for (queue, dead_letter) in &function.queues {
                queues.push(format!("${{{queue}.QueueName}}"));
                dead_letters.push(format!("${{{dead_letter}.QueueName}}"));
            }
            functions.push(format!("${{{}}}", function.logical_id));
        }
    }
    let function_metrics = format!(
        "{}, {}",
        metrics(["AWS/Lambda", "Errors", "FunctionName"], &functions),
        metrics(["AWS/Lambda", "Throttles", "FunctionName"], &functions)
    );
    let tail = tail
        .replace(
            QUEUE_AGE_METRICS,
            &metrics(
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName"],
                &queues,
            ),
        )
        .replace(
            DEAD_LETTER_METRICS,
            &metrics(
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"],
                &dead_letters,
            ),
        )
        .replace(FUNCTION_METRICS, &function_metrics);
    out.push('\n');
    out.push_str(&tail);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "  EchoQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt EchoDeadLetterQueue.Arn
        maxReceiveCount: 5

  EchoDeadLetterQueue:
    Type: AWS::SQS::Queue
";

    const FUNCTION: &str = "
  EchoFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: echo
    Properties:
      Description: Echoes what it gets
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt EchoQueue.Arn
";

    fn parts(flow: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("generate-{}", rand_suffix()));
        std::fs::create_dir_all(dir.join("flows")).unwrap();
        std::fs::write(dir.join("head.yaml"), "Resources:\n").unwrap();
        std::fs::write(
            dir.join("tail.yaml"),
            "  Board:\n    Body: '[@QUEUE_AGE_METRICS@] [@DEAD_LETTER_METRICS@] [@FUNCTION_METRICS@]'\n",
        )
        .unwrap();
        std::fs::write(dir.join("flows/10-echo.yaml"), flow).unwrap();
        dir
    }

    fn rand_suffix() -> String {
        format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }

    #[test]
    fn a_flow_gets_the_log_group_and_alarms_of_its_function_and_queue() {
        let dir = parts(&format!("{QUEUE}{FUNCTION}"));
        let rendered = render(&dir).unwrap();
        let template = Template::parse(&rendered).unwrap();
        for (id, kind) in [
            ("EchoLogGroup", "AWS::Logs::LogGroup"),
            ("EchoErrorsAlarm", "AWS::CloudWatch::Alarm"),
            ("EchoThrottlesAlarm", "AWS::CloudWatch::Alarm"),
            ("EchoDeadLetterAlarm", "AWS::CloudWatch::Alarm"),
            ("EchoQueueAgeAlarm", "AWS::CloudWatch::Alarm"),
        ] {
            assert_eq!(
                template.resource(id).map(|r| r.kind.as_str()),
                Some(kind),
                "{id}"
            );
        }
        let dead_letter = template.resource("EchoDeadLetterAlarm").unwrap();
        assert_eq!(
            dead_letter.properties["Dimensions"][0]["Value"],
            serde_json::json!({"Fn::GetAtt": ["EchoDeadLetterQueue", "QueueName"]})
        );
        assert!(rendered.contains(
            r#"'[["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${EchoQueue.QueueName}"]]"#
        ));
        assert!(
            rendered.contains(r#"["AWS/Lambda", "Throttles", "FunctionName", "${EchoFunction}"]"#)
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_consumed_queue_without_its_dead_letter_queue_in_the_flow_is_refused() {
        let dir = parts(FUNCTION);
        let err = render(&dir).unwrap_err().to_string();
        assert!(
            err.contains("EchoQueue is consumed by a function of this flow"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}

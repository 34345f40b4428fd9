//! The webhook intake over in-memory ports, driven by one fuzz input.
//!
//! Input layout (what `fuzz/seeds.py` writes):
//!
//! ```text
//! byte 0  request flags
//!   bit 0    sign: add a correct `webhook-signature` entry for the body (after any the
//!            input gave), so that the input gets past verification to the JSON parser
//!   bit 1    sign with the source's second secret (the erp source has two: a rotation)
//!   bits 2-3 source: 0 "erp", 1 "shop", 2 "Erp", 3 the `:source` line's value
//!   bit 4    fill in what is absent: content-type application/json, webhook-id,
//!            webhook-timestamp (now)
//!   bit 5    method from the `:method` line ("GET" without one), else POST
//!   bit 6    deliver the same request twice (the second is a redelivery)
//!   bit 7    small limits: 1 KiB bodies, 2600-byte queue messages (bodies over about
//!            300 bytes travel as claim checks)
//! byte 1  port faults
//!   bit 0 claim fails, bit 1 claim finds another delivery in flight, bit 2 complete
//!   fails, bit 3 send fails, bit 4 claim-check put fails, bit 5 release fails,
//!   bit 6 through the API Gateway event conversion (`lambda::request_from_event`),
//!   bit 7 ... with the body base64-encoded in the event
//! then    header lines `name: value` (LF), an empty line, the body (the rest)
//! ```
//!
//! Checks beyond "no panic": only known statuses; nothing past the signature check without
//! a signature; a 202 queued exactly one message that fits the queue, and that message reads
//! back through the consumers' `read_event` as the same event; a redelivery of an accepted
//! event is a duplicate and queues nothing.

use async_trait::async_trait;
use bridge_contract::{SigningSecret, parse_event, sign};
use bridge_domain::ports::{
    MessageQueue, ObjectStore, OutboundMessage, ReceiptClaim, ReceiptStore,
};
use bridge_domain::{PortError, Route, Source, Sources};
use bridge_lambda::Config;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use webhook_intake::config::{
    MAX_BODY_BYTES, MAX_QUEUE_MESSAGE_BYTES, PAYLOAD_BUCKET, RECEIPT_TABLE, SigningSecrets,
    queue_variable,
};
use webhook_intake::{Intake, IntakePorts, IntakeRequest, IntakeResponse, IntakeSettings};

/// The signing secrets: two for the ERP (a rotation), one for the shop.
pub fn secrets() -> &'static [SigningSecret; 3] {
    static SECRETS: OnceLock<[SigningSecret; 3]> = OnceLock::new();
    SECRETS.get_or_init(|| {
        [
            SigningSecret::from_bytes([0x11; 32]),
            SigningSecret::from_bytes([0x22; 32]),
            SigningSecret::from_bytes([0x33; 32]),
        ]
    })
}

fn signing_secret(source: &Source, second: bool) -> &'static SigningSecret {
    let [erp_a, erp_b, shop] = secrets();
    match (source.as_str(), second) {
        (Source::ERP, false) => erp_a,
        (Source::ERP, true) => erp_b,
        _ => shop,
    }
}

const SMALL_QUEUE_MESSAGE: usize = 2600;

fn queue_url(route: Route) -> String {
    format!("https://sqs.local/queue/{}", route.as_str())
}

/// The settings as `wiring::build` makes them, from an environment.
fn settings(small: bool) -> IntakeSettings {
    let [erp_a, erp_b, shop] = secrets();
    let secrets = SigningSecrets::from_json(
        &serde_json::json!({
            "erp": [erp_a.to_whsec(), erp_b.to_whsec()],
            "shop": shop.to_whsec(),
        })
        .to_string(),
        &Sources::contract(),
    )
    .expect("valid secrets");
    let mut env: HashMap<String, String> = Route::ALL
        .into_iter()
        .map(|route| (queue_variable(route).to_string(), queue_url(route)))
        .collect();
    env.insert(RECEIPT_TABLE.into(), "receipts".into());
    env.insert(PAYLOAD_BUCKET.into(), "payloads".into());
    if small {
        env.insert(MAX_BODY_BYTES.into(), "1024".into());
        env.insert(
            MAX_QUEUE_MESSAGE_BYTES.into(),
            SMALL_QUEUE_MESSAGE.to_string(),
        );
    }
    IntakeSettings::from_config(&Config::from_map(env), secrets).expect("valid settings")
}

/// Faults the ports inject, from the input's second byte.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults(u8);

impl Faults {
    fn claim_fails(self) -> bool {
        self.0 & 1 != 0
    }
    fn claim_in_flight(self) -> bool {
        self.0 & 2 != 0
    }
    fn complete_fails(self) -> bool {
        self.0 & 4 != 0
    }
    fn send_fails(self) -> bool {
        self.0 & 8 != 0
    }
    fn put_fails(self) -> bool {
        self.0 & 16 != 0
    }
    fn release_fails(self) -> bool {
        self.0 & 32 != 0
    }
    fn any(self) -> bool {
        self.0 & 63 != 0
    }
}

/// Receipts as the intake's table keeps them: (content hash, queued).
#[derive(Default)]
pub struct Receipts {
    faults: Faults,
    map: Mutex<BTreeMap<String, (String, bool)>>,
}

#[async_trait]
impl ReceiptStore for Receipts {
    async fn claim(
        &self,
        id: &str,
        sha: &str,
        _now: DateTime<Utc>,
        _lease: i64,
    ) -> Result<ReceiptClaim, PortError> {
        if self.faults.claim_fails() {
            return Err(PortError::retryable("receipts.claim", "injected"));
        }
        if self.faults.claim_in_flight() {
            return Ok(ReceiptClaim::InFlight);
        }
        let mut map = self.map.lock().unwrap();
        match map.get(id) {
            Some((seen, true)) => Ok(ReceiptClaim::AlreadyQueued {
                content_sha256: seen.clone(),
            }),
            Some((_, false)) => Ok(ReceiptClaim::InFlight),
            None => {
                map.insert(id.to_string(), (sha.to_string(), false));
                Ok(ReceiptClaim::Claimed)
            }
        }
    }

    async fn complete(
        &self,
        id: &str,
        details: &BTreeMap<String, String>,
        _now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        for key in ["message_id", "envelope", "route", "event_type", "source"] {
            assert!(details.contains_key(key), "the receipt lacks {key}");
        }
        if self.faults.complete_fails() {
            return Err(PortError::retryable("receipts.complete", "injected"));
        }
        let mut map = self.map.lock().unwrap();
        let receipt = map.get_mut(id).expect("completed without a claim");
        assert!(!receipt.1, "completed twice");
        receipt.1 = true;
        Ok(())
    }

    async fn release(&self, id: &str) -> Result<(), PortError> {
        if self.faults.release_fails() {
            return Err(PortError::retryable("receipts.release", "injected"));
        }
        let removed = self.map.lock().unwrap().remove(id);
        assert!(
            removed.is_some_and(|(_, queued)| !queued),
            "released a claim it does not hold"
        );
        Ok(())
    }
}

#[derive(Default)]
pub struct Queue {
    faults: Faults,
    sent: Mutex<Vec<(String, OutboundMessage)>>,
}

#[async_trait]
impl MessageQueue for Queue {
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
        if self.faults.send_fails() {
            return Err(PortError::retryable("sqs.send", "injected"));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push((queue.to_string(), message.clone()));
        Ok(format!("message-{}", sent.len()))
    }

    async fn delay(&self, _queue: &str, _handle: &str, _seconds: i32) -> Result<(), PortError> {
        unreachable!("the intake never delays a message")
    }
}

#[derive(Default)]
pub struct Objects {
    faults: Faults,
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[async_trait]
impl ObjectStore for Objects {
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), PortError> {
        if self.faults.put_fails() {
            return Err(PortError::retryable("s3.put", "injected"));
        }
        assert!(
            key.starts_with("claims/") && key.len() <= 1024,
            "key {key:?}"
        );
        self.map.lock().unwrap().insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        self.map
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or_else(|| PortError::permanent("s3.get", "no such key"))
    }
}

/// One decoded fuzz input.
#[derive(Debug)]
pub struct Case {
    pub request: IntakeRequest,
    pub signed: bool,
    pub twice: bool,
    pub small: bool,
    pub faults: Faults,
    pub via_event: bool,
    pub base64_body: bool,
}

/// Decodes the input layout described at the top of this file.
pub fn decode(data: &[u8]) -> Option<Case> {
    let (&flags, rest) = data.split_first()?;
    let (&faults, rest) = rest.split_first()?;
    // Header lines up to the first empty line; the body is what follows it.
    let (mut lines, mut body) = (Vec::new(), rest);
    loop {
        match body.iter().position(|&b| b == b'\n') {
            Some(0) => {
                body = &body[1..];
                break;
            }
            Some(end) => {
                lines.push(String::from_utf8_lossy(&body[..end]));
                body = &body[end + 1..];
            }
            None => {
                lines.push(String::from_utf8_lossy(body));
                body = &[];
                break;
            }
        }
    }
    let mut headers = HashMap::new();
    let mut pseudo = HashMap::new();
    for line in &lines {
        let Some((name, value)) = line.split_once(':').filter(|(n, _)| !n.is_empty()) else {
            // `:source: x` has an empty name before its first colon.
            if let Some(rest) = line.strip_prefix(':')
                && let Some((name, value)) = rest.split_once(':')
            {
                pseudo.insert(name.to_string(), value.trim_start().to_string());
            }
            continue;
        };
        headers.insert(
            name.to_ascii_lowercase(),
            value.strip_prefix(' ').unwrap_or(value).to_string(),
        );
    }
    let source = match (flags >> 2) & 3 {
        0 => "erp".to_string(),
        1 => "shop".to_string(),
        2 => "Erp".to_string(),
        _ => pseudo.get("source").cloned().unwrap_or_default(),
    };
    let method = if flags & 32 != 0 {
        pseudo
            .get("method")
            .cloned()
            .unwrap_or_else(|| "GET".into())
    } else {
        "POST".to_string()
    };
    if flags & 16 != 0 {
        let defaults = [
            ("content-type", "application/json".to_string()),
            ("webhook-id", "msg_fuzz".to_string()),
            ("webhook-timestamp", crate::now().timestamp().to_string()),
        ];
        for (name, value) in defaults {
            headers.entry(name.to_string()).or_insert(value);
        }
    }
    let mut request = IntakeRequest {
        method,
        source,
        headers,
        body: body.to_vec(),
    };
    let signed = flags & 1 != 0;
    if signed && let Some(sender) = Sources::contract().sender(&request.source) {
        let source = sender.source;
        // The timestamp as `verify` reads it; an unreadable one cannot verify anyway.
        let id = request
            .headers
            .get("webhook-id")
            .cloned()
            .unwrap_or_default();
        let timestamp = request
            .headers
            .get("webhook-timestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or_default();
        let signature = sign(
            signing_secret(&source, flags & 2 != 0),
            &id,
            timestamp,
            &request.body,
        );
        let entry = request
            .headers
            .entry("webhook-signature".into())
            .or_default();
        *entry = if entry.is_empty() {
            signature
        } else {
            format!("{entry} {signature}")
        };
    }
    Some(Case {
        request,
        signed,
        twice: flags & 64 != 0,
        small: flags & 128 != 0,
        faults: Faults(faults),
        via_event: faults & 64 != 0,
        base64_body: faults & 128 != 0,
    })
}

/// The request as API Gateway would deliver it, converted back by the Lambda handler's code.
fn through_event(request: &IntakeRequest, base64_body: bool) -> IntakeRequest {
    use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
    use aws_lambda_events::http::{HeaderName, HeaderValue, Method};
    use base64::Engine;
    let mut event = ApiGatewayV2httpRequest::default();
    event.raw_path = Some(format!("/webhooks/{}", request.source));
    if let Ok(method) = Method::from_bytes(request.method.as_bytes()) {
        event.request_context.http.method = method;
    }
    for (name, value) in &request.headers {
        // API Gateway only delivers what HTTP can carry.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            event.headers.insert(name, value);
        }
    }
    event.is_base64_encoded = base64_body;
    event.body = Some(if base64_body {
        base64::engine::general_purpose::STANDARD.encode(&request.body)
    } else {
        String::from_utf8_lossy(&request.body).into_owned()
    });
    webhook_intake::lambda::request_from_event(event)
}

/// `BRIDGE_FUZZ_TRACE=1`: print each answer (to see what a corpus reaches).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("BRIDGE_FUZZ_TRACE").is_some())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // EMF documents would flood the fuzzer's output.
        bridge_lambda::metrics::redirect(Box::new(std::io::sink()));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

const KNOWN: [u16; 10] = [200, 202, 400, 401, 404, 405, 409, 413, 415, 503];
/// What an unsigned request can get: it never gets past the signature check.
const BEFORE_SIGNATURE: [u16; 4] = [401, 404, 405, 413];

/// Runs one input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let Some(case) = decode(data) else {
        return;
    };
    let faults = case.faults;
    let queue = Arc::new(Queue {
        faults,
        ..Queue::default()
    });
    let receipts = Arc::new(Receipts {
        faults,
        ..Receipts::default()
    });
    let objects = Arc::new(Objects {
        faults,
        ..Objects::default()
    });
    let intake = Intake::new(
        settings(case.small),
        IntakePorts {
            queue: queue.clone(),
            receipts: receipts.clone(),
            objects: objects.clone(),
        },
    );
    let request = if case.via_event {
        through_event(&case.request, case.base64_body)
    } else {
        case.request.clone()
    };
    let rt = runtime();
    let first = rt.block_on(intake.handle(request.clone(), crate::now()));
    if trace() {
        eprintln!("{} {}", first.status, first.body);
    }
    check_response(&first);
    if !case.signed {
        assert!(
            BEFORE_SIGNATURE.contains(&first.status),
            "an unsigned request got {}: {:?}",
            first.status,
            first.body
        );
    }
    let sent = queue.sent.lock().unwrap().clone();
    if first.status == 202 {
        assert_eq!(sent.len(), 1, "a 202 queued {} messages", sent.len());
        check_queued(&request, &sent[0], objects.as_ref(), case.small);
    } else {
        assert!(sent.is_empty(), "{} but queued a message", first.status);
    }
    if case.twice {
        let second = rt.block_on(intake.handle(request, crate::now()));
        check_response(&second);
        let resent = queue.sent.lock().unwrap().len();
        if first.status == 202 && !faults.any() {
            assert_eq!(second.status, 200, "a redelivery: {:?}", second.body);
            assert_eq!(second.body["status"], "duplicate");
        }
        if second.status != 202 {
            assert_eq!(resent, sent.len(), "{} but queued a message", second.status);
        }
        if !faults.any() && first.status != 202 && first.status != 503 {
            assert_eq!(
                second.status, first.status,
                "the same request answered twice"
            );
        }
    }
}

fn check_response(response: &IntakeResponse) {
    assert!(
        KNOWN.contains(&response.status),
        "status {}: {:?}",
        response.status,
        response.body
    );
    assert!(
        response
            .body
            .get("status")
            .or(response.body.get("error"))
            .is_some(),
        "an answer without status or error: {:?}",
        response.body
    );
}

/// A queued message fits the queue and reads back, as the consumers read it, as the event
/// that was accepted.
fn check_queued(
    request: &IntakeRequest,
    (queue, message): &(String, OutboundMessage),
    objects: &Objects,
    small: bool,
) {
    let max = if small { SMALL_QUEUE_MESSAGE } else { 262_144 };
    assert!(
        message.body.len() <= max,
        "a {} byte message on a queue of {max}",
        message.body.len()
    );
    let sender = Sources::contract()
        .sender(&request.source)
        .expect("accepted from a configured source");
    let expected = parse_event(&sender, &request.body).expect("accepted, so valid");
    let route = Route::ALL
        .into_iter()
        .find(|r| queue_url(*r) == *queue)
        .expect("a configured queue");
    assert_eq!(
        route,
        expected.event_type.route(),
        "queued on the wrong route"
    );
    let read = runtime()
        .block_on(bridge_lambda::envelope::read_event(
            &message.body,
            route,
            objects,
        ))
        .unwrap_or_else(|e| panic!("the consumers cannot read what was queued: {e:?}"));
    assert_eq!(
        read, expected,
        "the queued event differs from the accepted one"
    );
}

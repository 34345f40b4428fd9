//! `bridgectl return RETURN_ID` and the CRM's and the payments' part of `bridgectl customer`:
//! what the bridge posted to the ERP (contract section 9) and where each stands.

use crate::cli::{Resolved, Target, output};
use bridge_aws::{DynamoContactStore, DynamoPostingStore};
use bridge_domain::feedback::{
    ContactChanged, PaymentReceived, Posted, Posting, PostingState, ReturnRequested,
};
use bridge_domain::ports::{ContactStore, PostingStore};
use bridge_domain::{CustomerChanged, CustomerId};
use serde::Serialize;
use std::fmt::Write;
use std::process::ExitCode;

fn state_text(state: &PostingState) -> String {
    match state {
        PostingState::Held { reasons } => format!("held: {}", reasons.join("; ")),
        PostingState::Accepted { number } => format!("accepted by the ERP as {number}"),
        PostingState::Rejected { errors } => format!("rejected: {}", errors.join("; ")),
        other => other.name().to_string(),
    }
}

fn history_text<T: Posted>(out: &mut String, posting: &Posting<T>) {
    if let Some(error) = &posting.last_error {
        let _ = writeln!(out, "last error    {error}");
    }
    let _ = writeln!(out, "history");
    for t in &posting.history {
        let _ = writeln!(
            out,
            "  {}  {}",
            t.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            t.state.name()
        );
    }
}

pub fn return_text(posting: &Posting<ReturnRequested>) -> String {
    let r = &posting.request;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "return        {} revision {} (order {})",
        r.return_id, r.revision, r.order_id
    );
    let _ = writeln!(out, "state         {}", state_text(&posting.state));
    if let Some((status, revision)) = &posting.erp_status {
        let _ = writeln!(
            out,
            "erp status    {} (revision {revision})",
            status.as_str()
        );
    }
    let _ = writeln!(out, "lines");
    for line in &r.lines {
        let _ = writeln!(
            out,
            "  {:>4}  {:<20} {:>10}  {}",
            line.line,
            line.sku.as_str(),
            line.quantity.value().to_string(),
            line.reason.as_deref().unwrap_or("")
        );
    }
    history_text(&mut out, posting);
    out
}

/// `bridgectl return RETURN_ID`.
pub async fn run_return(
    target: &Target,
    id: &str,
    posting_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let r = Resolved::new(target, posting_table.is_some()).await?;
    let store: DynamoPostingStore<ReturnRequested> = DynamoPostingStore::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        r.name(posting_table, "PostingTable")?,
    );
    let posting = store
        .get(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("return {id} is not known to the bridge"))?;
    output(target.json, &posting, || return_text(&posting))?;
    Ok(ExitCode::SUCCESS)
}

/// A customer with its CRM contacts and the payments the bridge counted for it.
#[derive(Debug, Serialize)]
pub struct CustomerView {
    #[serde(flatten)]
    pub customer: CustomerChanged,
    pub contacts: Vec<ContactChanged>,
    pub payments: Vec<Posting<PaymentReceived>>,
}

impl CustomerView {
    pub async fn read(
        customer: CustomerChanged,
        contacts: &dyn ContactStore,
        payments: &dyn PostingStore<PaymentReceived>,
    ) -> anyhow::Result<Self> {
        let id: &CustomerId = &customer.customer_id;
        Ok(Self {
            contacts: contacts.contacts_of(id).await?,
            payments: payments.of_group(id.as_str()).await?,
            customer,
        })
    }

    pub fn text(&self) -> String {
        let mut out = crate::read::customer_text(&self.customer);
        let _ = writeln!(out, "contacts");
        if self.contacts.is_empty() {
            let _ = writeln!(out, "  - (none from the CRM)");
        }
        for c in &self.contacts {
            let _ = writeln!(
                out,
                "  {:<16} {:<8} {:<30} {}",
                c.contact_id.as_str(),
                if c.active { "active" } else { "INACTIVE" },
                c.name.as_deref().or(c.email.as_deref()).unwrap_or("-"),
                if c.roles.is_empty() {
                    "no roles".to_string()
                } else {
                    c.roles.join(", ")
                }
            );
        }
        let _ = writeln!(out, "payments");
        if self.payments.is_empty() {
            let _ = writeln!(out, "  - (none)");
        }
        for p in &self.payments {
            let _ = writeln!(
                out,
                "  {:<16} {:>14}  {}{}",
                p.request.payment_id.as_str(),
                p.request.amount.to_string(),
                state_text(&p.state),
                if p.counted {
                    ", counted in the open items"
                } else {
                    ""
                }
            );
        }
        out
    }
}

/// The contact and posting stores of the local stack or a deployed one.
pub async fn customer_stores(
    target: &Target,
    contact_table: &Option<String>,
    posting_table: &Option<String>,
) -> anyhow::Result<(DynamoContactStore, DynamoPostingStore<PaymentReceived>)> {
    let r = Resolved::new(target, contact_table.is_some() && posting_table.is_some()).await?;
    let client = aws_sdk_dynamodb::Client::new(&r.aws);
    Ok((
        DynamoContactStore::new(client.clone(), r.name(contact_table, "ContactTable")?),
        DynamoPostingStore::new(client, r.name(posting_table, "PostingTable")?),
    ))
}

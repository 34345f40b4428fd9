//! Read commands: the resolved price, stock levels and customers, as the functions store
//! them. Each returns a value that prints as text or JSON; `run_price`, `run_stock` and
//! `run_customer` are the commands.

use crate::cli::{Resolved, Target, output};
use bridge_aws::{DynamoCustomerStore, DynamoPriceStore, DynamoStockStore};
use bridge_domain::ports::{CustomerStore, PriceStore, StockStore};
use bridge_domain::pricing::{ListSkipped, PriceResolution, resolve_price};
use bridge_domain::{CustomerChanged, CustomerId, Quantity, Sku, StockChanged};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::fmt::Write;
use std::process::ExitCode;

/// The tables the read commands use.
#[derive(Clone)]
pub struct Tables {
    pub stock: DynamoStockStore,
    pub prices: DynamoPriceStore,
    pub customers: DynamoCustomerStore,
}

impl Tables {
    pub fn new(client: aws_sdk_dynamodb::Client, stock: &str, price: &str, customer: &str) -> Self {
        Self {
            stock: DynamoStockStore::new(client.clone(), stock),
            prices: DynamoPriceStore::windows_only(client.clone(), price),
            customers: DynamoCustomerStore::new(client, customer),
        }
    }
}

/// `--at`: a date (the start of that day in the business time zone, as a date-only price
/// bound means it: `BUSINESS_TIME_ZONE`, default Europe/Berlin) or an RFC 3339 timestamp.
pub fn parse_at(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return bridge_contract::json::parse_bound(text, false)
            .map_err(|e| anyhow::anyhow!("--at {text:?}: {}", e.message));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!("--at {text:?} is neither YYYY-MM-DD nor an RFC 3339 timestamp")
        })
}

#[derive(Debug, Serialize)]
pub struct PriceAnswer {
    pub customer_id: CustomerId,
    pub sku: Sku,
    pub quantity: Quantity,
    pub at: DateTime<Utc>,
    pub price_lists: Vec<bridge_domain::PriceListId>,
    pub resolution: PriceResolution,
}

impl PriceAnswer {
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "customer {}  sku {}  quantity {}  at {}",
            self.customer_id,
            self.sku,
            self.quantity,
            self.at.to_rfc3339()
        );
        match &self.resolution {
            PriceResolution::Priced(p) => {
                let _ = writeln!(
                    out,
                    "price        {} {} per {} {}",
                    p.unit_price,
                    p.currency,
                    p.price_per.value(),
                    p.price_unit
                );
                match p.line_total {
                    Some(total) => {
                        let _ = writeln!(out, "line total   {total} {}", p.currency);
                    }
                    None => {
                        let _ = writeln!(out, "line total   out of range for an exact decimal");
                    }
                }
                let _ = writeln!(
                    out,
                    "from         price list {} (priority {} of {}), tier from quantity {}, revision {}",
                    p.price_list,
                    p.priority,
                    self.price_lists.len(),
                    p.tier_min_qty,
                    p.revision
                );
                let bound = |t: Option<DateTime<Utc>>| {
                    t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
                };
                let _ = writeln!(
                    out,
                    "valid        from {} until {}",
                    bound(p.validity.from()),
                    bound(p.validity.until())
                );
            }
            PriceResolution::OnRequest { skipped } => {
                let _ = writeln!(
                    out,
                    "price        PRICE ON REQUEST (no price list of the customer applies)"
                );
                if self.price_lists.is_empty() {
                    let _ = writeln!(out, "             the customer has no price lists");
                }
                for skip in skipped {
                    let line = match skip {
                        ListSkipped::NotListed { price_list } => {
                            format!("{price_list}: does not list the sku")
                        }
                        ListSkipped::NotValidAt { price_list } => {
                            format!("{price_list}: no price valid at that date")
                        }
                        ListSkipped::BelowMinimumQuantity {
                            price_list,
                            min_qty,
                        } => {
                            format!("{price_list}: quantity below its first tier ({min_qty})")
                        }
                    };
                    let _ = writeln!(out, "             {line}");
                }
            }
        }
        out
    }
}

pub async fn price(
    tables: &Tables,
    customer_id: &str,
    sku: &str,
    quantity: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<PriceAnswer> {
    let customer_id =
        CustomerId::parse(customer_id).map_err(|e| anyhow::anyhow!("--customer: {e}"))?;
    let sku = Sku::parse(sku).map_err(|e| anyhow::anyhow!("--sku: {e}"))?;
    let quantity = bridge_contract::json::parse_exact_decimal(quantity)
        .and_then(Quantity::new)
        .map_err(|e| anyhow::anyhow!("--qty: {e}"))?;
    let customer = tables
        .customers
        .customer(&customer_id)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("customer {customer_id} is not known (no customer.changed applied)")
        })?;
    let records = tables.prices.prices_of(&customer.price_lists, &sku).await?;
    let resolution = resolve_price(&customer.price_lists, &records, &sku, quantity, at);
    Ok(PriceAnswer {
        customer_id,
        sku,
        quantity,
        at,
        price_lists: customer.price_lists,
        resolution,
    })
}

pub async fn stock(tables: &Tables, sku: &str) -> anyhow::Result<Vec<StockChanged>> {
    let sku = Sku::parse(sku).map_err(|e| anyhow::anyhow!("--sku: {e}"))?;
    Ok(tables.stock.stock_of(&sku).await?)
}

pub fn stock_text(sku: &str, levels: &[StockChanged]) -> String {
    if levels.is_empty() {
        return format!("no stock recorded for {sku}\n");
    }
    let mut out = format!(
        "{:<12} {:>14} {:>9}  {:<25} next delivery\n",
        "warehouse", "available", "revision", "as of"
    );
    for level in levels {
        let _ = writeln!(
            out,
            "{:<12} {:>14} {:>9}  {:<25} {}",
            level.warehouse.as_str(),
            level.available.to_string(),
            level.revision.to_string(),
            level
                .as_of
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "-".into()),
            level
                .next_delivery
                .as_ref()
                .map(|d| format!("{} on {}", d.quantity, d.date))
                .unwrap_or_else(|| "-".into())
        );
    }
    out
}

pub async fn customer(tables: &Tables, id: &str) -> anyhow::Result<CustomerChanged> {
    let id = CustomerId::parse(id).map_err(|e| anyhow::anyhow!("customer id: {e}"))?;
    tables
        .customers
        .customer(&id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("customer {id} is not known"))
}

pub fn customer_text(c: &CustomerChanged) -> String {
    let money =
        |m: &Option<bridge_domain::Money>| m.map(|m| m.to_string()).unwrap_or_else(|| "-".into());
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(", ")
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "customer      {} {}", c.customer_id, c.name);
    let _ = writeln!(out, "revision      {}", c.revision);
    let _ = writeln!(
        out,
        "blocked       {}",
        if c.blocked { "YES" } else { "no" }
    );
    let _ = writeln!(out, "credit limit  {}", money(&c.credit_limit));
    let _ = writeln!(out, "open items    {}", money(&c.open_items));
    let _ = writeln!(
        out,
        "payment       {}",
        c.payment_terms.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "delivery      {}",
        c.delivery_terms
            .as_ref()
            .map(|d| format!(
                "{} {}",
                d.incoterm.as_deref().unwrap_or("-"),
                d.place.as_deref().unwrap_or("")
            ))
            .unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(
        out,
        "price lists   {}",
        list(c.price_lists.iter().map(|l| l.to_string()).collect())
    );
    let _ = writeln!(
        out,
        "cost centers  {}",
        list(c.cost_centers.iter().map(|l| l.to_string()).collect())
    );
    let _ = writeln!(
        out,
        "approvals     {}",
        list(
            c.approval_rules
                .iter()
                .map(|r| format!("{} above {}", r.role, r.above))
                .collect()
        )
    );
    out
}

/// The tables of a deployed stack when all three are named, else the local stack's.
async fn tables(target: &Target) -> anyhow::Result<Tables> {
    let deployed = target.stock_table.is_some()
        && target.price_table.is_some()
        && target.customer_table.is_some();
    let r = Resolved::new(target, deployed).await?;
    Ok(Tables::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        &r.name(&target.stock_table, "StockTable")?,
        &r.name(&target.price_table, "PriceTable")?,
        &r.name(&target.customer_table, "CustomerTable")?,
    ))
}

/// `bridgectl prices reindex`.
pub async fn run_reindex(
    target: &Target,
    price_index_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let deployed = target.price_table.is_some() && price_index_table.is_some();
    let r = Resolved::new(target, deployed).await?;
    let store = DynamoPriceStore::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        r.name(&target.price_table, "PriceTable")?,
        r.name(price_index_table, "PriceIndexTable")?,
    );
    let report = store.rebuild_index().await?;
    output(target.json, &report, || {
        format!(
            "price index complete: {} windows, {} copied, {} already current\n",
            report.windows, report.copied, report.current
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl price`.
pub async fn run_price(
    target: &Target,
    customer: &str,
    sku: &str,
    qty: &str,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let at = match at {
        Some(text) => {
            bridge_lambda::Config::from_env().apply_business_time_zone()?;
            parse_at(text)?
        }
        None => chrono::Utc::now(),
    };
    let answer = price(&tables(target).await?, customer, sku, qty, at).await?;
    output(target.json, &answer, || answer.text())?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl stock`.
pub async fn run_stock(target: &Target, sku: &str) -> anyhow::Result<ExitCode> {
    let levels = stock(&tables(target).await?, sku).await?;
    output(target.json, &levels, || stock_text(sku, &levels))?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl customer`: the ERP's record, the CRM's contacts, the payments counted.
pub async fn run_customer(
    target: &Target,
    id: &str,
    contact_table: &Option<String>,
    posting_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let customer = customer(&tables(target).await?, id).await?;
    let (contacts, payments) =
        crate::postings::customer_stores(target, contact_table, posting_table).await?;
    let view = crate::postings::CustomerView::read(customer, &contacts, &payments).await?;
    output(target.json, &view, || view.text())?;
    Ok(ExitCode::SUCCESS)
}

//! `bridgectl freshness`: each data category, its last success, its SLA and its state.

use crate::cli::{Resolved, Target, output};
use crate::stackfile::find_root;
use bridge_domain::freshness::{Category, FreshnessState, freshness};
use bridge_domain::ports::FreshnessStore;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;

#[derive(Debug, Serialize)]
pub struct CategoryFreshness {
    pub category: Category,
    pub last_success: Option<DateTime<Utc>>,
    pub recorded_by: Option<String>,
    pub sla_seconds: i64,
    pub state: FreshnessState,
}

/// `30s`, `15m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{text:?} is not a duration like 30s, 15m, 2h or 1d"))?;
    Ok(match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" | "" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => anyhow::bail!("{text:?} is not a duration like 30s, 15m, 2h or 1d"),
    })
}

/// The SLAs: the template's parameter defaults where known, `--sla` overrides on top.
pub fn slas(
    template: Option<&bridge_infra::Template>,
    overrides: &[String],
) -> anyhow::Result<BTreeMap<Category, Duration>> {
    let mut slas: BTreeMap<Category, Duration> = Category::ALL
        .iter()
        .map(|c| (*c, c.default_sla()))
        .collect();
    if let Some(template) = template {
        if let Some(minutes) = template
            .parameters
            .get("OrderUnconfirmedAfterMinutes")
            .and_then(|m| m.parse::<i64>().ok())
        {
            slas.insert(Category::OrderStatus, Duration::minutes(minutes));
        }
        for category in Category::ALL {
            let mut name = category.as_str().to_string();
            name[..1].make_ascii_uppercase();
            if let Some(hours) = template
                .parameters
                .get(&format!("FreshnessSla{name}Hours"))
                .and_then(|h| h.parse::<i64>().ok())
            {
                slas.insert(category, Duration::hours(hours));
            }
        }
    }
    for entry in overrides {
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--sla takes category=duration, e.g. prices=2h"))?;
        let category = Category::parse(name.trim()).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown category {name:?}: prices, stock, customers, products or order_status"
            )
        })?;
        slas.insert(category, parse_duration(value)?);
    }
    Ok(slas)
}

/// `oldest_waiting`: when the longest-waiting order without an ERP status was sent, if any
/// (order status is fresh per order, not by the last event).
pub async fn report(
    store: &dyn FreshnessStore,
    slas: &BTreeMap<Category, Duration>,
    oldest_waiting: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<CategoryFreshness>> {
    let recorded: BTreeMap<Category, (DateTime<Utc>, String)> = store
        .all()
        .await?
        .into_iter()
        .map(|(c, at, f)| (c, (at, f)))
        .collect();
    Ok(Category::ALL
        .iter()
        .map(|category| {
            let sla = slas
                .get(category)
                .copied()
                .unwrap_or_else(|| category.default_sla());
            let last = recorded.get(category);
            let state = match category {
                Category::OrderStatus => match (oldest_waiting, last) {
                    (Some(sent), _) if freshness(Some(sent), sla, now) == FreshnessState::Stale => {
                        FreshnessState::Stale
                    }
                    (Some(_), _) | (None, Some(_)) => FreshnessState::Fresh,
                    (None, None) => FreshnessState::Never,
                },
                _ => freshness(last.map(|(at, _)| *at), sla, now),
            };
            CategoryFreshness {
                category: *category,
                last_success: last.map(|(at, _)| *at),
                recorded_by: last.map(|(_, f)| f.clone()),
                sla_seconds: sla.num_seconds(),
                state,
            }
        })
        .collect())
}

/// When the longest-waiting order without an ERP status was sent.
pub async fn oldest_waiting_order(
    orders: &dyn bridge_domain::ports::OrderStore,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut oldest: Option<DateTime<Utc>> = None;
    use bridge_domain::orders::StateName;
    for state in [StateName::Submitted, StateName::Accepted] {
        for order in orders.in_state(state).await? {
            let sent = order
                .history
                .iter()
                .find(|t| t.state.state_name() == StateName::Submitted)
                .map(|t| t.at);
            oldest = match (oldest, sent) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    Ok(oldest)
}

pub fn text(rows: &[CategoryFreshness], now: DateTime<Utc>) -> String {
    let mut out = format!(
        "{:<10} {:<7} {:<26} {:>10} {:>9}  {}\n",
        "category", "state", "last success", "age", "sla", "by"
    );
    for row in rows {
        let age = row
            .last_success
            .map(|at| human(now - at))
            .unwrap_or_else(|| "-".into());
        let state = match row.state {
            FreshnessState::Fresh => "fresh",
            FreshnessState::Stale => "STALE",
            FreshnessState::Never => "never",
        };
        let _ = writeln!(
            out,
            "{:<10} {:<7} {:<26} {:>10} {:>9}  {}",
            row.category.as_str(),
            state,
            row.last_success
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "-".into()),
            age,
            human(Duration::seconds(row.sla_seconds)),
            row.recorded_by.as_deref().unwrap_or("-")
        );
    }
    out
}

pub(crate) fn human(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The order table of a deployed stack, when named.
fn deployed_order_table() -> Option<String> {
    std::env::var("BRIDGE_ORDER_TABLE").ok()
}

/// `bridgectl freshness`: exit 4 when a category is stale.
pub async fn run_freshness(
    target: &Target,
    sla: &[String],
    freshness_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let r = Resolved::new(target, freshness_table.is_some()).await?;
    let store = bridge_aws::DynamoFreshnessStore::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        r.name(freshness_table, "FreshnessTable")?,
    );
    let template = find_root()
        .ok()
        .and_then(|root| bridge_infra::Template::load(&root.join("template.yaml")).ok());
    let slas = slas(template.as_ref(), sla)?;
    let now = Utc::now();
    // Order status is judged per order: the order table says how long they wait.
    let oldest_waiting = match r.name(&deployed_order_table(), "OrderTable") {
        Ok(table) => {
            let orders =
                bridge_aws::DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&r.aws), table);
            oldest_waiting_order(&orders).await?
        }
        Err(_) => None,
    };
    let rows = report(&store, &slas, oldest_waiting, now).await?;
    // The shop's lag per category beside the data's freshness (text only: the JSON stays
    // the categories' list; `bridgectl shop status --json` has the shop's).
    let shop = crate::shop::shop_freshness(&store).await?;
    output(target.json, &rows, || {
        format!(
            "{}\n{}",
            text(&rows, now),
            crate::shop::shop_freshness_text(&shop, now)
        )
    })?;
    let stale = rows.iter().any(|r| r.state == FreshnessState::Stale);
    Ok(if stale {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    })
}

//! The shop read API's requests (contract section 7) on the wire: every violation names
//! its field with a JSON pointer, as the webhooks' do. A query parameter's pointer is
//! `/<name>/<index>` (`/sku/2` is the third `sku=`).

use crate::json::{ContractError, Obj};
use crate::webhook::parse_json;
use bridge_domain::{CustomerId, InvalidValue, Quantity, Sku, WarehouseId};
use chrono::{DateTime, Utc};

/// Lines one price request may carry.
pub const MAX_RESOLVE_LINES: usize = 200;
/// Skus one availability request may name.
pub const MAX_AVAILABILITY_SKUS: usize = 200;

/// `POST /v1/prices/resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRequest {
    pub customer_id: CustomerId,
    /// The date the prices are for; `None`: now. A date alone is midnight in the business
    /// time zone, as for `bridgectl price --at`.
    pub at: Option<DateTime<Utc>>,
    pub lines: Vec<ResolveLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

pub fn parse_resolve_request(body: &[u8]) -> Result<ResolveRequest, ContractError> {
    let value = parse_json(body)?;
    let root = Obj::root(&value)?;
    let customer_id = root.required("customer_id", |f| f.parse(CustomerId::parse))?;
    let at = root.optional("at", |f| f.bound(false))?;
    let lines = root.required("lines", |f| {
        let lines = f.array(|line| {
            line.object(|line| {
                Ok(ResolveLine {
                    sku: line.required("sku", |f| f.parse(Sku::parse))?,
                    quantity: line.required("quantity", |f| f.decimal_as(positive_quantity))?,
                })
            })
        })?;
        if lines.is_empty() {
            return Err(f.invalid(InvalidValue::new("empty", "at least one line is required")));
        }
        if lines.len() > MAX_RESOLVE_LINES {
            return Err(f.invalid(InvalidValue::new(
                "too_many_lines",
                format!(
                    "{} lines; at most {MAX_RESOLVE_LINES} per request",
                    lines.len()
                ),
            )));
        }
        Ok(lines)
    })?;
    Ok(ResolveRequest {
        customer_id,
        at,
        lines,
    })
}

fn positive_quantity(value: rust_decimal::Decimal) -> Result<Quantity, InvalidValue> {
    let quantity = Quantity::new(value)?;
    if quantity.value().is_zero() {
        return Err(InvalidValue::new(
            "not_positive",
            "a line's quantity must be above 0",
        ));
    }
    Ok(quantity)
}

/// `GET /v1/availability?sku=A&sku=B[&warehouse=W]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityQuery {
    /// As asked, without repeats.
    pub skus: Vec<Sku>,
    pub warehouse: Option<WarehouseId>,
}

pub fn parse_availability_query(query: &str) -> Result<AvailabilityQuery, ContractError> {
    let mut skus: Vec<Sku> = Vec::new();
    let mut warehouse = None;
    let mut sku_index = 0;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "sku" => {
                let field = format!("/sku/{sku_index}");
                sku_index += 1;
                let sku = Sku::parse(&value).map_err(|e| at(&field, e))?;
                if !skus.contains(&sku) {
                    skus.push(sku);
                }
            }
            "warehouse" if warehouse.is_none() => {
                warehouse = Some(WarehouseId::parse(&value).map_err(|e| at("/warehouse", e))?);
            }
            "warehouse" => {
                return Err(at(
                    "/warehouse",
                    InvalidValue::new("duplicate", "name at most one warehouse"),
                ));
            }
            other => {
                let field = format!("/{other}");
                return Err(at(
                    &field,
                    InvalidValue::new(
                        "unknown_parameter",
                        "only sku and warehouse are query parameters",
                    ),
                ));
            }
        }
    }
    if skus.is_empty() {
        return Err(ContractError::new(
            "missing_field",
            "/sku is required: ?sku=A&sku=B",
            Some("/sku".into()),
        ));
    }
    if skus.len() > MAX_AVAILABILITY_SKUS {
        return Err(at(
            "/sku",
            InvalidValue::new(
                "too_many_skus",
                format!(
                    "{} skus; at most {MAX_AVAILABILITY_SKUS} per request",
                    skus.len()
                ),
            ),
        ));
    }
    Ok(AvailabilityQuery { skus, warehouse })
}

/// A customer id from the path (`/v1/customers/{id}/credit`), its pointer `/customer_id`.
pub fn parse_customer_path(id: &str) -> Result<CustomerId, ContractError> {
    CustomerId::parse(id).map_err(|e| at("/customer_id", e))
}

fn at(field: &str, error: InvalidValue) -> ContractError {
    ContractError::new(
        error.code,
        format!("{field}: {}", error.message),
        Some(field.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<impl std::fmt::Debug, ContractError>) -> (String, Option<String>) {
        let err = result.unwrap_err();
        (err.code, err.field)
    }

    #[test]
    fn a_cart_is_read_with_exact_quantities_and_an_optional_date() {
        let request = parse_resolve_request(
            br#"{"customer_id": "C-1", "at": "2027-01-15T00:00:00Z",
                 "lines": [{"sku": "A", "quantity": "12.50"}, {"sku": "B", "quantity": 3}]}"#,
        )
        .unwrap();
        assert_eq!(request.customer_id.as_str(), "C-1");
        assert_eq!(request.lines[0].quantity.value().to_string(), "12.5");
        assert_eq!(request.lines[1].sku.as_str(), "B");
        assert!(request.at.is_some());
    }

    #[test]
    fn bad_carts_name_their_field() {
        let too_many = format!(
            r#"{{"customer_id": "C-1", "lines": [{}]}}"#,
            vec![r#"{"sku": "A", "quantity": 1}"#; 201].join(",")
        );
        assert_eq!(
            field(parse_resolve_request(too_many.as_bytes())),
            ("too_many_lines".into(), Some("/lines".into()))
        );
        assert_eq!(
            field(parse_resolve_request(
                br#"{"customer_id": "C-1", "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": "-2"}]}"#
            )),
            ("negative".into(), Some("/lines/1/quantity".into()))
        );
        assert_eq!(
            field(parse_resolve_request(
                br#"{"customer_id": "C-1", "lines": [{"sku": "A B", "quantity": 1}]}"#
            )),
            ("invalid_character".into(), Some("/lines/0/sku".into()))
        );
        assert_eq!(
            field(parse_resolve_request(
                br#"{"customer_id": "C-1", "lines": [{"sku": "A", "quantity": 0}]}"#
            )),
            ("not_positive".into(), Some("/lines/0/quantity".into()))
        );
        assert_eq!(
            field(parse_resolve_request(br#"{"lines": []}"#)),
            ("missing_field".into(), Some("/customer_id".into()))
        );
        assert_eq!(
            field(parse_resolve_request(
                br#"{"customer_id": "C-1", "lines": []}"#
            )),
            ("empty".into(), Some("/lines".into()))
        );
        assert_eq!(field(parse_resolve_request(b"{")).0, "invalid_json");
    }

    #[test]
    fn availability_reads_repeated_skus_and_one_warehouse() {
        let query = parse_availability_query("sku=A&sku=B%2F1&sku=A&warehouse=W1").unwrap();
        let skus: Vec<&str> = query.skus.iter().map(|s| s.as_str()).collect();
        assert_eq!(skus, ["A", "B/1"]);
        assert_eq!(query.warehouse.unwrap().to_string(), "W1");
        assert_eq!(
            field(parse_availability_query("sku=A&sku=")),
            ("empty".into(), Some("/sku/1".into()))
        );
        assert_eq!(
            field(parse_availability_query("")),
            ("missing_field".into(), Some("/sku".into()))
        );
        assert_eq!(
            field(parse_availability_query("sku=A&colour=red")).1,
            Some("/colour".into())
        );
    }
}

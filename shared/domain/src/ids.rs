//! Identifier newtypes that can only hold well-formed values.

use crate::error::InvalidValue;
use std::fmt;

/// Characters allowed in every upstream identifier: they end up in DynamoDB keys, S3 keys
/// and log lines, so whitespace, control characters and separators we use (`#`) are out.
fn check_identifier(kind: &str, value: &str, max_len: usize) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::new(
            "empty",
            format!("{kind} must not be empty"),
        ));
    }
    if value.len() > max_len {
        return Err(InvalidValue::new(
            "too_long",
            format!("{kind} is longer than {max_len} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':')))
    {
        return Err(InvalidValue::new(
            "invalid_character",
            format!(
                "{kind} contains {:?}; allowed are ASCII letters, digits and - _ . / :",
                bad.escape_default().to_string()
            ),
        ));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        crate::serialize_as_str!($name, |v| v.as_str());

        impl $name {
            pub fn parse(value: &str) -> Result<Self, InvalidValue> {
                check_identifier($kind, value, $max)?;
                Ok(Self(value.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                check_identifier($kind, &value, $max)?;
                Ok(Self(value))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// A stock keeping unit as the ERP and PIM name it.
    Sku, "sku", 64
);
identifier!(
    /// A customer (sold-to party) number in the ERP.
    CustomerId, "customer id", 64
);
identifier!(
    /// A warehouse or plant code.
    WarehouseId, "warehouse", 32
);
identifier!(
    /// A price list (condition table) identifier.
    PriceListId, "price list", 64
);
identifier!(
    /// An order number assigned by the shop.
    OrderId, "order id", 64
);
identifier!(
    /// A shipment (parcel or consignment) as the carrier or 3PL numbers it.
    ShipmentId, "shipment id", 64
);
identifier!(
    /// A cost center code of the buying organisation.
    CostCenter, "cost center", 64
);
identifier!(
    /// A return (RMA) as the shop numbers it.
    ReturnId, "return id", 64
);
identifier!(
    /// An incoming payment as the shop or the payment service provider numbers it.
    PaymentId, "payment id", 64
);
identifier!(
    /// A person of a customer as the CRM numbers it; the shop's `user_id` of the same person.
    ContactId, "contact id", 64
);
identifier!(
    /// A new B2B account's registration in the shop.
    RegistrationId, "registration id", 64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_sku_is_accepted() {
        assert_eq!(Sku::parse("AB-100/2.x").unwrap().as_str(), "AB-100/2.x");
    }

    #[test]
    fn an_empty_sku_is_rejected() {
        assert_eq!(Sku::parse("").unwrap_err().code, "empty");
    }

    #[test]
    fn whitespace_control_characters_and_separators_are_rejected() {
        for bad in ["A B", "A\u{0}B", "A#B", "Ä1", "a\nb", "x\u{202e}y"] {
            assert_eq!(
                Sku::parse(bad).unwrap_err().code,
                "invalid_character",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_overlong_sku_is_rejected() {
        assert_eq!(Sku::parse(&"A".repeat(65)).unwrap_err().code, "too_long");
    }

    #[test]
    fn deserializing_goes_through_validation() {
        let err = Sku::try_from("has space".to_string()).unwrap_err();
        assert_eq!(err.code, "invalid_character");
    }
}

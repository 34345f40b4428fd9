//! Products (contract section 6): the PIM's product as a commercetools product of the
//! bridge's product type `bridge-product`: key = sku (where the sku fits a key), localized
//! name and description, the leaf of its category path (each level a category, created when
//! missing), the GTIN, brand, unit and weight and every `attr.*` code as attributes (the
//! product type is extended with a code it lacks), images as external image URLs, and
//! `inactive` as unpublished, never deleted. The revision travels in the master variant's
//! `bridgeRevision` attribute and is checked before every write.
//!
//! Every content action is sent with `staged: false`, so the published product and its
//! staged copy change together; an active product that is not published (new, reactivated)
//! is published in the same request.

use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::{Image, PagedQuery, Reference, UpdateAction};
use crate::plan::{Plan, PlanError, decide, revision_of};
use crate::setup::{PRODUCT_TYPE_KEY, REVISION_FIELD, Setup};
use crate::write::{Writable, write};
use crate::{MAX_WRITE_ATTEMPTS, quoted};
use bridge_domain::product::{Product, ProductStatus};
use bridge_domain::shop::Published;
use bridge_domain::{PortError, Revision};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const OPERATION: &str = "shop.publish_product";

/// The product type's attributes the bridge writes besides the PIM's codes.
/// Prefixed, because commercetools requires an attribute name to have one type across all
/// product types: a shop's own `brand` (an enum, say) must not keep `bridge-product` from
/// being made.
pub const GTIN_ATTRIBUTE: &str = "bridge-gtin";
pub const BRAND_ATTRIBUTE: &str = "bridge-brand";
pub const UNIT_ATTRIBUTE: &str = "bridge-unit";
pub const WEIGHT_ATTRIBUTE: &str = "bridge-weightKg";
/// The prefix of the attributes carrying the PIM's `attr.*` codes (`attr.color` →
/// `attr-color`), apart from the bridge's own names.
pub const CODE_PREFIX: &str = "attr-";
/// The prefix of the keys of the categories the bridge makes from category paths.
pub const CATEGORY_KEY_PREFIX: &str = "pim-";

/// An attribute of `bridge-product`: its name, commercetools attribute type and label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttributeSpec {
    pub name: String,
    /// `text` or `number`.
    pub type_name: &'static str,
    /// What the Merchant Center shows: the PIM's code as it is.
    pub label: String,
}

/// The attributes `product` needs on the product type.
pub fn attributes_needed(product: &Product) -> Vec<AttributeSpec> {
    let fixed = [
        (REVISION_FIELD, "number"),
        (GTIN_ATTRIBUTE, "text"),
        (BRAND_ATTRIBUTE, "text"),
        (UNIT_ATTRIBUTE, "text"),
        (WEIGHT_ATTRIBUTE, "number"),
    ];
    fixed
        .iter()
        .map(|(name, type_name)| AttributeSpec {
            name: name.to_string(),
            type_name,
            label: name.to_string(),
        })
        .chain(product.attributes.keys().map(|code| AttributeSpec {
            name: attribute_name(code),
            type_name: "text",
            label: code.clone(),
        }))
        .collect()
}

/// The attribute name a PIM code becomes: `attr-` and the code where it fits an attribute
/// name (`A-Z a-z 0-9 _ -`), else the code with every other character a `-` and a hash of
/// the code (BMEcat's `classification.ECLASS-9.0`, a feature named `Länge (mm)`), so two
/// codes never share a name; the label keeps the code as the PIM wrote it.
pub fn attribute_name(code: &str) -> String {
    let plain: String = code
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .take(200)
        .collect();
    if plain == code {
        format!("{CODE_PREFIX}{code}")
    } else {
        format!("{CODE_PREFIX}{plain}-{}", &short_hash(code)[..8])
    }
}

/// The product key of a sku: the sku itself where it fits a key (2 to 256 of
/// `A-Z a-z 0-9 _ -`); a sku with `. / :` has no key and is found by its sku instead.
pub fn product_key(sku: &str) -> Option<&str> {
    let fits = (2..=256).contains(&sku.len())
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    fits.then_some(sku)
}

fn short_hash(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// The slug of a sku (the same in every locale): the sku where it fits a slug (2 to 256 of
/// `A-Z a-z 0-9 _ -`), else the sku with every other character a `-` and a hash of the sku
/// (so `A/1` and `A-1` never share a slug).
pub fn slug(sku: &str) -> String {
    if product_key(sku).is_some() {
        return sku.to_string();
    }
    let plain: String = sku
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            _ => '-',
        })
        .collect();
    format!("{plain}-{}", &short_hash(sku)[..8])
}

/// The key of the category at `path` (from the root): stable, fits a key whatever the
/// names hold, and apart from categories made by hand.
pub fn category_key(path: &[String]) -> String {
    format!("{CATEGORY_KEY_PREFIX}{}", short_hash(&path.join("\u{1f}")))
}

/// A product as the API returns it (the fields the bridge reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductResource {
    pub id: String,
    pub version: u64,
    pub key: Option<String>,
    pub master_data: MasterData,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MasterData {
    pub published: bool,
    #[serde(default)]
    pub has_staged_changes: bool,
    /// The bridge compares with the staged copy: what the next publish shows.
    pub staged: ProductData,
    /// The published copy (prices are checked against it too).
    #[serde(default)]
    pub current: Option<ProductData>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductData {
    #[serde(default)]
    pub name: BTreeMap<String, String>,
    pub description: Option<BTreeMap<String, String>>,
    /// Read with the categories expanded, so that their keys tell the bridge's apart.
    #[serde(default)]
    pub categories: Vec<CategoryRef>,
    pub master_variant: Variant,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CategoryRef {
    pub id: String,
    /// The category itself, where the read expanded it.
    pub obj: Option<CategoryObj>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CategoryObj {
    pub key: Option<String>,
}

impl CategoryRef {
    /// A category the bridge made from a category path (a merchant's own are left alone).
    fn is_the_bridges(&self) -> bool {
        self.obj
            .as_ref()
            .and_then(|o| o.key.as_deref())
            .is_some_and(|key| key.starts_with(CATEGORY_KEY_PREFIX))
    }
}

/// What a product read expands: its categories, for their keys.
const EXPAND_CATEGORIES: &str = "masterData.staged.categories[*]";

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Variant {
    pub sku: Option<String>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default)]
    pub images: Vec<Image>,
    /// Embedded prices (`prices.rs` manages those of the bridge's customer groups).
    #[serde(default)]
    pub prices: Vec<crate::prices::PriceResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub value: Value,
}

/// A new product.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDraft {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub product_type: Value,
    pub name: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<BTreeMap<String, String>>,
    pub slug: BTreeMap<String, String>,
    pub categories: Vec<Reference>,
    pub master_variant: VariantDraft,
    pub publish: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantDraft {
    pub sku: String,
    pub attributes: Vec<Attribute>,
    pub images: Vec<Image>,
}

/// What the shop must hold for `product`: the ids of its categories (leaf last).
#[derive(Debug, Clone, Copy)]
pub struct ProductTarget<'a> {
    /// The leaf category's id (`None`: the product has no category path).
    pub category_id: Option<&'a str>,
}

/// The attributes `product` has in the shop, by name.
fn wanted_attributes(
    product: &Product,
    revision: Revision,
) -> Result<BTreeMap<String, Value>, PlanError> {
    let mut wanted = BTreeMap::from([(REVISION_FIELD.to_string(), json!(revision.value()))]);
    if let Some(gtin) = &product.gtin {
        wanted.insert(GTIN_ATTRIBUTE.to_string(), json!(gtin.as_str()));
    }
    if let Some(brand) = &product.brand {
        wanted.insert(BRAND_ATTRIBUTE.to_string(), json!(brand));
    }
    if let Some(unit) = &product.unit {
        wanted.insert(UNIT_ATTRIBUTE.to_string(), json!(unit.as_str()));
    }
    if let Some(weight) = product.weight_kg {
        // The decimal's text as a JSON number (no f64 on the way).
        let number: serde_json::Number = weight.normalize().to_string().parse().map_err(|_| {
            PlanError::UnrepresentableValue {
                attribute: WEIGHT_ATTRIBUTE,
                value: weight.to_string(),
            }
        })?;
        wanted.insert(WEIGHT_ATTRIBUTE.to_string(), Value::Number(number));
    }
    for (code, value) in &product.attributes {
        wanted.insert(attribute_name(code), json!(value));
    }
    Ok(wanted)
}

/// Whether the bridge manages an attribute of this name (else a merchant's, left alone).
fn managed(name: &str) -> bool {
    name.starts_with(CODE_PREFIX)
        || [
            REVISION_FIELD,
            GTIN_ATTRIBUTE,
            BRAND_ATTRIBUTE,
            UNIT_ATTRIBUTE,
            WEIGHT_ATTRIBUTE,
        ]
        .contains(&name)
}

fn localized(texts: &BTreeMap<bridge_domain::product::Locale, String>) -> BTreeMap<String, String> {
    texts
        .iter()
        .map(|(locale, text)| (locale.as_str().to_string(), text.clone()))
        .collect()
}

fn category_reference(id: &str) -> Reference {
    Reference {
        type_id: "category".to_string(),
        id: id.to_string(),
    }
}

/// What publishing `product` at `revision` does to `current`, the shop's product of its sku
/// (`None`: there is none).
pub fn plan_product(
    current: Option<&ProductResource>,
    product: &Product,
    revision: Revision,
    target: ProductTarget<'_>,
) -> Result<Plan<ProductDraft>, PlanError> {
    let sku = product.sku.as_str();
    let wanted_attributes = wanted_attributes(product, revision)?;
    let name = localized(&product.names);
    if name.is_empty() {
        return Err(PlanError::NoName(sku.to_string()));
    }
    let description = Some(localized(&product.descriptions)).filter(|d| !d.is_empty());
    let active = product.status == ProductStatus::Active;
    let Some(existing) = current else {
        let slug = slug(sku);
        return Ok(Plan::Create(ProductDraft {
            key: product_key(sku).map(str::to_string),
            product_type: json!({"typeId": "product-type", "key": PRODUCT_TYPE_KEY}),
            slug: name
                .keys()
                .map(|locale| (locale.clone(), slug.clone()))
                .collect(),
            name,
            description,
            categories: target
                .category_id
                .map(category_reference)
                .into_iter()
                .collect(),
            master_variant: VariantDraft {
                sku: sku.to_string(),
                attributes: wanted_attributes
                    .into_iter()
                    .map(|(name, value)| Attribute { name, value })
                    .collect(),
                images: product.images.iter().map(|u| Image::external(u)).collect(),
            },
            publish: active,
        }));
    };
    let staged = &existing.master_data.staged;
    let stored =
        match staged
            .master_variant
            .attributes
            .iter()
            .find(|a| a.name == REVISION_FIELD)
        {
            None => None,
            Some(attribute) => Some(revision_of(&attribute.value).ok_or_else(|| {
                PlanError::UnreadableRevision {
                    resource: "product",
                    id: existing.id.clone(),
                    value: attribute.value.to_string(),
                }
            })?),
        };
    let mut actions = Vec::new();
    if staged.name != name {
        actions.push(UpdateAction::ChangeName {
            name,
            staged: false,
        });
    }
    if staged.description.as_ref().filter(|d| !d.is_empty()) != description.as_ref() {
        actions.push(UpdateAction::SetDescription {
            description,
            staged: false,
        });
    }
    // The path's leaf is the product's category; another the bridge made (an earlier path)
    // goes, a merchant's own stays.
    if let Some(leaf) = target.category_id
        && !staged.categories.iter().any(|c| c.id == leaf)
    {
        actions.push(UpdateAction::AddToCategory {
            category: category_reference(leaf),
            staged: false,
        });
    }
    for category in &staged.categories {
        if Some(category.id.as_str()) != target.category_id && category.is_the_bridges() {
            actions.push(UpdateAction::RemoveFromCategory {
                category: category_reference(&category.id),
                staged: false,
            });
        }
    }
    let held: BTreeMap<&str, &Value> = staged
        .master_variant
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), &a.value))
        .collect();
    for (name, value) in &wanted_attributes {
        if name != REVISION_FIELD && held.get(name.as_str()) != Some(&value) {
            actions.push(UpdateAction::SetAttribute {
                sku: sku.to_string(),
                name: name.clone(),
                value: Some(value.clone()),
                staged: false,
            });
        }
    }
    for name in held.keys() {
        if managed(name) && !wanted_attributes.contains_key(*name) {
            actions.push(UpdateAction::SetAttribute {
                sku: sku.to_string(),
                name: name.to_string(),
                value: None,
                staged: false,
            });
        }
    }
    let images: BTreeSet<&str> = staged
        .master_variant
        .images
        .iter()
        .map(|i| i.url.as_str())
        .collect();
    for url in &product.images {
        if !images.contains(url.as_str()) {
            actions.push(UpdateAction::AddExternalImage {
                sku: sku.to_string(),
                image: Image::external(url),
                staged: false,
            });
        }
    }
    for url in images {
        if !product.images.iter().any(|u| u == url) {
            actions.push(UpdateAction::RemoveImage {
                sku: sku.to_string(),
                image_url: url.to_string(),
                staged: false,
            });
        }
    }
    let published = existing.master_data.published;
    if active && (!published || existing.master_data.has_staged_changes) {
        actions.push(UpdateAction::Publish);
    }
    if !active && published {
        actions.push(UpdateAction::Unpublish);
    }
    let plan = decide(
        &crate::plan::Resource {
            kind: "product",
            id: &existing.id,
            custom: None,
        },
        existing.version,
        stored,
        revision,
        actions,
        UpdateAction::SetAttribute {
            sku: sku.to_string(),
            name: REVISION_FIELD.to_string(),
            value: Some(json!(revision.value())),
            staged: false,
        },
    );
    Ok(plan)
}

pub(crate) async fn publish(
    client: &Client,
    setup: &Setup,
    call: &mut Call<'_>,
    product: &Product,
    revision: Revision,
) -> Result<Published, PortError> {
    let shop_error = |err: ShopError| err.into_port_error(OPERATION);
    // Refused before any request: nothing is worth setting up for a record that cannot go.
    plan_product(None, product, revision, ProductTarget { category_id: None })
        .map_err(|err| PortError::permanent(OPERATION, err.to_string()))?;
    setup
        .product_type(client, call, &attributes_needed(product))
        .await
        .map_err(shop_error)?;
    let names: Vec<String> = product
        .names
        .keys()
        .map(|l| l.as_str().to_string())
        .collect();
    for attempt in 1..=2 {
        let category_id = if product.category.is_empty() {
            None
        } else {
            Some(
                setup
                    .category(client, call, &product.category, &names)
                    .await
                    .map_err(shop_error)?,
            )
        };
        let listed = Listed {
            product,
            revision,
            target: ProductTarget {
                category_id: category_id.as_deref(),
            },
        };
        match write(client, call, &listed).await {
            // A category the process knew was deleted in the shop (or the shop restored
            // from a backup): look the path up again, once.
            Err(err)
                if attempt == 1
                    && category_id.is_some()
                    && err.message.contains("ReferencedResourceNotFound") =>
            {
                tracing::warn!(sku = %product.sku, error = %err, "a known category is gone from the shop; looking the path up again");
                setup.forget_categories();
            }
            result => return result,
        }
    }
    unreachable!("the second attempt returns")
}

/// The shop's product of `sku` (by key where the sku fits one, else by its master variant's
/// sku), its categories expanded where `expand_categories`.
pub(crate) async fn find_product(
    client: &Client,
    call: &mut Call<'_>,
    sku: &str,
    expand_categories: bool,
) -> Result<Option<ProductResource>, ShopError> {
    if let Some(key) = product_key(sku) {
        let mut url = client.url(&["products", &format!("key={key}")]);
        if expand_categories {
            url.query_pairs_mut()
                .append_pair("expand", EXPAND_CATEGORIES);
        }
        return client.get_optional(call, url).await;
    }
    let mut url = client.url(&["products"]);
    if expand_categories {
        url.query_pairs_mut()
            .append_pair("expand", EXPAND_CATEGORIES);
    }
    url.query_pairs_mut()
        .append_pair(
            "where",
            &format!("masterData(staged(masterVariant(sku={})))", quoted(sku)),
        )
        .append_pair("limit", "1")
        .append_pair("withTotal", "false");
    let page: PagedQuery<ProductResource> = client.get(call, url).await?;
    Ok(page.results.into_iter().next())
}

/// A product bound for the shop.
struct Listed<'a> {
    product: &'a Product,
    revision: Revision,
    target: ProductTarget<'a>,
}

#[async_trait::async_trait]
impl Writable for Listed<'_> {
    type Current = ProductResource;
    type Updated = ProductResource;
    type Draft = ProductDraft;
    type Created = ProductResource;
    const OPERATION: &'static str = OPERATION;
    const ENDPOINT: &'static str = "products";

    async fn read(
        &self,
        client: &Client,
        call: &mut Call<'_>,
    ) -> Result<Option<ProductResource>, ShopError> {
        find_product(client, call, self.product.sku.as_str(), true).await
    }

    fn plan(&self, current: Option<&ProductResource>) -> Result<Plan<ProductDraft>, PlanError> {
        plan_product(current, self.product, self.revision, self.target)
    }

    fn contested(&self) -> String {
        format!(
            "product {} changed under {MAX_WRITE_ATTEMPTS} writes in a row; the batch retries later",
            self.product.sku
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge_domain::Sku;
    use bridge_domain::product::{Gtin, Locale};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn product() -> Product {
        Product {
            sku: Sku::parse("DRILL-7").unwrap(),
            gtin: Some(Gtin::gtin13(400_819_014_307)),
            names: BTreeMap::from([
                (Locale::parse("de-DE").unwrap(), "Bohrer 7 mm".to_string()),
                (Locale::parse("en").unwrap(), "Drill 7 mm".to_string()),
            ]),
            descriptions: BTreeMap::new(),
            brand: Some("Muster".into()),
            category: vec!["Werkzeug".into(), "Bohrer".into()],
            unit: None,
            weight_kg: Some(Decimal::from_str("0.070").unwrap()),
            images: vec!["https://pim.example/drill-7.jpg".into()],
            status: ProductStatus::Active,
            attributes: BTreeMap::from([("color".to_string(), "silber".to_string())]),
        }
    }

    const TARGET: ProductTarget<'static> = ProductTarget {
        category_id: Some("cat-leaf"),
    };

    fn attribute(name: &str, value: Value) -> Attribute {
        Attribute {
            name: name.into(),
            value,
        }
    }

    /// The shop's copy of `product()` at revision 5, published.
    fn stored() -> ProductResource {
        ProductResource {
            id: "p-1".into(),
            version: 3,
            key: Some("DRILL-7".into()),
            master_data: MasterData {
                published: true,
                has_staged_changes: false,
                staged: ProductData {
                    name: BTreeMap::from([
                        ("de-DE".into(), "Bohrer 7 mm".into()),
                        ("en".into(), "Drill 7 mm".into()),
                    ]),
                    description: None,
                    categories: vec![CategoryRef {
                        id: "cat-leaf".into(),
                        obj: Some(CategoryObj {
                            key: Some("pim-1".into()),
                        }),
                    }],
                    master_variant: Variant {
                        sku: Some("DRILL-7".into()),
                        attributes: vec![
                            attribute(REVISION_FIELD, json!(5)),
                            attribute("bridge-gtin", json!("4008190143077")),
                            attribute("bridge-brand", json!("Muster")),
                            attribute("bridge-weightKg", serde_json::from_str("0.07").unwrap()),
                            attribute("attr-color", json!("silber")),
                            attribute("merchantBadge", json!("new")),
                        ],
                        images: vec![Image::external("https://pim.example/drill-7.jpg")],
                        prices: vec![],
                    },
                },
                current: None,
            },
        }
    }

    fn actions(plan: Plan<ProductDraft>) -> Vec<UpdateAction> {
        match plan {
            Plan::Update {
                id,
                version,
                actions,
            } => {
                assert_eq!((id.as_str(), version), ("p-1", 3));
                actions
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_product_is_a_draft_of_the_bridge_type_with_every_field() {
        let Plan::Create(draft) = plan_product(None, &product(), Revision::new(5), TARGET).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            json!({
                "key": "DRILL-7",
                "productType": {"typeId": "product-type", "key": "bridge-product"},
                "name": {"de-DE": "Bohrer 7 mm", "en": "Drill 7 mm"},
                "slug": {"de-DE": "DRILL-7", "en": "DRILL-7"},
                "categories": [{"typeId": "category", "id": "cat-leaf"}],
                "masterVariant": {"sku": "DRILL-7", "attributes": [
                    {"name": "attr-color", "value": "silber"},
                    {"name": "bridge-brand", "value": "Muster"},
                    {"name": "bridge-gtin", "value": "4008190143077"},
                    {"name": "bridge-weightKg", "value": 0.07},
                    {"name": "bridgeRevision", "value": 5},
                ], "images": [{"url": "https://pim.example/drill-7.jpg", "dimensions": {"w": 0, "h": 0}}]},
                "publish": true,
            })
        );
    }

    #[test]
    fn the_same_product_again_is_current_and_a_change_sends_only_what_changed() {
        assert_eq!(
            plan_product(Some(&stored()), &product(), Revision::new(5), TARGET).unwrap(),
            Plan::AlreadyCurrent
        );
        let mut changed = product();
        changed
            .names
            .insert(Locale::parse("en").unwrap(), "Drill 7mm HSS".into());
        changed.attributes.clear();
        changed.images = vec!["https://pim.example/drill-7b.jpg".into()];
        changed.category = vec!["Werkzeug".into()];
        let sent = actions(
            plan_product(
                Some(&stored()),
                &changed,
                Revision::new(6),
                ProductTarget {
                    category_id: Some("cat-root"),
                },
            )
            .unwrap(),
        );
        let sent = serde_json::to_value(sent).unwrap();
        assert_eq!(
            sent,
            json!([
                {"action": "changeName", "name": {"de-DE": "Bohrer 7 mm", "en": "Drill 7mm HSS"}, "staged": false},
                {"action": "addToCategory", "category": {"typeId": "category", "id": "cat-root"}, "staged": false},
                {"action": "removeFromCategory", "category": {"typeId": "category", "id": "cat-leaf"}, "staged": false},
                {"action": "setAttribute", "sku": "DRILL-7", "name": "attr-color", "staged": false},
                {"action": "addExternalImage", "sku": "DRILL-7", "image": {"url": "https://pim.example/drill-7b.jpg", "dimensions": {"w": 0, "h": 0}}, "staged": false},
                {"action": "removeImage", "sku": "DRILL-7", "imageUrl": "https://pim.example/drill-7.jpg", "staged": false},
                {"action": "setAttribute", "sku": "DRILL-7", "name": "bridgeRevision", "value": 6, "staged": false},
            ]),
            "the merchant's own attribute stays"
        );
    }

    #[test]
    fn inactive_is_unpublished_and_active_again_is_published_never_deleted() {
        let mut inactive = product();
        inactive.status = ProductStatus::Inactive;
        let sent =
            actions(plan_product(Some(&stored()), &inactive, Revision::new(6), TARGET).unwrap());
        assert_eq!(
            sent,
            vec![
                UpdateAction::Unpublish,
                UpdateAction::SetAttribute {
                    sku: "DRILL-7".into(),
                    name: REVISION_FIELD.into(),
                    value: Some(json!(6)),
                    staged: false
                }
            ]
        );
        let mut unpublished = stored();
        unpublished.master_data.published = false;
        let sent = actions(
            plan_product(Some(&unpublished), &product(), Revision::new(7), TARGET).unwrap(),
        );
        assert_eq!(sent[0], UpdateAction::Publish);
    }

    #[test]
    fn an_older_revision_is_stale_and_a_category_made_by_hand_stays() {
        assert_eq!(
            plan_product(Some(&stored()), &product(), Revision::new(4), TARGET).unwrap(),
            Plan::Stale {
                shop_revision: Revision::new(5)
            }
        );
        let mut with_sale = stored();
        with_sale.master_data.staged.categories.push(CategoryRef {
            id: "cat-sale".into(),
            obj: Some(CategoryObj {
                key: Some("sale".into()),
            }),
        });
        assert_eq!(
            plan_product(Some(&with_sale), &product(), Revision::new(5), TARGET).unwrap(),
            Plan::AlreadyCurrent
        );
    }

    #[test]
    fn skus_keys_slugs_and_codes_fit_what_commercetools_allows() {
        assert_eq!(product_key("DRILL-7"), Some("DRILL-7"));
        assert_eq!(product_key("AB-100/2.x"), None);
        assert_eq!(slug("DRILL-7"), "DRILL-7");
        let odd = slug("AB-100/2.x");
        assert!(
            odd.starts_with("AB-100-2-x-") && odd.len() == "AB-100-2-x-".len() + 8,
            "{odd}"
        );
        assert_ne!(slug("A/1"), slug("A-1"));
        assert_ne!(
            category_key(&["Werkzeug".into(), "Bohrer".into()]),
            category_key(&["Werkzeug Bohrer".into()])
        );
        assert!(category_key(&["Ä".into()]).starts_with("pim-"));
        assert_eq!(attribute_name("color"), "attr-color");
        // BMEcat's classification codes and free-text feature names become valid names,
        // apart from each other, with the code as the label.
        let eclass = attribute_name("classification.ECLASS-9.0");
        assert!(
            eclass.starts_with("attr-classification-ECLASS-9-0-"),
            "{eclass}"
        );
        assert_ne!(attribute_name("Länge (mm)"), attribute_name("L-nge (mm)"));
        assert!(
            attribute_name("Länge (mm)")
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
        let mut bmecat = product();
        bmecat
            .attributes
            .insert("classification.ECLASS-9.0".into(), "23-11-01-01".into());
        let needed = attributes_needed(&bmecat);
        let spec = needed.iter().find(|a| a.name == eclass).unwrap();
        assert_eq!(spec.label, "classification.ECLASS-9.0");
        assert!(plan_product(None, &bmecat, Revision::new(1), TARGET).is_ok());
    }
}

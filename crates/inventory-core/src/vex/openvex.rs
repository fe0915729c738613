//! OpenVEX: documents of 0.2.0 (`vulnerability` an object, `products` components with
//! `subcomponents`) and of the 0.0.x shape vendors still publish (`vulnerability` a string,
//! `products` and `subcomponents` purl strings); the export is 0.2.0.

use super::purl::{self, Product};
use super::{
    invalid, justification, status, text, vulnerability_id, Annotation, At, ParsedVex, Scope, Skipped, Statement,
    StatementText, VexError, VexStatus,
};
use crate::bounded::{EntryList, ItemList};
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(rename = "@id", borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    statements: ItemList<RawStatement<'a>>,
}

#[derive(Deserialize)]
struct RawStatement<'a> {
    #[serde(borrow)]
    vulnerability: Option<Named<'a>>,
    #[serde(default, borrow)]
    products: EntryList<Component<'a>>,
    /// 0.0.x: the statement's subcomponents apply to each of its products.
    #[serde(default, borrow)]
    subcomponents: EntryList<Component<'a>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    justification: Option<Cow<'a, str>>,
    impact_statement: Option<String>,
    action_statement: Option<String>,
    status_notes: Option<String>,
}

/// A vulnerability: 0.2.0's `{"name": …}` or 0.0.x's bare string.
struct Named<'a>(Option<Cow<'a, str>>);

/// A product or subcomponent: 0.2.0's `{"@id": …, "identifiers": {"purl": …}, "subcomponents":
/// […]}` or 0.0.x's bare purl.
#[derive(Default)]
struct Component<'a> {
    id: Option<Cow<'a, str>>,
    purl: Option<Cow<'a, str>>,
    subcomponents: EntryList<Component<'a>>,
}

impl<'a> Component<'a> {
    /// The purl it names: `identifiers.purl`, or an `@id` that is one.
    fn purl(&self) -> Option<&str> {
        self.purl.as_deref().or(self.id.as_deref().filter(|id| id.starts_with("pkg:")))
    }
}

/// What 0.0.x wrote as a string and 0.2.0 as an object, read without buffering either.
enum StrOr<'a, T> {
    Str(Cow<'a, str>),
    Object(T),
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for StrOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Either<T> {
            type Value = StrOr<'de, T>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string or an object")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Owned(value.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(StrOr::Object)
            }
        }
        deserializer.deserialize_any(Either(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Named<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Object<'a> {
            #[serde(borrow)]
            name: Option<Cow<'a, str>>,
        }
        Ok(match StrOr::<Object>::deserialize(deserializer)? {
            StrOr::Str(name) => Named(Some(name)),
            StrOr::Object(object) => Named(object.name),
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Component<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Identifiers<'a> {
            #[serde(borrow)]
            purl: Option<Cow<'a, str>>,
        }
        #[derive(Deserialize)]
        struct Object<'a> {
            #[serde(rename = "@id", borrow)]
            id: Option<Cow<'a, str>>,
            #[serde(borrow)]
            identifiers: Option<Identifiers<'a>>,
            #[serde(default, borrow)]
            subcomponents: EntryList<Component<'a>>,
        }
        Ok(match StrOr::<Object>::deserialize(deserializer)? {
            StrOr::Str(id) => Component { id: Some(id), ..Component::default() },
            StrOr::Object(object) => Component {
                id: object.id,
                purl: object.identifiers.and_then(|identifiers| identifiers.purl),
                subcomponents: object.subcomponents,
            },
        })
    }
}

pub(super) fn parse(body: &[u8]) -> Result<ParsedVex, VexError> {
    let document: Document = super::read(body, "statements")?;
    let source = document.id.map(Cow::into_owned);
    let mut parsed = ParsedVex { format: "openvex", ..ParsedVex::default() };
    // A vendor's document names a few images and packages in thousands of statements.
    let mut products = Products::default();
    for (index, mut raw) in document.statements.0.into_iter().enumerate() {
        let at = At { list: "statements", index };
        let base = statement(at, &mut raw, source.clone())?;
        if raw.products.is_empty() {
            parsed.skipped.push(Skipped { at: at.to_string(), reason: "no products: nothing to apply it to".into() });
            continue;
        }
        for (number, product) in raw.products.iter().enumerate() {
            let at = || format!("{at}.products[{number}]");
            let subcomponents =
                if product.subcomponents.is_empty() { &raw.subcomponents } else { &product.subcomponents };
            expand(at, &base, product, subcomponents, &mut products, &mut parsed);
        }
    }
    Ok(parsed)
}

/// Each purl of a document read once.
#[derive(Default)]
struct Products(HashMap<String, Result<Product, String>>);

impl Products {
    fn get(&mut self, raw: &str) -> Result<Product, String> {
        if let Some(read) = self.0.get(raw) {
            return read.clone();
        }
        let read = purl::product(raw);
        self.0.insert(raw.to_owned(), read.clone());
        read
    }
}

/// The statement's own fields, checked; its scope comes from each product.
fn statement(at: At, raw: &mut RawStatement, source: Option<String>) -> Result<Statement, VexError> {
    let name = raw.vulnerability.as_ref().and_then(|named| named.0.as_deref());
    let name = name.ok_or_else(|| invalid(format!("{at}.vulnerability"), "required: the vulnerability's name"))?;
    let raw_status = raw.status.as_deref().ok_or_else(|| invalid(format!("{at}.status"), "required"))?;
    let checked = StatementText {
        at,
        status: status(format_args!("{at}.status"), raw_status)?,
        justification: justification(format_args!("{at}.justification"), raw.justification.as_deref())?,
        impact_statement: text(format_args!("{at}.impact_statement"), raw.impact_statement.take())?,
        action_statement: text(format_args!("{at}.action_statement"), raw.action_statement.take())?,
    };
    if checked.justification.is_some_and(|justification| !justification.in_openvex()) {
        return Err(invalid(format!("{at}.justification"), "fix_not_planned is not an OpenVEX justification"));
    }
    checked.check_openvex_rules()?;
    Ok(Statement {
        vulnerability_id: vulnerability_id(format_args!("{at}.vulnerability"), name)?,
        status: checked.status,
        justification: checked.justification,
        status_notes: text(format_args!("{at}.status_notes"), raw.status_notes.take())?,
        impact_statement: checked.impact_statement,
        action_statement: checked.action_statement,
        additional_details: None,
        package: None,
        scope: Scope::Account,
        expires_at: None,
        expires_when_fixed: false,
        source,
    })
}

/// One statement per (product, subcomponent), or per product without subcomponents.
fn expand(
    at: impl Fn() -> String,
    base: &Statement,
    product: &Component,
    subcomponents: &[Component],
    products: &mut Products,
    parsed: &mut ParsedVex,
) {
    let Some(purl) = product.purl() else {
        parsed.skipped.push(Skipped { at: at(), reason: "names no purl".into() });
        return;
    };
    let (scope, package) = match products.get(purl) {
        Ok(Product::Image { digest, .. }) => (Scope::Image(digest), None),
        Ok(Product::Repository(repository)) => (Scope::Repository(repository), None),
        Ok(Product::Package(package)) => (Scope::Account, Some(package)),
        Err(reason) => {
            parsed.skipped.push(Skipped { at: at(), reason });
            return;
        }
    };
    if subcomponents.is_empty() || package.is_some() {
        parsed.statements.push(Statement { scope, package, ..base.clone() });
        return;
    }
    for (number, subcomponent) in subcomponents.iter().enumerate() {
        let at = || format!("{}.subcomponents[{number}]", at());
        match subcomponent.purl().map(|purl| products.get(purl)) {
            Some(Ok(Product::Package(package))) => {
                parsed.statements.push(Statement { scope: scope.clone(), package: Some(package), ..base.clone() })
            }
            Some(Ok(_)) => {
                parsed.skipped.push(Skipped { at: at(), reason: "a subcomponent is a package, not an image".into() })
            }
            Some(Err(reason)) => parsed.skipped.push(Skipped { at: at(), reason }),
            None => parsed.skipped.push(Skipped { at: at(), reason: "names no purl".into() }),
        }
    }
}

/// An image's annotations as an OpenVEX 0.2.0 document. OpenVEX needs a reason with every
/// `not_affected` and an action with every `affected`: where an annotation has none (Anchore's
/// body does not require them, and `fix_not_planned` is not OpenVEX's), the export says so in
/// words.
pub fn export(
    id: &str,
    author: &str,
    image: (&str, Option<&str>),
    annotations: &[Annotation],
    now: DateTime<Utc>,
) -> serde_json::Value {
    let (digest, repository) = image;
    let product_id = purl::image(digest, repository);
    let statements: Vec<serde_json::Value> = annotations
        .iter()
        .map(|annotation| {
            let statement = &annotation.statement;
            let mut product = serde_json::json!({ "@id": product_id });
            if let Some(package) = &statement.package {
                product["subcomponents"] = serde_json::json!([{ "@id": purl::package(package) }]);
            }
            let justification = statement.justification.filter(|justification| justification.in_openvex());
            let mut impact = statement.impact_statement.clone();
            if statement.status == VexStatus::NotAffected && justification.is_none() && impact.is_none() {
                impact = Some(match statement.justification {
                    Some(other) => format!("Justification: {}", other.as_str()),
                    None => "Not affected; no justification was given.".to_owned(),
                });
            }
            let mut action = statement.action_statement.clone();
            if statement.status == VexStatus::Affected && action.is_none() {
                action = Some("No action statement was given.".to_owned());
            }
            let mut out = serde_json::json!({
                "vulnerability": { "name": statement.vulnerability_id },
                "products": [product],
                "status": statement.status,
                "timestamp": annotation.updated_at,
            });
            let optional = [
                ("justification", justification.map(|justification| justification.as_str().to_owned())),
                ("impact_statement", impact),
                ("action_statement", action),
                ("status_notes", statement.status_notes.clone()),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    out[name] = serde_json::json!(value);
                }
            }
            out
        })
        .collect();
    serde_json::json!({
        "@context": CONTEXT,
        "@id": id,
        "author": author,
        "timestamp": now,
        "version": 1,
        "statements": statements,
    })
}

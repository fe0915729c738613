//! What `infra/template.yaml` declares for each function: the routes it serves, the
//! environment it gets and the actions its policy allows. The consistency tests and the
//! policy guard compare the code against it.

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::context::Input;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use local_stack::moto::workspace_root;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone, Default)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `METHOD path` of its HttpApi events.
    pub routes: BTreeSet<String>,
    /// Routes whose event turns the authorizer off.
    pub public_routes: BTreeSet<String>,
    /// Environment variable names, the Globals' included.
    pub environment: BTreeSet<String>,
    /// IAM actions its inline policy statements allow, as `service:Operation`.
    pub actions: BTreeSet<String>,
    /// Actions allowed only on some partitions (a `dynamodb:LeadingKeys` condition), with them.
    pub leading_keys: BTreeMap<String, BTreeSet<String>>,
    /// Its timeout in seconds, the Globals' when it sets none.
    pub timeout_seconds: u64,
}

pub fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        local_stack::template::read_template(&workspace_root().join("infra/template.yaml"))
            .expect("the template parses")
    })
}

fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match untag(value) {
        Value::String(text) => vec![text.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn keys(value: &Value) -> impl Iterator<Item = String> + '_ {
    value.as_mapping().into_iter().flat_map(|map| map.keys().filter_map(Value::as_str).map(str::to_owned))
}

/// Statements, including both branches of a conditional (`!If [cond, statement, ...]`).
fn statements(value: &Value) -> Vec<&Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "If" => {
            tagged.value.as_sequence().into_iter().flatten().skip(1).flat_map(statements).collect()
        }
        Value::Sequence(items) => items.iter().flat_map(statements).collect(),
        Value::Mapping(_) => vec![value],
        _ => Vec::new(),
    }
}

/// The documents of `AWS::IAM::Policy` resources attached to `role` (a function's role, as SAM
/// names it: its logical id and `Role`), beside the function's own `Policies`.
fn attached_policies<'a>(template: &'a Value, role: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    template["Resources"].as_mapping().into_iter().flat_map(|resources| resources.values()).filter_map(
        move |resource| {
            let attached = resource["Type"].as_str() == Some("AWS::IAM::Policy")
                && resource["Properties"]["Roles"].as_sequence().into_iter().flatten().any(|named| match named {
                    Value::Tagged(tagged) => tagged.tag == "Ref" && tagged.value.as_str() == Some(role),
                    _ => false,
                });
            attached.then(|| &resource["Properties"]["PolicyDocument"])
        },
    )
}

/// Every function of the template, by the binary it is built from.
pub fn functions() -> &'static BTreeMap<String, FunctionSpec> {
    static FUNCTIONS: OnceLock<BTreeMap<String, FunctionSpec>> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        let template = template();
        let globals: Vec<String> = keys(&template["Globals"]["Function"]["Environment"]["Variables"]).collect();
        let mut functions = BTreeMap::new();
        for (id, resource) in template["Resources"].as_mapping().expect("Resources") {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary =
                resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("each function names its binary");
            let properties = &resource["Properties"];
            let mut spec = FunctionSpec { logical_id: id.as_str().unwrap().to_owned(), ..Default::default() };
            spec.environment.extend(globals.iter().cloned());
            spec.timeout_seconds = properties["Timeout"]
                .as_u64()
                .or_else(|| template["Globals"]["Function"]["Timeout"].as_u64())
                .expect("every function has a timeout");
            spec.environment.extend(keys(&properties["Environment"]["Variables"]));
            for event in properties["Events"].as_mapping().into_iter().flat_map(|events| events.values()) {
                if event["Type"].as_str() != Some("HttpApi") {
                    continue;
                }
                let event = &event["Properties"];
                let route =
                    format!("{} {}", event["Method"].as_str().unwrap().to_uppercase(), event["Path"].as_str().unwrap());
                if event["Auth"]["Authorizer"].as_str() == Some("NONE") {
                    spec.public_routes.insert(route.clone());
                }
                spec.routes.insert(route);
            }
            let mut unconditional = BTreeSet::new();
            let role = format!("{}Role", spec.logical_id);
            for policy in
                properties["Policies"].as_sequence().into_iter().flatten().chain(attached_policies(template, &role))
            {
                for statement in statements(&policy["Statement"]) {
                    if statement["Effect"].as_str() != Some("Allow") {
                        continue;
                    }
                    let actions = strings(&statement["Action"]);
                    // Exact keys, or patterns with `*`; `${Parameter}` stands for its default.
                    let keys: Vec<String> = ["ForAllValues:StringEquals", "ForAllValues:StringLike"]
                        .iter()
                        .flat_map(|operator| strings(&statement["Condition"][*operator]["dynamodb:LeadingKeys"]))
                        .map(|key| with_parameter_defaults(template, &key))
                        .collect();
                    for action in &actions {
                        if keys.is_empty() {
                            unconditional.insert(action.clone());
                        } else {
                            spec.leading_keys.entry(action.clone()).or_default().extend(keys.iter().cloned());
                        }
                    }
                    spec.actions.extend(actions);
                }
            }
            // An action also allowed without the condition is allowed on every partition.
            spec.leading_keys.retain(|action, _| !unconditional.contains(action));
            functions.insert(binary.to_owned(), spec);
        }
        functions
    })
}

pub fn function(binary: &str) -> &'static FunctionSpec {
    functions().get(binary).unwrap_or_else(|| panic!("the template has no function built from binary {binary:?}"))
}

/// Fails any SDK call that the template's policy for `binary` does not allow, so a test that
/// makes the code call something new fails until the policy grants it.
#[derive(Debug, Clone)]
pub struct PolicyGuard {
    binary: &'static str,
}

impl PolicyGuard {
    pub fn new(binary: &'static str) -> Self {
        function(binary);
        Self { binary }
    }
}

/// The action IAM checks for one item of a `TransactWriteItems` call.
fn transact_action(item: &TransactWriteItem) -> &'static str {
    if item.put().is_some() {
        "PutItem"
    } else if item.delete().is_some() {
        "DeleteItem"
    } else if item.update().is_some() {
        "UpdateItem"
    } else {
        "ConditionCheckItem"
    }
}

/// The partition key one item of a transaction names.
fn transact_key(item: &TransactWriteItem) -> Option<String> {
    let key = match (item.put(), item.delete(), item.update(), item.condition_check()) {
        (Some(put), ..) => put.item(),
        (_, Some(delete), ..) => delete.key(),
        (_, _, Some(update), _) => update.key(),
        (_, _, _, Some(check)) => check.key(),
        _ => return None,
    };
    key.get("pk")?.as_s().ok().cloned()
}

/// `value` with each `${Parameter}` replaced by the parameter's default in the template.
fn with_parameter_defaults(template: &Value, value: &str) -> String {
    let mut value = value.to_owned();
    for (name, parameter) in template["Parameters"].as_mapping().into_iter().flatten() {
        if let (Some(name), Some(default)) = (name.as_str(), parameter["Default"].as_str()) {
            value = value.replace(&format!("${{{name}}}"), default);
        }
    }
    value
}

/// IAM's `StringLike`: `*` matches any run of characters.
fn matches_like(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            let Some(rest) = value.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|at| rest.is_char_boundary(*at)).any(|at| matches_like(tail, &rest[at..]))
        }
    }
}

/// The partition keys a request names: what IAM's `dynamodb:LeadingKeys` condition compares
/// (every item's, for a batch write).
fn leading_keys(input: &Input) -> Vec<String> {
    let pk = |item: Option<&HashMap<String, AttributeValue>>| item?.get("pk")?.as_s().ok().cloned();
    if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
        let requests = batch.request_items.iter().flat_map(|items| items.values().flatten());
        return requests
            .filter_map(|request| {
                let put = request.put_request().map(|put| put.item());
                pk(put.or_else(|| request.delete_request().map(|delete| delete.key())))
            })
            .collect();
    }
    if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
        let keys = batch.request_items.iter().flat_map(|tables| tables.values()).flat_map(|read| read.keys());
        return keys.filter_map(|key| pk(Some(key))).collect();
    }
    leading_key(input, pk).into_iter().collect()
}

/// The partition key a single-item request or a `Query` names.
fn leading_key(
    input: &Input,
    pk: impl Fn(Option<&HashMap<String, AttributeValue>>) -> Option<String>,
) -> Option<String> {
    if let Some(put) = input.downcast_ref::<PutItemInput>() {
        return pk(put.item.as_ref());
    }
    if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
        return pk(delete.key.as_ref());
    }
    if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        return pk(update.key.as_ref());
    }
    if let Some(get) = input.downcast_ref::<GetItemInput>() {
        return pk(get.key.as_ref());
    }
    let query = input.downcast_ref::<QueryInput>()?;
    // The first comparison of the key condition is the partition key's.
    let (_, value) = query.key_condition_expression.as_deref()?.split_once(" = ")?;
    let placeholder = value.split_whitespace().next()?;
    query.expression_attribute_values.as_ref()?.get(placeholder)?.as_s().ok().cloned()
}

/// The IAM prefix of an SDK service name.
fn iam_service(service: &str) -> String {
    match service {
        "EventBridge" => "events".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

impl Intercept for PolicyGuard {
    fn name(&self) -> &'static str {
        "PolicyGuard"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = config.load::<Metadata>().expect("every operation has metadata");
        let service = iam_service(metadata.service());
        // IAM has no action for a transaction: each item in it is authorised as its own write, on
        // its own partition.
        let operations: Vec<(&str, Vec<String>)> = match context.input().downcast_ref::<TransactWriteItemsInput>() {
            Some(transaction) => transaction
                .transact_items()
                .iter()
                .map(|item| (transact_action(item), transact_key(item).into_iter().collect()))
                .collect(),
            None => vec![(metadata.name(), leading_keys(context.input()))],
        };
        let spec = function(self.binary);
        for (operation, keys) in operations {
            let action = format!("{service}:{operation}");
            assert!(
                spec.actions.contains(&action),
                "the {} function called {action}, which {}'s policy in infra/template.yaml does not allow",
                self.binary,
                spec.logical_id
            );
            if let Some(allowed) = spec.leading_keys.get(&action) {
                assert!(!keys.is_empty(), "{action}: no partition key to check");
                for key in keys {
                    assert!(
                        allowed.iter().any(|pattern| matches_like(pattern, &key)),
                        "the {} function called {action} on partition {key:?}; {}'s policy allows only {allowed:?}",
                        self.binary,
                        spec.logical_id
                    );
                }
            }
        }
        Ok(())
    }
}

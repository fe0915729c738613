//! API Gateway v2 events from `events/`, with path, body, account and query replaced, as API
//! Gateway hands them to a function before or after the authorizer ran.

use inventory_store::auth::{Caller, Role, Verdict};
use local_stack::moto::workspace_root;
use serde_json::Value;

/// `api_event` as API Gateway passes it on once the authorizer accepted an admin of the account.
pub fn admin_event(
    event_name: &str,
    path: Option<&str>,
    body: Option<&str>,
    account: Option<&str>,
    query: &[(&str, &str)],
) -> Value {
    let mut event = api_event(event_name, path, body, account, query);
    let caller = Caller { user: "test-admin".into(), account: account.unwrap_or("admin").into(), role: Role::Admin };
    event["requestContext"]["authorizer"] = serde_json::json!({ "lambda": Verdict::Allowed(caller).to_context() });
    event
}

/// A request `method path` as API Gateway passes it after the authorizer let `caller` through.
pub fn caller_event(caller: &Caller, method: &str, path: &str, body: Option<&str>, query: &[(&str, &str)]) -> Value {
    let mut event = request_event(method, path, body, Some(&caller.account), query);
    event["requestContext"]["authorizer"] =
        serde_json::json!({ "lambda": Verdict::Allowed(caller.clone()).to_context() });
    event
}

/// A request `method path` (a JSON body, acting on `account`) before any authorizer ran, with
/// the route key of the route table's route for it.
pub fn request_event(
    method: &str,
    path: &str,
    body: Option<&str>,
    account: Option<&str>,
    query: &[(&str, &str)],
) -> Value {
    let mut event = api_event("get-inventories.json", Some(path), body, account, query);
    if body.is_some() {
        event["headers"]["content-type"] = "application/json".into();
    }
    if let Some(matched) = inventory_store::routes::find(method, path) {
        event["routeKey"] = matched.route.key().into();
        event["requestContext"]["routeKey"] = matched.route.key().into();
    }
    event["requestContext"]["http"]["method"] = method.into();
    event
}

/// An API Gateway v2 event built from `events/<name>` with path, body, `x-anchore-account` and
/// query string replaced, before any authorizer ran.
pub fn api_event(
    event_name: &str,
    path: Option<&str>,
    body: Option<&str>,
    account: Option<&str>,
    query: &[(&str, &str)],
) -> Value {
    let mut event = load_event(event_name);
    // The sample's credentials and authorizer context are the caller's to supply.
    event["requestContext"].as_object_mut().unwrap().remove("authorizer");
    event["headers"].as_object_mut().unwrap().remove("authorization");
    if let Some(path) = path {
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["path"] = path.into();
        if let Some(id) = path.rsplit('/').next() {
            event["pathParameters"] = serde_json::json!({ "subscription_id": id });
        }
    }
    match body {
        Some(body) => event["body"] = Value::String(body.to_owned()),
        None => {
            event.as_object_mut().unwrap().remove("body");
        }
    }
    let headers = event["headers"].as_object_mut().unwrap();
    match account {
        Some(account) => headers.insert("x-anchore-account".into(), account.into()),
        None => headers.remove("x-anchore-account"),
    };
    if !query.is_empty() {
        let raw: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode_query(v))).collect();
        event["rawQueryString"] = raw.join("&").into();
        event["queryStringParameters"] = query.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    } else {
        event["rawQueryString"] = "".into();
        event.as_object_mut().unwrap().remove("queryStringParameters");
    }
    event
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub fn load_event(name: &str) -> Value {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).expect("event JSON")
}

/// The body of a sample event, i.e. the agent's report.
pub fn sample_report(event_name: &str) -> Value {
    serde_json::from_str(load_event(event_name)["body"].as_str().unwrap()).unwrap()
}

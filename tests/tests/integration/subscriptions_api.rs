//! The subscription API against a moto server.

use integration_tests::Harness;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

const CLUSTER: &str = "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername";

async fn create(harness: &Harness, account: &str, body: &Value) -> (StatusCode, Value) {
    let response = harness.call("post-subscriptions.json", Some(&body.to_string()), Some(account), &[]).await;
    (response.status, response.body)
}

#[tokio::test]
async fn subscriptions_are_created_inactive_and_activated_with_put() {
    let harness = Harness::new(120, false).await;
    let (status, created) =
        create(&harness, "admin", &json!({"subscription_key": CLUSTER, "subscription_type": "runtime_inventory"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let created = &created[0];
    assert_eq!(created["active"], false);
    assert_eq!(created["account_name"], "admin");
    assert_eq!(created["subscription_key"], CLUSTER);
    assert_eq!(created["subscription_value"], Value::Null);
    for field in ["subscription_id", "created_at", "last_updated"] {
        assert!(created[field].is_string(), "{field}");
    }
    let id = created["subscription_id"].as_str().unwrap();
    let item_path = format!("/v1/subscriptions/{id}");

    harness.clock.advance(chrono::TimeDelta::minutes(1));
    let activated = harness
        .call_path("put-subscription.json", Some(&item_path), Some(r#"{"active": true}"#), Some("admin"), &[])
        .await;
    assert_eq!(activated.status, StatusCode::OK);
    assert_eq!(activated.body[0]["active"], true);
    assert_ne!(activated.body[0]["last_updated"], created["last_updated"]);

    let fetched = harness
        .call_path("get-subscription.json", Some(&format!("/v2/subscriptions/{id}")), None, Some("admin"), &[])
        .await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body[0]["active"], true);

    let listed = harness
        .call("get-subscriptions.json", None, Some("admin"), &[("subscription_type", "runtime_inventory")])
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let by_key = harness.call("get-subscriptions.json", None, Some("admin"), &[("subscription_key", "other")]).await;
    assert_eq!(by_key.body, json!([]));
    let other_account = harness.call("get-subscriptions.json", None, Some("team"), &[]).await;
    assert_eq!(other_account.body, json!([]));
    let hidden = harness.call_path("get-subscription.json", Some(&item_path), None, Some("team"), &[]).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);

    let deleted = harness.call_path("delete-subscription.json", Some(&item_path), None, Some("admin"), &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = harness.call_path("get-subscription.json", Some(&item_path), None, Some("admin"), &[]).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = harness.call_path("delete-subscription.json", Some(&item_path), None, Some("admin"), &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    // The key is free again once deleted.
    let (status, _) =
        create(&harness, "admin", &json!({"subscription_key": CLUSTER, "subscription_type": "runtime_inventory"}))
            .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn duplicates_and_bad_requests_are_rejected() {
    let harness = Harness::new(120, false).await;
    let body = json!({"subscription_key": CLUSTER, "subscription_type": "runtime_inventory"});
    assert_eq!(create(&harness, "admin", &body).await.0, StatusCode::OK);
    let (status, error) = create(&harness, "admin", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["httpcode"], 409);
    assert_eq!(create(&harness, "team", &body).await.0, StatusCode::OK, "keys are unique per account");

    let cases = [
        (json!({"subscription_key": CLUSTER, "subscription_type": "tag_update_x"}), "subscription_type"),
        (json!({"subscription_key": CLUSTER}), "subscription_type"),
        (json!({"subscription_type": "runtime_inventory"}), "subscription_key"),
        (json!({"subscription_key": " ", "subscription_type": "runtime_inventory"}), "subscription_key"),
        (json!(["x"]), "body"),
    ];
    for (body, field) in cases {
        let (status, error) = create(&harness, "admin", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["detail"]["field"], field, "{body}");
    }
    let listed = harness.call("get-subscriptions.json", None, Some("admin"), &[]).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    let missing = harness
        .call_path(
            "put-subscription.json",
            Some("/v1/subscriptions/nope"),
            Some(r#"{"active": true}"#),
            Some("admin"),
            &[],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let id = listed.body[0]["subscription_id"].as_str().unwrap();
    let path = format!("/v1/subscriptions/{id}");
    let bad_update =
        harness.call_path("put-subscription.json", Some(&path), Some(r#"{"active": "yes"}"#), Some("admin"), &[]).await;
    assert_eq!(bad_update.status, StatusCode::BAD_REQUEST);
    let empty_update = harness.call_path("put-subscription.json", Some(&path), Some("{}"), Some("admin"), &[]).await;
    assert_eq!(empty_update.status, StatusCode::BAD_REQUEST);
}

/// Inputs past DynamoDB's key and item bounds answer 4xx naming the field, never 500.
#[tokio::test]
async fn oversized_keys_values_and_ids_answer_4xx() {
    let harness = Harness::new(120, false).await;
    let long_key = "k".repeat(1010); // its uniqueness guard's key would pass DynamoDB's 1,024 bytes
    let huge_value = "v".repeat(500_000);
    for (body, field) in [
        (json!({"subscription_key": long_key, "subscription_type": "runtime_inventory"}), "subscription_key"),
        (
            json!({"subscription_key": CLUSTER, "subscription_type": "runtime_inventory", "subscription_value": huge_value}),
            "subscription_value",
        ),
    ] {
        let (status, error) = create(&harness, "admin", &body).await;
        assert_eq!((status, error["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{error}");
    }
    assert!(harness.stored_items().await.is_empty());
    let body = json!({"subscription_key": CLUSTER, "subscription_type": "runtime_inventory"});
    let (status, created) = create(&harness, "admin", &body).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/v1/subscriptions/{}", created[0]["subscription_id"].as_str().unwrap());
    let update = json!({"subscription_value": huge_value}).to_string();
    let refused = harness.call_path("put-subscription.json", Some(&path), Some(&update), Some("admin"), &[]).await;
    assert_eq!(
        (refused.status, refused.body["detail"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("subscription_value"))
    );
    let long_id = format!("/v1/subscriptions/{}", "a".repeat(2000));
    for (sample, body) in [
        ("get-subscription.json", None),
        ("put-subscription.json", Some(r#"{"active": true}"#)),
        ("delete-subscription.json", None),
    ] {
        let missing = harness.call_path(sample, Some(&long_id), body, Some("admin"), &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{sample}: {}", missing.body);
    }
}

#[tokio::test]
async fn which_subscriptions_scheduled_an_image_is_answered_and_a_bad_digest_refused() {
    let harness = Harness::new(120, false).await;
    let digest = integration_tests::digest(1);
    let path = format!("/v2/images/{digest}/scheduled");
    let none = harness.call_path("get-image-scheduled.json", Some(&path), None, Some("admin"), &[]).await;
    assert_eq!((none.status, &none.body), (StatusCode::OK, &serde_json::json!({"scheduled": []})));

    let bad = harness
        .call_path("get-image-scheduled.json", Some("/v2/images/latest/scheduled"), None, Some("admin"), &[])
        .await;
    assert_eq!((bad.status, bad.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("image_digest")));
}

/// Issue 32, item 12: subscriptions are written without a transaction (moto's failed under the
/// notifier's writes and answered 500); a create that failed half way leaves the key free, and a
/// store that fails answers 503, which clients retry.
#[tokio::test]
async fn subscriptions_need_no_transaction_and_a_failing_store_answers_503() {
    use integration_tests::FailNth;
    use inventory_store::http::ApiFunction;
    let harness = Harness::new(120, false).await;
    let body = json!({"subscription_key": CLUSTER, "subscription_type": "runtime_inventory"});
    harness.requests.reset();
    let (status, created) = create(&harness, "admin", &body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created[0]["subscription_id"].as_str().unwrap().to_owned();
    let deleted = harness
        .call_path("delete-subscription.json", Some(&format!("/v1/subscriptions/{id}")), None, Some("admin"), &[])
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    assert_eq!(harness.requests.get("TransactWriteItems"), 0);

    // The record's write fails after its guard's: the guard goes with it, and a retry succeeds.
    let app_with = |fail: FailNth| {
        let config = subscriptions::Config::from_lookup(|name| harness.environment().lookup(name)).unwrap();
        subscriptions::SubscriptionsApp::build(
            &harness.sdk_for("subscriptions").with_interceptor(fail),
            config,
            harness.clock.clone(),
        )
    };
    let send = |app: subscriptions::SubscriptionsApp,
                event: &'static str,
                path: Option<String>,
                body: Option<String>| async move {
        let event = integration_tests::admin_event(event, path.as_deref(), body.as_deref(), Some("admin"), &[]);
        app.handle(lambda_http::request::from_str(&event.to_string()).unwrap()).await.status()
    };
    let failing = app_with(FailNth::new("PutItem", 2));
    assert_eq!(
        send(failing, "post-subscriptions.json", None, Some(body.to_string())).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, created) = create(&harness, "admin", &body).await;
    assert_eq!(status, StatusCode::OK, "the key is free: {created}");

    // A guard left by a create that died between its writes frees its key once stale.
    let other = json!({"subscription_key": "prod-eu-2", "subscription_type": "runtime_inventory"});
    let guard = |written_at: i64| {
        std::collections::HashMap::from([
            (
                "pk".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(inventory_store::keys::subscription_guard_pk("admin")),
            ),
            (
                "sk".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(inventory_store::keys::subscription_guard_sk(
                    "runtime_inventory",
                    "prod-eu-2",
                )),
            ),
            ("kind".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("subscription_key".into())),
            ("subscription_id".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("0".repeat(32))),
            ("written_at".to_owned(), aws_sdk_dynamodb::types::AttributeValue::N(written_at.to_string())),
        ])
    };
    let now = inventory_store::Clock::now(harness.clock.as_ref()).timestamp();
    let put = |item| harness.dynamodb.put_item().table_name(&harness.table).set_item(Some(item)).send();
    put(guard(now - 10)).await.unwrap();
    assert_eq!(create(&harness, "admin", &other).await.0, StatusCode::CONFLICT, "a create may still be under way");
    put(guard(now - 600)).await.unwrap();
    let (status, created) = create(&harness, "admin", &other).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(create(&harness, "admin", &other).await.0, StatusCode::CONFLICT, "and it is unique again");

    // Listing fails in the store: 503, not 500.
    let failing = app_with(FailNth::new("Query", 1));
    assert_eq!(send(failing, "get-subscriptions.json", None, None).await, StatusCode::SERVICE_UNAVAILABLE);
}

//! The embedded mode's cluster configurations against moto: admins post, list, read and delete
//! them; the credential is stored only as KMS ciphertext bound to its account and cluster, and
//! appears in no answer, no stored item and no log line.

use integration_tests::{load_event, Harness, Response};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "example-service-account-token";

fn sample() -> Value {
    serde_json::from_str(load_event("post-cluster-config.json")["body"].as_str().unwrap()).unwrap()
}

async fn post(harness: &Harness, body: &Value) -> Response {
    harness.call("post-cluster-config.json", Some(&body.to_string()), Some("admin"), &[]).await
}

async fn get(harness: &Harness, name: &str) -> Response {
    let path = format!("/v1/enterprise/inventories/clusters/{name}");
    harness.call_path("get-cluster-config.json", Some(&path), None, Some("admin"), &[]).await
}

#[tokio::test]
async fn an_admin_posts_lists_reads_replaces_and_deletes_a_configuration() {
    let harness = Harness::new(120, false).await;
    let posted = post(&harness, &sample()).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(posted.body["cluster_name"], "prod-eu-1");
    assert_eq!(posted.body["cluster_config"]["cluster_server"], "https://kube.prod-eu-1.example.com:6443");
    assert_eq!(posted.body["cluster_config"]["namespaces"], json!(["all"]));
    assert!(posted.body["cluster_config"].get("credential").is_none() && !posted.body.to_string().contains(TOKEN));
    assert_eq!(posted.body["last_collection"], Value::Null);

    let listed = harness.call("get-cluster-configs.json", None, Some("admin"), &[]).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1), "{}", listed.body);
    let ecs_only = harness.call("get-cluster-configs.json", None, Some("admin"), &[("inventory_type", "ecs")]).await;
    assert_eq!(ecs_only.body, json!([]));
    assert_eq!(get(&harness, "prod-eu-1").await.body, posted.body);
    assert_eq!(harness.call("get-cluster-configs.json", None, Some("team"), &[]).await.body, json!([]), "per account");

    harness.clock.advance(chrono::TimeDelta::minutes(5));
    let mut replaced = sample();
    replaced["cluster_config"]["namespaces"] = json!(["payments"]);
    let again = post(&harness, &replaced).await;
    assert_eq!(again.body["cluster_config"]["namespaces"], json!(["payments"]));
    assert_eq!(again.body["created_at"], posted.body["created_at"]);
    assert_ne!(again.body["updated_at"], posted.body["updated_at"]);

    let path = "/v1/enterprise/inventories/clusters/prod-eu-1";
    let deleted = harness.call_path("delete-cluster-config.json", Some(path), None, Some("admin"), &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(get(&harness, "prod-eu-1").await.status, StatusCode::NOT_FOUND);
    let twice = harness.call_path("delete-cluster-config.json", Some(path), None, Some("admin"), &[]).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_credential_is_stored_as_ciphertext_bound_to_its_account_and_cluster() {
    let harness = Harness::new(120, false).await;
    assert_eq!(post(&harness, &sample()).await.status, StatusCode::OK);
    let items = harness.stored_items().await;
    let stored = serde_json::to_string(&items.iter().map(|item| format!("{item:?}")).collect::<Vec<_>>()).unwrap();
    assert!(!stored.contains(TOKEN), "the token is stored in plain text");
    let record = items.iter().find(|item| item["pk"].as_s().is_ok_and(|pk| pk == "cluster-configs")).unwrap();
    let base64 = |field: &str| {
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, record[field].as_s().unwrap()).unwrap()
    };
    // Sealed under a data key, which only KMS can decrypt, under the same context.
    let (sealed, data_key) = (base64("credential_ciphertext"), base64("credential_data_key"));
    let kms = aws_sdk_kms::Client::new(&integration_tests::moto_config().await);
    let decrypt = |context: Option<std::collections::HashMap<String, String>>| {
        kms.decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(data_key.clone()))
            .set_encryption_context(context)
            .send()
    };
    let key = decrypt(Some(inventory_store::cluster_config::encryption_context("admin", "prod-eu-1"))).await.unwrap();
    let opened = inventory_store::cluster_config::envelope::open(
        key.plaintext().unwrap().as_ref(),
        "admin",
        "prod-eu-1",
        &sealed,
    );
    assert_eq!(opened.unwrap(), TOKEN.as_bytes());
    assert!(
        decrypt(Some(inventory_store::cluster_config::encryption_context("team", "prod-eu-1"))).await.is_err(),
        "another account's context"
    );
    assert!(decrypt(None).await.is_err(), "no context");
}

#[tokio::test]
async fn an_unusable_configuration_names_its_field_and_stores_nothing() {
    let harness = Harness::new(120, false).await;
    for (field, edit) in [
        ("cluster_config.cluster_server", json!({"cluster_server": "http://10.0.0.1"})),
        ("cluster_config.credential_type", json!({"credential_type": "password"})),
        ("cluster_config.namespaces", json!({"namespaces": []})),
        ("cluster_config.cluster_certificate", json!({"cluster_certificate": "bm90IHBlbQ=="})),
    ] {
        let mut body = sample();
        for (key, value) in edit.as_object().unwrap() {
            body["cluster_config"][key] = value.clone();
        }
        let refused = post(&harness, &body).await;
        assert_eq!((refused.status, refused.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    let mut slash = sample();
    slash["cluster_name"] = "team/prod".into();
    assert_eq!(post(&harness, &slash).await.body["detail"]["field"], "cluster_name");
    assert!(harness.stored_items().await.is_empty());
}

/// Log lines, as the functions would print them.
#[tokio::test]
async fn no_log_line_carries_the_credential_at_the_most_verbose_level() {
    let captured = integration_tests::LogCapture::start();
    let harness = Harness::new(120, false).await;
    let mut key_cluster = sample();
    key_cluster["cluster_name"] = "with-key".into();
    key_cluster["cluster_config"]["credential_type"] = "private_key".into();
    let key = "-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n";
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key);
    key_cluster["cluster_config"]["credential"] = key.clone().into();
    key_cluster["cluster_config"]["client_certificate"] = sample()["cluster_config"]["cluster_certificate"].clone();
    for body in [sample(), key_cluster] {
        assert_eq!(post(&harness, &body).await.status, StatusCode::OK);
    }
    harness.call("get-cluster-configs.json", None, Some("admin"), &[]).await;

    // The collector decrypts them and reads a reachable cluster with each kind of credential.
    let server = local_stack::kube_api::KubeApiServer::start(TOKEN).await.unwrap();
    server.set_content(vec![local_stack::kube_api::namespace("shop")], Vec::new(), Vec::new());
    let mut reachable = sample();
    reachable["cluster_name"] = "reachable".into();
    reachable["cluster_config"]["cluster_server"] = server.url.clone().into();
    reachable["cluster_config"]["cluster_certificate"] = server.certificate_authority.clone().into();
    let mut reachable_key = reachable.clone();
    reachable_key["cluster_name"] = "reachable-key".into();
    reachable_key["cluster_config"]["credential_type"] = "private_key".into();
    reachable_key["cluster_config"]["credential"] = server.client_key.clone().into();
    reachable_key["cluster_config"]["client_certificate"] = server.client_certificate.clone().into();
    for body in [reachable, reachable_key] {
        assert_eq!(post(&harness, &body).await.status, StatusCode::OK);
    }
    let settings = kubernetes_collector::config::KubernetesConfig {
        cluster_timeout: std::time::Duration::from_secs(1),
        ..kubernetes_collector::config::KubernetesConfig::from_lookup(
            integration_tests::loopback_lookup,
            Some("us-east-1"),
        )
        .unwrap()
    };
    let summary = harness.kubernetes_collector(settings).await.run(None).await;
    assert_eq!(summary.clusters_stored, 2, "{summary:?}");

    let logs = captured.text();
    assert!(logs.contains("cluster configuration stored"), "the capture sees the functions' logs: {logs}");
    assert!(logs.contains("collecting the cluster failed"), "and the collector's: {logs}");
    let server_key = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &server.client_key).unwrap(),
    )
    .unwrap();
    let key_body = server_key.lines().nth(1).unwrap().to_owned();
    for secret in [TOKEN, key.as_str(), "SECRETKEYMATERIAL", server.client_key.as_str(), key_body.as_str()] {
        assert!(!logs.contains(secret), "a credential was logged");
    }
}

use super::*;
use serde_json::{json, Value};

fn pem(kind: &str) -> String {
    STANDARD.encode(format!("-----BEGIN {kind}-----\nMIIBszCCAVmgAwIBAgIU\n-----END {kind}-----\n"))
}

fn body(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut body = json!({
        "cluster_name": "prod-eu-1",
        "inventory_type": "kubernetes",
        "cluster_config": {
            "cluster_server": "https://10.0.0.1:6443",
            "cluster_certificate": pem("CERTIFICATE"),
            "credential_type": "token",
            "credential": "eyJhbGciOiJSUzI1NiJ9.secret-token",
            "namespaces": ["all"]
        }
    });
    edit(&mut body);
    body.to_string().into_bytes()
}

fn field(edit: impl FnOnce(&mut Value)) -> String {
    parse_cluster_config(&body(edit)).unwrap_err().field
}

#[test]
fn the_documented_body_is_read_and_its_credential_kept_out_of_debug() {
    let config = parse_cluster_config(&body(|_| {})).unwrap();
    assert_eq!(config.cluster_name, "prod-eu-1");
    assert_eq!(config.settings.credential_type, CredentialType::Token);
    assert_eq!(config.settings.namespaces, ["all"]);
    assert_eq!(config.credential, "eyJhbGciOiJSUzI1NiJ9.secret-token");
    let shown = format!("{config:?}") + &serde_json::to_string(&config.settings).unwrap();
    assert!(!shown.contains("secret-token"), "{shown}");
    let key = parse_cluster_config(&body(|b| {
        b["cluster_config"]["credential_type"] = "private_key".into();
        b["cluster_config"]["credential"] = pem("RSA PRIVATE KEY").into();
        b["cluster_config"]["client_certificate"] = pem("CERTIFICATE").into();
        b["cluster_config"]["namespaces"] = json!(["payments", "default", "payments"]);
    }))
    .unwrap();
    assert_eq!(key.settings.namespaces, ["default", "payments"]);
    assert!(key.settings.client_certificate.is_some());
}

#[test]
fn each_unusable_field_is_named() {
    assert_eq!(field(|b| b["cluster_name"] = "a/b".into()), "cluster_name");
    assert_eq!(field(|b| b["cluster_name"] = "a#b".into()), "cluster_name");
    assert_eq!(field(|b| b["inventory_type"] = "ecs".into()), "inventory_type");
    assert_eq!(
        field(|b| b["cluster_config"]["cluster_server"] = "http://10.0.0.1".into()),
        "cluster_config.cluster_server"
    );
    assert_eq!(field(|b| b["cluster_config"]["cluster_server"] = "https://".into()), "cluster_config.cluster_server");
    assert_eq!(
        field(|b| b["cluster_config"]["cluster_certificate"] = "not base64!".into()),
        "cluster_config.cluster_certificate"
    );
    let not_pem = STANDARD.encode("hello");
    assert_eq!(
        field(|b| b["cluster_config"]["cluster_certificate"] = not_pem.into()),
        "cluster_config.cluster_certificate"
    );
    assert_eq!(field(|b| b["cluster_config"]["credential_type"] = "password".into()), "cluster_config.credential_type");
    assert_eq!(field(|b| b["cluster_config"]["credential"] = "".into()), "cluster_config.credential");
    let key_without_certificate = |b: &mut Value| {
        b["cluster_config"]["credential_type"] = "private_key".into();
        b["cluster_config"]["credential"] = pem("PRIVATE KEY").into();
    };
    assert_eq!(field(key_without_certificate), "cluster_config.client_certificate");
    let key_not_pem = |b: &mut Value| {
        b["cluster_config"]["credential_type"] = "private_key".into();
        b["cluster_config"]["credential"] = "a-token".into();
    };
    assert_eq!(field(key_not_pem), "cluster_config.credential");
    assert_eq!(field(|b| b["cluster_config"]["namespaces"] = json!([])), "cluster_config.namespaces");
    assert_eq!(field(|b| b["cluster_config"]["namespaces"] = json!(["Bad_Name"])), "cluster_config.namespaces");
    assert_eq!(field(|b| b["cluster_config"]["namespaces"] = json!(["all", "default"])), "cluster_config.namespaces");
    assert_eq!(field(|b| *b = json!({"cluster_name": "x", "inventory_type": "kubernetes"})), "cluster_config");
    assert_eq!(parse_cluster_config(b"[").unwrap_err().field, "body");
    let huge = vec![b' '; MAX_CLUSTER_CONFIG_BODY_BYTES + 1];
    assert!(parse_cluster_config(&huge).unwrap_err().is_too_large());
}

use super::*;
use crate::report::BuiltReport;
use chrono::TimeZone;
use serde_json::json;

const D1: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";
const CLUSTER: &str = "arn:aws:ecs:eu-west-2:123456789012:cluster/c";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 16, 0).unwrap()
}

fn parse(value: &serde_json::Value) -> Result<BuiltReport, FieldError> {
    parse_ecs(value.to_string().as_bytes(), now()).map(ParsedReport::built)
}

#[test]
fn ecs_report_uses_the_cluster_arn_as_context() {
    let body = json!({
        "timestamp": "2026-11-20T10:15:00Z",
        "cluster_name": CLUSTER,
        "containers": [
            {"arn": "ca1", "image_tag": "nginx", "image_digest": D1, "task_arn": "t1"},
            {"arn": "ca2", "image_tag": "worker:2", "image_digest": "UNKNOWN", "task_arn": "t1"}
        ],
        "tasks": [{"arn": "t1", "service_arn": "s1", "tags": null}],
        "services": null
    });
    let report = parse(&body).unwrap();
    assert_eq!(report.contexts.len(), 1);
    let context = &report.contexts[0];
    assert_eq!(context.context, CLUSTER);
    assert_eq!(context.images.len(), 2);
    assert!(context.images.contains_key("tag:docker.io/library/worker:2"));
    assert_eq!(context.details.len(), 3);
    assert!(report.notes.is_empty());
}

#[test]
fn ecs_credential_check_stores_nothing() {
    let body = br#"{"timestamp":"2026-11-20T10:15:00Z","cluster_arn":"validating-creds"}"#;
    assert!(parse_ecs(body, now()).unwrap().contexts.is_empty());
    let missing = br#"{"timestamp":"2026-11-20T10:15:00Z"}"#;
    assert_eq!(parse_ecs(missing, now()).unwrap_err().field, "cluster_arn");
    let empty = br#"{"timestamp":"2026-11-20T10:15:00Z","cluster_arn":""}"#;
    let error = parse_ecs(empty, now()).unwrap_err();
    assert_eq!(error.field, "cluster_arn");
    assert!(error.message.contains("ANCHORE_ECS_INVENTORY_REGION"), "{}", error.message);
}

#[test]
fn containers_without_an_arn_are_kept_per_task() {
    let body = json!({
        "timestamp": "2026-11-20T10:15:00Z",
        "cluster_arn": CLUSTER,
        "containers": [
            {"arn": "", "image_tag": "nginx", "image_digest": D1, "task_arn": "t1"},
            {"arn": "", "image_tag": "redis", "image_digest": "", "task_arn": "t1"},
            {"arn": "", "image_tag": "redis", "image_digest": ""},
            {"arn": "ca4", "image_tag": " ", "task_arn": "t1"}
        ],
        "tasks": [{"arn": "t1"}, {"arn": ""}],
        "services": [{"arn": "s1", "tags": {"k": "v"}}, {"tags": {}}]
    });
    let report = parse(&body).unwrap();
    let skipped: Vec<&str> = report.notes.skipped.iter().map(|note| note.field.as_str()).collect();
    assert_eq!(skipped, ["services[1].arn", "tasks[1].arn", "containers[2].arn", "containers[3].image_tag"]);
    let details = &report.contexts[0].details;
    assert!(details.contains_key("c#t1/container-1") && details.contains_key("c#t1/container-2"), "{details:?}");
    assert_eq!(report.notes.adjusted_count, 2);
}

#[test]
fn the_collectors_report_is_validated_the_same_way() {
    let report = EcsReport {
        timestamp: "2026-11-20T10:15:00Z".into(),
        cluster_arn: Some(CLUSTER.into()),
        containers: vec![EcsContainer { arn: "c1".into(), image_tag: "".into(), image_digest: None, task_arn: None }],
        ..EcsReport::default()
    };
    let parsed = validate_ecs(report, now()).unwrap().built();
    assert_eq!(parsed.notes.skipped[0].field, "containers[0].image_tag");
    assert!(parsed.contexts[0].images.is_empty());
}

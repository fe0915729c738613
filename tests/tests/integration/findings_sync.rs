//! The findings sync against moto: ECR basic scanning's findings where Inspector does not scan
//! the registry, Inspector's once it does, each stored as that source's findings of the image.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use findings_sync::accounts::SyncAccounts;
use findings_sync::sync::SyncSummary;
use findings_sync::threat::{Sources, ThreatConfig};
use findings_sync::{FindingsSyncApp, RunSummary};
use integration_tests::{day, digest, k8s_report, moto_config, moto_static_result, Harness};
use inventory_runtime::EventFunction;
use inventory_store::settings::AwsScope;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

const REGION: &str = local_stack::LOCAL_REGION;
const REGISTRY: &str = "123456789012";

/// Pushes an image to moto's ECR and scans it; its digest.
async fn pushed_and_scanned(ecr: &aws_sdk_ecr::Client, repository: &str) -> String {
    ecr.create_repository().repository_name(repository).send().await.unwrap();
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": digest(77)}, "layers": []});
    let pushed = ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest.to_string())
        .image_tag("1")
        .send()
        .await
        .unwrap();
    let image_digest = pushed.image().unwrap().image_id().unwrap().image_digest().unwrap().to_owned();
    let image = aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(&image_digest).build();
    ecr.start_image_scan().repository_name(repository).image_id(image).send().await.unwrap();
    image_digest
}

/// The function as deployed, reading Inspector and ECR in `scope`, syncing the collector's account.
async fn sync_app(harness: &Harness, scope: AwsScope) -> FindingsSyncApp {
    let config = findings_sync::Config {
        settings: harness.settings.clone(),
        scope,
        accounts: SyncAccounts::from_lookup(|_| None).unwrap(),
        threat: ThreatConfig::from_lookup(|_| None, Sources::Deployed).unwrap(),
    };
    FindingsSyncApp::build(&harness.sdk_for("findings-sync"), config, harness.clock.clone()).await
}

fn event(detail_type: &str, detail: Value) -> lambda_runtime::LambdaEvent<EventBridgeEvent<Value>> {
    let payload: EventBridgeEvent<Value> = serde_json::from_value(json!({
        "version": "0", "id": "e", "detail-type": detail_type, "source": "runtime-inventory",
        "account": REGISTRY, "time": "2026-11-20T10:15:00Z", "region": REGION, "resources": [], "detail": detail
    }))
    .unwrap();
    lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// A findings sync's summary.
async fn synced(app: &FindingsSyncApp, detail_type: &str, detail: Value) -> SyncSummary {
    match app.handle(event(detail_type, detail)).await.unwrap() {
        RunSummary::Findings(summary) => summary,
        other => panic!("not a findings sync: {other:?}"),
    }
}

fn inspector_finding(id: &str, severity: &str, package: &str) -> Value {
    json!({
        "awsAccountId": REGISTRY, "description": "long text", "findingArn": format!("arn:aws:inspector2:{REGION}:{REGISTRY}:finding/{id}"),
        "firstObservedAt": 1795169700.0, "lastObservedAt": 1795169700.0,
        "remediation": {}, "resources": [{"id": "r", "type": "AWS_ECR_CONTAINER_IMAGE"}],
        "severity": severity, "status": "ACTIVE", "type": "PACKAGE_VULNERABILITY",
        "packageVulnerabilityDetails": {"vulnerabilityId": id, "source": "NVD",
            "cvss": [{"baseScore": 9.8, "scoringVector": "v", "source": "NVD", "version": "3.1"}],
            "vulnerablePackages": [{"name": package, "version": "1.22.1", "fixedInVersion": "1.22.4", "packageManager": "GOBINARY"}]}
    })
}

async fn findings_of(harness: &Harness, image_digest: &str) -> Value {
    let path = format!("/v2/images/{image_digest}/vulnerabilities");
    let response = harness.call_path("get-image-vulnerabilities.json", Some(&path), None, Some("admin"), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body
}

#[tokio::test]
async fn ecr_basic_findings_are_stored_until_inspector_scans_the_registry() {
    let harness = Harness::new(120, false).await;
    let config = moto_config().await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let repository = format!("shop/api-{}", harness.table);
    let api_digest = pushed_and_scanned(&ecr, &repository).await;
    let api_tag = format!("{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/{repository}:1");
    moto_static_result(
        "ecr/scan-finding-results",
        &json!({"region": REGION, "results": [{
            "registryId": REGISTRY, "repositoryName": repository, "imageId": {"imageDigest": api_digest},
            "imageScanStatus": {"status": "COMPLETE"},
            "imageScanFindings": {"findings": [{"name": "CVE-2019-1549", "severity": "MEDIUM",
                "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "1.1.1c-r0"}]}]}}]}),
    )
    .await;
    let mut report = k8s_report(
        "prod",
        day(0),
        &[("default", "placeholder", 1), ("default", "docker.io/library/nginx:1", 2), ("default", "placeholder", 3)],
    );
    report["containers"][0]["image_tag"] = api_tag.clone().into();
    report["containers"][0]["image_digest"] = api_digest.clone().into();
    report["containers"][2]["image_tag"] = format!("{REGISTRY}.dkr.ecr.eu-west-3.amazonaws.com/elsewhere:1").into();
    assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);

    let scope = AwsScope { regions: vec![REGION.to_owned()], role_arns: vec![] };
    let app = sync_app(&harness, scope).await;
    let summary = synced(&app, "Scheduled Event", json!({})).await;
    assert_eq!(
        summary,
        SyncSummary {
            images: 2,
            from_ecr: 1,
            skipped: vec![format!(
                "{REGISTRY}.dkr.ecr.eu-west-3.amazonaws.com/elsewhere:1: region eu-west-3 or registry {REGISTRY} is not read (COLLECTOR_REGIONS, COLLECTOR_ROLE_ARNS)"
            )],
            ..SyncSummary::default()
        }
    );
    let stored = findings_of(&harness, &api_digest).await;
    assert_eq!(stored["scanners"][0]["scanner"], "ecr");
    assert_eq!(stored["findings"][0]["vulnerability_id"], "CVE-2019-1549");
    assert_eq!(stored["findings"][0]["package"], json!({"name": "openssl", "version": "1.1.1c-r0"}));

    // Inspector now scans the registry: an Image Added event reads its findings.
    let inspector = aws_sdk_inspector2::Client::new(&config);
    inspector
        .enable()
        .account_ids(REGISTRY)
        .resource_types(aws_sdk_inspector2::types::ResourceScanType::Ecr)
        .send()
        .await
        .unwrap();
    moto_static_result(
        "inspector2/findings-results",
        &json!({"region": REGION, "account_id": REGISTRY, "results": [[inspector_finding("CVE-2024-24790", "CRITICAL", "stdlib")]]}),
    )
    .await;
    let added =
        json!({"account": "admin", "image_digest": api_digest, "image_tag": api_tag, "context": "prod/default"});
    let summary = synced(&app, inventory_store::bus::ADDED_DETAIL_TYPE, added).await;
    assert_eq!((summary.images, summary.from_inspector), (1, 1), "{summary:?}");
    let stored = findings_of(&harness, &api_digest).await;
    let scanners: Vec<&str> =
        stored["scanners"].as_array().unwrap().iter().map(|s| s["scanner"].as_str().unwrap()).collect();
    assert_eq!(scanners, ["ecr", "inspector"]);
    assert_eq!(stored["vulnerabilities"]["critical"], 1);
    assert_eq!(stored["findings"][0]["package"], json!({"name": "stdlib", "version": "1.22.1", "type": "GOBINARY"}));
    assert_eq!(stored["findings"][0]["fixed_in"], json!(["1.22.4"]));

    // Issue 32, item 3: another tenant reporting the operator's image reads none of its findings.
    let other_tenant =
        json!({"account": "tenant-b", "image_digest": api_digest, "image_tag": api_tag, "context": "prod/default"});
    let summary = synced(&app, inventory_store::bus::ADDED_DETAIL_TYPE, other_tenant).await;
    assert_eq!(
        summary.skipped,
        [format!("{api_tag}: registry {REGISTRY} is not synced for account tenant-b (FINDINGS_SYNC_ACCOUNTS)")]
    );
    assert_eq!((summary.from_inspector, summary.from_ecr), (0, 0));
    let tenant_items = harness.stored_items().await;
    let tenant_keys: Vec<&String> = tenant_items.iter().filter_map(|item| item["pk"].as_s().ok()).collect();
    assert!(tenant_keys.iter().all(|pk| !pk.starts_with("tenant-b#")), "{tenant_keys:?}");
}

/// Issue 32, item 6: findings of an image that ran nowhere for `InventoryTtlDays`, and were
/// posted longer ago than that, are removed on the schedule, index entries included; a running
/// image's, and a recent scan of an image not deployed yet, stay.
#[tokio::test]
async fn findings_of_images_that_ran_nowhere_for_the_retention_expire() {
    let harness = Harness::new(120, false).await;
    let grype = |id: &str| {
        json!({"matches": [{"vulnerability": {"id": id, "severity": "Critical"}, "artifact": {"name": "openssl", "version": "1"}}]})
            .to_string()
    };
    let post = |image: String, body: String| {
        let harness = &harness;
        async move {
            let path = format!("/v2/images/{image}/vulnerabilities");
            let answer = harness
                .call_path("post-image-vulnerabilities.json", Some(&path), Some(&body), Some("admin"), &[])
                .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        }
    };
    let (gone, running, recent) = (digest(1), digest(2), digest(3));
    assert_eq!(
        harness.post_k8s(&k8s_report("prod", day(0), &[("default", "app:1", 1)])).await.status,
        StatusCode::CREATED
    );
    post(gone.clone(), grype("CVE-2024-1")).await;
    post(running.clone(), grype("CVE-2024-2")).await;
    // Image 1 leaves the next day; 121 days after that, image 2 still runs and image 3 was just
    // scanned (a departed image's record is kept, live, 120 days after it left).
    for at in [day(1), day(122)] {
        assert_eq!(
            harness.post_k8s(&k8s_report("prod", at, &[("default", "app:2", 2)])).await.status,
            StatusCode::CREATED
        );
    }
    post(recent.clone(), grype("CVE-2024-3")).await;

    let app = sync_app(&harness, AwsScope { regions: Vec::new(), role_arns: Vec::new() }).await;
    let summary = synced(&app, "Scheduled Event", json!({})).await;
    assert_eq!(summary.expired, 1, "{summary:?}");
    let path = format!("/v2/images/{gone}/vulnerabilities");
    let read = harness.call_path("get-image-vulnerabilities.json", Some(&path), None, Some("admin"), &[]).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.body);
    findings_of(&harness, &running).await;
    findings_of(&harness, &recent).await;
    let keys: Vec<String> = harness
        .stored_items()
        .await
        .iter()
        .filter_map(|item| Some(format!("{} {}", item["pk"].as_s().ok()?, item["sk"].as_s().ok()?)))
        .collect();
    let findings_partitions = ["#find#", "#vuln#", "#sev#"];
    let left: Vec<&String> = keys
        .iter()
        .filter(|key| key.contains(&gone) && findings_partitions.iter().any(|partition| key.contains(partition)))
        .collect();
    assert!(left.is_empty(), "no findings of the image are left (its departed record waits for the TTL): {left:#?}");
    let of_running = keys.iter().filter(|key| key.contains(&running) && key.contains("#vuln#")).count();
    assert_eq!(of_running, 1, "the running image's index entry stays");
    // A second run finds nothing more to expire.
    assert_eq!(synced(&app, "Scheduled Event", json!({})).await.expired, 0);
}

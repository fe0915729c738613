//! The template and the code must not drift: every environment variable a function reads is
//! set, every route the code serves is on the API (and nothing else is), and only the public
//! routes skip the authorizer. The actions each function calls are checked against its policy
//! by `PolicyGuard` on the SDK clients of every integration test.

use integration_tests::template::{functions, template};
use inventory_store::routes::{self, Route};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The functions built from this workspace, by binary.
const BINARIES: [&str; 16] = [
    "api-keys",
    "authorizer",
    "clusters",
    "collector",
    "coverage-check",
    "delete",
    "ecs-events",
    "findings-sync",
    "history-export",
    "ingest",
    "kubernetes-collector",
    "notifier",
    "query",
    "subscriptions",
    "version",
    "vex",
];

fn set(items: impl IntoIterator<Item = impl Into<String>>) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

/// A value for each variable a function cannot start without; the rest are unset, so a loader
/// reads every optional variable on its way to their defaults.
fn required(key: &str) -> Option<String> {
    let value = match key {
        inventory_store::settings::TABLE_NAME => "inventory",
        inventory_store::settings::CLUSTER_CREDENTIALS_KEY => "alias/credentials",
        inventory_identity::USERS_PATH => "/runtime-inventory/users",
        inventory_identity::API_KEYS_PATH => "/runtime-inventory/api-keys",
        history_export::HISTORY_ARCHIVE_BUCKET => "archive",
        _ => return None,
    };
    Some(value.to_owned())
}

/// The variables a function's `Config::from_lookup` reads: its one declaration of them. It must
/// load with the required values alone.
fn reads<T, E: std::fmt::Debug>(load: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<T, E>) -> BTreeSet<String> {
    let seen = Mutex::new(BTreeSet::new());
    let loaded = load(&|key: &str| {
        seen.lock().unwrap().insert(key.to_owned());
        required(key)
    });
    loaded.expect("the configuration loads with the required variables set");
    seen.into_inner().unwrap()
}

/// What each function reads from its environment, from its own configuration loader.
fn code_environment() -> BTreeMap<&'static str, BTreeSet<String>> {
    let region = Some("eu-west-2");
    BTreeMap::from([
        ("api-keys", reads(|lookup| api_keys::Config::from_lookup(lookup))),
        ("authorizer", reads(|lookup| authorizer::Config::from_lookup(lookup))),
        ("clusters", reads(|lookup| clusters::Config::from_lookup(lookup))),
        ("collector", reads(|lookup| collector::Config::from_lookup(lookup, region))),
        ("coverage-check", reads(|lookup| coverage_check::Config::from_lookup(lookup))),
        ("delete", reads(|lookup| delete::Config::from_lookup(lookup))),
        ("ecs-events", reads(|lookup| ecs_events::Config::from_lookup(lookup))),
        ("findings-sync", reads(|lookup| findings_sync::Config::from_lookup(lookup, region))),
        ("history-export", reads(|lookup| history_export::Config::from_lookup(lookup))),
        ("ingest", reads(|lookup| ingest::Config::from_lookup(lookup))),
        ("kubernetes-collector", reads(|lookup| kubernetes_collector::Config::from_lookup(lookup, region))),
        ("notifier", reads(|lookup| notifier::Config::from_lookup(lookup))),
        ("query", reads(|lookup| query::Config::from_lookup(lookup))),
        ("subscriptions", reads(|lookup| subscriptions::Config::from_lookup(lookup))),
        ("version", BTreeSet::new()),
        ("vex", reads(|lookup| vex::Config::from_lookup(lookup))),
    ])
}

#[test]
fn every_function_of_the_workspace_is_in_the_template() {
    // `functions/` holds exactly the deployed functions: libraries, the local stack and bench
    // fixtures live elsewhere.
    let listed = std::fs::read_dir(local_stack::moto::workspace_root().join("functions")).expect("functions/");
    let listed = set(listed.map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned()));
    assert_eq!(listed, set(BINARIES), "ls functions");
    assert_eq!(set(functions().keys().cloned()), set(BINARIES), "the template's functions");
    assert_eq!(set(code_environment().keys().copied()), set(BINARIES));
}

#[test]
fn every_variable_the_template_sets_for_one_function_is_read() {
    // The Globals' (the table, its settings, RUST_LOG) go to every function.
    let globals = &template()["Globals"]["Function"]["Environment"]["Variables"];
    let globals = set(globals.as_mapping().expect("global variables").keys().filter_map(|key| key.as_str()));
    for (binary, reads) in code_environment() {
        let spec = &functions()[binary];
        let unread: Vec<&String> =
            spec.environment.difference(&reads).filter(|name| !globals.contains(*name)).collect();
        assert!(unread.is_empty(), "{} ({binary}) is given {unread:?}, which it never reads", spec.logical_id);
    }
}

#[test]
fn every_variable_a_function_reads_is_set_by_the_template() {
    for (binary, reads) in code_environment() {
        let spec = &functions()[binary];
        let missing: Vec<&String> = reads.difference(&spec.environment).collect();
        assert!(
            missing.is_empty(),
            "{} ({binary}) reads {missing:?}, which the template does not set",
            spec.logical_id
        );
    }
}

/// API Gateway's route for requests no other route matches, as the template helper writes it.
const DEFAULT_ROUTE: &str = "ANY $default";

#[test]
fn the_api_serves_exactly_the_routes_of_the_route_table() {
    for (binary, spec) in functions() {
        let mut expected = set(routes::of_function(binary).map(Route::key));
        if binary == routes::FALLBACK_FUNCTION {
            expected.insert(DEFAULT_ROUTE.to_owned());
        }
        assert_eq!(spec.routes, expected, "{} ({binary}): template routes vs the route table", spec.logical_id);
    }
    // And every route of the table is some function's in the template.
    let served: BTreeSet<String> = functions().values().flat_map(|spec| spec.routes.iter().cloned()).collect();
    for route in routes::ROUTES {
        assert!(served.contains(&route.key()), "{} is in the route table but not in the template", route.key());
    }
}

#[test]
fn only_the_public_routes_skip_the_authorizer() {
    let public: BTreeSet<String> = functions().values().flat_map(|spec| spec.public_routes.iter().cloned()).collect();
    let mut expected = set(routes::ROUTES.iter().filter(|route| route.permission.is_none()).map(Route::key));
    expected.insert(DEFAULT_ROUTE.to_owned());
    assert_eq!(public, expected);

    let auth = &template()["Resources"]["HttpApi"]["Properties"]["Auth"];
    let default = auth["DefaultAuthorizer"].as_str().expect("the API has a default authorizer");
    let authorizer = &auth["Authorizers"][default];
    let function_arn = format!("{:?}", authorizer["FunctionArn"]);
    assert!(function_arn.contains(&functions()["authorizer"].logical_id), "{function_arn}");
    assert_eq!(authorizer["AuthorizerPayloadFormatVersion"].as_str(), Some("2.0"));
    assert_eq!(authorizer["EnableSimpleResponses"].as_bool(), Some(true));
}

#[test]
fn policies_name_actions_not_wildcards() {
    // The version function calls nothing, so it is allowed nothing.
    assert!(functions()["version"].actions.is_empty());
    for (binary, spec) in functions().iter().filter(|(binary, _)| *binary != "version") {
        assert!(!spec.actions.is_empty(), "{binary} has no policy");
        for action in &spec.actions {
            assert!(!action.contains('*'), "{} allows {action}", spec.logical_id);
        }
    }
}

#[test]
fn a_context_lease_outlives_every_function_that_can_hold_one() {
    use inventory_store::lease::{LEASE_DURATION, LEASE_WRITE_MARGIN};
    // Ingest and DELETE take leases; the collectors store through the ingest library.
    for binary in ["ingest", "delete", "collector", "kubernetes-collector"] {
        let timeout = chrono::TimeDelta::seconds(functions()[binary].timeout_seconds as i64);
        assert!(
            timeout + LEASE_WRITE_MARGIN <= LEASE_DURATION,
            "{binary} may run {timeout}, longer than a lease of {LEASE_DURATION} less its write margin"
        );
    }
    assert_eq!(functions()["collector"].timeout_seconds, 240);
    assert_eq!(functions()["delete"].timeout_seconds, 120);
}

#[test]
fn the_api_url_output_is_the_form_the_agents_need() {
    // The agents GET `url + "/version"` and POST to the URL's path + `v2/...`: no trailing
    // slash and no path, or they ask for `//version` and `/prodv2/...`.
    let value = &template()["Outputs"]["ApiUrl"]["Value"];
    let url = match value {
        serde_yaml::Value::Tagged(tagged) => tagged.value.as_str().unwrap().to_owned(),
        other => other.as_str().unwrap().to_owned(),
    };
    let after_scheme = url.strip_prefix("https://").expect("an https URL");
    assert!(!after_scheme.contains('/'), "{url} has a path or a trailing slash");
}

#[test]
fn a_notifier_claim_outlives_the_notifier() {
    let timeout = chrono::TimeDelta::seconds(functions()["notifier"].timeout_seconds as i64);
    assert!(timeout < notifier::notify::CLAIM_DURATION, "a live notifier's claim could be taken over");
}

#[test]
fn the_errors_alarms_watch_every_function() {
    let mut watched = BTreeSet::new();
    for alarm in ["FunctionErrorsAlarm", "BackgroundFunctionErrorsAlarm"] {
        let metrics =
            template()["Resources"][alarm]["Properties"]["Metrics"].as_sequence().expect("metric math").clone();
        let read = metrics.iter().filter(|metric| !metric["MetricStat"].is_null()).count();
        assert!(read <= 10, "{alarm} reads {read} metrics; CloudWatch refuses more than 10 in one alarm");
        watched.extend(lambda_error_metrics(&metrics));
    }
    assert_eq!(watched, set(functions().values().map(|spec| spec.logical_id.clone())));
}

/// The functions whose `Errors` the metrics read.
fn lambda_error_metrics(metrics: &[serde_yaml::Value]) -> BTreeSet<String> {
    let mut watched = BTreeSet::new();
    for metric in metrics {
        let stat = &metric["MetricStat"]["Metric"];
        if stat.is_null() {
            continue;
        }
        assert_eq!((stat["Namespace"].as_str(), stat["MetricName"].as_str()), (Some("AWS/Lambda"), Some("Errors")));
        for dimension in stat["Dimensions"].as_sequence().unwrap() {
            if let serde_yaml::Value::Tagged(reference) = &dimension["Value"] {
                watched.insert(reference.value.as_str().unwrap().to_owned());
            }
        }
    }
    watched
}

#[test]
fn the_stale_clusters_alarm_reads_the_metric_the_check_emits() {
    use coverage_check::staleness::STALE_CLUSTERS_METRIC;
    use inventory_store::metrics::{METRIC_NAMESPACE, TABLE_DIMENSION as METRIC_DIMENSION};
    let alarm = &template()["Resources"]["StaleClustersAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"].as_str(), Some(METRIC_NAMESPACE));
    assert_eq!(alarm["MetricName"].as_str(), Some(STALE_CLUSTERS_METRIC));
    assert_eq!(alarm["Dimensions"][0]["Name"].as_str(), Some(METRIC_DIMENSION));
    // The dimension's value is the table, which the check names from INVENTORY_TABLE.
    assert!(format!("{:?}", alarm["Dimensions"][0]["Value"]).contains("InventoryTable"));
}

#[test]
fn the_coverage_check_writes_only_its_markers() {
    let spec = &functions()["coverage-check"];
    for action in ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"] {
        assert_eq!(spec.leading_keys.get(action), Some(&set([inventory_store::keys::STALE_MARKERS_PK])), "{action}");
    }
}

#[test]
fn the_collector_and_the_ecs_events_touch_only_their_accounts_partitions() {
    let account = inventory_store::auth::DEFAULT_ACCOUNT;
    for binary in ["collector", "ecs-events"] {
        let spec = &functions()[binary];
        for action in ["GetItem", "Query", "PutItem", "DeleteItem", "BatchWriteItem"] {
            let action = format!("dynamodb:{action}");
            assert_eq!(spec.leading_keys.get(&action), Some(&set([&format!("{account}#*")])), "{binary} {action}");
        }
    }
}

#[test]
fn the_table_outlives_its_stack_and_scheduled_images_are_never_dropped() {
    let resources = &template()["Resources"];
    let table = &resources["InventoryTable"];
    assert_eq!(
        (table["DeletionPolicy"].as_str(), table["UpdateReplacePolicy"].as_str()),
        (Some("Retain"), Some("Retain"))
    );
    let target = &resources["ScheduledImagesRule"]["Properties"]["Targets"][0];
    assert!(target["RetryPolicy"]["MaximumEventAgeInSeconds"].as_u64().is_some(), "{target:?}");
    assert!(format!("{:?}", target["DeadLetterConfig"]["Arn"]).contains("ScheduledImagesDeadLetterQueue"));
}

#[test]
fn task_events_are_applied_only_while_the_collector_sweeps() {
    // An event sees one task; a sweep repairs what events miss, so events never run alone.
    let condition = format!("{:?}", template()["Conditions"]["AppliesEcsEvents"]);
    assert!(condition.contains("EcsEventsEnabled") && condition.contains("CollectorScheduled"), "{condition}");
}

#[test]
fn the_template_bounds_the_retention_as_the_functions_do() {
    let parameter = &template()["Parameters"]["InventoryTtlDays"];
    assert_eq!(parameter["MaxValue"].as_u64(), Some(u64::from(inventory_store::limits::MAX_TTL_DAYS)));
}

#[test]
fn the_exposure_alarm_watches_the_metric_the_findings_sync_prints() {
    use findings_sync::metrics::{EXPOSED_WORKLOADS_METRIC, SEVERITY_DIMENSION};
    use inventory_store::metrics::{METRIC_NAMESPACE, TABLE_DIMENSION};
    let alarm = &integration_tests::template::template()["Resources"]["ExposedWorkloadsAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"].as_str(), Some(METRIC_NAMESPACE));
    assert_eq!(alarm["MetricName"].as_str(), Some(EXPOSED_WORKLOADS_METRIC));
    assert_eq!(alarm["Dimensions"][0]["Name"].as_str(), Some(TABLE_DIMENSION));
    assert_eq!(alarm["Dimensions"][1]["Name"].as_str(), Some(SEVERITY_DIMENSION));
    assert_eq!(alarm["Dimensions"][1]["Value"].as_str(), Some(inventory_store::findings::Severity::Critical.as_str()));
}

#[test]
fn the_worklist_alarms_watch_the_metrics_the_check_prints() {
    use inventory_store::metrics::{METRIC_NAMESPACE, TABLE_DIMENSION};
    use notifier::notify::check::{KEV_EXPOSED_WORKLOADS_METRIC, OVERDUE_EXPOSURES_METRIC};
    let resources = &integration_tests::template::template()["Resources"];
    for (alarm, metric) in [
        ("KevExposedWorkloadsAlarm", KEV_EXPOSED_WORKLOADS_METRIC),
        ("OverdueExposuresAlarm", OVERDUE_EXPOSURES_METRIC),
    ] {
        let alarm = &resources[alarm]["Properties"];
        assert_eq!(alarm["Namespace"].as_str(), Some(METRIC_NAMESPACE));
        assert_eq!(alarm["MetricName"].as_str(), Some(metric));
        assert_eq!(alarm["Dimensions"][0]["Name"].as_str(), Some(TABLE_DIMENSION));
    }
}

/// The alert path (an API destination behind `AlertWebhookUrl`) takes the two worklist events
/// the code puts, and its message reads fields their details carry.
#[test]
fn the_alert_webhook_rule_matches_the_worklist_events_and_reads_their_fields() {
    use inventory_store::bus::{EVENT_SOURCE, KEV_RUNNING_DETAIL_TYPE, OVERDUE_DETAIL_TYPE};
    let resources = &integration_tests::template::template()["Resources"];
    for resource in ["AlertConnection", "AlertDestination", "AlertRole", "AlertRule"] {
        assert_eq!(resources[resource]["Condition"].as_str(), Some("SendsAlerts"), "{resource}");
    }
    let rule = &resources["AlertRule"]["Properties"];
    let detail_types: BTreeSet<String> = rule["EventPattern"]["detail-type"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(detail_types, set([KEV_RUNNING_DETAIL_TYPE, OVERDUE_DETAIL_TYPE]));
    assert_eq!(rule["EventPattern"]["source"][0].as_str(), Some(EVENT_SOURCE));
    let paths: BTreeSet<String> = rule["Targets"][0]["InputTransformer"]["InputPathsMap"]
        .as_mapping()
        .unwrap()
        .values()
        .map(|path| path.as_str().unwrap().to_owned())
        .collect();
    // The fields both details have (the compiler checks it below).
    let read = set(["$.detail-type", "$.detail.vulnerability_id", "$.detail.context", "$.detail.image_tag"]);
    assert_eq!(paths, read);
    fn _both_details_carry_them(
        overdue: &notifier::notify::check::VulnerabilityOverdue,
        kev: &notifier::notify::worklist::KevRunning,
    ) {
        use notifier::notify::exposure::ExposedIn;
        let notifier::notify::check::VulnerabilityOverdue {
            at: ExposedIn { vulnerability_id: _, context: _, image_tag: _, .. },
            ..
        } = overdue;
        let notifier::notify::worklist::KevRunning {
            at: ExposedIn { vulnerability_id: _, context: _, image_tag: _, .. },
            ..
        } = kev;
    }
}

#[test]
fn the_notifier_stream_filter_passes_every_kind_it_announces() {
    let template = integration_tests::template::template();
    let filters = &template["Resources"]["NotifierFunction"]["Properties"]["Events"]["TableStream"]["Properties"]
        ["FilterCriteria"]["Filters"];
    let patterns: Vec<serde_json::Value> = filters
        .as_sequence()
        .unwrap()
        .iter()
        .map(|filter| serde_json::from_str(filter["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    let passed: BTreeSet<String> = patterns
        .iter()
        .flat_map(|pattern| {
            let images = ["NewImage", "OldImage"].map(|image| pattern["dynamodb"][image]["kind"]["S"].clone());
            images.into_iter().flat_map(|kinds| kinds.as_array().cloned().unwrap_or_default())
        })
        .map(|kind| kind.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(passed, set(notifier::notify::ANNOUNCED_KINDS));
    // Running intervals open and close on an image record's `present` flipping either way.
    let flips: BTreeSet<(bool, bool)> = patterns
        .iter()
        .filter(|pattern| pattern["eventName"] == serde_json::json!(["MODIFY"]))
        .filter(|pattern| pattern["dynamodb"]["NewImage"]["kind"]["S"] == serde_json::json!(["image"]))
        .map(|pattern| {
            let present = |image: &str| pattern["dynamodb"][image]["present"]["BOOL"][0].as_bool().unwrap();
            (present("OldImage"), present("NewImage"))
        })
        .collect();
    assert_eq!(flips, BTreeSet::from([(true, false), (false, true)]));
}

#[test]
fn only_the_clusters_function_encrypts_credentials_and_only_the_kubernetes_collector_decrypts() {
    let allowed = |action: &str| -> BTreeSet<String> {
        functions().iter().filter(|(_, spec)| spec.actions.contains(action)).map(|(binary, _)| binary.clone()).collect()
    };
    assert_eq!(allowed("kms:GenerateDataKey"), set(["clusters"]));
    assert!(allowed("kms:Encrypt").is_empty(), "credentials are sealed under data keys");
    assert_eq!(allowed("kms:Decrypt"), set(["kubernetes-collector"]));
    let kms_actions = |binary: &str| -> BTreeSet<String> {
        functions()[binary].actions.iter().filter(|action| action.starts_with("kms:")).cloned().collect()
    };
    assert_eq!(kms_actions("kubernetes-collector"), set(["kms:Decrypt"]), "it never encrypts");

    // Issue 32, item 10: the key's own policy refuses kms:Decrypt to every other principal (an
    // IAM policy allowing kms:Decrypt on "*" is no way in), and to the collector without a
    // configuration's encryption context.
    let statements = template()["Resources"]["ClusterCredentialsKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("the key's statements");
    let denied = |sid: &str| {
        let statement = statements.iter().find(|statement| statement["Sid"].as_str() == Some(sid)).expect(sid);
        assert_eq!((statement["Effect"].as_str(), statement["Action"].as_str()), (Some("Deny"), Some("kms:Decrypt")));
        format!("{:?}", statement["Condition"])
    };
    let only = denied("OnlyTheKubernetesCollectorDecrypts");
    assert!(only.contains("ArnNotEquals") && only.contains("KubernetesCollectorFunctionRole"), "{only}");
    assert!(denied("DecryptOnlyUnderAnAccountsContext").contains("kms:EncryptionContext:account"));
    assert!(denied("DecryptOnlyUnderAClustersContext").contains("kms:EncryptionContext:cluster_name"));
}

/// A `!Sub` (or plain) string of the template.
fn sub_string(value: &serde_yaml::Value) -> &str {
    match value {
        serde_yaml::Value::Tagged(tagged) => tagged.value.as_str().expect("a !Sub string"),
        other => other.as_str().expect("a string"),
    }
}

/// Whether `json` (one object, no nesting) has exactly the fields `names`, in that order.
fn has_fields_in_order(json: &str, names: &[&str]) -> bool {
    let fields = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).expect("an object");
    let mut at = 0;
    fields.len() == names.len()
        && names.iter().all(|name| match json[at..].find(&format!("\"{name}\":")) {
            Some(found) => {
                at += found + 1;
                true
            }
            None => false,
        })
}

#[test]
fn the_history_table_reads_the_objects_the_export_writes() {
    use history_export::archive::{object_key, ArchivedInterval, INTERVALS_PREFIX};
    let table = &template()["Resources"]["HistoryIntervalsTable"]["Properties"]["TableInput"];
    let storage = &table["StorageDescriptor"];
    let columns: BTreeMap<&str, &str> = storage["Columns"]
        .as_sequence()
        .expect("columns")
        .iter()
        .map(|column| (column["Name"].as_str().unwrap(), column["Type"].as_str().unwrap()))
        .collect();
    let names: Vec<&str> =
        storage["Columns"].as_sequence().unwrap().iter().map(|c| c["Name"].as_str().unwrap()).collect();
    // The columns are a row's fields, in the order the export writes them.
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let place = inventory_store::history::IntervalPlace {
        account: "a".into(),
        inventory_type: inventory_store::model::InventoryType::Ecs,
        context: "arn".into(),
        image_digest: "sha256:1".into(),
    };
    let row = ArchivedInterval::on_day(&place.open("r.example/app:1", Vec::new(), epoch), epoch.date_naive()).unwrap();
    assert!(has_fields_in_order(&serde_json::to_string(&row).unwrap(), &names), "{names:?}");
    let workload = inventory_store::model::WorkloadContainers {
        kind: inventory_store::workload::WorkloadKind::Deployment,
        name: "web".into(),
        containers: 1,
    };
    let workload = serde_json::to_string(&workload).unwrap();
    assert!(has_fields_in_order(&workload, &["kind", "name", "containers"]), "{workload}");
    assert_eq!(columns["workloads"], "array<struct<kind:string,name:string,containers:int>>");
    assert_eq!(columns["running_at_day_end"], "boolean");

    // The partitions the export writes are where the table projects them.
    let location = sub_string(&storage["Location"]);
    assert_eq!(location, format!("s3://${{HistoryArchiveBucket}}/{INTERVALS_PREFIX}"));
    let projected = sub_string(&table["Parameters"]["storage.location.template"])
        .replace("${!dt}", "2026-11-20")
        .replace("s3://${HistoryArchiveBucket}/", "");
    let key = object_key(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    assert!(key.starts_with(&projected) && !key[projected.len()..].contains('/'), "{key} is not under {projected}");
    assert_eq!(table["PartitionKeys"][0]["Name"], "dt");
    assert_eq!(table["Parameters"]["projection.dt.format"], "yyyy-MM-dd");
    assert_eq!(storage["SerdeInfo"]["SerializationLibrary"], "org.openx.data.jsonserde.JsonSerDe");
}

#[test]
fn the_daily_export_runs_only_while_history_is_recorded() {
    // With HistoryRetentionDays 0 there are no intervals: a daily run would write empty days.
    let template = template();
    let condition = format!("{:?}", template["Conditions"]["RecordsHistory"]);
    assert!(condition.contains("Not") && condition.contains("HistoryRetentionDays"), "{condition}");
    let schedule = &template["Resources"]["HistoryExportFunction"]["Properties"]["Events"]["Daily"]["Properties"];
    let state = match &schedule["State"] {
        serde_yaml::Value::Tagged(tagged) if tagged.tag == "!If" => &tagged.value,
        other => panic!("the schedule's state follows no condition: {other:?}"),
    };
    let state: Vec<&str> = state.as_sequence().expect("!If's list").iter().filter_map(|value| value.as_str()).collect();
    assert_eq!(state, ["RecordsHistory", "ENABLED", "DISABLED"]);
}

#[test]
fn ingest_and_the_authorizer_reserve_concurrency_by_default() {
    // A flood of one route's posts is throttled at ingest's reservation instead of taking the
    // account's concurrency from the authorizer, which every route needs (issue 32).
    let template = template();
    for (function, parameter) in
        [("IngestFunction", "IngestReservedConcurrency"), ("AuthorizerFunction", "AuthorizerReservedConcurrency")]
    {
        let reserved = &template["Resources"][function]["Properties"]["ReservedConcurrentExecutions"];
        let reserved = match reserved {
            serde_yaml::Value::Tagged(tagged) if tagged.tag == "!If" => format!("{:?}", tagged.value),
            other => panic!("{function} reserves no concurrency: {other:?}"),
        };
        assert!(reserved.contains(parameter), "{function}: {reserved}");
        let default = template["Parameters"][parameter]["Default"].as_u64().unwrap_or_default();
        assert!(default > 0, "{parameter} reserves none by default");
    }
}

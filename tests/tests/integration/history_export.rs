//! The daily history export against moto's S3: intervals recorded from the stream, exported as
//! one gzip JSON Lines object per day under `dt=` partitions, the same bytes when run again.

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use flate2::read::GzDecoder;
use history_export::archive::{ArchivedInterval, DayRange};
use history_export::export::HistoryExport;
use history_export::HistoryExportApp;
use integration_tests::template::PolicyGuard;
use integration_tests::{day, digest, k8s_report, moto_config, Harness, Notifications, RequestCounter};
use inventory_runtime::EventFunction;
use lambda_http::http::StatusCode;
use std::io::Read;

async fn post(harness: &Harness, notifications: &mut Notifications, hours: i64, containers: &[(&str, &str, u64)]) {
    let at = day(0) + TimeDelta::hours(hours);
    harness.clock.set(at + TimeDelta::minutes(1));
    let answer = harness.post_k8s(&k8s_report("c", at, containers)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
}

/// A bucket of its own: the test's S3 client, and the export's, held to its policy and counted.
async fn bucket(harness: &Harness) -> (aws_sdk_s3::Client, aws_sdk_s3::Client, String, RequestCounter) {
    let config = moto_config().await;
    let bucket = format!("{}-archive", harness.table);
    let s3 = inventory_runtime::sdk::s3_client(&inventory_runtime::Sdk::new(config));
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket created");
    let counter = RequestCounter::default();
    let guarded = s3.config().to_builder().interceptor(PolicyGuard::new("history-export")).interceptor(counter.clone());
    (s3, aws_sdk_s3::Client::from_conf(guarded.build()), bucket, counter)
}

async fn objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.expect("listed");
    listed.contents().iter().filter_map(|object| object.key().map(str::to_owned)).collect()
}

async fn object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = s3.get_object().bucket(bucket).key(key).send().await.expect("object");
    got.body.collect().await.expect("its body").into_bytes().to_vec()
}

/// A day's rows as (context, digest number, started hour, ended hour, running at the day's end).
fn rows(gzip: &[u8]) -> Vec<(String, String, String, Option<String>, bool)> {
    let mut text = String::new();
    GzDecoder::new(gzip).read_to_string(&mut text).expect("gzip JSON Lines");
    text.lines()
        .map(|line| {
            let row: ArchivedInterval = serde_json::from_str(line).expect("a row");
            assert_eq!(
                (row.account.as_str(), row.cluster.as_str(), row.registry.as_str()),
                ("admin", "c", "docker.io")
            );
            (row.context, row.image_digest, row.started_at, row.ended_at, row.running_at_day_end)
        })
        .collect()
}

#[tokio::test]
async fn the_export_writes_one_object_per_day_and_the_same_bytes_when_run_again() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    // Image 1 runs in c/a and c/b from hour 0 (Nov 20); it leaves c/a on Nov 21 (image 2 takes
    // its place) and is back on Nov 22.
    post(&harness, &mut notifications, 0, &[("a", "app:1", 1), ("b", "app:1", 1)]).await;
    post(&harness, &mut notifications, 25, &[("a", "app:2", 2), ("b", "app:1", 1)]).await;
    post(&harness, &mut notifications, 49, &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:1", 1)]).await;

    let (s3, export_s3, bucket, s3_requests) = bucket(&harness).await;
    let export = || HistoryExport::new(harness.store_for("history-export"), export_s3.clone(), bucket.clone());
    let date = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 0, 15, 0).unwrap();
    harness.requests.reset();
    let summary = export().export(DayRange::new(date(20), date(22), now).unwrap()).await.expect("exported");
    assert_eq!(summary.contexts, 2);
    assert_eq!(summary.days.iter().map(|day| day.rows).collect::<Vec<_>>(), [2, 2, 3]);
    // One Query per shard of the list of contexts, one per context; one upload per day.
    let shards = u64::from(inventory_store::keys::INDEX_SHARDS);
    assert_eq!((harness.requests.get("Query"), harness.requests.writes()), (shards + 2, 0));
    assert_eq!(s3_requests.get("PutObject"), 3);

    let keys = objects(&s3, &bucket).await;
    let partitions = ["dt=2026-11-20", "dt=2026-11-21", "dt=2026-11-22"];
    let expected: Vec<String> = partitions.iter().map(|dt| format!("intervals/{dt}/intervals.json.gz")).collect();
    assert_eq!(keys, expected);

    let time = |hours| inventory_store::clock::format_time(day(0) + TimeDelta::hours(hours));
    let (d1, d2) = (digest(1), digest(2));
    let row = |context: &str, digest: &str, from, to: Option<i64>, running| {
        (context.to_owned(), digest.to_owned(), time(from), to.map(time), running)
    };
    assert_eq!(
        rows(&object(&s3, &bucket, &keys[0]).await),
        [row("c/a", &d1, 0, Some(0), false), row("c/b", &d1, 0, None, true)],
        "Nov 20: image 1 in both, its c/a stay ended that day"
    );
    assert_eq!(
        rows(&object(&s3, &bucket, &keys[1]).await),
        [row("c/a", &d2, 25, None, true), row("c/b", &d1, 0, None, true)]
    );
    let nov_22 = object(&s3, &bucket, &keys[2]).await;
    assert_eq!(
        rows(&nov_22),
        [row("c/a", &d1, 49, None, true), row("c/a", &d2, 25, None, true), row("c/b", &d1, 0, None, true)]
    );

    // The schedule's run of Nov 23 at 00:15 writes Nov 22 again: the same object, byte for byte.
    // The function as deployed, its clients counted with the export's.
    let app_keeping = |retention_days| {
        let config =
            history_export::Config { settings: harness.settings.clone(), bucket: bucket.clone(), retention_days };
        let sdk = harness.sdk_for("history-export").with_interceptor(s3_requests.clone());
        HistoryExportApp::build(&sdk, config, harness.clock.clone())
    };
    let app = app_keeping(inventory_store::history::DEFAULT_HISTORY_RETENTION_DAYS);
    harness.clock.set(now);
    let scheduled = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": now});
    let summary = app.handle(lambda_runtime::LambdaEvent::new(scheduled, Default::default())).await.expect("ran");
    assert_eq!(summary.days.len(), 1);
    assert_eq!(object(&s3, &bucket, &keys[2]).await, nov_22);
    assert_eq!(objects(&s3, &bucket).await, expected, "no new object");

    // A day not over yet is refused; nothing is written.
    let today = serde_json::json!({"day": "2026-11-23"});
    let refused = app.handle(lambda_runtime::LambdaEvent::new(today, Default::default())).await;
    assert!(refused.unwrap_err().to_string().contains("has not ended yet"));
    assert_eq!(objects(&s3, &bucket).await, expected);

    // Issue 32, item 5: with history kept 3 days, Nov 20's intervals that ended as it began
    // expired at Nov 23 00:00: exporting it again would replace its object with fewer rows.
    let nov_20 = object(&s3, &bucket, &keys[0]).await;
    let short = app_keeping(3);
    let old = serde_json::json!({"from": "2026-11-20", "to": "2026-11-22"});
    let refused = short.handle(lambda_runtime::LambdaEvent::new(old, Default::default())).await.unwrap_err();
    assert!(refused.to_string().contains("older than the history kept"), "{refused}");
    assert_eq!(object(&s3, &bucket, &keys[0]).await, nov_20, "the archived day is untouched");

    // A data-removal request takes the context's rows out of the archived objects as they are,
    // reading no history from the table.
    harness.requests.reset();
    let removal = serde_json::json!({"remove": {"account": "admin", "inventory_type": "kubernetes", "context": "c/a"},
                                     "from": "2026-11-19", "to": "2026-11-22"});
    let summary = short.handle(lambda_runtime::LambdaEvent::new(removal, Default::default())).await.expect("removed");
    assert_eq!(summary.days.iter().map(|day| day.rows).collect::<Vec<_>>(), [1, 1, 2], "rows taken out");
    assert_eq!(harness.requests.get("Query"), 0);
    // Four days read (Nov 19 has no object); three rewritten, after the three exports and the rerun.
    assert_eq!((s3_requests.get("GetObject"), s3_requests.get("PutObject")), (4, 3 + 1 + 3));
    assert_eq!(rows(&object(&s3, &bucket, &keys[0]).await), [row("c/b", &d1, 0, None, true)]);
    assert_eq!(rows(&object(&s3, &bucket, &keys[2]).await), [row("c/b", &d1, 0, None, true)]);
    assert_eq!(objects(&s3, &bucket).await, expected, "a day without an object is left so");
}

//! The web console in headless Chromium against the API on loopback (moto behind it): signing in
//! through the basic-auth challenge, the clusters posted by the test, a digest search, one image,
//! paging, a subscription created and activated by an admin, and a read-only user without
//! buttons. Screenshots of each view go to `target/console-screenshots/`.

use chrono::TimeDelta;
use integration_tests::browser::{Browser, Page};
use integration_tests::{day, digest, k8s_report, sample_report, Harness};
use inventory_store::auth::Role;
use lambda_http::http::StatusCode;
use local_stack::moto::workspace_root;
use serde_json::{json, Value};

const NGINX: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

async fn shot(page: &Page<'_>, name: &str) {
    page.screenshot(&workspace_root().join("target/console-screenshots").join(format!("{name}.png"))).await;
}

/// Opens `hash` and waits until the view has drawn it.
async fn open(page: &Page<'_>, hash: &str) {
    page.eval(&format!("location.hash = {}", json!(hash))).await;
    page.wait_for(&format!("document.body.dataset.ready === {}", json!(hash))).await;
}

async fn texts(page: &Page<'_>, selector: &str) -> Vec<String> {
    let expression =
        format!("[...document.querySelectorAll({})].map(node => node.textContent.trim())", json!(selector));
    serde_json::from_value(page.eval(&expression).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_inventory_and_lets_only_admins_manage_subscriptions() {
    let harness = Harness::new(120, false).await;
    let staging = k8s_report("staging", day(0), &[("default", "app:1", 1)]);
    assert_eq!(harness.post_k8s(&staging).await.status, StatusCode::CREATED);
    let bulk: Vec<(&str, &str, u64)> = (100..160).map(|n| ("jobs", "batch:1", n)).collect();
    assert_eq!(
        harness.post_k8s(&k8s_report("bulk", day(0) + TimeDelta::hours(10), &bulk)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(harness.post_ecs(&sample_report("post-ecs-inventory.json")).await.status, StatusCode::CREATED);
    assert_eq!(harness.post_k8s(&sample_report("post-kubernetes-inventory.json")).await.status, StatusCode::CREATED);
    let mut notifications = harness.notifications().await;
    let base =
        harness.serve(&[("alice", "alice-password", Role::Admin), ("victor", "victor-password", Role::ReadOnly)]).await;

    let browser = Browser::launch().await;
    let admin = browser.page("alice", "alice-password").await;
    // Signing in: the server's 401 challenge is answered as the browser's prompt would be.
    admin.navigate(&format!("{base}/ui")).await;
    admin.wait_for("document.body.dataset.ready === '#/clusters'").await;
    assert_eq!(admin.eval("document.getElementById('who').textContent").await, "alice (admin)");
    let clusters = texts(&admin, "#clusters tbody tr td:nth-child(2)").await;
    assert!(clusters.contains(&"prod-eu-1".to_owned()) && clusters.contains(&"bulk".to_owned()), "{clusters:?}");
    let statuses = texts(&admin, "#clusters tbody tr td:first-child").await;
    assert_eq!(statuses.first().map(String::as_str), Some("stale"), "stale clusters first: {statuses:?}");
    admin.wait_for("document.querySelector('#per-day svg')").await;
    shot(&admin, "clusters").await;

    // "Where does this run?": one search box, one step.
    admin.eval(&format!("document.getElementById('digest-input').value = {}", json!(NGINX))).await;
    admin.eval("document.querySelector('#digest-search button').click()").await;
    let image_hash = format!("#/image/{}", NGINX.replace(':', "%3A"));
    admin.wait_for(&format!("document.body.dataset.ready === {}", json!(image_hash))).await;
    let contexts = texts(&admin, "#image-contexts tbody tr td:first-child").await;
    assert!(contexts.contains(&"prod-eu-1/default".to_owned()), "{contexts:?}");
    assert!(contexts.iter().any(|context| context.starts_with("arn:aws:ecs:")), "{contexts:?}");
    shot(&admin, "image").await;

    // The table pages through `next`: 60 images of one cluster, 50 a page.
    open(&admin, "#/images?context=bulk%2F").await;
    assert_eq!(texts(&admin, "#images tbody tr").await.len(), 50);
    admin.eval("document.getElementById('next-page').click()").await;
    admin.wait_for("document.querySelectorAll('#images tbody tr').length === 10").await;
    admin.eval("document.querySelector('#images th:nth-child(5) button').click()").await;
    shot(&admin, "images").await;

    // An admin creates a subscription and activates it.
    open(&admin, "#/subscriptions").await;
    admin.eval("document.querySelector('#new-subscription input').value = 'prod-eu-1'").await;
    admin.eval("document.querySelector('#new-subscription button').click()").await;
    admin.wait_for("document.querySelector('#subscriptions tr[data-key=\"prod-eu-1\"] .badge.off')").await;
    admin.eval("document.querySelector('#subscriptions tr[data-key=\"prod-eu-1\"] button.secondary').click()").await;
    admin.wait_for("document.querySelector('#subscriptions tr[data-key=\"prod-eu-1\"] .badge.ok')").await;
    shot(&admin, "subscriptions").await;

    // A new image in prod-eu-1 fires it, and the image's view says so.
    let newer = k8s_report("prod-eu-1", day(1), &[("default", "app:9", 9)]);
    assert_eq!(harness.post_k8s(&newer).await.status, StatusCode::CREATED);
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
    open(&admin, &format!("#/image/{}", digest(9).replace(':', "%3A"))).await;
    let scheduled = admin.eval("document.getElementById('image-scheduled').textContent").await;
    assert!(scheduled.as_str().unwrap().contains("by subscription prod-eu-1"), "{scheduled}");

    // A read-only user sees the subscription without any button.
    let viewer = browser.page("victor", "victor-password").await;
    viewer.navigate(&format!("{base}/ui#/subscriptions")).await;
    viewer.wait_for("document.body.dataset.ready === '#/subscriptions'").await;
    assert_eq!(viewer.eval("document.getElementById('who').textContent").await, "victor (read-only)");
    assert_eq!(texts(&viewer, "#subscriptions tbody tr td:first-child").await, ["prod-eu-1"]);
    assert_eq!(viewer.eval("document.querySelectorAll('main button, #new-subscription').length").await, 0);
    shot(&viewer, "subscriptions-read-only").await;

    // The admin deletes it: two clicks.
    open(&admin, "#/subscriptions").await;
    admin.eval("document.querySelector('#subscriptions tr[data-key=\"prod-eu-1\"] button.danger').click()").await;
    admin.eval("document.querySelector('#subscriptions tr[data-key=\"prod-eu-1\"] button.danger').click()").await;
    admin.wait_for("document.querySelectorAll('#subscriptions tbody tr').length === 0").await;

    // A phone's width: the page fits, tables scroll inside their frame.
    viewer.resize(390, 844, true).await;
    open(&viewer, "#/clusters").await;
    viewer.wait_for("document.querySelector('#per-day svg')").await;
    assert!(viewer.eval("document.documentElement.scrollWidth").await.as_u64().unwrap() <= 390);
    shot(&viewer, "clusters-phone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_the_console_asks_for_them() {
    let harness = Harness::new(120, false).await;
    let base = harness.serve(&[("alice", "alice-password", Role::Admin)]).await;
    let browser = Browser::launch().await;
    let stranger = browser.page("mallory", "wrong").await;
    stranger.navigate(&format!("{base}/ui")).await;
    // The prompt is cancelled after a wrong password: the 401 page stays, no console.
    stranger.wait_for("document.readyState === 'complete' && !document.getElementById('view')").await;
    let body = stranger.eval("document.body ? document.body.textContent : ''").await;
    assert!(
        body.as_str().unwrap_or_default().contains("unauthorized") || body.as_str().unwrap_or_default().contains("401"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_finds_where_a_vulnerability_runs() {
    let harness = Harness::new(120, false).await;
    let containers = [("default", "shop/web:1", 1), ("batch", "shop/web:1", 1), ("default", "shop/db:1", 2)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    for (n, scanner) in [(1, "grype.json"), (2, "trivy.json")] {
        let body = std::fs::read_to_string(workspace_root().join("tests/fixtures/scanners").join(scanner)).unwrap();
        let path = format!("/v2/images/{}/vulnerabilities", digest(n));
        let posted =
            harness.call_path("post-image-vulnerabilities.json", Some(&path), Some(&body), Some("admin"), &[]).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    }
    let base = harness.serve(&[("victor", "victor-password", Role::ReadOnly)]).await;
    let browser = Browser::launch().await;
    let page = browser.page("victor", "victor-password").await;
    page.navigate(&format!("{base}/ui")).await;
    page.wait_for("document.body.dataset.ready === '#/clusters'").await;
    // Per cluster, its running images with critical and high findings.
    let prod = "[...document.querySelectorAll('#clusters tbody tr')].find(row => row.dataset.cluster === 'prod')";
    let critical = page.eval(&format!("{prod}.querySelectorAll('td.exposure')[0].textContent")).await;
    assert_eq!(critical, "2");

    open(&page, "#/vulnerabilities").await;
    assert_eq!(texts(&page, "#exposure tbody tr td:nth-child(3)").await, ["2"]);
    page.eval("document.querySelector('#cve-search input').value = 'CVE-1999-0002'").await;
    page.eval("document.querySelector('#cve-search button').click()").await;
    page.wait_for("document.body.dataset.ready === '#/vulnerability/CVE-1999-0002'").await;
    assert_eq!(texts(&page, "#vulnerability-contexts tbody tr td:nth-child(2)").await, ["prod/batch", "prod/default"]);
    let summary = page.eval("document.getElementById('vulnerability-summary').textContent").await;
    assert!(summary.as_str().unwrap().starts_with("Runs in 2 contexts, from 1 image."), "{summary}");
    shot(&page, "vulnerability").await;

    open(&page, &format!("#/image/{}", digest(2).replace(':', "%3A"))).await;
    let first = texts(&page, "#findings tbody tr:first-child td").await;
    assert_eq!(first[..2], ["CVE-2024-24790".to_owned(), "critical".to_owned()], "{first:?}");
    shot(&page, "image-findings").await;

    open(&page, "#/images?severity=critical").await;
    assert_eq!(texts(&page, "#images tbody tr").await.len(), 3);
    let counts = texts(&page, "#images tbody tr td.vulnerabilities").await;
    assert!(counts.iter().all(|text| text.contains("critical")), "{counts:?}");
    shot(&page, "images-critical").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_images_view_draws_where_it_ran_as_a_timeline() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    // Image 1 runs in c/a and c/b, leaves c/a for an hour and comes back.
    for (hours, containers) in [
        (0, vec![("a", "app:1", 1), ("b", "app:1", 1)]),
        (1, vec![("a", "app:2", 2), ("b", "app:1", 1)]),
        (2, vec![("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:1", 1)]),
    ] {
        harness.clock.set(day(0) + TimeDelta::hours(hours) + TimeDelta::minutes(1));
        let report = k8s_report("c", day(0) + TimeDelta::hours(hours), &containers);
        assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
        let batch = notifications.next_event().await;
        assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
    }
    let base = harness.serve(&[("victor", "victor-password", Role::ReadOnly)]).await;
    let browser = Browser::launch().await;
    let page = browser.page("victor", "victor-password").await;
    page.navigate(&format!("{base}/ui")).await;
    page.wait_for("document.body.dataset.ready === '#/clusters'").await;
    open(&page, &format!("#/image/{}", digest(1).replace(':', "%3A"))).await;
    let rows =
        page.eval("[...document.querySelectorAll('#timeline g[data-context]')].map(g => g.dataset.context)").await;
    assert_eq!(rows, json!(["c/a", "c/b"]));
    let bars = |selector: &str| format!("document.querySelectorAll({}).length", json!(selector));
    assert_eq!(page.eval(&bars("#timeline rect.interval")).await, json!(3), "c/a twice, c/b once");
    assert_eq!(page.eval(&bars("#timeline rect.interval.running")).await, json!(2));
    shot(&page, "image-timeline").await;

    // The images view as of a moment between image 1's two stays in c/a.
    let at = inventory_store::clock::format_time(day(0) + TimeDelta::minutes(90));
    open(&page, &format!("#/images?context=c%2F&at={at}")).await;
    let contexts = texts(&page, "#images-as-of tbody tr td:nth-child(2)").await;
    let images = texts(&page, "#images-as-of tbody tr td:first-child a").await;
    let mut pairs: Vec<(String, String)> = contexts.into_iter().zip(images).collect();
    pairs.sort();
    let ran = |context: &str, tag: &str| (context.to_owned(), format!("docker.io/library/{tag}"));
    assert_eq!(pairs, [ran("c/a", "app:2"), ran("c/b", "app:1")], "image 1 had left c/a then");
    shot(&page, "images-as-of").await;
}

/// Issue 34: once findings run, the console lands on the worklist: ranked rows with KEV and
/// ransomware badges, EPSS percentiles, due dates (overdue in red); a row leads to where the
/// vulnerability runs. The image view's timeline labels keep the page's size, and "1 context"
/// its singular.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lands_on_the_worklist_once_findings_run() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let feeds = local_stack::feeds::FeedServer::start().await.unwrap();
    assert_eq!(harness.threat_loader(&feeds).load().await.failure(), None);
    let containers = [("web", "shop/search:1", 1), ("batch", "shop/search:1", 1), ("web", "shop/db:2", 2)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    let scanners = workspace_root().join("tests/fixtures/scanners");
    let trivy =
        std::fs::read_to_string(scanners.join("trivy.json")).unwrap().replace("CVE-2019-1549", "CVE-2021-44228");
    let grype = std::fs::read_to_string(scanners.join("grype.json")).unwrap();
    for (n, body) in [(1, trivy), (2, grype)] {
        let path = format!("/v2/images/{}/vulnerabilities", digest(n));
        let posted =
            harness.call_path("post-image-vulnerabilities.json", Some(&path), Some(&body), Some("admin"), &[]).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    }
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
    let base = harness.serve(&[("victor", "victor-password", Role::ReadOnly)]).await;
    let browser = Browser::launch().await;
    let page = browser.page("victor", "victor-password").await;
    page.navigate(&format!("{base}/ui")).await;
    page.wait_for("document.body.dataset.ready === '#/worklist'").await;
    let first = texts(&page, "#worklist tbody tr:first-child td").await;
    assert!(
        first[1].starts_with("CVE-2021-44228") && first[1].contains("KEV") && first[1].contains("ransomware"),
        "{first:?}"
    );
    assert_eq!(first[3], "99th (0.944)");
    assert!(first[7].starts_with("overdue since 2021-12-24"), "{first:?}");
    let red =
        page.eval("getComputedStyle(document.querySelector('#worklist tbody tr:first-child td.due')).color").await;
    assert_eq!(red, "rgb(164, 22, 26)", "overdue in red");
    assert_eq!(texts(&page, "#worklist tbody tr").await.len(), 5);
    shot(&page, "worklist").await;
    page.eval("document.querySelector('#worklist tbody tr:first-child a').click()").await;
    page.wait_for("document.body.dataset.ready === '#/vulnerability/CVE-2021-44228'").await;
    assert_eq!(texts(&page, "#vulnerability-contexts tbody tr td:nth-child(2)").await, ["prod/batch", "prod/web"]);

    open(&page, &format!("#/image/{}", digest(2).replace(':', "%3A"))).await;
    let summary = page.eval("document.getElementById('image-summary').textContent").await;
    assert_eq!(summary, "Runs in 1 context of 1 cluster.");
    let label = "document.querySelector('#timeline text').getBoundingClientRect().height";
    let body = "parseFloat(getComputedStyle(document.body).fontSize)";
    let (label, body) = (page.eval(label).await.as_f64().unwrap(), page.eval(body).await.as_f64().unwrap());
    assert!(label < 1.5 * body, "a timeline label {label} px high on a {body} px page");
    shot(&page, "image-timeline-one-context").await;
}

/// Issue 35: an approver annotates a finding on an image's page (pending, with approval
/// required); an admin approves it on the VEX page; the finding is then hidden on the image and
/// the vulnerability pages until the toggle shows it, marked; a read-only user gets no controls;
/// revoking brings the finding back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_annotates_a_finding_has_it_approved_hides_it_and_revokes_it() {
    let harness = Harness::new(120, false).await;
    assert_eq!(
        harness.post_k8s(&k8s_report("prod", day(0), &[("web", "shop/web:1", 1)])).await.status,
        StatusCode::CREATED
    );
    let trivy = std::fs::read_to_string(workspace_root().join("tests/fixtures/scanners/trivy.json")).unwrap();
    let path = format!("/v2/images/{}/vulnerabilities", digest(1));
    let posted =
        harness.call_path("post-image-vulnerabilities.json", Some(&path), Some(&trivy), Some("admin"), &[]).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let users = [
        ("alice", "alice-password", Role::Admin),
        ("vera", "vera-password", Role::VexApprover),
        ("victor", "victor-password", Role::ReadOnly),
    ];
    let (base, _) = harness.serve_with(&users, &[(inventory_store::settings::VEX_REQUIRES_APPROVAL, "true")]).await;
    let browser = Browser::launch().await;
    let image = format!("#/image/{}", digest(1).replace(':', "%3A"));
    let critical = "#findings tr[data-id='CVE-2024-24790']";
    let hidden = |selector: &str| format!("document.querySelector({}).hidden", json!(selector));

    // Vera annotates: not affected, for now pending a second person.
    let vera = browser.page("vera", "vera-password").await;
    vera.navigate(&format!("{base}/ui{image}")).await;
    vera.wait_for(&format!("document.body.dataset.ready === {}", json!(image))).await;
    vera.eval(&format!("document.querySelector({}).querySelector('button.annotate').click()", json!(critical))).await;
    vera.eval(
        "(() => { const form = document.querySelector('form.annotate');
                 form.elements.namedItem('status').value = 'not_affected';
                 form.elements.namedItem('justification').value = 'vulnerable_code_not_in_execute_path';
                 form.elements.namedItem('notes').value = 'the handler never parses paths';
                 form.requestSubmit(); })()",
    )
    .await;
    vera.wait_for("document.querySelector('#image-annotations tbody tr')").await;
    assert_eq!(texts(&vera, "#image-annotations tbody tr td:nth-child(4)").await, ["pending"]);
    assert_eq!(vera.eval(&hidden(critical)).await, json!(false), "a pending annotation suppresses nothing");
    shot(&vera, "vex-pending-on-image").await;
    open(&vera, "#/vex").await;
    assert_eq!(texts(&vera, "#vex-pending tbody tr td:last-child").await, ["another approver decides"]);

    // Alice approves it.
    let alice = browser.page("alice", "alice-password").await;
    alice.navigate(&format!("{base}/ui#/vex")).await;
    alice.wait_for("document.body.dataset.ready === '#/vex'").await;
    shot(&alice, "vex-approvals").await;
    alice.eval("document.querySelector('#vex-pending button.approve').click()").await;
    alice.wait_for("document.querySelector('#vex-annotations tbody tr')").await;
    assert_eq!(texts(&alice, "#vex-annotations tbody tr td:nth-child(5)").await, ["active"]);
    assert_eq!(
        texts(&alice, "#vex-annotations tbody tr td:nth-child(2)").await,
        [format!("image {}", &digest(1)[7..19])]
    );

    // The finding is hidden on the image's page until the toggle shows it, marked.
    open(&alice, &image).await;
    assert_eq!(alice.eval(&hidden(critical)).await, json!(true));
    alice.eval("document.getElementById('show-suppressed-findings').click()").await;
    assert_eq!(alice.eval(&hidden(critical)).await, json!(false));
    assert_eq!(texts(&alice, &format!("{critical} td:nth-child(6)")).await, ["not affected"]);
    shot(&alice, "vex-suppressed-finding").await;
    open(&alice, "#/vulnerability/CVE-2024-24790").await;
    let summary = alice.eval("document.getElementById('vulnerability-summary').textContent").await;
    assert_eq!(summary, "Where it runs, VEX annotations say it does not apply.");
    assert_eq!(alice.eval(&hidden("#vulnerability-contexts tbody tr")).await, json!(true));

    // Read-only: the same page, no controls.
    let victor = browser.page("victor", "victor-password").await;
    victor.navigate(&format!("{base}/ui{image}")).await;
    victor.wait_for(&format!("document.body.dataset.ready === {}", json!(image))).await;
    assert_eq!(victor.eval("document.querySelectorAll('button.annotate, button.danger').length").await, json!(0));

    // Revoked: the finding is back.
    open(&alice, &image).await;
    alice.eval("document.querySelector('#image-annotations button.danger').click()").await;
    alice.eval("document.querySelector('#image-annotations button.danger').click()").await;
    alice.wait_for("document.querySelector('p#image-annotations')").await;
    assert_eq!(alice.eval(&hidden(critical)).await, json!(false));
    assert_eq!(alice.eval("document.getElementById('show-suppressed-findings')").await, Value::Null);
}

/// Issue 36: a package search by purl and range lists where the backdoored xz runs, a time before
/// it started finds nothing, and an image's page lists its packages, each linking to its search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_finds_where_a_package_runs_now_and_at_a_time_and_lists_an_images_packages() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let running = [("web", "shop/web:1", 1), ("batch", "shop/batch:7", 2)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &running)).await.status, StatusCode::CREATED);
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
    let path = workspace_root().join("tests/fixtures/sboms/debian-bookworm-system.cdx.json.gz");
    let sbom = String::from_utf8(inventory_store::gzip::decompress(&std::fs::read(path).unwrap()).unwrap()).unwrap();
    let backdoored =
        sbom.replace("xz-utils@5.4.1-1", "xz-utils@5.6.1-1").replace("liblzma5@5.4.1-1", "liblzma5@5.6.1-1");
    for (n, document) in [(1, &sbom), (2, &backdoored)] {
        let posted = harness.request("POST", &format!("/v2/images/{}/sbom", digest(n)), Some(document), &[]).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    }
    let base = harness.serve(&[("victor", "victor-password", Role::ReadOnly)]).await;
    let browser = Browser::launch().await;
    let page = browser.page("victor", "victor-password").await;
    page.navigate(&format!("{base}/ui#/packages")).await;
    page.wait_for("document.body.dataset.ready === '#/packages'").await;
    let search = |purl: &str, range: &str, at: &str| {
        format!(
            "(() => {{ const form = document.getElementById('package-search');
                      form.elements.namedItem('purl').value = {};
                      form.elements.namedItem('range').value = {};
                      form.elements.namedItem('at').value = {};
                      document.body.dataset.ready = '';
                      form.requestSubmit(); }})()",
            json!(purl),
            json!(range),
            json!(at)
        )
    };
    page.eval(&search("pkg:deb/debian/xz-utils", "vers:deb/>=5.6.0|<=5.6.1", "")).await;
    page.wait_for("document.body.dataset.ready.startsWith('#/packages?')").await;
    assert_eq!(
        texts(&page, "#package-places tbody tr td:first-child").await,
        ["liblzma5 (amd64, from xz-utils)", "xz-utils (amd64)", "xz-utils (source)"]
    );
    assert_eq!(texts(&page, "#package-places tbody tr td:nth-child(4)").await, ["prod/batch"; 3]);
    assert_eq!(texts(&page, "#package-places tbody tr td:nth-child(3)").await, ["docker.io/shop/batch:7"; 3]);
    shot(&page, "packages-search").await;

    page.eval(&search("pkg:deb/debian/xz-utils", "vers:deb/>=5.6.0|<=5.6.1", "2026-11-19")).await;
    page.wait_for("document.body.dataset.ready.startsWith('#/packages?')").await;
    assert_eq!(texts(&page, "#package-places tbody tr").await, Vec::<String>::new());
    assert_eq!(
        page.eval("document.getElementById('status').textContent").await,
        "No image carrying it ran at that time."
    );

    let image = format!("#/image/{}", digest(2).replace(':', "%3A"));
    open(&page, &image).await;
    let summary = page.eval("document.getElementById('image-packages').textContent").await;
    assert!(summary.as_str().unwrap().starts_with("1147 packages from a cyclonedx SBOM"), "{summary}");
    assert_eq!(texts(&page, "#image-package-list tbody tr").await.len(), 1000, "the first page");
    shot(&page, "image-packages").await;
    page.eval(
        "[...document.querySelectorAll('#image-package-list a')].find(a => a.textContent === 'liblzma5 (amd64)').click()",
    )
    .await;
    page.wait_for("document.body.dataset.ready === '#/packages?purl=pkg%3Adeb%2Fdebian%2Fliblzma5'").await;
    assert_eq!(texts(&page, "#package-places tbody tr td:nth-child(2)").await, ["5.4.1-1", "5.6.1-1"]);
}

/// "Sign in with SSO": authorization code with PKCE against the local OIDC provider, the token
/// sent as a bearer token, the person's group mapped to `read-only` on one account; then out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_sso_reads_their_account_and_signs_out() {
    use authorizer::config::{OIDC_AUDIENCE, OIDC_ISSUER, OIDC_ROLE_MAPPING_PARAMETER};
    use inventory_store::Clock;
    use local_stack::oidc::{OidcServer, DEMO_USER, LOCAL_CLIENT_ID};
    let harness = Harness::new(120, false).await;
    let prod = k8s_report("prod-eu-1", day(0), &[("default", "app:1", 1)]);
    assert_eq!(harness.post_k8s(&prod).await.status, StatusCode::CREATED);
    let clock = harness.clock.clone();
    let provider = OidcServer::start(move || clock.now()).await.expect("the provider listens");
    let (mapping, issuer) = (crate::oidc::stored_mapping().await, provider.issuer());
    // The client id as the template gives the stack's Cognito client: by its parameter's name.
    let client_id = format!("/{}/oidc-console-client-id", harness.table);
    let ssm = aws_sdk_ssm::Client::new(&integration_tests::moto_config().await);
    let put = ssm.put_parameter().name(&client_id).value(LOCAL_CLIENT_ID);
    put.r#type(aws_sdk_ssm::types::ParameterType::String).send().await.expect("the client id stored");
    let client_id = format!("ssm:{client_id}");
    let settings = [
        (OIDC_ISSUER, issuer.as_str()),
        (OIDC_AUDIENCE, client_id.as_str()),
        (OIDC_ROLE_MAPPING_PARAMETER, mapping.as_str()),
        (query::console::CONSOLE_CLIENT_ID, client_id.as_str()),
    ];
    let (base, _) = harness.serve_with(&[], &settings).await;

    let browser = Browser::launch().await;
    // No password to give: a basic-auth prompt would be cancelled.
    let person = browser.page("", "").await;
    person.navigate(&format!("{base}/ui/sso")).await;
    person.wait_for("document.body.dataset.ready === 'sign-in'").await;
    assert_eq!(person.eval("document.getElementById('password-sign-in').hidden").await, json!(false));
    shot(&person, "sso-sign-in").await;
    person.eval("document.getElementById('sso-sign-in').click()").await;
    // To the provider, back to /ui/callback with a code, the code and verifier for a token.
    person.wait_for("document.body.dataset.ready === '#/clusters'").await;
    assert_eq!(person.eval("location.pathname").await, "/ui/sso", "the code is not left in the address");
    assert_eq!(person.eval("document.getElementById('who').textContent").await, format!("{DEMO_USER} (read-only)"));
    let clusters = texts(&person, "#clusters tbody tr td:nth-child(2)").await;
    assert_eq!(clusters, ["prod-eu-1"]);
    assert_eq!(provider.requests("/token"), 1);
    shot(&person, "sso-clusters").await;
    // Read-only: no admin controls.
    open(&person, "#/subscriptions").await;
    assert_eq!(person.eval("document.getElementById('new-subscription') === null").await, json!(true));

    person.eval("document.getElementById('sign-out').click()").await;
    person.wait_for("document.body.dataset.ready === 'sign-in'").await;
    assert_eq!(person.eval("sessionStorage.getItem('ri-token')").await, Value::Null);

    // ConsoleBasicAuth=false: /ui sends the browser to the SSO sign-in, without a password prompt.
    let sso_only: Vec<(&'static str, &str)> =
        settings.iter().copied().chain([(query::console::CONSOLE_BASIC_AUTH, "false")]).collect();
    let (base, _) = harness.serve_with(&[], &sso_only).await;
    person.navigate(&format!("{base}/ui")).await;
    person.wait_for("document.body.dataset.ready === 'sign-in'").await;
    assert_eq!(person.eval("location.pathname").await, "/ui/sso");
    assert_eq!(person.eval("document.getElementById('password-sign-in').hidden").await, json!(true));
}

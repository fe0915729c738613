//! The README and `docs/` link to each other and to the repository's files: every link must
//! reach a file that exists and, with `#anchor`, a heading of that file.

use local_stack::moto::workspace_root;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    let kept: String =
        heading.trim().to_lowercase().chars().filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' ')).collect();
    kept.replace(' ', "-")
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// The targets of `[label](target)` links in `text`.
fn links(text: &str) -> Vec<String> {
    text.split("](").skip(1).filter_map(|rest| rest.split_once(')').map(|(target, _)| target.to_owned())).collect()
}

#[test]
fn every_link_of_the_docs_reaches_a_file_and_heading() {
    let root = workspace_root();
    let mut documents: Vec<PathBuf> = ["README.md", "BENCHMARKS.md"].iter().map(|name| root.join(name)).collect();
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
    documents.extend(
        docs.filter_map(|entry| Some(entry.ok()?.path())).filter(|path| path.extension().is_some_and(|e| e == "md")),
    );
    assert!(documents.len() >= 8, "{documents:?}");
    let mut broken = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        for target in links(&text) {
            if target.starts_with("http") || target.contains(' ') {
                continue;
            }
            let (path, heading) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() { document.clone() } else { document.parent().unwrap().join(path) };
            let reached = file.exists()
                && (heading.is_empty()
                    || Path::new(&file).extension().is_none_or(|e| e != "md")
                    || anchors(&std::fs::read_to_string(&file).unwrap()).contains(heading));
            if !reached {
                broken.push(format!("{}: {target}", document.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(broken.is_empty(), "links that reach nothing: {broken:#?}");
}

/// Every request the README's quick start shows names a route of the route table and, with a
/// body, sends it as JSON; the sample report it posts, stamped now as its command stamps it, is
/// stored and listed.
#[tokio::test]
async fn the_quick_start_requests_are_served() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let quick_start = readme.split("## Quick start").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut requests = 0;
    for command in quick_start.split("curl ").skip(1).map(|rest| rest.split(['\n', '|']).next().unwrap()) {
        let Some((_, url)) = command.split_once("http://127.0.0.1:8228") else { continue };
        let path = url.split(['\'', ' ', '?']).next().unwrap().replace("$ID", "0123456789abcdef");
        let method = command.split_once("-X ").map_or("GET", |(_, rest)| rest.split(' ').next().unwrap());
        assert!(
            inventory_store::routes::find(method, &path).is_some(),
            "the quick start's {method} {path} has no route"
        );
        if command.contains("--data") {
            assert!(command.contains("Content-Type: application/json"), "{command}: a body must be sent as JSON");
        }
        requests += 1;
    }
    assert!(requests >= 5, "{requests} requests found in the quick start");
    for sample in quick_start.split("events/").skip(1).map(|rest| rest.split(['"', '`', ' ']).next().unwrap()) {
        assert!(workspace_root().join("events").join(sample).exists(), "events/{sample}");
    }

    let harness = integration_tests::Harness::new(120, false).await;
    let now = chrono::Utc::now();
    harness.clock.set(now);
    let mut report = integration_tests::sample_report("post-kubernetes-inventory.json");
    report["timestamp"] = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
    let posted = harness.post_k8s(&report).await;
    assert_eq!(posted.status, lambda_http::http::StatusCode::CREATED, "{}", posted.body);
    assert!(!harness.list("admin", &[]).await.is_empty());
}

#[test]
fn the_storage_table_lists_every_key_format_in_the_order_of_keys_rs() {
    let storage = std::fs::read_to_string(workspace_root().join("docs/storage.md")).unwrap();
    let documented: Vec<(String, String)> = storage
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(|cell| cell.trim().trim_matches('`')).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect();
    assert_eq!(documented, inventory_store::keys::documented_layout());
}

//! CPU cost of deciding one request: the first request of a user (one Argon2id check) against
//! a repeat within the cache period (an HMAC and a constant-time compare). SSM is scripted, so
//! only the authorizer's own work is timed. Run with `make bench`; numbers are in BENCHMARKS.md.

use authorizer::decide::Authorizer;
use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
use aws_sdk_ssm::types::Parameter;
use aws_sdk_ssm::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use base64::Engine;
use inventory_api::auth::Verdict;
use inventory_identity::api_keys::SsmApiKeys;
use inventory_identity::password::hash_password;
use inventory_identity::users::SsmUsers;
use std::time::{Duration, Instant};

/// `cargo bench` passes `--bench`; under `cargo test` one run checks the bench still works.
fn runs() -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        20
    } else {
        1
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let record = serde_json::json!({"password_hash": hash_password("bench password").unwrap(), "accounts": ["admin"], "role": "inventory-agent"}).to_string();
    let rule = mock!(Client::get_parameter).then_output(move || {
        GetParameterOutput::builder().parameter(Parameter::builder().value(record.clone()).build()).build()
    });
    let rules = [rule];
    let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("agent:bench password"));

    let mut first = Vec::new();
    let mut cached = Vec::new();
    for _ in 0..runs() {
        let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &rules);
        let authorizer = Authorizer::new(
            SsmUsers::new(client.clone(), "/u"),
            SsmApiKeys::new(client, "/k"),
            Duration::from_secs(60),
            std::sync::Arc::new(inventory_core::clock::SystemClock),
        );
        let started = Instant::now();
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
        first.push(started.elapsed());
        let started = Instant::now();
        for _ in 0..100 {
            assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
        }
        cached.push(started.elapsed() / 100);
    }
    println!("first request of a user (Argon2id check): {:?}", median(first));
    println!("repeat within the cache period:            {:?}", median(cached));
}

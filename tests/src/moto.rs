//! One moto server per test binary, started on first use.

use local_stack::moto::MotoServer;
use std::sync::OnceLock;

pub(crate) fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(|| MotoServer::start().expect("moto server starts (run `make test` to install it)"))
}

/// SDK configuration pointing at this binary's moto server.
pub async fn moto_config() -> aws_config::SdkConfig {
    local_stack::moto_sdk_config(moto().endpoint()).await
}

/// Sets one of moto's canned results (`inspector2/findings-results`, `ecr/scan-finding-results`).
pub async fn moto_static_result(path: &str, json: &serde_json::Value) {
    local_stack::moto::set_static_result(moto().endpoint(), path, &json.to_string()).await.expect("moto static result")
}

/// Starts an EC2 instance in moto for `access_key`'s account.
pub async fn moto_ec2_instance(access_key: &str, region: &str) -> String {
    local_stack::moto::run_ec2_instance(moto().endpoint(), access_key, region).await.expect("moto RunInstances")
}

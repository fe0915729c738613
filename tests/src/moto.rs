//! moto servers for a test binary, started on first use: one per core, each test on one of them.
//!
//! moto answers on one Python thread at a time, so a single server kept one core busy while the
//! other waited (the integration binary spent 7:55 of its 8:07 in moto). Each test thread takes the
//! next server of the pool when it first needs one and keeps it, so everything one test does (its
//! tables, canned results, instances) lives on one server.

use local_stack::moto::MotoServer;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

fn servers() -> &'static [OnceLock<MotoServer>] {
    static SERVERS: OnceLock<Vec<OnceLock<MotoServer>>> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        (0..cores.max(2)).map(|_| OnceLock::new()).collect()
    })
}

pub(crate) fn moto() -> &'static MotoServer {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static CHOSEN: Cell<Option<usize>> = const { Cell::new(None) };
    }
    let pool = servers();
    let index = CHOSEN.with(|chosen| {
        chosen.get().unwrap_or_else(|| {
            let index = NEXT.fetch_add(1, Ordering::Relaxed) % pool.len();
            chosen.set(Some(index));
            index
        })
    });
    pool[index].get_or_init(|| MotoServer::start().expect("moto server starts (run `make test` to install it)"))
}

/// SDK configuration pointing at this test's moto server.
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

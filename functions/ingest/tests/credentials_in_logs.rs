//! The ingest binary, run as Lambda runs it (a Runtime API on loopback hands it one API Gateway
//! event) at the most verbose level the functions allow: the caller's basic-auth password and
//! `Authorization` header must not appear anywhere in what it prints.

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PASSWORD: &str = "correct-horse-battery-staple-7781";
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// The Runtime API: the first `next` gets the event, later ones wait; answers are passed on.
async fn serve_runtime_api(listener: TcpListener, event: String, answers: mpsc::UnboundedSender<String>) {
    let event = Arc::new(Mutex::new(Some(event)));
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let (event, answers) = (Arc::clone(&event), answers.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let (event, answers) = (Arc::clone(&event), answers.clone());
                async move {
                    let path = request.uri().path().to_owned();
                    if path == NEXT {
                        let Some(body) = event.lock().unwrap().take() else {
                            std::future::pending::<()>().await;
                            unreachable!();
                        };
                        let deadline = std::time::SystemTime::now() + Duration::from_secs(60);
                        let deadline = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
                        let response = Response::builder()
                            .header("lambda-runtime-aws-request-id", "request-1")
                            .header("lambda-runtime-deadline-ms", deadline.to_string())
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:eu-west-2:123456789012:function:ingest",
                            )
                            .body(Full::new(Bytes::from(body)))
                            .unwrap();
                        return Ok::<_, Infallible>(response);
                    }
                    if !path.starts_with("/2018-06-01/runtime/") {
                        // Standing in for DynamoDB too: every call fails at once, and is logged.
                        let error = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}"#;
                        return Ok(Response::builder().status(400).body(Full::new(Bytes::from(error))).unwrap());
                    }
                    let body = request.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
                    answers.send(format!("{path} {}", String::from_utf8_lossy(&body))).ok();
                    Ok(Response::builder().status(202).body(Full::new(Bytes::new())).unwrap())
                }
            });
            http1::Builder::new().serve_connection(TokioIo::new(stream), service).await.ok();
        });
    }
}

#[tokio::test]
async fn a_request_with_basic_auth_leaves_no_credentials_in_the_logs_even_at_trace() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sample = std::fs::read_to_string(root.join("events/post-kubernetes-inventory.json")).unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&sample).unwrap();
    let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("k8s-agent:{PASSWORD}")));
    event["headers"]["authorization"] = header.clone().into();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    tokio::spawn(serve_runtime_api(listener, event.to_string(), answers_tx));

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ingest"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "ingest")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .env("RUST_LOG", "trace")
        .env("INVENTORY_TABLE", "inventory")
        .env("AWS_REGION", "eu-west-2")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", format!("http://{address}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the ingest binary starts");

    // Drained while it runs: TRACE output would fill the pipes and stall it.
    let drain = |mut pipe: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        tokio::spawn(async move {
            let mut text = String::new();
            pipe.read_to_string(&mut text).await.ok();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let answer = tokio::time::timeout(Duration::from_secs(30), answers.recv()).await.ok().flatten();
    child.kill().await.unwrap();
    let output = stdout.await.unwrap() + &stderr.await.unwrap();
    let answer = answer.unwrap_or_else(|| panic!("the function did not answer:\n{output}"));
    assert!(answer.contains("/invocation/request-1/response"), "{answer}");

    assert!(output.contains("TRACE"), "the most verbose level was on:\n{output}");
    assert!(output.lines().count() > 20, "the run logged in earnest:\n{output}");
    let encoded = header.trim_start_matches("Basic ");
    for secret in [PASSWORD, encoded, &header] {
        assert!(!output.contains(secret), "{secret:?} is in the logs:\n{output}");
    }
}

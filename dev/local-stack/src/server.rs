//! Serves the API routes on loopback with the functions' own handlers, the way API Gateway
//! would invoke them.

use api_keys::ApiKeysApp;
use authorizer::AuthorizerApp;
use bytes::Bytes;
use clusters::ClustersApp;
use delete::DeleteApp;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ingest::IngestApp;
use inventory_runtime::{ConfigError, Sdk};
use inventory_store::http::ApiFunction;
use inventory_store::{routes, Clock};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Body, RequestExt};
use query::QueryApp;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use subscriptions::SubscriptionsApp;
use tokio::net::TcpListener;
use vex::VexApp;

/// The API functions, each answering the routes the route table gives it.
pub struct Functions {
    pub ingest: IngestApp,
    pub query: QueryApp,
    pub delete: DeleteApp,
    pub subscriptions: SubscriptionsApp,
    pub clusters: ClustersApp,
    pub vex: VexApp,
    pub api_keys: ApiKeysApp,
}

impl Functions {
    /// Every API function, each built by its own `build` as its `main` builds it: `sdk` gives a
    /// function's SDK (by the function's name: the test harness adds its policy guard), `lookup`
    /// the environment the template would set.
    pub fn build(
        sdk: impl Fn(&'static str) -> Sdk,
        lookup: impl Fn(&str) -> Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            ingest: IngestApp::build(&sdk(IngestApp::FUNCTION), ingest::Config::from_lookup(&lookup)?, clock.clone()),
            query: QueryApp::build(&sdk(QueryApp::FUNCTION), query::Config::from_lookup(&lookup)?, clock.clone()),
            delete: DeleteApp::build(&sdk(DeleteApp::FUNCTION), delete::Config::from_lookup(&lookup)?, clock.clone()),
            subscriptions: SubscriptionsApp::build(
                &sdk(SubscriptionsApp::FUNCTION),
                subscriptions::Config::from_lookup(&lookup)?,
                clock.clone(),
            ),
            clusters: ClustersApp::build(
                &sdk(ClustersApp::FUNCTION),
                clusters::Config::from_lookup(&lookup)?,
                clock.clone(),
            ),
            vex: VexApp::build(&sdk(VexApp::FUNCTION), vex::Config::from_lookup(&lookup)?, clock.clone()),
            api_keys: ApiKeysApp::build(&sdk(ApiKeysApp::FUNCTION), api_keys::Config::from_lookup(&lookup)?, clock),
        })
    }

    /// Hands a request (already past the authorizer) to the function the route table names;
    /// requests no route matches go to the `$default` function.
    pub async fn dispatch(&self, request: lambda_http::Request) -> lambda_http::Response<Body> {
        let function = routes::find(request.method().as_str(), request.uri().path()).map(|m| m.route.function);
        // Each function's future on the heap: in AWS each runs alone in its own Lambda, and here
        // a future holding every function's state at once outgrew a test thread's 2 MiB stack
        // in debug builds.
        match function {
            Some(function) if function == IngestApp::FUNCTION => Box::pin(self.ingest.handle(request)).await,
            Some(function) if function == QueryApp::FUNCTION => Box::pin(self.query.handle(request)).await,
            Some(function) if function == DeleteApp::FUNCTION => Box::pin(self.delete.handle(request)).await,
            Some(function) if function == SubscriptionsApp::FUNCTION => {
                Box::pin(self.subscriptions.handle(request)).await
            }
            Some(function) if function == ClustersApp::FUNCTION => Box::pin(self.clusters.handle(request)).await,
            Some(function) if function == VexApp::FUNCTION => Box::pin(self.vex.handle(request)).await,
            Some(function) if function == ApiKeysApp::FUNCTION => Box::pin(self.api_keys.handle(request)).await,
            _ => version::respond(&request),
        }
    }
}

pub struct Api {
    /// The authorizer function, run before every route but the public ones.
    pub authorizer: AuthorizerApp,
    pub functions: Functions,
}

impl Api {
    /// Handles one request as API Gateway plus the routed function would: the authorizer runs
    /// unless the route is public (or no route matches), then the function answers.
    pub async fn call(&self, request: lambda_http::Request) -> lambda_http::Response<Body> {
        let route = routes::find(request.method().as_str(), request.uri().path()).map(|matched| matched.route);
        let request = match route.and_then(|route| route.permission) {
            Some(_) => self.authorizer.decide_headers(request.headers()).await.attach(request),
            None => request,
        };
        self.functions.dispatch(request).await
    }
}

fn query_map(query: Option<&str>) -> QueryMap {
    let mut values: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        values.entry(name.into_owned()).or_default().push(value.into_owned());
    }
    QueryMap::from(values)
}

async fn to_lambda(request: hyper::Request<Incoming>) -> Result<lambda_http::Request, hyper::Error> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(error) => Body::Binary(error.into_bytes()),
        }
    };
    let query = query_map(parts.uri.query());
    Ok(lambda_http::Request::from_parts(parts, body).with_query_string_parameters(query))
}

fn from_lambda(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: TcpListener, api: Arc<Api>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let api = Arc::clone(&api);
                async move {
                    let response = match to_lambda(request).await {
                        Ok(request) => from_lambda(api.call(request).await),
                        Err(error) => {
                            tracing::warn!(%error, "reading a request failed");
                            from_lambda(inventory_store::http::ApiError::internal().into_response())
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

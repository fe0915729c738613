//! Agentless EKS: clusters found with `eks:ListClusters`/`eks:DescribeCluster`, read with an IAM
//! token as the AWS IAM authenticator makes one, so no credential is stored.

use crate::config::{EksArn, EksClusters};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use inventory_store::settings::AwsPlace;
use std::time::{Duration, SystemTime};

/// What the IAM authenticator's tokens start with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header naming the cluster a token is for; signed, so a token cannot be replayed on
/// another cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long a presigned URL is valid; EKS refuses tokens older than 15 minutes anyway.
const TOKEN_VALIDITY: Duration = Duration::from_secs(60);

/// A cluster to read, with the place (region, credentials) it was found in.
#[derive(Clone, Debug)]
pub struct EksCluster {
    pub arn: String,
    pub name: String,
    pub endpoint: String,
    /// Base64 PEM, as `DescribeCluster` answers it.
    pub certificate_authority: String,
    pub place: AwsPlace,
}

/// Where EKS clusters are looked up: one region and credentials, its EKS client.
#[derive(Clone, Debug)]
pub struct EksTarget {
    pub place: AwsPlace,
    pub client: aws_sdk_eks::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum EksError {
    #[error("EKS {operation} in {region} failed: {message}")]
    Sdk { operation: &'static str, region: String, message: String },
    #[error("{0}: no configured region and role can describe it")]
    NoTarget(String),
    #[error("EKS cluster {0} has no endpoint or certificate authority yet")]
    NotReady(String),
    #[error("signing the IAM token failed: {0}")]
    Signing(String),
    #[error("no AWS credentials to sign the IAM token with: {0}")]
    Credentials(String),
}

fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    region: &str,
) -> impl FnOnce(aws_sdk_eks::error::SdkError<E, R>) -> EksError {
    let region = region.to_owned();
    move |error| EksError::Sdk {
        operation,
        region,
        message: aws_sdk_eks::error::DisplayErrorContext(error).to_string(),
    }
}

async fn describe(target: &EksTarget, name: &str) -> Result<EksCluster, EksError> {
    let region = target.place.region.as_str();
    let output =
        target.client.describe_cluster().name(name).send().await.map_err(sdk_error("DescribeCluster", region))?;
    let cluster = output.cluster.ok_or_else(|| EksError::NotReady(name.to_owned()))?;
    let arn = cluster.arn.clone().unwrap_or_default();
    match (cluster.endpoint, cluster.certificate_authority.and_then(|ca| ca.data)) {
        (Some(endpoint), Some(certificate_authority)) if !endpoint.is_empty() => {
            Ok(EksCluster { arn, name: name.to_owned(), endpoint, certificate_authority, place: target.place.clone() })
        }
        _ => Err(EksError::NotReady(if arn.is_empty() { name.to_owned() } else { arn })),
    }
}

/// The clusters to read: every listed one, or every one each target lists. Errors are per
/// target or cluster; the others are still read.
pub async fn find_clusters(targets: &[EksTarget], wanted: &EksClusters) -> (Vec<EksCluster>, Vec<EksError>) {
    let mut clusters = Vec::new();
    let mut errors = Vec::new();
    match wanted {
        EksClusters::None => {}
        EksClusters::Listed(arns) => {
            for arn in arns {
                match target_for(targets, arn) {
                    Some(target) => match describe(target, &arn.name).await {
                        Ok(cluster) => clusters.push(cluster),
                        Err(error) => errors.push(error),
                    },
                    None => errors.push(EksError::NoTarget(arn.arn.clone())),
                }
            }
        }
        EksClusters::Discover => {
            for target in targets {
                let region = target.place.region.as_str();
                match target.client.list_clusters().into_paginator().items().send().try_collect().await {
                    Ok(names) => {
                        for name in names {
                            match describe(target, &name).await {
                                Ok(cluster) => clusters.push(cluster),
                                Err(error) => errors.push(error),
                            }
                        }
                    }
                    Err(error) => errors.push(sdk_error("ListClusters", region)(error)),
                }
            }
        }
    }
    (clusters, errors)
}

/// The target of a listed cluster: its region, with the role of its account if one is
/// configured, else the function's own credentials.
fn target_for<'a>(targets: &'a [EksTarget], arn: &EksArn) -> Option<&'a EksTarget> {
    let account = arn.arn.split(':').nth(4)?;
    let in_region = || targets.iter().filter(|target| target.place.region == arn.region);
    in_region()
        .find(|target| {
            target.place.role_arn.as_deref().and_then(inventory_store::settings::role_account) == Some(account)
        })
        .or_else(|| in_region().find(|target| target.place.role_arn.is_none()))
}

/// The bearer token of the AWS IAM authenticator: a presigned STS `GetCallerIdentity` URL,
/// valid for a minute, with the cluster's name in the signed `x-k8s-aws-id` header,
/// base64url-encoded behind `k8s-aws-v1.`.
pub fn iam_token(
    credentials: &Credentials,
    region: &str,
    cluster_name: &str,
    now: SystemTime,
) -> Result<String, EksError> {
    let url = format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_VALIDITY);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|error| EksError::Signing(error.to_string()))?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster_name)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|error| EksError::Signing(error.to_string()))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|error| EksError::Signing(error.to_string()))?.into_parts();
    let mut request =
        http::Request::builder().uri(&url).body(()).map_err(|error| EksError::Signing(error.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(request.uri().to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(token: &str) -> String {
        let encoded = token.strip_prefix(TOKEN_PREFIX).expect("the authenticator's prefix");
        String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).expect("base64url without padding")).unwrap()
    }

    #[test]
    fn the_token_is_a_presigned_get_caller_identity_url_bound_to_the_cluster() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("session".into()), None, "test");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_892_800);
        let token = iam_token(&credentials, "eu-west-1", "prod", at).unwrap();
        assert!(!token.contains('='), "no padding: {token}");
        let url = decoded(&token);
        assert!(url.starts_with("https://sts.eu-west-1.amazonaws.com/?"), "{url}");
        for part in [
            "Action=GetCallerIdentity",
            "Version=2011-06-15",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20251205%2Feu-west-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20251205T000000Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Security-Token=session",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        assert!(!url.contains("secret"), "the secret key only signs");
        let other = decoded(&iam_token(&credentials, "eu-west-1", "staging", at).unwrap());
        let signature = |url: &str| url.split("X-Amz-Signature=").nth(1).unwrap().to_owned();
        assert_ne!(signature(&url), signature(&other), "the cluster name is signed");
    }

    #[test]
    fn a_listed_cluster_is_described_with_its_accounts_role() {
        let config = aws_sdk_eks::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_eks::config::Region::new("us-east-1"))
            .build();
        let target = |region: &str, role: Option<&str>| EksTarget {
            place: AwsPlace { region: region.into(), role_arn: role.map(str::to_owned), credentials: None },
            client: aws_sdk_eks::Client::from_conf(config.clone()),
        };
        let targets = [
            target("us-east-1", None),
            target("us-east-1", Some("arn:aws:iam::210987654321:role/reader")),
            target("eu-west-1", Some("arn:aws:iam::123456789012:role/reader")),
        ];
        let arn = |value: &str| EksArn::parse(value).unwrap();
        let chosen = target_for(&targets, &arn("arn:aws:eks:us-east-1:210987654321:cluster/a")).unwrap();
        assert_eq!(chosen.place.role_arn.as_deref(), Some("arn:aws:iam::210987654321:role/reader"));
        let own = target_for(&targets, &arn("arn:aws:eks:us-east-1:123456789012:cluster/b")).unwrap();
        assert_eq!(own.place.role_arn, None, "no role of that account in the region: own credentials");
        assert!(target_for(&targets, &arn("arn:aws:eks:ap-south-1:123456789012:cluster/c")).is_none());
    }
}

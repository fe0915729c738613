//! ECR image references: `{account}.dkr.ecr[-fips].{region}.amazonaws.com[.cn]/{repository}[:tag]`.

/// An image in an ECR registry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EcrImage {
    /// The registry's AWS account.
    pub registry: String,
    pub region: String,
    pub repository: String,
}

/// The ECR registry, region and repository of a normalised image reference, if it is one.
pub fn ecr_image(reference: &str) -> Option<EcrImage> {
    let (host, path) = reference.split_once('/')?;
    let mut labels = host.split('.');
    let registry = labels.next()?;
    let (dkr, ecr, region) = (labels.next()?, labels.next()?, labels.next()?);
    let domain: Vec<&str> = labels.collect();
    let is_ecr = dkr == "dkr" && (ecr == "ecr" || ecr == "ecr-fips");
    let is_aws = domain == ["amazonaws", "com"] || domain == ["amazonaws", "com", "cn"];
    let is_account = registry.len() == 12 && registry.chars().all(|c| c.is_ascii_digit());
    if !(is_ecr && is_aws && is_account) || region.is_empty() {
        return None;
    }
    let repository = inventory_store::image::repository_of(path);
    (!repository.is_empty()).then(|| EcrImage {
        registry: registry.to_owned(),
        region: region.to_owned(),
        repository: repository.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_references_name_registry_region_and_repository() {
        let image = ecr_image("123456789012.dkr.ecr.eu-west-2.amazonaws.com/team/worker:2.0").unwrap();
        assert_eq!(
            image,
            EcrImage { registry: "123456789012".into(), region: "eu-west-2".into(), repository: "team/worker".into() }
        );
        let pinned = "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/api@sha256:00";
        assert_eq!(ecr_image(pinned).unwrap().repository, "api");
        assert_eq!(ecr_image("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/x:1").unwrap().region, "cn-north-1");
        for other in [
            "docker.io/library/nginx:1.25",
            "public.ecr.aws/nginx/nginx:1",
            "12345.dkr.ecr.eu-west-2.amazonaws.com/x:1",
            "123456789012.dkr.ecr.eu-west-2.amazonaws.com.evil.example/x:1",
            "123456789012.dkr.ecr.eu-west-2.amazonaws.com/",
        ] {
            assert_eq!(ecr_image(other), None, "{other}");
        }
    }
}

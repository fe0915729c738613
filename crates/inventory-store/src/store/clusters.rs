//! Cluster configurations of the embedded mode (`cluster-configs`, `{account}#{cluster_name}`).

use super::{decode, key, string, Store, StoreError};
use crate::cluster_config::{ClusterConfigRecord, EksCollectionRecord, LastCollection};
use crate::keys::{cluster_config_sk, CLUSTER_CONFIGS_PK, EKS_COLLECTIONS_PK};
use aws_sdk_dynamodb::types::AttributeValue;

impl Store {
    /// Every configuration of every account, in (account, name) order: the collector's list.
    pub async fn all_cluster_configs(&self) -> Result<Vec<ClusterConfigRecord>, StoreError> {
        self.query_all(CLUSTER_CONFIGS_PK, None).await?.into_iter().map(decode).collect()
    }

    /// Every configuration of the account, in name order.
    pub async fn cluster_configs(&self, account: &str) -> Result<Vec<ClusterConfigRecord>, StoreError> {
        let prefix = cluster_config_sk(account, "");
        self.query_all(CLUSTER_CONFIGS_PK, Some(&prefix)).await?.into_iter().map(decode).collect()
    }

    pub async fn cluster_config(&self, account: &str, name: &str) -> Result<Option<ClusterConfigRecord>, StoreError> {
        self.get(CLUSTER_CONFIGS_PK, &cluster_config_sk(account, name), true).await
    }

    /// Stores a posted configuration: only what a post sets, so the collector's record of its
    /// last collection and stored namespaces, written meanwhile, stays (a namespace collected
    /// between a post's read and its write still departs when it is gone). `exists` is what the
    /// post read: `ConditionFailed` when the configuration was created or deleted since.
    pub async fn save_cluster_config(&self, record: &ClusterConfigRecord, exists: bool) -> Result<(), StoreError> {
        let mut posted = super::encode(record);
        for collector_owned in ["pk", "sk", "created_at", "last_collection", "stored_contexts"] {
            posted.remove(collector_owned);
        }
        let mut sets: Vec<String> = Vec::with_capacity(posted.len() + 1);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(CLUSTER_CONFIGS_PK, &cluster_config_sk(&record.account, &record.cluster_name))))
            .condition_expression(if exists { "attribute_exists(pk)" } else { "attribute_not_exists(pk)" })
            .expression_attribute_names("#created_at", "created_at")
            .expression_attribute_values(":created_at", string(&record.created_at));
        for (n, (name, value)) in posted.into_iter().enumerate() {
            sets.push(format!("#f{n} = :f{n}"));
            request = request
                .expression_attribute_names(format!("#f{n}"), name)
                .expression_attribute_values(format!(":f{n}"), value);
        }
        sets.push("#created_at = if_not_exists(#created_at, :created_at)".to_owned());
        super::conditional("UpdateItem", request.update_expression(format!("SET {}", sets.join(", "))).send().await)
    }

    /// Every agentless EKS cluster's collection state.
    pub async fn eks_collections(&self) -> Result<Vec<EksCollectionRecord>, StoreError> {
        self.query_all(EKS_COLLECTIONS_PK, None).await?.into_iter().map(decode).collect()
    }

    /// Stores an EKS cluster's collection state, replacing the previous one.
    pub async fn put_eks_collection(&self, record: &EksCollectionRecord) -> Result<(), StoreError> {
        self.put(record).await
    }

    /// Records a collection on the configuration, and, when it stored the cluster, the contexts
    /// it stored. Only those attributes are written, so a configuration posted meanwhile stays;
    /// `ConditionFailed` if the configuration was deleted meanwhile (it is not brought back).
    pub async fn record_collection(
        &self,
        account: &str,
        name: &str,
        collection: &LastCollection,
        stored_contexts: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let collection = serde_dynamo::to_attribute_value(collection).expect("records serialise to DynamoDB values");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(CLUSTER_CONFIGS_PK, &cluster_config_sk(account, name))))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":collection", collection);
        request = match stored_contexts {
            Some(contexts) => request
                .update_expression("SET last_collection = :collection, stored_contexts = :contexts")
                .expression_attribute_values(
                    ":contexts",
                    AttributeValue::L(contexts.iter().map(|context| string(context)).collect()),
                ),
            None => request.update_expression("SET last_collection = :collection"),
        };
        super::conditional("UpdateItem", request.send().await)
    }

    /// Deletes a configuration; `ConditionFailed` if there was none.
    pub async fn delete_cluster_config(&self, account: &str, name: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(CLUSTER_CONFIGS_PK, &cluster_config_sk(account, name))))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        super::conditional("DeleteItem", result)
    }
}

//! Cluster configurations of the embedded mode (`{account}#k8scfg`).

use super::{decode, encode, key, sdk_error, Store, StoreError};
use crate::cluster_config::ClusterConfigRecord;
use crate::keys::cluster_configs_pk;

impl Store {
    /// Every configuration of the account, in name order.
    pub async fn cluster_configs(&self, account: &str) -> Result<Vec<ClusterConfigRecord>, StoreError> {
        self.query_partition(&cluster_configs_pk(account)).await?.into_iter().map(decode).collect()
    }

    pub async fn cluster_config(&self, account: &str, name: &str) -> Result<Option<ClusterConfigRecord>, StoreError> {
        self.get(&cluster_configs_pk(account), name, true).await
    }

    /// Stores a configuration, replacing one of the same name.
    pub async fn put_cluster_config(&self, record: &ClusterConfigRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)))
            .send()
            .await
            .map_err(sdk_error("PutItem"))?;
        Ok(())
    }

    /// Deletes a configuration; `ConditionFailed` if there was none.
    pub async fn delete_cluster_config(&self, account: &str, name: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&cluster_configs_pk(account), name)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if super::is_condition_failure(&error) => Err(StoreError::ConditionFailed),
            Err(error) => Err(sdk_error("DeleteItem")(error)),
        }
    }
}

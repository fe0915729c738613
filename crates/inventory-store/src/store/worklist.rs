//! The worklist's stored parts (`inventory_core::worklist`): where images run now
//! (`{account}#run#{shard}`), each running image's pairs as last written (`{account}#runv#{digest}`),
//! and the exposure pairs (`{account}#work#{shard}`), read by `GET /v2/vulnerabilities`.

use super::{batch::BatchWrite, decode, encode, key, string, Store, StoreError};
use crate::keys::{
    exposure_pair_sk, running_image_pk, running_place_sk, running_vulnerabilities_pk, worklist_pk, ItemKind,
    INDEX_SHARDS, RUNNING_VULNERABILITIES_SK, WORKLIST_ACCOUNTS_PK,
};
use crate::model::InventoryType;
use crate::worklist::{ExposurePair, PairFacts, PairPlan, RunningPlace};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::try_join_all;
use std::collections::HashMap;

const PAIRS_ATTRIBUTE: &str = "pairs_gz";

impl Store {
    pub async fn put_running_place(&self, place: &RunningPlace) -> Result<(), StoreError> {
        self.put(place).await
    }

    pub async fn delete_running_place(
        &self,
        account: &str,
        digest: &str,
        inventory_type: InventoryType,
        context: &str,
    ) -> Result<(), StoreError> {
        let sk = running_place_sk(digest, inventory_type, context);
        self.batch_write(vec![BatchWrite::Delete { pk: RunningPlace::pk_of(account, digest), sk }]).await?;
        Ok(())
    }

    /// Where one image runs now in the account (read consistently).
    pub async fn running_places_of(&self, account: &str, digest: &str) -> Result<Vec<RunningPlace>, StoreError> {
        let items =
            self.query_all(&RunningPlace::pk_of(account, digest), Some(&RunningPlace::prefix_of(digest))).await?;
        items.into_iter().map(decode).collect()
    }

    /// Where every image of the account runs now: its 16 shards at once.
    pub async fn running_places(&self, account: &str) -> Result<Vec<RunningPlace>, StoreError> {
        let shards = (0..INDEX_SHARDS).map(|shard| self.query_all_eventually(running_image_pk(account, shard)));
        let items = try_join_all(shards).await?;
        items.into_iter().flatten().map(decode).collect()
    }

    /// Every exposure pair of the account: its 16 shards at once.
    pub async fn exposure_pairs(&self, account: &str) -> Result<Vec<ExposurePair>, StoreError> {
        let shards = (0..INDEX_SHARDS).map(|shard| self.query_all_eventually(worklist_pk(account, shard)));
        let items = try_join_all(shards).await?;
        items.into_iter().flatten().map(decode).collect()
    }

    /// A running image's pairs as last written; `None` when none were written since it started.
    pub async fn running_vulnerabilities(
        &self,
        account: &str,
        digest: &str,
    ) -> Result<Option<Vec<PairFacts>>, StoreError> {
        let pk = running_vulnerabilities_pk(account, digest);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&pk, RUNNING_VULNERABILITIES_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(super::sdk_error("GetItem"))?;
        output.item.map(|item| pairs_of(&item, &pk)).transpose()
    }

    /// The accounts with exposure pairs (once written, kept).
    pub async fn worklist_accounts(&self) -> Result<Vec<String>, StoreError> {
        let items = self.query_all_eventually(WORKLIST_ACCOUNTS_PK.to_owned()).await?;
        Ok(items.iter().filter_map(|item| item.get("sk")?.as_s().ok().cloned()).collect())
    }

    /// The pairs' lists of running images, by digest (those that have one).
    pub async fn running_vulnerability_lists(
        &self,
        account: &str,
        digests: &[String],
    ) -> Result<HashMap<String, Vec<PairFacts>>, StoreError> {
        let keys: Vec<(String, String)> = digests
            .iter()
            .map(|digest| (running_vulnerabilities_pk(account, digest), RUNNING_VULNERABILITIES_SK.to_owned()))
            .collect();
        let mut lists = HashMap::new();
        for item in self.batch_get(&keys).await? {
            let Some(pk) = item.get("pk").and_then(|pk| pk.as_s().ok()) else { continue };
            let digest = pk.rsplit_once("#runv#").map_or("", |(_, digest)| digest).to_owned();
            lists.insert(digest, pairs_of(&item, pk)?);
        }
        Ok(lists)
    }

    /// A running image's pairs brought to `plan`: the pairs new or changed, the ones gone, then the
    /// list they are compared with next time (last, so a failure half way is redone in full).
    pub async fn write_pairs(&self, account: &str, digest: &str, plan: &PairPlan) -> Result<(), StoreError> {
        let puts = plan.put.iter().map(|facts| BatchWrite::Put(encode(&ExposurePair::new(account, digest, facts))));
        let deletes = plan
            .delete
            .iter()
            .map(|id| BatchWrite::Delete { pk: ExposurePair::pk_of(account, id), sk: exposure_pair_sk(id, digest) });
        self.batch_write(puts.chain(deletes).collect()).await?;
        let compressed = crate::gzip::compress(&serde_json::to_vec(&plan.list).unwrap_or_default());
        let mut item = key(&running_vulnerabilities_pk(account, digest), RUNNING_VULNERABILITIES_SK);
        item.insert("kind".to_owned(), string(ItemKind::RunningVulnerabilities.as_str()));
        item.insert(PAIRS_ATTRIBUTE.to_owned(), AttributeValue::B(Blob::new(compressed)));
        // The account in the list of worklists, in the same request.
        let mut registered = key(WORKLIST_ACCOUNTS_PK, account);
        registered.insert("kind".to_owned(), string(ItemKind::WorklistAccount.as_str()));
        self.batch_write(vec![BatchWrite::Put(item), BatchWrite::Put(registered)]).await?;
        Ok(())
    }

    /// An image that stopped running: its pairs and their list removed (the list last).
    pub async fn forget_pairs(&self, account: &str, digest: &str, written: &[PairFacts]) -> Result<(), StoreError> {
        let deletes = written.iter().map(|facts| BatchWrite::Delete {
            pk: ExposurePair::pk_of(account, &facts.vulnerability_id),
            sk: exposure_pair_sk(&facts.vulnerability_id, digest),
        });
        self.batch_write(deletes.collect()).await?;
        let list = BatchWrite::Delete {
            pk: running_vulnerabilities_pk(account, digest),
            sk: RUNNING_VULNERABILITIES_SK.to_owned(),
        };
        self.batch_write(vec![list]).await?;
        Ok(())
    }
}

/// The pairs a list item holds (gzip JSON).
fn pairs_of(item: &super::Item, pk: &str) -> Result<Vec<PairFacts>, StoreError> {
    let corrupt =
        |message: String| StoreError::Corrupt { key: format!("{pk} / {RUNNING_VULNERABILITIES_SK}"), message };
    let blob =
        item.get(PAIRS_ATTRIBUTE).and_then(|value| value.as_b().ok()).ok_or_else(|| corrupt("no pairs".into()))?;
    let json = crate::gzip::decompress(blob.as_ref()).map_err(|error| corrupt(error.to_string()))?;
    serde_json::from_slice(&json).map_err(|error| corrupt(error.to_string()))
}

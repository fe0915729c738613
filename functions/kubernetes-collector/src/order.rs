//! The order a run reads clusters in. A run reads a few clusters at a time until its deadline, so
//! the order decides who waits: in (account, name) order, one account's many unreachable clusters
//! (each allowed its whole timeout) filled every run and the accounts after it were never read.
//! Accounts take turns instead, each account's least recently collected cluster first (one never
//! collected before all). An account's clusters past its bound (after the bound was lowered) are
//! left out of the run; a cluster left out keeps its last collection's time, so it comes first
//! the next run and the account's clusters take turns.

use std::collections::BTreeMap;

/// What the order needs of a cluster.
pub trait Scheduled {
    fn account(&self) -> &str;
    /// When it was last collected, as stored (RFC 3339, UTC); empty if never.
    fn last_collected(&self) -> &str;
    /// Whether it counts against its account's bound: an account admin's configuration does, a
    /// cluster the operator names (EKS) does not.
    fn bounded(&self) -> bool {
        true
    }
}

/// `clusters` in the order to read them, and those past `per_account` of their account, which
/// are not read.
pub fn collection_order<T: Scheduled>(clusters: Vec<T>, per_account: usize) -> (Vec<T>, Vec<T>) {
    let mut by_account: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for cluster in clusters {
        by_account.entry(cluster.account().to_owned()).or_default().push(cluster);
    }
    let mut beyond = Vec::new();
    let mut queues: Vec<std::vec::IntoIter<T>> = Vec::with_capacity(by_account.len());
    let mut accounts: Vec<Vec<T>> = by_account.into_values().collect();
    for clusters in &mut accounts {
        // Stable: clusters never collected, or collected at the same time, keep their name order.
        clusters.sort_by(|a, b| a.last_collected().cmp(b.last_collected()));
        let mut counted = 0;
        let (within, past): (Vec<T>, Vec<T>) = std::mem::take(clusters).into_iter().partition(|cluster| {
            counted += usize::from(cluster.bounded());
            !cluster.bounded() || counted <= per_account
        });
        *clusters = within;
        beyond.extend(past);
    }
    accounts.retain(|clusters| !clusters.is_empty());
    // The account waiting longest starts each round.
    accounts.sort_by(|a, b| a[0].last_collected().cmp(b[0].last_collected()));
    queues.extend(accounts.into_iter().map(Vec::into_iter));
    let mut order = Vec::new();
    while !queues.is_empty() {
        queues.retain_mut(|queue| match queue.next() {
            Some(cluster) => {
                order.push(cluster);
                true
            }
            None => false,
        });
    }
    (order, beyond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    struct Cluster(&'static str, String, &'static str);

    impl Scheduled for Cluster {
        fn account(&self) -> &str {
            self.0
        }
        fn last_collected(&self) -> &str {
            self.2
        }
    }

    fn names(clusters: &[Cluster]) -> Vec<String> {
        clusters.iter().map(|cluster| format!("{}/{}", cluster.0, cluster.1)).collect()
    }

    #[test]
    fn twenty_unreachable_clusters_of_one_account_do_not_keep_another_accounts_from_being_read() {
        // Issue 32: an account's admin configures 20 black-holed servers, each failing after the
        // run's 60 s; another account has one cluster. Four are read at once.
        let mut clusters: Vec<Cluster> =
            (0..20).map(|n| Cluster("aaa-attacker", format!("hole-{n:02}"), "2026-12-07T01:00:00Z")).collect();
        clusters.push(Cluster("bank", "prod".into(), "2026-12-07T00:55:00Z"));
        let (order, beyond) = collection_order(clusters, 25);
        assert!(beyond.is_empty());
        assert_eq!(names(&order)[..3], ["bank/prod", "aaa-attacker/hole-00", "aaa-attacker/hole-01"]);
        assert_eq!(order.len(), 21);
    }

    #[test]
    fn accounts_take_turns_least_recently_collected_first_and_past_the_bound_wait() {
        let clusters = vec![
            Cluster("a", "one".into(), "2026-12-07T01:00:00Z"),
            Cluster("a", "two".into(), ""),
            Cluster("a", "three".into(), "2026-12-07T00:00:00Z"),
            Cluster("b", "one".into(), "2026-12-07T00:30:00Z"),
            Cluster("b", "two".into(), "2026-12-07T00:10:00Z"),
        ];
        let (order, beyond) = collection_order(clusters, 2);
        assert_eq!(names(&order), ["a/two", "b/two", "a/three", "b/one"]);
        assert_eq!(names(&beyond), ["a/one"], "the most recently collected past the bound");
    }
}

//! Which addresses the embedded mode may connect to. A cluster's server URL is posted by an
//! account's admin, and the collector connects from inside the operator's network: without a
//! rule, `https://169.254.169.254/` or a private host answers to it. Public addresses are
//! allowed; loopback, link-local, private and other non-public ranges only where the operator's
//! allow-list (`KubernetesAllowedNetworks`) names them. The collector applies the rule to every
//! address it connects to, after name resolution; the clusters function to a literal address
//! when a configuration is posted.

use ipnet::IpNet;
use std::net::IpAddr;

/// The operator's allow-list: networks outside the public address space the collector may reach
/// (private EKS endpoints, a VPC's clusters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedNetworks(Vec<IpNet>);

impl AllowedNetworks {
    /// Comma-separated CIDRs (`10.0.0.0/16,fd00::/8`); empty allows public addresses only.
    pub fn parse(list: &str) -> Result<Self, String> {
        let networks = list.split(',').map(str::trim).filter(|cidr| !cidr.is_empty());
        networks
            .map(|cidr| cidr.parse::<IpNet>().map_err(|_| format!("{cidr:?} is not a CIDR such as 10.0.0.0/16")))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Why the collector may not connect to `address`; `None` when it may.
    pub fn refusal(&self, address: IpAddr) -> Option<String> {
        let address = address.to_canonical();
        let kind = non_public(address)?;
        let named = self.0.iter().any(|network| network.contains(&address));
        (!named).then(|| format!("{address} is a {kind} address, which KubernetesAllowedNetworks does not name"))
    }
}

/// The kind of a non-public address; `None` for a public one.
fn non_public(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => {
            let [first, second, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_private() {
                Some("private")
            } else if first == 100 && (64..128).contains(&second) {
                Some("shared (carrier-grade NAT)")
            } else if first == 0 || v4.is_broadcast() || v4.is_multicast() || first >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique local (private)")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

/// The address of a server URL whose host is a literal address (`https://10.0.0.1:6443`,
/// `https://[fd00::1]/`), which a connection uses without resolving a name.
pub fn literal_address(server: &str) -> Option<IpAddr> {
    let authority = server.strip_prefix("https://")?.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0.parse().ok(),
        None => host.split(':').next()?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(networks: &AllowedNetworks, server: &str) -> Option<String> {
        networks.refusal(literal_address(server).expect(server))
    }

    #[test]
    fn metadata_loopback_and_private_addresses_are_refused_unless_named() {
        let none = AllowedNetworks::default();
        for server in [
            "https://169.254.169.254/latest",
            "https://[fd00:ec2::254]/",
            "https://127.0.0.1:6443",
            "https://[::1]:6443",
            "https://10.1.2.3",
            "https://172.31.0.9/",
            "https://192.168.0.1",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://[::ffff:169.254.169.254]/",
            "https://[fe80::1]/",
        ] {
            assert!(refused(&none, server).is_some(), "{server} is refused");
        }
        assert_eq!(
            refused(&none, "https://169.254.169.254/latest").unwrap(),
            "169.254.169.254 is a link-local address, which KubernetesAllowedNetworks does not name"
        );
        for server in ["https://203.0.113.7:6443", "https://[2600:1f18::1]/", "https://user@52.1.2.3/"] {
            assert_eq!(refused(&none, server), None, "{server} is public");
        }
        let vpc = AllowedNetworks::parse("10.0.0.0/16, fd00::/8").unwrap();
        assert_eq!(refused(&vpc, "https://10.0.4.2:443"), None);
        assert!(refused(&vpc, "https://10.1.0.1").is_some(), "outside the named network");
        assert!(refused(&vpc, "https://169.254.169.254").is_some());
        assert_eq!(refused(&vpc, "https://[fd00:ec2::254]/"), None, "named by the operator");
    }

    #[test]
    fn only_literal_hosts_have_an_address_and_the_list_names_its_bad_entry() {
        assert_eq!(literal_address("https://kubernetes.example:6443/"), None);
        assert_eq!(literal_address("https://10.0.0.1:6443/api"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(literal_address("http://10.0.0.1"), None);
        let error = AllowedNetworks::parse("10.0.0.0/8,vpc").unwrap_err();
        assert!(error.contains("\"vpc\""), "{error}");
        assert_eq!(AllowedNetworks::parse(" ").unwrap(), AllowedNetworks::default());
    }
}

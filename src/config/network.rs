//! The VPC's address plan: the VPC block and the four subnets carved from it, validated so
//! that AWS will accept them and they do not overlap.

use ipnet::Ipv4Net;

use super::ConfigError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Network {
    pub vpc_cidr: Ipv4Net,
    /// Indexed by `Zone::index()`.
    pub public_subnets: [Ipv4Net; 2],
    pub private_subnets: [Ipv4Net; 2],
}

impl Network {
    /// `file` names the config file, for the keys read from it.
    pub(super) fn new(
        file: &str,
        vpc_field: &str,
        vpc_raw: &str,
        public: Option<&[String]>,
        private: Option<&[String]>,
    ) -> Result<Self, ConfigError> {
        let vpc_cidr = parse_cidr(vpc_field, vpc_raw)?;
        if !(16..=24).contains(&vpc_cidr.prefix_len()) {
            return Err(ConfigError::new(
                vpc_field,
                format!(
                    "{vpc_raw} has prefix /{}; use a prefix from /16 to /24 (AWS allows /16 at most, four subnets need room)",
                    vpc_cidr.prefix_len()
                ),
            ));
        }
        // Defaults: the VPC split in sixteen; public a/b take the first two, private a/b the next.
        let defaults: Vec<Ipv4Net> = vpc_cidr
            .subnets(vpc_cidr.prefix_len() + 4)
            .map_err(|e| ConfigError::new(vpc_field, e.to_string()))?
            .take(4)
            .collect();
        let pair = |tier: &str, given: Option<&[String]>, first: usize| {
            subnet_pair(
                &format!("{file}:network.{tier}_subnet_cidrs"),
                given,
                [defaults[first], defaults[first + 1]],
                &vpc_cidr,
            )
        };
        let public_subnets = pair("public", public, 0)?;
        let private_subnets = pair("private", private, 2)?;
        let all = [
            public_subnets[0],
            public_subnets[1],
            private_subnets[0],
            private_subnets[1],
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                if a.contains(b) || b.contains(a) {
                    return Err(ConfigError::new(
                        format!("{file}:network"),
                        format!("subnets {a} and {b} overlap; give each subnet its own block"),
                    ));
                }
            }
        }
        Ok(Self {
            vpc_cidr,
            public_subnets,
            private_subnets,
        })
    }
}

fn subnet_pair(
    field: &str,
    given: Option<&[String]>,
    default: [Ipv4Net; 2],
    vpc: &Ipv4Net,
) -> Result<[Ipv4Net; 2], ConfigError> {
    let Some(given) = given else {
        return Ok(default);
    };
    let [a, b] = given else {
        return Err(ConfigError::new(
            field,
            format!(
                "has {} entries; give exactly two, one per availability zone",
                given.len()
            ),
        ));
    };
    let mut pair = [default[0]; 2];
    for (slot, raw) in pair.iter_mut().zip([a, b]) {
        let net = parse_cidr(field, raw)?;
        if !(16..=28).contains(&net.prefix_len()) {
            return Err(ConfigError::new(
                field,
                format!("{raw}: AWS subnets take a prefix from /16 to /28"),
            ));
        }
        if !vpc.contains(&net) {
            return Err(ConfigError::new(
                field,
                format!("{raw} is outside the VPC block {vpc}; pick a block inside it"),
            ));
        }
        *slot = net;
    }
    Ok(pair)
}

fn parse_cidr(field: &str, raw: &str) -> Result<Ipv4Net, ConfigError> {
    let net: Ipv4Net = raw.parse().map_err(|_| {
        ConfigError::new(
            field,
            format!("{raw:?} is not an IPv4 CIDR block; write it like 10.0.0.0/16"),
        )
    })?;
    if net.trunc() != net {
        return Err(ConfigError::new(
            field,
            format!("{raw} has host bits set; did you mean {}?", net.trunc()),
        ));
    }
    if !net.network().is_private() {
        return Err(ConfigError::new(
            field,
            format!(
                "{raw} is not a private (RFC 1918) range; use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            ),
        ));
    }
    Ok(net)
}

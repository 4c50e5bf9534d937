//! Instance types, a NodePool's requirements and limits, and the allocatable
//! that karpenter-provider-aws predicts for a type before launching it
//! (`pkg/providers/instancetype/types.go`: the VM memory overhead, the
//! kube-reserved cpu and memory formulas, and the hard eviction threshold).

use crate::resources::{ResourceVec, CPU, MEMORY, PODS};

/// Bytes in one MiB.
pub const MIB_BYTES: u64 = 1024 * 1024;

/// Micro-dollars in one dollar: prices are integer micro-dollars per hour.
pub const MICRO_USD_PER_USD: u64 = 1_000_000;

/// How an instance is bought. Spot orders first so that, between equal
/// prices, the spot offering is the one picked (the AWS provider launches
/// spot whenever a NodeClaim allows it).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapacityType {
    Spot,
    OnDemand,
}

impl CapacityType {
    /// The `karpenter.sh/capacity-type` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityType::Spot => "spot",
            CapacityType::OnDemand => "on-demand",
        }
    }
}

/// One instance type of the catalog. Every type is offered in each of its
/// zones as both spot and on-demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceType {
    /// e.g. `m5.large`.
    pub name: String,
    /// e.g. `m5` (`karpenter.k8s.aws/instance-family`).
    pub family: String,
    pub cpu_millis: u64,
    /// Memory as the EC2 API reports it, before the VM overhead.
    pub memory_bytes: u64,
    pub gpu_count: u64,
    /// Pods the node admits (ENI-limited, as the EKS AMIs configure the kubelet).
    pub max_pods: u64,
    pub on_demand_price_micro_usd_per_hour: u64,
    pub spot_price_micro_usd_per_hour: u64,
    pub zones: Vec<String>,
}

/// One way to launch a type: capacity type, zone and its price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offering {
    pub capacity_type: CapacityType,
    pub zone: String,
    pub price_micro_usd_per_hour: u64,
}

impl InstanceType {
    pub fn price_micro_usd_per_hour(&self, capacity_type: CapacityType) -> u64 {
        match capacity_type {
            CapacityType::Spot => self.spot_price_micro_usd_per_hour,
            CapacityType::OnDemand => self.on_demand_price_micro_usd_per_hour,
        }
    }

    /// The cheapest offering the requirements admit; between equal prices
    /// spot, then the first zone by name. None: the type is incompatible.
    pub fn cheapest_offering(&self, requirements: &NodePoolRequirements) -> Option<Offering> {
        let mut zones: Vec<&String> = self
            .zones
            .iter()
            .filter(|z| requirements.admits_zone(z))
            .collect();
        zones.sort();
        let zone = zones.first()?;
        [CapacityType::Spot, CapacityType::OnDemand]
            .into_iter()
            .filter(|ct| requirements.admits_capacity_type(*ct))
            .map(|ct| Offering {
                capacity_type: ct,
                zone: (*zone).clone(),
                price_micro_usd_per_hour: self.price_micro_usd_per_hour(ct),
            })
            .min_by_key(|o| (o.price_micro_usd_per_hour, o.capacity_type))
    }
}

impl InstanceType {
    /// The price consolidation assumes a replacement launches at
    /// (upstream's `worstLaunchPrice`): spot if the requirements allow it,
    /// else on-demand, at the dearest admitted zone. Prices here do not vary
    /// by zone, so only the capacity type matters. None: nothing admitted.
    pub fn worst_launch_price_micro_usd_per_hour(
        &self,
        requirements: &NodePoolRequirements,
    ) -> Option<u64> {
        if !self.zones.iter().any(|z| requirements.admits_zone(z)) {
            return None;
        }
        [CapacityType::Spot, CapacityType::OnDemand]
            .into_iter()
            .find(|ct| requirements.admits_capacity_type(*ct))
            .map(|ct| self.price_micro_usd_per_hour(ct))
    }
}

/// The operators of a NodePool requirement that this model supports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
}

/// `key In/NotIn [values]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn admits(&self, value: &str) -> bool {
        let listed = self.values.iter().any(|v| v == value);
        match self.operator {
            Operator::In => listed,
            Operator::NotIn => !listed,
        }
    }
}

/// The requirements of a NodePool's template that select instance types.
/// None: no requirement on that key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodePoolRequirements {
    /// `karpenter.k8s.aws/instance-family`.
    pub families: Option<Requirement>,
    /// `karpenter.sh/capacity-type`; None means on-demand only, the default
    /// the AWS provider applies when a NodePool names no capacity type.
    pub capacity_types: Option<Requirement>,
    /// `topology.kubernetes.io/zone`.
    pub zones: Option<Requirement>,
}

impl NodePoolRequirements {
    pub fn admits_family(&self, family: &str) -> bool {
        self.families.as_ref().is_none_or(|r| r.admits(family))
    }

    pub fn admits_zone(&self, zone: &str) -> bool {
        self.zones.as_ref().is_none_or(|r| r.admits(zone))
    }

    pub fn admits_capacity_type(&self, capacity_type: CapacityType) -> bool {
        match &self.capacity_types {
            None => capacity_type == CapacityType::OnDemand,
            Some(r) => r.admits(capacity_type.as_str()),
        }
    }
}

/// A NodePool's `spec.limits`: caps on the summed capacity of its nodes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NodePoolLimits {
    pub cpu_millis: Option<u64>,
    pub memory_bytes: Option<u64>,
}

/// Indices (into `catalog`, in catalog order) of the types whose family the
/// requirements admit and that have at least one admitted offering.
pub fn compatible_types(
    catalog: &[InstanceType],
    requirements: &NodePoolRequirements,
) -> Vec<usize> {
    catalog
        .iter()
        .enumerate()
        .filter(|(_, it)| requirements.admits_family(&it.family))
        .filter(|(_, it)| it.cheapest_offering(requirements).is_some())
        .map(|(i, _)| i)
        .collect()
}

/// The AWS provider's allocatable estimate and its knobs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OverheadSettings {
    /// Share of memory the hypervisor keeps, per mille (upstream's
    /// `VMMemoryOverheadPercent`, default 0.075).
    pub vm_memory_overhead_permille: u64,
    /// The kubelet's hard eviction threshold for memory (100 MiB by default).
    pub eviction_memory_bytes: u64,
}

impl Default for OverheadSettings {
    fn default() -> Self {
        OverheadSettings {
            vm_memory_overhead_permille: 75,
            eviction_memory_bytes: 100 * MIB_BYTES,
        }
    }
}

/// Memory the node reports as capacity: the EC2 size less the VM overhead,
/// rounded up to whole MiB. Upstream computes the overhead in floating
/// point; integer per-mille arithmetic gives the same MiB for whole-MiB sizes.
pub fn memory_capacity_bytes(memory_bytes: u64, settings: &OverheadSettings) -> u64 {
    let mib = memory_bytes / MIB_BYTES;
    let overhead_mib = mib
        .checked_mul(settings.vm_memory_overhead_permille)
        .expect("memory size times overhead overflowed u64")
        .div_ceil(1000);
    mib.checked_sub(overhead_mib)
        .expect("VM overhead exceeds the memory size")
        * MIB_BYTES
}

/// Kube-reserved cpu: 6% of the first core, 1% of the second, 0.5% of the
/// next two, 0.25% of the rest, each range's share truncated to whole
/// millicores (the formula the AWS provider takes from Bottlerocket).
pub fn kube_reserved_cpu_millis(cpu_millis: u64) -> u64 {
    // (start, end, share in units of 1/10000)
    const RANGES: [(u64, u64, u64); 4] = [
        (0, 1000, 600),
        (1000, 2000, 100),
        (2000, 4000, 50),
        (4000, 1 << 31, 25),
    ];
    RANGES
        .iter()
        .filter(|(start, _, _)| cpu_millis >= *start)
        .map(|(start, end, share)| (cpu_millis.min(*end) - start) * share / 10_000)
        .sum()
}

/// Kube-reserved memory: 11 MiB per pod the node admits plus 255 MiB.
pub fn kube_reserved_memory_bytes(max_pods: u64) -> u64 {
    max_pods
        .checked_mul(11)
        .and_then(|m| m.checked_add(255))
        .and_then(|m| m.checked_mul(MIB_BYTES))
        .expect("kube-reserved memory overflowed u64")
}

/// What the node will offer pods: capacity less kube-reserved (and the
/// eviction threshold for memory). `gpu_dimension` is the index of the
/// scenario's `nvidia.com/gpu` extended resource, if it names one.
pub fn allocatable(
    it: &InstanceType,
    settings: &OverheadSettings,
    gpu_dimension: Option<usize>,
) -> ResourceVec {
    let mut v = ResourceVec::ZERO;
    v.0[CPU] = it
        .cpu_millis
        .checked_sub(kube_reserved_cpu_millis(it.cpu_millis))
        .expect("kube-reserved cpu exceeds capacity");
    // A type too small for its overhead offers no memory (upstream's
    // quantity would go negative and fit no pod either).
    v.0[MEMORY] = memory_capacity_bytes(it.memory_bytes, settings)
        .checked_sub(kube_reserved_memory_bytes(it.max_pods))
        .and_then(|m| m.checked_sub(settings.eviction_memory_bytes))
        .unwrap_or(0);
    v.0[PODS] = it.max_pods;
    if let Some(d) = gpu_dimension {
        v.0[d] = it.gpu_count;
    }
    v
}

/// The root volume an EC2NodeClass gives a node when it names none (20 GiB).
pub const DEFAULT_VOLUME_BYTES: u64 = 20 << 30;

/// Ephemeral storage the node will offer pods, from its root volume: less
/// 1 GiB kube-reserved and the kubelet's `nodefs.available` hard eviction
/// threshold of 10% (rounded up to a whole byte), as the AWS provider
/// predicts it. A volume too small for both offers nothing.
pub fn ephemeral_storage_allocatable_bytes(volume_bytes: u64) -> u64 {
    const KUBE_RESERVED_BYTES: u64 = 1 << 30;
    volume_bytes
        .checked_sub(KUBE_RESERVED_BYTES)
        .and_then(|v| v.checked_sub(volume_bytes.div_ceil(10)))
        .unwrap_or(0)
}

/// A malformed catalog line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("line {line}: expected 8 comma-separated fields, found {found}")]
    FieldCount { line: usize, found: usize },
    #[error("line {line}: {field} is not a valid number: {value:?}")]
    BadNumber {
        line: usize,
        field: &'static str,
        value: String,
    },
    #[error("line {line}: on_demand_usd_per_hour must not be negative, found {value}")]
    NegativePrice { line: usize, value: String },
    #[error("line {line}: no zones")]
    NoZones { line: usize },
    #[error("line {line}: instance type {name} is listed twice")]
    Duplicate { line: usize, name: String },
}

/// Parses the catalog CSV (`scenarios/catalogs/aws-sample.csv`): columns
/// `name,family,vcpus,memory_mib,gpus,max_pods,on_demand_usd_per_hour,zones`
/// with zones separated by `|`; `#` starts a comment line; the first
/// non-comment line is the header. Spot prices are derived as
/// `spot_percent_of_on_demand` percent of on-demand (rounded down).
pub fn parse_catalog_csv(
    text: &str,
    spot_percent_of_on_demand: u64,
) -> Result<Vec<InstanceType>, CatalogError> {
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    rows.next(); // header
    let mut out: Vec<InstanceType> = Vec::new();
    for (line, row) in rows {
        let it = parse_row(line, row, spot_percent_of_on_demand)?;
        if out.iter().any(|o| o.name == it.name) {
            return Err(CatalogError::Duplicate {
                line,
                name: it.name,
            });
        }
        out.push(it);
    }
    Ok(out)
}

fn parse_row(line: usize, row: &str, spot_percent: u64) -> Result<InstanceType, CatalogError> {
    let f: Vec<&str> = row.split(',').map(str::trim).collect();
    if f.len() != 8 {
        return Err(CatalogError::FieldCount {
            line,
            found: f.len(),
        });
    }
    let num = |field: &'static str, value: &str| {
        value.parse::<u64>().map_err(|_| CatalogError::BadNumber {
            line,
            field,
            value: value.to_string(),
        })
    };
    let bad = |field: &'static str, value: &str| CatalogError::BadNumber {
        line,
        field,
        value: value.to_string(),
    };
    let vcpus = num("vcpus", f[2])?;
    let memory_mib = num("memory_mib", f[3])?;
    if f[6].starts_with('-') {
        return Err(CatalogError::NegativePrice {
            line,
            value: f[6].to_string(),
        });
    }
    let on_demand = parse_usd_micro(f[6]).ok_or_else(|| bad("on_demand_usd_per_hour", f[6]))?;
    let zones: Vec<String> = f[7]
        .split('|')
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .map(String::from)
        .collect();
    if zones.is_empty() {
        return Err(CatalogError::NoZones { line });
    }
    Ok(InstanceType {
        name: f[0].to_string(),
        family: f[1].to_string(),
        cpu_millis: vcpus.checked_mul(1000).ok_or_else(|| bad("vcpus", f[2]))?,
        memory_bytes: memory_mib
            .checked_mul(MIB_BYTES)
            .ok_or_else(|| bad("memory_mib", f[3]))?,
        gpu_count: num("gpus", f[4])?,
        max_pods: num("max_pods", f[5])?,
        on_demand_price_micro_usd_per_hour: on_demand,
        spot_price_micro_usd_per_hour: on_demand
            .checked_mul(spot_percent)
            .ok_or_else(|| bad("on_demand_usd_per_hour", f[6]))?
            / 100,
        zones,
    })
}

/// `"0.096"` → 96_000 micro-dollars; at most six decimals.
fn parse_usd_micro(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 6 || whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |d: &str| d.is_empty() || d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    let whole_usd: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_micro: u64 = format!("{frac:0<6}").parse().ok()?;
    whole_usd
        .checked_mul(MICRO_USD_PER_USD)?
        .checked_add(frac_micro)
}

#[cfg(test)]
pub(crate) mod tests;

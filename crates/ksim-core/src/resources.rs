//! Fixed-size resource vectors: cpu, memory, ephemeral storage, pod count and
//! up to [`MAX_EXTENDED`] extended resources (e.g. `nvidia.com/gpu`).
//!
//! A fixed array keeps node and pod state `Copy` and contiguous; the names of
//! extended resources live in [`ResourceNames`], built once per scenario.

/// Index of cpu, in millicores.
pub const CPU: usize = 0;
/// Index of memory, in bytes.
pub const MEMORY: usize = 1;
/// Index of ephemeral storage, in bytes.
pub const EPHEMERAL_STORAGE: usize = 2;
/// Index of the pod count (a pod requests exactly one).
pub const PODS: usize = 3;
/// Index of the first extended resource.
pub const FIRST_EXTENDED: usize = 4;
/// How many extended resources one scenario may name.
pub const MAX_EXTENDED: usize = 4;
/// Length of a [`ResourceVec`].
pub const NUM_RESOURCES: usize = FIRST_EXTENDED + MAX_EXTENDED;

/// Amounts of each resource, in its base unit (millicores, bytes, count).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResourceVec(pub [u64; NUM_RESOURCES]);

impl ResourceVec {
    pub const ZERO: ResourceVec = ResourceVec([0; NUM_RESOURCES]);

    pub fn cpu_millis(&self) -> u64 {
        self.0[CPU]
    }
    pub fn memory_bytes(&self) -> u64 {
        self.0[MEMORY]
    }

    /// True when `self + request` stays within `capacity` in every dimension.
    #[inline]
    pub fn fits_with(&self, request: &ResourceVec, capacity: &ResourceVec) -> bool {
        (0..NUM_RESOURCES).all(|i| self.0[i].saturating_add(request.0[i]) <= capacity.0[i])
    }

    /// Index of the first dimension where `self + request` exceeds `capacity`.
    pub fn first_shortfall(&self, request: &ResourceVec, capacity: &ResourceVec) -> Option<usize> {
        (0..NUM_RESOURCES).find(|&i| self.0[i].saturating_add(request.0[i]) > capacity.0[i])
    }

    /// Adds bookkeeping amounts. They never overflow: requests held on a node
    /// fit its allocatable, and a cluster's allocatable sum fits a u64
    /// (`SimConfig::check`), so an overflow is a bug and panics.
    pub fn add_assign(&mut self, other: &ResourceVec) {
        for i in 0..NUM_RESOURCES {
            self.0[i] = self.0[i]
                .checked_add(other.0[i])
                .expect("resource bookkeeping overflowed u64");
        }
    }

    /// Releases amounts held; releasing more than is held is a bug and panics
    /// (saturating here once hid a pod released twice).
    pub fn sub_assign(&mut self, other: &ResourceVec) {
        for i in 0..NUM_RESOURCES {
            self.0[i] = self.0[i]
                .checked_sub(other.0[i])
                .expect("released more resources than were held");
        }
    }
}

/// Display names of the resource dimensions for one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceNames {
    extended: Vec<String>,
}

impl ResourceNames {
    /// Fails if more than [`MAX_EXTENDED`] extended resources are named.
    pub fn new(extended: Vec<String>) -> Result<Self, usize> {
        if extended.len() > MAX_EXTENDED {
            return Err(extended.len());
        }
        Ok(ResourceNames { extended })
    }

    pub fn extended(&self) -> &[String] {
        &self.extended
    }

    /// Index of an extended resource by name.
    pub fn extended_index(&self, name: &str) -> Option<usize> {
        self.extended
            .iter()
            .position(|n| n == name)
            .map(|i| FIRST_EXTENDED + i)
    }

    /// The Kubernetes name of a dimension, as used in scheduler messages.
    pub fn name(&self, index: usize) -> &str {
        match index {
            CPU => "cpu",
            MEMORY => "memory",
            EPHEMERAL_STORAGE => "ephemeral-storage",
            PODS => "pods",
            i => self
                .extended
                .get(i - FIRST_EXTENDED)
                .map(String::as_str)
                .unwrap_or("unknown"),
        }
    }

    /// Dimensions in use: the four built-ins and each named extended resource.
    pub fn active_len(&self) -> usize {
        FIRST_EXTENDED + self.extended.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec(cpu: u64, mem: u64, pods: u64) -> ResourceVec {
        let mut v = ResourceVec::ZERO;
        v.0[CPU] = cpu;
        v.0[MEMORY] = mem;
        v.0[PODS] = pods;
        v
    }

    #[test]
    fn fit_checks_every_dimension() {
        let cap = vec(1000, 1000, 2);
        assert!(vec(500, 500, 1).fits_with(&vec(500, 500, 1), &cap));
        assert!(!vec(500, 500, 2).fits_with(&vec(100, 100, 1), &cap));
        assert_eq!(
            vec(900, 0, 0).first_shortfall(&vec(200, 0, 1), &cap),
            Some(CPU)
        );
    }

    #[test]
    fn sums_near_the_u64_limit_saturate_instead_of_wrapping_into_a_fit() {
        let huge = vec(u64::MAX - 1, 0, 0);
        let cap = vec(u64::MAX - 1, 0, 0);
        assert!(!huge.fits_with(&vec(2, 0, 0), &cap));
        assert_eq!(huge.first_shortfall(&vec(2, 0, 0), &cap), Some(CPU));
    }

    #[test]
    #[should_panic(expected = "released more resources than were held")]
    fn releasing_more_than_held_fails_loudly() {
        let mut held = vec(100, 0, 1);
        held.sub_assign(&vec(200, 0, 1));
    }

    #[test]
    #[should_panic(expected = "resource bookkeeping overflowed u64")]
    fn bookkeeping_overflow_fails_loudly() {
        let mut held = vec(u64::MAX, 0, 0);
        held.add_assign(&vec(1, 0, 0));
    }

    #[test]
    fn extended_names_are_limited_and_indexed() {
        let names = ResourceNames::new(vec!["nvidia.com/gpu".into()]).unwrap();
        assert_eq!(names.extended_index("nvidia.com/gpu"), Some(FIRST_EXTENDED));
        assert_eq!(names.name(FIRST_EXTENDED), "nvidia.com/gpu");
        assert_eq!(names.name(MEMORY), "memory");
        assert!(ResourceNames::new(vec!["a".into(); MAX_EXTENDED + 1]).is_err());
    }
}

/// Human form of an amount, the way Kubernetes users write it: cpu as
/// cores or millicores, bytes with binary suffixes, counts plain.
pub fn format_amount(dimension: usize, amount: u64) -> String {
    match dimension {
        CPU if amount.is_multiple_of(1000) => format!("{}", amount / 1000),
        CPU => format!("{amount}m"),
        MEMORY | EPHEMERAL_STORAGE => {
            const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            let mut value = amount as f64;
            let mut suffix = "";
            for s in SUFFIXES {
                if value < 1024.0 {
                    break;
                }
                value /= 1024.0;
                suffix = s;
            }
            if value.fract() == 0.0 {
                format!("{value}{suffix}")
            } else {
                format!("{value:.1}{suffix}")
            }
        }
        _ => format!("{amount}"),
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn amounts_read_like_kubernetes_quantities() {
        assert_eq!(format_amount(CPU, 500), "500m");
        assert_eq!(format_amount(CPU, 16_000), "16");
        assert_eq!(format_amount(MEMORY, 1 << 40), "1Ti");
        assert_eq!(format_amount(MEMORY, 3 << 29), "1.5Gi");
        assert_eq!(format_amount(MEMORY, 512), "512");
        assert_eq!(format_amount(PODS, 110), "110");
    }
}

//! The control plane between controllers and the store: apiserver replicas
//! with in-flight limits, watch caches and fan-out, and the routing of each
//! kind's writes to its store.

pub mod config;

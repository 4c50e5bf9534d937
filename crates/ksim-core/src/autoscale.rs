//! Workload autoscalers as pure functions of what they observe: the
//! Horizontal Pod Autoscaler's replica calculator and behavior rules, and a
//! KEDA-style scale executor. The controllers that drive them through the
//! simulation are in `controller::hpa` and `controller::keda`.

pub mod cluster_autoscaler;
pub mod hpa;
pub mod karpenter;
pub mod keda;

//! Autoscalers' rules as pure functions of what they observe: the
//! Horizontal Pod Autoscaler's replica calculator and behavior rules and a
//! KEDA-style scale executor (driven through the simulation by
//! `controller::hpa` and `controller::keda`); and, for node autoscaling,
//! the Cluster Autoscaler's utilization, expanders, bin-packing estimate and
//! back-off, and a Karpenter-like provisioner's catalog, packing, budgets and
//! consolidation (driven by `controller::cluster_autoscaler` and
//! `controller::karpenter`).

pub mod cluster_autoscaler;
pub mod hpa;
pub mod karpenter;
pub mod keda;

"""DNN workloads: a trained model plus test data (bundled: digits-mlp, digits-cnn, cifar10)."""

from simulator.workloads.base import Workload, WorkloadInfo, stratified_order, workload_info
from simulator.workloads.registry import (
    ENTRY_POINT_GROUP,
    get_workload,
    list_workloads,
    register_workload,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Workload",
    "WorkloadInfo",
    "get_workload",
    "list_workloads",
    "register_workload",
    "stratified_order",
    "workload_info",
]

"""DNN workloads: a trained model plus test data (bundled: digits-mlp, digits-cnn, cifar10, and
the NeuroSim-sized vgg8 and resnet20 on digits upsampled to 32x32x3)."""

from simulator.workloads.base import (
    DATA_DIR_ENV,
    OptionSpec,
    Workload,
    WorkloadInfo,
    data_dir,
    stratified_order,
    workload_info,
)
from simulator.workloads.registry import (
    ENTRY_POINT_GROUP,
    check_options,
    data_missing,
    get_workload,
    list_workloads,
    register_workload,
)

__all__ = [
    "DATA_DIR_ENV",
    "ENTRY_POINT_GROUP",
    "OptionSpec",
    "Workload",
    "WorkloadInfo",
    "check_options",
    "data_dir",
    "data_missing",
    "get_workload",
    "list_workloads",
    "register_workload",
    "stratified_order",
    "workload_info",
]

"""The GPU types Heliox knows by name, in the catalog's canonical spelling."""

KNOWN_GPU_TYPES = (
    "B200",
    "H200",
    "H100",
    "A100-80GB",
    "A100",
    "L40S",
    "M60",
    "K80",
    "L4",
    "A10G",
    "A10",
    "A6000",
    "V100",
    "T4",
)

"""GPU type names: the catalog's canonical spellings, and how sites and schedulers spell them.

Slurm's GRES types are whatever a site wrote in gres.conf, or, with `AutoDetect=nvml`,
the device name NVML reports, lower-cased with spaces turned into `_`
(`NVIDIA A100-SXM4-80GB` -> `nvidia_a100-sxm4-80gb`, `Tesla V100-SXM2-16GB` ->
`tesla_v100-sxm2-16gb`). `gpu_type_name` reads such a name as words: it drops the vendor
(`nvidia`, `tesla`...) and the form factor (`sxm4`, `pcie`, `hbm3`, `nvl`...), keeps the
memory size (`80gb`, `80`), and looks the model up in MODELS. A site's own names
(`a100_80`, `big`) come first through a map given by the GPU_TYPE_MAP setting or
`import_jobs --gpu-map`.
"""

import re
from collections.abc import Mapping

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

# Model words -> catalog name; a model whose memory sizes are priced apart maps sizes to names.
MODELS: dict[str, str | dict[int | None, str]] = {
    "a100": {None: "A100", 40: "A100", 80: "A100-80GB"},
    "h100": "H100",
    "h200": "H200",
    "b200": "B200",
    "l40s": "L40S",
    "l4": "L4",
    "a10g": "A10G",
    "a10": "A10",
    "a6000": "A6000",
    "rtx-a6000": "A6000",
    "v100": "V100",
    "v100s": "V100",
    "t4": "T4",
    "m60": "M60",
    "k80": "K80",
}
VENDORS = {"nvidia", "tesla", "amd", "intel"}
FORM_FACTORS = {"sxm", "sxm2", "sxm3", "sxm4", "sxm5", "pcie", "nvl", "nvlink", "hbm2", "hbm2e", "hbm3", "hbm3e"}
# A memory size: `80gb`, `80g`, or a bare 2-3 digit number after the model (`a100_80`); `3090` is a model.
MEMORY = re.compile(r"^(\d{1,3})(?:gb|g)?$")
WORDS = re.compile(r"[\s_\-]+")
VALID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]| (?=[A-Za-z0-9]))*$")  # jobs.models.gpu_type_validator's rule
MAX_LENGTH = 32  # jobs_job.gpu_type


def parse_gpu_map(text: str) -> dict[str, str]:
    """`a100_80=A100-80GB,big=H100` -> {"a100_80": "A100-80GB", "big": "H100"}; ValueError naming a bad pair.

    Names are case-blind: two entries of one name (`big=H100,BIG=A100`) that map it to different types are
    refused, naming both, rather than the last one kept.
    """
    mapping: dict[str, str] = {}
    pairs: dict[str, str] = {}
    for pair in (part.strip() for part in text.split(",")):
        if not pair:
            continue
        source, sep, target = (part.strip() for part in pair.partition("="))
        if not sep or not source or not target:
            raise ValueError(f"expected NAME=GPU_TYPE, got {pair!r}")
        if not VALID.match(target) or len(target) > MAX_LENGTH:
            raise ValueError(
                f"{target!r} is not a GPU type name (letters, digits, '-', '.', single spaces; at most {MAX_LENGTH})"
            )
        key = source.lower()
        if key in mapping and mapping[key] != target:
            raise ValueError(f"conflicting entries for {source!r}: {pairs[key]} and {source}={target}")
        mapping[key], pairs[key] = target, f"{source}={target}"
    return mapping


def _words(name: str) -> tuple[list[str], int | None]:
    """The model words of a name without vendor and form factor, and its memory size in GB if it says."""
    words = [word for word in WORDS.split(name.lower()) if word]
    while words and words[0] in VENDORS:
        words.pop(0)
    memory = None
    model: list[str] = []
    for word in words:
        if word in FORM_FACTORS:
            continue
        size = MEMORY.match(word)
        if size and model and memory is None:
            memory = int(size[1])
            continue
        model.append(word)
    return model, memory


def gpu_type_name(raw: str, site_map: Mapping[str, str] | None = None) -> str | None:
    """The catalog name of a GPU type spelling, or None when Heliox does not know it.

    `site_map` (keys lower-case) is consulted first, then the exact catalog names, then
    the model words: `nvidia_a100-sxm4-80gb` -> A100-80GB, `a100_80` -> A100-80GB,
    `nvidia_rtx_a6000` -> A6000, `tesla_v100-sxm2-16gb` -> V100.
    """
    name = raw.strip()
    if site_map and name.lower() in site_map:
        return site_map[name.lower()]
    if name in KNOWN_GPU_TYPES:
        return name
    model, memory = _words(name)
    entry = MODELS.get("-".join(model))
    if isinstance(entry, dict):
        return entry.get(memory, entry[None])
    return entry


def unknown_gpu_type_name(raw: str) -> str:
    """A valid name for a GPU type Heliox does not know, kept as its own (unpriced) type.

    The model words and memory, upper-case, joined by '-' (`nvidia_gh200_480gb` ->
    GH200-480GB, `p100` -> P100); the whole spelling when nothing else is left (`tesla`).
    """
    model, memory = _words(raw)
    words = model + ([f"{memory}GB"] if memory is not None else [])
    name = "-".join(words) if model else WORDS.sub("-", raw.strip().lower()).strip("-")
    name = re.sub(r"[^A-Za-z0-9.\-]", "-", name).upper().strip("-.")  # longer than MAX_LENGTH: the caller refuses
    return name or "UNKNOWN"

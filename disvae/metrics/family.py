"""What a metric family declares, next to its code: its name (`--metrics NAME`), the
function computing it, the sample counts that cap it at about n points
(`--metrics-samples n`), the labels of the scalars it writes, the ones summary tables
show, its version (raised when its definition or keys change, so metrics.log entries
of an older definition are recomputed), its place in tables, and whether a plain
--is-metrics computes it (a family too slow for every run is computed only when named)."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricFamily:
    name: str
    compute: object  # (representation, dataset, rng, **counts) -> {key: value}
    quick: object  # n -> {count argument: value}, at most about n points
    labels: dict = field(default_factory=dict)  # key -> label of the scalars worth a table
    headline: tuple = ()  # keys in the compact tables (README, bin/summarize.py)
    version: int = 1
    order: int = 0
    default: bool = True  # computed by --is-metrics without --metrics (False: only when named)

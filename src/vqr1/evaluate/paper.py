"""The paper's Table 2 numbers (SPEC §3, trained on KADID-10K), as data for the report's comparison.

Why data and not prose: the report puts our numbers beside these per dataset, so the dataset names
of params.yaml map onto the paper's column names here, in one place.
"""

from __future__ import annotations

# params.yaml dataset name -> the paper's column.
COLUMNS: dict[str, str] = {
    "bid": "BID",
    "live_challenge": "CLIVE",
    "koniq10k": "KonIQ",
    "spaq": "SPAQ",
    "deblurring": "Deblur",
    "sriqa_bench": "SR",
    "dehazing": "Dehaze",
    "agiqa3k": "ImageGen",
}
_ORDER = ("BID", "CLIVE", "KonIQ", "SPAQ", "Deblur", "SR", "Dehaze", "ImageGen")


def _row(*values: float) -> dict[str, float]:
    return dict(zip(_ORDER, values, strict=True))


# method -> paper column -> value; "Avg" only where the paper gives one.
SRCC: dict[str, dict[str, float]] = {
    "VisualQuality-R1": {**_row(0.790, 0.750, 0.830, 0.875, 0.838, 0.756, 0.598, 0.775), "Avg": 0.777},
    "VisualQuality-R1 (KADID+SPAQ)": {
        **_row(0.811, 0.811, 0.855, 0.913, 0.845, 0.752, 0.588, 0.754),
        "Avg": 0.791,
    },
    "Q-Insight (KADID+SPAQ)": {**_row(0.806, 0.804, 0.812, 0.907, 0.846, 0.700, 0.539, 0.657), "Avg": 0.759},
    "NIQE": _row(0.515, 0.450, 0.421, 0.676, 0.360, 0.557, 0.343, 0.533),
    "BRISQUE": _row(0.522, 0.314, 0.385, 0.614, 0.389, 0.482, 0.242, 0.497),
}
PLCC: dict[str, dict[str, float]] = {
    "VisualQuality-R1": {**_row(0.806, 0.794, 0.840, 0.878, 0.872, 0.825, 0.651, 0.843), "Avg": 0.814},
    "VisualQuality-R1 (KADID+SPAQ)": {
        **_row(0.820, 0.844, 0.870, 0.917, 0.879, 0.824, 0.674, 0.820),
        "Avg": 0.831,
    },
}
# The row our default recipe (KADID-10K training) should be compared with.
REFERENCE = "VisualQuality-R1"


def paper_value(table: dict[str, dict[str, float]], method: str, dataset: str) -> float | None:
    """The paper's number for ``method`` on a params dataset name; None for sets the paper did not test."""
    column = COLUMNS.get(dataset)
    return table.get(method, {}).get(column) if column else None

"""The evaluation report: a markdown page and PNG plots, our numbers beside the paper's and the baselines'.

Why our own PNGs: `dvc plots show` renders HTML that loads vega from a CDN, which does not work
offline; PNGs declared as DVC plots open anywhere. Every figure is drawn from the metrics dict that
is written to metrics.json, so the report can never disagree with the tracked metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vqr1.evaluate import paper
from vqr1.evaluate.metrics import fit_logistic4, logistic4
from vqr1.markdown import table


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _fmt_why(value: float | None, m: Mapping[str, Any]) -> str:
    """A correlation, or why it is undefined in words (``undefined`` of metrics.dataset_metrics)."""
    return _fmt(value) if value is not None or not m.get("undefined") else f"— ({m['undefined']})"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _out_of_range(m: Mapping[str, Any]) -> str:
    count = m.get("out_of_range")
    return "—" if count is None else f"{count} ({_pct(m.get('out_of_range_rate'))})"


def _fmt_ci(ci: Mapping[str, float] | None) -> str:
    return "" if ci is None else f" [{ci['low']:.3f}, {ci['high']:.3f}]"


def scatter_plot(name: str, pred: np.ndarray, mos: np.ndarray, stats: Mapping[str, Any], out: Path) -> Path:
    """Predicted (mean of samples) vs MOS with the fitted 4PL curve, titled with SRCC/PLCC."""
    import matplotlib.pyplot as plt

    keep = np.isfinite(pred) & np.isfinite(mos)
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=100)
    ax.scatter(pred[keep], mos[keep], s=10, alpha=0.6)
    params = fit_logistic4(pred[keep], mos[keep])
    if params is not None:
        xs = np.linspace(pred[keep].min(), pred[keep].max(), 200)
        ax.plot(xs, logistic4(xs, *params), color="tab:red", label="4PL fit")
        ax.legend(loc="lower right")
    ax.set_xlabel("predicted score (mean of samples)")
    ax.set_ylabel("MOS (normalised 1-5)")
    ax.set_title(
        f"{name}: SRCC {_fmt(stats.get('srcc'))}, PLCC {_fmt(stats.get('plcc'))} (n={stats.get('n', 0)})"
    )
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


# Our rows in the comparison: label -> metric key. PLCC both raw and after the 4PL fit (the paper's
# PLCC follows the IQA convention of a fitted mapping); SRCC also per group where scores are group-relative.
OUR_ROWS = {
    "srcc": {"ours": "srcc", "ours (per-group mean)": "srcc_group_mean"},
    "plcc": {"ours (raw)": "plcc", "ours (4PL)": "plcc_4pl"},
}


def _comparison_rows(
    metrics: Mapping[str, Any], key: str
) -> dict[str, tuple[list[float | None], list[Mapping[str, Any]]]]:
    """Method label -> (one value per dataset, the per-dataset metrics it came from, which say why a
    value is undefined): ours, the paper's rows, the measured baselines."""
    names = list(metrics["datasets"])
    table = paper.SRCC if key == "srcc" else paper.PLCC
    rows: dict[str, tuple[list[float | None], list[Mapping[str, Any]]]] = {}
    ours = [metrics["datasets"][d] for d in names]
    for label, metric in OUR_ROWS[key].items():
        values = [m.get(metric) for m in ours]
        if metric == key or any(v is not None for v in values):
            rows[label] = (values, ours)
    for method in table:
        values = [paper.paper_value(table, method, d) for d in names]
        if any(v is not None for v in values):
            rows[f"paper: {method}"] = (values, [{}] * len(names))
    for base, result in metrics.get("baselines", {}).items():
        theirs = [result["datasets"][d] for d in names]
        rows[f"{base} (measured)"] = ([m.get(key) for m in theirs], theirs)
    return rows


def comparison_plot(metrics: Mapping[str, Any], out: Path) -> Path:
    """SRCC and PLCC per dataset side by side: ours, the paper's Table 2 rows, the measured baselines."""
    import matplotlib.pyplot as plt

    names = list(metrics["datasets"])
    tables = {key: _comparison_rows(metrics, key) for key in ("srcc", "plcc")}
    labels = list(dict.fromkeys(label for rows in tables.values() for label in rows))
    colors = {
        label: plt.get_cmap("tab10")(i % 10) for i, label in enumerate(labels)
    }  # same method, same colour
    values = [v for rows in tables.values() for vs, _ in rows.values() for v in vs if v is not None]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(names) + 4), 4.5), dpi=100, sharey=True)
    for ax, (key, rows) in zip(axes, tables.items(), strict=True):
        width = 0.8 / len(rows)
        x = np.arange(len(names))
        for i, (label, (row, _)) in enumerate(rows.items()):
            heights = [np.nan if v is None else v for v in row]
            ax.bar(x + (i - (len(rows) - 1) / 2) * width, heights, width, label=label, color=colors[label])
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_title(key.upper())
        ax.axhline(0, color="black", linewidth=0.5)
    axes[0].set_ylim(min(-0.1, min(values, default=0.0) - 0.05), 1.0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[label]) for label in labels]
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize="small")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(out)
    plt.close(fig)
    return out


def write_plots(
    metrics: Mapping[str, Any], predictions: Mapping[str, pd.DataFrame], out_dir: Path
) -> list[Path]:
    """All report PNGs into ``out_dir``: one scatter per dataset and the comparison chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        scatter_plot(
            name,
            frame["mean"].to_numpy(dtype=float),
            frame["mos"].to_numpy(dtype=float),
            metrics["datasets"][name],
            out_dir / f"scatter_{name}.png",
        )
        for name, frame in predictions.items()
    ]
    paths.append(comparison_plot(metrics, out_dir / "correlations.png"))
    return paths


def _header(names: list[str], first: str) -> list[str]:
    return [first, *(f"{d} ({paper.COLUMNS[d]})" if d in paper.COLUMNS else d for d in names)]


def _comparison_table(metrics: Mapping[str, Any], key: str) -> str:
    rows = _comparison_rows(metrics, key)
    return table(
        _header(list(metrics["datasets"]), "method"),
        ([label, *map(_fmt_why, v, ms)] for label, (v, ms) in rows.items()),
    )


def _counts_table(metrics: Mapping[str, Any]) -> str:
    """What each correlation rests on: images scored of all, parse failures, visual tokens per image."""
    sets = metrics["datasets"]
    names = list(sets)

    def row(label: str, cell: Any) -> list[str]:
        return [label, *(cell(sets[d]) for d in names)]

    def tokens(m: Mapping[str, Any]) -> str:
        if m.get("visual_tokens_mean") is None:
            return "—"
        return f"{m['visual_tokens_mean']:.0f} (max {m['visual_tokens_max']})"

    return table(
        _header(names, ""),
        [
            row("images scored / listed", lambda m: f"{m['n']} / {m.get('n_images', m['n'])}"),
            row("unparsable completions", lambda m: str(m.get("parse_failures", "—"))),
            row("visual tokens per image", tokens),
        ],
    )


def _ordered(m: Mapping[str, Any]) -> str:
    if m.get("ordered_pairs") is None:
        return "—"
    return f"{_pct(m['ordered_pairs'])} of {m['n_ordered_pairs']} pairs"


def render_markdown(
    metrics: Mapping[str, Any], settings: Mapping[str, Any], plots: list[Path], notes: list[str]
) -> str:
    """The report page; ``plots`` are paths relative to the report's folder, ``notes`` e.g. skipped baselines."""
    lines = ["# Evaluation report", "", "## Settings", ""]
    lines += [f"- {key}: `{value}`" for key, value in settings.items()]
    lines += [
        "",
        "## Our results",
        "",
        "Bootstrap 95% confidence intervals in brackets. Parse failures: completions without a number "
        "(reported, never replaced). Out of range: parsed answers outside the 1-5 scale, counted and taken "
        "at the nearest end of the scale.",
        "",
    ]
    rows: list[list[object]] = [
        [
            name,
            m["n"],
            _fmt_why(m["srcc"], m) + _fmt_ci(m["srcc_ci"]),
            f"{_fmt(m['srcc_group_mean'])} ({m['n_groups']} groups)" if "n_groups" in m else "—",
            _fmt(m["krcc"]),
            _fmt(m["plcc"]) + _fmt_ci(m["plcc_ci"]),
            _fmt(m["plcc_4pl"]),
            _pct(m.get("parse_failure_rate")),
            _out_of_range(m),
            _ordered(m),
        ]
        for name, m in metrics["datasets"].items()
    ]
    mean = metrics["mean"]
    rows.append(
        ["**mean**", None, _fmt(mean["srcc"]), None, *(_fmt(mean[k]) for k in ("krcc", "plcc", "plcc_4pl"))]
    )
    header = ["dataset", "n", "SRCC", "SRCC (per-group mean)", "KRCC", "PLCC", "PLCC (4PL)", "parse failures"]
    lines.append(table([*header, "out of range", "more distorted scored lower"], rows))
    lines += [
        "",
        "SRCC (per-group mean): for sets scored within groups (SRIQA-Bench: 0-100 within each group of 11), "
        "the SRCC inside each group averaged over groups, beside the pooled SRCC.",
        "More distorted scored lower: of two copies of one reference with the same distortion at two levels "
        "(sets named like KADID-10K, I01_03_02.png), the share where the stronger level scored lower (a tie "
        "counts a half: 50% is chance), and how many pairs.",
    ]
    lines += ["", "## Beside the paper (Table 2, trained on KADID-10K) and classical baselines", ""]
    lines += [
        "SRCC:",
        "",
        _comparison_table(metrics, "srcc"),
        "",
        "PLCC, ours raw and after the 4-parameter logistic fit:",
        "",
        _comparison_table(metrics, "plcc"),
        "",
        "Counted, never filled: an image whose completions hold no number has no score and is left out of "
        "its set's correlations (no random stand-in).",
        "",
        _counts_table(metrics),
    ]
    lines += ["", *(f"- {note}" for note in notes)] if notes else []
    lines += [
        "",
        "Measured baselines are sign-flipped where lower is better. Paper numbers are on the full "
        "public sets; datasets the paper did not test show —.",
        "",
        "## Plots",
        "",
    ]
    lines += [f"![{p.stem}]({p.as_posix()})" for p in plots]
    return "\n".join(lines) + "\n"

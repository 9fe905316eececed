"""What a workspace has of its datasets and what is still to fetch by hand, as plain text lines.

`vqr1 data status` prints it, and the DVC `sources` stage fails with the same list while a set the
params need has no source, so ``dvc repro`` names every missing set at once. `vqr1 data catalogue`
lists the catalogue the same way. Output is one line per set that fits 80 columns, details indented
below it, written as plain lines (never a table a CI log would wrap into fragments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vqr1 import layout
from vqr1.config import DataParams
from vqr1.data import catalogue
from vqr1.data.download import LOCK_FILE, local_path, read_lock
from vqr1.errors import ConfigError

WIDTH = 80
State = Literal["present", "download", "generate", "manual"]


@dataclass(frozen=True)
class SetStatus:
    name: str
    state: State
    summary: str  # what the set's one line says after its name
    details: list[str] = field(default_factory=list)  # indented lines: directions, or --verbose facts

    @property
    def missing(self) -> bool:
        return self.state == "manual"


def _line(name: str, text: str) -> str:
    line = f"{name:<15} {text}"
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def _from(pieces: tuple[catalogue.Archive, ...]) -> str:
    hosts = list(dict.fromkeys(catalogue.source_host(p) for p in pieces))
    files = pieces[0].filename if len(pieces) == 1 else f"{len(pieces)} files"
    return f"will download {files} from {', '.join(hosts)}"


def set_status(root: Path, name: str, data: DataParams) -> SetStatus:
    """Present (and locked), will download (from where), will be generated, or to fetch by hand."""
    locked = read_lock(root).get(name, {})
    try:
        plan = catalogue.resolve(name, data)
    except ConfigError as exc:
        return SetStatus(
            name, "manual", "source error, see below", [f"  {line}" for line in str(exc).splitlines()]
        )
    if layout.raw_dir(root, name).is_dir():
        lock = f"locked ({len(locked)} file{'s' * (len(locked) != 1)})" if locked else "not locked"
        text = "present, generated" if plan.generate else f"present, {lock}"
        return SetStatus(name, "present", text, [f"  {f}: sha256 {sha}" for f, sha in sorted(locked.items())])
    if plan.generate:
        return SetStatus(name, "generate", "will be generated (data.synthetic)")
    if plan.missing:
        lines = catalogue.directions(plan.entry, plan.missing, locked)
        files = ", ".join(p.filename for p in plan.missing)
        return SetStatus(name, "manual", f"MANUAL: {files}, see below", lines[1:])
    absent = [p for p in plan.archives if p.local is not None and not local_path(root, p).is_file()]
    if absent:
        return SetStatus(
            name,
            "manual",
            f"MANUAL: {', '.join(p.filename for p in absent)} not found, see below",
            [f"  local archive {local_path(root, p)} not found (data.sources.{name})" for p in absent]
            + [f"  where: {plan.entry.homepage}"],
        )
    details = []
    for piece in plan.archives:
        sha = piece.sha256 or locked.get(piece.filename) or "locked after the first verified download"
        details.append(f"  {piece.part}: {piece.url or local_path(root, piece)}")
        details.append(f"    {catalogue.human_size(piece.size)}, sha256 {sha}")
    return SetStatus(name, "download", _from(plan.archives), details)


def workspace_status(root: Path, data: DataParams) -> list[SetStatus]:
    return [set_status(Path(root), name, data) for name in data.datasets]


def report(statuses: list[SetStatus], verbose: bool = False) -> list[str]:
    """One line per set; below, the directions of every set to fetch by hand (all details if verbose)."""
    lines = [_line(s.name, s.summary) for s in statuses]
    missing = [s for s in statuses if s.missing]
    ready = len(statuses) - len(missing)
    lines.append(f"{ready} of {len(statuses)} sets present or downloadable; {len(missing)} to fetch by hand")
    for status in statuses if verbose else missing:
        if status.details:
            lines += ["", status.name, *status.details]
    return lines


def require_sources(root: Path, data: DataParams) -> None:
    """Stop with the full list of sets that the params need and nobody can download."""
    statuses = workspace_status(root, data)
    if any(s.missing for s in statuses):
        raise ConfigError("datasets missing (vqr1 data status):\n" + "\n".join(report(statuses)))


def _kinds(entry: catalogue.Dataset) -> str:
    """The source kinds of a set: the authors' URL, a Drive file, a mirror, by hand."""
    if entry.generated:
        return "generated"
    names = {"url": "authors' URL", "drive": "Drive file", "manual": "manual"}
    each = {piece.part: names[catalogue.source_kind(piece)] for piece in entry.archives}
    if len(set(each.values())) == 1:
        kinds = list(set(each.values()))
    else:
        kinds = [f"{part}: {kind}" for part, kind in each.items()]
    mirror = catalogue.mirror_carrying(entry.name)
    if mirror is not None:
        kinds.append(f"mirror {mirror.name} (opt-in)")
    return ", ".join(kinds)


def catalogue_lines(verbose: bool = False) -> list[str]:
    """The catalogue, one line per set (name, images, source kinds); facts below each with ``verbose``."""
    lines = [_line("name", "images  sources")]
    for entry in catalogue.DATASETS.values():
        count = f"{entry.count:,}" if entry.count else "params"
        lines.append(_line(entry.name + (" *" if entry.optional else ""), f"{count:>6}  {_kinds(entry)}"))
        if not verbose:
            continue
        scale = f"{entry.mos_range[0]:g}-{entry.mos_range[1]:g}" if entry.parser else "-"
        if entry.reference:
            scale += f"; reference labels {entry.reference.mos_range[0]:g}-{entry.reference.mos_range[1]:g}"
        lines.append(
            f"    {entry.title}; raw scale {scale}, {'higher' if entry.higher_better else 'lower'} better"
        )
        lines.append(f"    homepage: {entry.homepage}")
        for piece in entry.archives:
            where = piece.url or "by hand"
            lines.append(f"    {piece.part}: {piece.filename} ({catalogue.human_size(piece.size)}) {where}")
        mirror = catalogue.mirror_carrying(entry.name)
        if mirror is not None:
            item = mirror.files[entry.name]
            lines.append(f"    mirror {mirror.name}: {mirror.repo} {item.filename} ({item.folder})")
        if entry.licence:
            lines.append(f"    licence: {entry.licence}")
        if entry.notes:
            lines.append(f"    notes: {entry.notes}")
    lines.append(f"* optional; checksums are locked in {LOCK_FILE}")
    return lines

"""`vqr1 storage download RUN DEST` against a user's folder, the current folder and a hostile manifest
(the real command line on a real SeaweedFS): it never deletes what it did not write, and every refusal is
one line, not a traceback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from tests.fixtures_storage import REPO, SeaweedHandle, fake_run_workspace
from vqr1.cli import main
from vqr1.storage import artifacts, s3


def _run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The `vqr1` entry point in-process, as a shell would call it: (exit code, stdout + stderr)."""
    monkeypatch.setattr("sys.argv", ["vqr1", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out + captured.err


@pytest.fixture
def stored_run(
    seaweed_server: SeaweedHandle, s3_bucket: tuple[s3.S3Settings, s3.S3Settings], tmp_path: Path
) -> tuple[list[str], str]:
    """A run in the store, and the command-line options that reach it (--dir, --params)."""
    writer, _ = s3_bucket
    params = fake_run_workspace(tmp_path / "ws", {"synthetic": 0.5})
    run_id = artifacts.new_run_id()
    artifacts.upload_run(s3.client(writer), writer, tmp_path / "ws", params, run_id)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["storage"]["bucket"] = writer.bucket
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    options = ["--dir", str(seaweed_server.storage_dir), "--params", str(tmp_path / "params.yaml")]
    return options, run_id


@pytest.mark.fault("storage download into a folder holding the user's notes, then --force")
def test_a_users_folder_is_never_replaced_without_force(
    scorecard, stored_run: tuple[list[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    options, run_id = stored_run
    dest = tmp_path / "mine"
    dest.mkdir(mode=0o755)
    (dest / "notes.txt").write_text("my notes")
    code, out = _run(["storage", "download", run_id, str(dest), *options], monkeypatch, capsys)
    assert code == 1 and "not a previous download" in out and "--force" in out, out
    assert "Traceback" not in out and (dest / "notes.txt").read_text() == "my notes"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755

    code, out = _run(["storage", "download", run_id, str(dest), *options, "--force"], monkeypatch, capsys)
    assert code == 0, out
    assert not (dest / "notes.txt").exists() and (dest / "reports/eval/metrics.json").is_file()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755, "the folder's mode changed"
    scorecard.happened = (
        "refused in one line naming --force; notes.txt and the folder's mode 755 kept; with --force the run "
        "replaced it (mode still 755)"
    )


@pytest.mark.fault("storage download over a previous download, and over one the user added a file to")
def test_a_previous_download_is_replaced_but_not_the_users_additions(
    scorecard, stored_run: tuple[list[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    options, run_id = stored_run
    dest = tmp_path / "champion"
    assert _run(["storage", "download", run_id, str(dest), *options], monkeypatch, capsys)[0] == 0
    marker = json.loads((dest / artifacts.DOWNLOAD_MARKER).read_text())
    assert marker["run_id"] == run_id and "reports/eval/metrics.json" in marker["files"]
    assert _run(["storage", "download", run_id, str(dest), *options], monkeypatch, capsys)[0] == 0, (
        "refresh refused"
    )

    (dest / "reports" / "my-analysis.md").write_text("mine")
    code, out = _run(["storage", "download", run_id, str(dest), *options], monkeypatch, capsys)
    assert code == 1 and "did not write" in out and "my-analysis.md" in out, out
    assert (dest / "reports" / "my-analysis.md").read_text() == "mine"
    scorecard.happened = (
        "a previous download (marker .vqr1-download.json listing its files) is refreshed; once the user "
        "added reports/my-analysis.md the download is refused naming it; nothing deleted"
    )


@pytest.mark.fault("storage download with DEST = the current folder, or a file")
@pytest.mark.parametrize("dest", [".", "..", "file"])
def test_current_folder_or_a_file_is_a_clear_error(
    scorecard,
    stored_run: tuple[list[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    dest: str,
) -> None:
    options, run_id = stored_run
    work = tmp_path / "work"
    work.mkdir()
    (work / "file").write_text("x")
    monkeypatch.chdir(work)
    before = sorted(p.name for p in work.iterdir())
    code, out = _run(["storage", "download", run_id, dest, *options], monkeypatch, capsys)
    assert code == 1 and "Traceback" not in out and len(out.strip().splitlines()) <= 3, out
    assert ("current folder" if dest != "file" else "not a folder") in out
    assert sorted(p.name for p in work.iterdir()) == before
    scorecard.fault = f"storage download into DEST={dest!r}"
    scorecard.happened = "error: " + " ".join(out.split())[7:90] + "...; nothing written"


@pytest.mark.fault("run manifest listing both `a` and `a/b`, or `../x`")
@pytest.mark.parametrize(("paths", "problem"), [(["a", "a/b"], "lists both"), (["../x"], "unsafe path")])
def test_hostile_manifest_paths_are_refused(
    scorecard,
    s3_bucket: tuple[s3.S3Settings, s3.S3Settings],
    stored_run: tuple[list[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    paths: list[str],
    problem: str,
) -> None:
    writer, _ = s3_bucket
    options, run_id = stored_run
    client = s3.client(writer)
    key = artifacts.run_prefix(run_id) + artifacts.MANIFEST
    manifest = json.loads(s3.get_bytes(client, writer, key) or b"{}")
    for rel in paths:
        manifest["files"][rel] = {"sha256": "0" * 64, "size": 1}
    s3.put_bytes(client, writer, key, json.dumps(manifest).encode(), "application/json")
    dest = tmp_path / "download"
    code, out = _run(["storage", "download", run_id, str(dest), *options], monkeypatch, capsys)
    assert code == 1 and problem in out and "Traceback" not in out, out
    assert not dest.exists() and not (tmp_path / "x").exists()
    scorecard.fault += f": {' + '.join(paths)}"
    scorecard.happened = f"error before any transfer: {problem} ...; run refused, nothing written"

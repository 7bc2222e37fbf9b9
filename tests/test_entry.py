"""The console script's entry point: the CLI it runs, with collection back on afterwards."""

from __future__ import annotations

import gc

import pytest

from worktrack import entry


def test_main_runs_the_cli_and_leaves_collection_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["worktrack", "--help"])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 0
    assert "serve" in capsys.readouterr().out
    assert gc.isenabled()

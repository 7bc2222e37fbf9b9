from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from worktrack.clients import claude_code, connection_help, executable, json_config


def test_snippets_start_the_stdio_server_for_this_repository(tmp_path: Path) -> None:
    env = {"WORKTRACK_REPO": str(tmp_path / "my repo")}
    assert claude_code("/opt/wt/bin/worktrack", env) == (
        f"claude mcp add worktrack -e 'WORKTRACK_REPO={tmp_path}/my repo' "
        "-- /opt/wt/bin/worktrack serve"
    )
    config = json.loads(json_config("/opt/wt/bin/worktrack", env))
    assert config == {
        "mcpServers": {
            "worktrack": {"command": "/opt/wt/bin/worktrack", "args": ["serve"], "env": env}
        }
    }
    text = connection_help("/opt/wt/bin/worktrack", env)
    assert "Claude Code" in text and "Cursor" in text and '"mcpServers"' in text


def test_executable_is_an_absolute_path() -> None:
    assert Path(executable()).is_absolute()


def test_module_entry_point_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "worktrack", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "serve" in done.stdout

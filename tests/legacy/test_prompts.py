"""Reading session prompt files: each valid one read, each other one skipped with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worktrack.legacy.prompts import read_prompts

from legacy_files import FIXTURE, copy_fixture

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


def test_the_fixture_prompts() -> None:
    found, skipped = read_prompts(FIXTURE / "prompts")
    assert [prompt.file for prompt in found] == [f"session-00{n}.md" for n in range(4)]
    assert [prompt.title for prompt in found] == [f"Session {n}" for n in range(4)]
    assert found[1].frontmatter["date"] == "2025-09-02"  # YAML's date, as JSON text
    assert found[1].dated == datetime(2025, 9, 2, tzinfo=UTC)
    assert [(s.file, s.reason) for s in skipped] == [
        ("broken-00.md", "malformed YAML: found unexpected end of stream (near line 4)"),
        ("broken-01.md", "the frontmatter has no schema_version"),
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"# No frontmatter\n", "no YAML frontmatter (a '---' block at the top)"),
        (b"---\nschema_version: 1\n", "the frontmatter has no closing '---'"),
        (b"---\n- a\n- b\n---\n", "the frontmatter is not a mapping of keys to values"),
        (
            b"---\nschema_version: 1\nratio: .nan\n---\n",
            "the frontmatter holds nan, which JSON cannot",
        ),
        (b"---\nschema_version: 1\nblob: !!binary aGk=\n---\n", "the frontmatter holds a bytes"),
        (b"---\nschema_version: 1\n---\n\xff\xfe", "not UTF-8 text"),
        (b"+++\nschema_version = 1\n+++\n", "no YAML frontmatter"),
    ],
)
def test_unusable_files_are_skipped_with_the_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / "bad.md").write_bytes(content)
    (tmp_path / "good.md").write_text("---\nschema_version: 1\n---\nno heading\n", encoding="utf-8")
    found, skipped = read_prompts(tmp_path)
    assert [prompt.file for prompt in found] == ["good.md"]
    assert found[0].title == "good" and found[0].dated is None
    [bad] = skipped
    assert bad.file == "bad.md" and bad.reason.startswith(reason)


def test_frontmatter_values_become_json(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text(
        "\ufeff---\nschema_version: '1.0'\n1: one\ndate: 2025-09-01 10:00:00\n"
        "tags: [a, b]\nnested: {at: 2025-09-02}\n---\n# Title\n",
        encoding="utf-8",
    )
    [prompt], _ = read_prompts(tmp_path)
    assert prompt.frontmatter == {
        "schema_version": "1.0",
        "1": "one",
        "date": "2025-09-01T10:00:00",
        "tags": ["a", "b"],
        "nested": {"at": "2025-09-02"},
    }
    assert prompt.dated == datetime(2025, 9, 1, 10, tzinfo=UTC)  # a time without zone: UTC


LAUGHS = (  # 273 bytes that expand to 531,441 strings through aliases
    "---\nschema_version: '1.0'\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n---\n# Laughs\n"
)
ALIAS_REFUSED = "YAML anchors and aliases (& and *) are not read: an anchor or alias"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (LAUGHS, f"{ALIAS_REFUSED} (near line 3)"),
        ("---\nschema_version: 1\nloop: &x [*x]\n---\n", f"{ALIAS_REFUSED} (near line 3)"),
        ("---\nschema_version: 1\nx: &one 1\n---\n", f"{ALIAS_REFUSED} (near line 3)"),
        ("---\nschema_version: 1\n<<: *base\n---\n", f"{ALIAS_REFUSED} (near line 3)"),
        (
            "---\nschema_version: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n",
            "the frontmatter is nested too deeply",
        ),
        ("---\nschema_version: 1\n---\n" + "x" * 1_048_577, "larger than 1048576 bytes"),
    ],
    ids=["billion-laughs", "self-reference", "anchor-only", "merge-key", "deep", "huge"],
)
def test_yaml_that_expands_or_recurses_is_skipped_with_the_reason(
    tmp_path: Path, content: str, reason: str
) -> None:
    (tmp_path / "bad.md").write_text(content, encoding="utf-8")
    found, skipped = read_prompts(tmp_path)
    assert found == [] and [(s.file, s.reason) for s in skipped] == [("bad.md", reason)]


def test_import_legacy_skips_an_alias_bomb_and_imports_the_rest(tmp_path: Path) -> None:
    """The attack as it came: a prompt file in the directory given to the real command."""
    status, prompts = copy_fixture(tmp_path)
    (prompts / "session-laughs.md").write_text(LAUGHS, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "COVERAGE"))}
    done = subprocess.run(
        [WORKTRACK, "import-legacy", str(status), "--prompts", str(prompts), "--json"],
        env={**environment, "HOME": str(tmp_path), "WORKTRACK_REPO": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["success"] is True
    assert {"file": "session-laughs.md", "reason": f"{ALIAS_REFUSED} (near line 3)"} in result[
        "skipped"
    ]

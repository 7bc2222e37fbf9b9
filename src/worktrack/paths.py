"""Where worktrack may write: every file path is confined to the project's own folders.

The roots are the repository (``WORKTRACK_REPO``) and the local state folder
(``WORKTRACK_HOME``), each resolved first. A path is resolved too, following every
symlink (a missing tail is resolved as far as it exists), and must then lie inside a root
by path components, never by string prefix: ``/repo-evil`` is not inside ``/repo``, and a
symlink inside the repository that points outside leads outside. The status file and
``worktrack report --output`` pass through ``confine`` before anything is written.

The state folder is worktrack's own: ``prepare_home`` creates it with a ``.gitignore`` of
``*`` (so the repository's ``git status`` never shows it) and refuses the default
``<repo>/.worktrack`` when the repository made it a symlink, which would let a checkout
choose where worktrack keeps its databases and which folder counts as a root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from worktrack.errors import ValidationError
from worktrack.settings import Settings

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
GITIGNORE = "# worktrack's local state (databases, cache, locks): never committed\n*\n"


def roots(settings: Settings) -> tuple[Path, ...]:
    return (settings.repo.resolve(), state_folder(settings))


def state_folder(settings: Settings) -> Path:
    """The state folder, resolved; the default one must be a real folder, not a link."""
    if settings.default_home and (settings.repo / ".worktrack").is_symlink():
        raise ValidationError(
            "WORKTRACK_HOME",
            f"{settings.repo / '.worktrack'} is a symlink: the repository must not choose "
            "where worktrack keeps its state; remove it or set WORKTRACK_HOME",
        )
    return settings.home_dir


def prepare_home(settings: Settings) -> Path:
    """Create the state folder if it is missing, with its ``.gitignore``; return it."""
    home = state_folder(settings)
    created = not home.exists()
    try:
        home.mkdir(parents=True, exist_ok=True)
        if created or settings.default_home:
            _write_new(home / ".gitignore", GITIGNORE)
    except OSError as error:
        raise ValidationError(
            "WORKTRACK_HOME", f"cannot create {home} or its .gitignore: {error.strerror or error}"
        ) from None
    return home


def _write_new(path: Path, text: str) -> None:
    """Write ``path`` only if nothing (not even a dangling link) is there yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def confine(path: Path, allowed: Sequence[Path], field: str) -> Path:
    """``path`` resolved, if it lies inside one of ``allowed`` (resolved too); else a
    ValidationError naming ``field`` and the roots."""
    text = str(path)
    if "\x00" in text:
        raise ValidationError(field, "must not contain a NUL character")
    if len(os.fsencode(text)) > MAX_PATH_BYTES:
        raise ValidationError(field, f"longer than {MAX_PATH_BYTES} bytes")
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in path.parts):
        raise ValidationError(field, f"has a name longer than {MAX_NAME_BYTES} bytes")
    resolved = path.expanduser().resolve()
    bases = [root.resolve() for root in allowed]
    if any(resolved.is_relative_to(base) for base in bases):
        return resolved
    where = " or ".join(str(base) for base in bases)
    raise ValidationError(
        field, f"{resolved} is outside {where} (symlinks followed); choose a path inside"
    )


def status_file(settings: Settings) -> Path:
    """The status file (WORKTRACK_STATUS_FILE), confined."""
    return confine(settings.status_path, roots(settings), "WORKTRACK_STATUS_FILE")

"""Atomic writes: a crash leaves the old file (or nothing), never half a new one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from lexdense.errors import LexDenseError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_file(path: str | os.PathLike, inputs=()) -> Path:
    """The file an output to ``path`` really replaces, or OutputExistsError (one line).

    Refused: a directory, anything not a regular file (a FIFO, a device such as /dev/null, a
    socket), and the input itself (same file after resolving links: same device and inode).
    A symlink is written through: its target is replaced, the link kept.
    """
    import stat

    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.exists():
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            raise OutputExistsError(f"{path} is a directory: the output needs a file path")
        if not stat.S_ISREG(mode):
            raise OutputExistsError(f"{path} is not a regular file (a device, FIFO or socket): choose a file path")
        for source in inputs:
            source = Path(source)
            if source.exists() and os.path.samefile(target, source):
                raise OutputExistsError(f"the output {path} is the input {source}: choose another output path "
                                        "(an input is never overwritten)")
    return target


def _host() -> str:
    """This host's name as it goes into temporary file names (letters, digits, - and _)."""
    import socket

    return "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_")[:40] or "host"


def _temp_prefix(path: Path) -> str:
    """Prefix of the temporary files and directories beside ``path``: they name this host
    and process, so a later run can tell the leftovers of a killed one (:func:`sweep_stale`)."""
    return f".{path.name}.lexdense-{_host()}-{os.getpid()}-"


def sweep_stale(path: str | os.PathLike) -> int:
    """Remove the temporary files and directories that killed lexdense processes of this host
    left beside ``path`` (named by :func:`_temp_prefix`, their process gone); returns how
    many. Nothing else is touched: not another host's, not a live process's, not a user's."""
    import re

    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.lexdense-{_host()}-") + r"(\d+)-[^/]*\.(tmp|old)$")
    removed = 0
    try:
        entries = list(path.parent.iterdir()) if path.parent.is_dir() else []
    except OSError:
        return 0
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        try:
            previous = entry / "previous"
            if match.group(2) == "old" and previous.exists() and not path.exists() and not path.is_symlink():
                os.replace(previous, path)  # killed mid-swap: the old output comes back
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``'s real file; rename it over that on success.

    Refuses (:func:`check_output_file`) directories, devices and FIFOs, and writes through
    symlinks to their target.
    """
    path = check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes owner-only files; give the result the permissions open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


MARKER = ".lexdense-output"
_HELD: dict[str, int] = {}


class LockedError(LexDenseError, ValueError):
    """Another process is writing the same output."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of an output: in a per-user directory under the system's temporary
    directory, named by a hash of the output's absolute path (nothing is left beside the
    user's files)."""
    import hashlib

    real = os.path.realpath(os.path.abspath(path))
    digest = hashlib.blake2b(real.encode("utf-8", "surrogateescape"), digest_size=12).hexdigest()
    return Path(tempfile.gettempdir()) / f"lexdense-locks-{os.getuid()}" / f"{digest}.lock"


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike):
    """Hold an OS lock (flock) on ``path``'s lock file: one writer at a time.

    A second process gets :class:`LockedError` at once, naming the output; the same process
    may nest locks on one output. Lock files stay in :func:`lock_path`'s directory (deleting
    one would let two writers hold "the" lock on different files); the OS releases a lock
    when its holder dies. Worker processes die with their parent, so they cannot keep it.
    """
    import fcntl

    lock = lock_path(path)
    key = str(lock)
    if _HELD.get(key):
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockedError(f"{path} is being written by another lexdense process: wait for it to finish") from None
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class OutputExistsError(LexDenseError, ValueError):
    """An output path holds something lexdense did not write; the message says what to do."""


def check_output_directory(path: str | os.PathLike, kind: str, overwrite: bool = False,
                           recognize=None) -> None:
    """Refuse to replace ``path`` unless it is absent, empty, an earlier lexdense output of
    the same ``kind`` (its marker file, or ``recognize(path)`` for outputs written before
    markers existed), or ``overwrite`` is set. Never deletes anything itself."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        raise OutputExistsError(f"{path} exists and is not a directory: choose another output path")
    if overwrite or not any(path.iterdir()):
        return
    marker = path / MARKER
    if marker.is_file():
        try:
            import json

            written = json.loads(marker.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            written = None
        if written == kind:
            return
        raise OutputExistsError(f"{path} holds a lexdense {written or 'output'} output, not a {kind}: "
                                "choose another path, or pass --overwrite to replace it")
    if recognize is not None and recognize(path):
        return
    raise OutputExistsError(f"{path} is a directory lexdense did not write: choose another path, "
                            "or pass --overwrite to replace it and everything in it")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, kind: str = "output", overwrite: bool = False, recognize=None):
    """Yield a temporary directory beside ``path``; swap it in for ``path`` on success.

    An existing directory is replaced only when :func:`check_output_directory` allows it
    (an earlier output of the same ``kind``, an empty directory, or ``overwrite``). It is
    moved aside first and removed only after the new one is in place, so a crash at any
    point leaves a complete old or a complete new directory. The new directory carries a
    marker file naming its kind.
    """
    import json

    path = Path(path)
    check_output_directory(path, kind, overwrite, recognize)  # fail early, before the caller's work
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path), _temporary_directory(path) as tmp:
        check_output_directory(path, kind, overwrite, recognize)  # again, now that no one else writes
        yield tmp
        (tmp / MARKER).write_text(json.dumps({"kind": kind}) + "\n", encoding="utf-8")
        _swap_in(tmp, path)


@contextlib.contextmanager
def _temporary_directory(path: Path):
    sweep_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path``; an old ``path`` is moved aside first, removed only after."""
    os.chmod(tmp, 0o777 & ~_umask())
    for child in tmp.iterdir():
        os.chmod(child, 0o666 & ~_umask())
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".old", dir=path.parent))
        os.replace(path, old / "previous")
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


def write_json(path: str | os.PathLike, data) -> None:
    """Write ``data`` as indented JSON, atomically."""
    import json

    with atomic_file(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def one_writer(path: str | os.PathLike, function, *args, **kwargs):
    """``function(*args, **kwargs)`` under :func:`exclusive_lock` of ``path``: one writer at a
    time per output (a second gets a one-line :class:`LockedError`)."""
    with exclusive_lock(path):
        return function(*args, **kwargs)

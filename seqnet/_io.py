"""Atomic files: write beside the target, fsync, then rename over it.

A save goes through a symbolic link to the file it names (the link stays a link),
refuses anything that is not a regular file (a directory, a FIFO, a device), and
cleans up the temporaries that earlier saves of the same file left when they were
killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no clean-up
    fcntl = None

#: a temporary older than this (seconds since its last write) whose writer is gone
#: is removed by the next save of the same file.
STALE_SECONDS = 10.0


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def target(path):
    """The file a save of ``path`` writes: ``path``, or the file its symbolic links
    lead to (which need not exist yet), refused when it exists and is not a
    regular file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str

    Raises
    ------
    IsADirectoryError
        It is a directory.
    FileNotFoundError
        Its directory does not exist.
    PermissionError
        Its directory is not writable.
    ValueError
        It is a FIFO, a device or a socket, or cannot be looked at (a loop of
        symbolic links).
    """
    path = os.fspath(path)
    real = os.path.realpath(path) if os.path.islink(path) else path
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:   # a loop of symbolic links, a name too long, ...
        raise ValueError(f"cannot save to {path!r}: {exc.strerror}") from exc
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{path!r} is a directory, not a file to save to")
        raise ValueError(f"{path!r} is {_kind(mode)}, not a regular file: refusing to "
                         "replace it")
    directory = os.path.dirname(os.path.abspath(real))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save {path!r}: its directory {directory!r} does "
                                "not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot save {path!r}: its directory {directory!r} is not "
                              "writable")
    return real


def _create_beside(path, directory):
    """A new ``.<name>.<random>.tmp`` in ``directory``, opened for writing with mode
    0o666, which the umask trims as for any new file (mkstemp would force 0o600),
    and locked while this process writes it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, tmp


def remove_stale_temporaries(path):
    """Remove the temporaries that killed saves of ``path`` left beside it.

    A temporary is stale when no process holds its lock (its writer is gone: a
    process that dies releases its locks) and it has not been written to for
    :data:`STALE_SECONDS` (so a save that has just created its file and not yet
    locked it is left alone). Only names this module makes are touched.

    Parameters
    ----------
    path : str or os.PathLike
        The saved file (after symbolic links: see :func:`target`).

    Returns
    -------
    int
        The number of temporaries removed.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return 0
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(re.escape(f".{os.path.basename(path)}.") + r"[0-9a-f]{12}\.tmp")
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if not pattern.fullmatch(name):
            continue
        tmp = os.path.join(directory, name)
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < STALE_SECONDS:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue   # a live save holds it
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
                removed += 1
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    If the block raises (or the process dies), ``path`` keeps its previous content
    and the temporary file is removed (or, after a hard crash, left as a
    ``.<name>.*.tmp`` file that is never mistaken for the real one, and that the
    next save of ``path`` removes: :func:`remove_stale_temporaries`). The file gets
    the permissions ``open`` would give it: those of the file it replaces, or
    ``0o666`` less the umask for a new one. A symbolic link is written through: the
    file it leads to is replaced, atomically, in its own directory, and the link
    stays.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    mode : {"wb", "w"}, default "wb"
        Mode of the temporary file, binary or text.

    Yields
    ------
    file object
        The open temporary file.

    Raises
    ------
    IsADirectoryError, FileNotFoundError, PermissionError, ValueError
        As :func:`target`: ``path`` cannot be saved to (before anything is written).
    """
    real = target(path)
    directory = os.path.dirname(os.path.abspath(real))
    remove_stale_temporaries(real)
    fd, tmp = _create_beside(real, directory)
    try:
        with os.fdopen(fd, mode) as f:
            with contextlib.suppress(OSError):  # keep the replaced file's mode, if any
                os.chmod(tmp, os.stat(real).st_mode & 0o7777)
            yield f
            f.flush()
            os.fsync(f.fileno())
            # renamed while still locked: no clean-up can take it for a stale one.
            os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

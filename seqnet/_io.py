"""Atomic files: write beside the target, fsync, then rename over it."""

from __future__ import annotations

import contextlib
import os
import secrets


def _create_beside(path, directory):
    """A new ``.<name>.<random>.tmp`` in ``directory``, opened for writing with mode
    0o666, which the umask trims as for any new file (mkstemp would force 0o600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    If the block raises (or the process dies), ``path`` keeps its previous content
    and the temporary file is removed (or, after a hard crash, left as a
    ``.<name>.*.tmp`` file that is never mistaken for the real one). The file
    gets the permissions ``open`` would give it: those of the file it replaces,
    or ``0o666`` less the umask for a new one.

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
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_beside(path, directory)
    try:
        with os.fdopen(fd, mode) as f:
            with contextlib.suppress(OSError):  # keep the replaced file's mode, if any
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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

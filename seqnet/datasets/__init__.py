"""Text corpora: the bundled Shakespeare corpus and a loader for your own.

- `shakespeare` returns the corpus shipped inside the package (no network).
- `load_text` reads any text file, plain or gzip-compressed, with errors that
  name the file.

Examples
--------
>>> from seqnet.datasets import shakespeare
>>> from seqnet.text import CharVocabulary
>>> text = shakespeare()
>>> len(text), len(CharVocabulary.from_text(text))
(1016659, 66)
"""

from __future__ import annotations

import codecs
import errno
import functools
import gzip
import os
import pathlib
import zlib
from importlib import resources

__all__ = ["TextDecodeError", "load_text", "shakespeare"]

_SHAKESPEARE = "shakespeare.txt.gz"
_GZIP_MAGIC = b"\x1f\x8b"


@functools.lru_cache(maxsize=1)
def shakespeare():
    """The bundled Shakespeare corpus, as one string.

    Returns
    -------
    str
        1,016,659 characters (all ASCII, so as many bytes; 37,719 lines, ending in
        a newline) from eight plays in the public domain, in this order:
        *Coriolanus*, *Julius Caesar*, *Romeo and Juliet*, *Richard III*,
        *Macbeth*, *King Lear*, *A Midsummer Night's Dream* and *Twelfth Night*.
        Each speech is the speaker's name and a colon on a line of its own, then
        the lines spoken, then a blank line.

    Notes
    -----
    Measured on the bundled file: 66 distinct characters (newline, space,
    ``! & ' , - . : ; ?``, ``A-Z``, ``[ \\ ]`` and ``a-z``; no digits), 40 once
    lowercased. The brackets and backslashes are in the source transcription (for
    instance ``\\[Censorinus,]`` and ``'\\--``); they are kept, not cleaned.

    The file is ``seqnet/datasets/data/shakespeare.txt.gz`` (398,178 bytes), made
    with ``gzip.compress(data, compresslevel=9, mtime=0)`` so that the bytes are
    reproducible. It is read through ``importlib.resources``, so it works from an
    installed wheel or a zip. The string is cached: later calls return the same
    object (strings are immutable).

    Examples
    --------
    >>> text = shakespeare()
    >>> text[:30]
    'First Citizen:\\nBefore we proce'
    >>> len(set(text)), len(set(text.lower()))
    (66, 40)
    """
    blob = resources.files(__name__).joinpath("data", _SHAKESPEARE).read_bytes()
    return gzip.decompress(blob).decode("utf-8")


class TextDecodeError(ValueError):
    """A file that is not valid text in the encoding it was read with.

    Parameters
    ----------
    message : str
        The error's text (it names the file, the encoding and the offset).
    looks_gzipped : bool
        Whether the bytes look gzip-compressed (a ``.gz`` name would fix it, not
        another encoding).
    """

    def __init__(self, message, *, looks_gzipped):
        super().__init__(message)
        self.looks_gzipped = looks_gzipped


def load_text(path, *, encoding="utf-8"):
    """Read a whole text file (plain, or gzip-compressed if its name ends in ``.gz``).

    Parameters
    ----------
    path : str or os.PathLike
        The file. A name ending in ``.gz`` (any case) is decompressed first.
    encoding : str, default "utf-8"
        Any codec name Python knows (``"latin-1"``, ``"utf-8-sig"``, ...).

    Returns
    -------
    str
        The file's text, exactly as decoded: line endings are not translated
        (a ``\\r\\n`` file keeps its ``\\r``; use ``text.replace("\\r\\n", "\\n")``
        if you do not want ``\\r`` in the vocabulary).

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like, or ``encoding`` not a str.
    FileNotFoundError
        If ``path`` does not exist (the message names it).
    IsADirectoryError
        If ``path`` is a directory.
    ValueError
        If ``encoding`` is not a known text encoding, the bytes are not valid text in
        ``encoding`` (the message names the path, the encoding and the offset of
        the first bad byte), a ``.gz`` file is not valid gzip, or the text is
        empty.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "poem.txt")
    ...     with open(path, "w", encoding="utf-8") as f:
    ...         _ = f.write("To be, or not to be\\n")
    ...     load_text(path)
    'To be, or not to be\\n'
    """
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a str (a codec name), got "
                        f"{type(encoding).__name__}")
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise ValueError(f"encoding must be the name of a text encoding Python knows, "
                         f"got {encoding!r}") from exc
    path = pathlib.Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "load_text: is a directory, not a text file",
                                str(path))
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "load_text: no such file", str(path))
    data = path.read_bytes()
    compressed = path.name.lower().endswith(".gz")
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{str(path)!r}: the name ends in .gz but the file is not "
                             f"valid gzip data ({exc})") from exc
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        of = " of the decompressed data" if compressed else ""
        gzipped = not compressed and data[:2] == _GZIP_MAGIC
        hint = (" (it looks gzip-compressed: give it a .gz name)" if gzipped
                else " (pass the file's encoding=..., for instance 'latin-1')")
        raise TextDecodeError(f"{str(path)!r} is not valid {encoding} text: undecodable "
                              f"byte at offset {exc.start}{of} ({exc.reason}){hint}",
                              looks_gzipped=gzipped) from exc
    except UnicodeError as exc:  # a codec that fails otherwise
        raise ValueError(f"{str(path)!r} is not valid {encoding} text ({exc})") from exc
    except LookupError as exc:  # a bytes-to-bytes codec such as "base64"
        raise ValueError(f"encoding must be the name of a text encoding, got "
                         f"{encoding!r} ({exc})") from exc
    if not text:
        raise ValueError(f"{str(path)!r} is empty: no text to load")
    return text

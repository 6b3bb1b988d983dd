"""seqnet.datasets: the bundled Shakespeare corpus and load_text."""

import doctest
import gzip
import hashlib
import pathlib
from importlib import resources

import pytest

import seqnet.datasets
from seqnet.datasets import load_text, shakespeare
from seqnet.text import CharVocabulary

#: the corpus the bundled file was made from, when this machine has it.
SOURCE = pathlib.Path("/work/shared/data/shakespeare.txt")
#: sha256 of the decompressed corpus, measured when it was bundled.
SHA256 = "f50f7e25dbb10a284cb0046aba0a14ffbf7e6e869f94da55e0c89d76d29eec50"


def test_docstring_examples_run():
    result = doctest.testmod(seqnet.datasets)
    assert result.attempted >= 5
    assert result.failed == 0


# ------------------------------------------------------------- shakespeare

@pytest.mark.skipif(not SOURCE.is_file(), reason=f"{SOURCE} not on this machine")
def test_bundled_corpus_equals_the_source_byte_for_byte():
    assert shakespeare().encode("utf-8") == SOURCE.read_bytes()


def test_corpus_facts_stated_in_the_docstring():
    text = shakespeare()
    assert len(text) == 1_016_659 > 1e6
    assert text.isascii()
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == SHA256
    assert text.count("\n") == 37_719 and text.endswith("\n")
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_corpus_has_66_distinct_characters_40_lowercased():
    text = shakespeare()
    expected = ("\n !&',-.:;?" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "[\\]"
                + "abcdefghijklmnopqrstuvwxyz")
    assert "".join(sorted(set(text))) == expected
    assert len(CharVocabulary.from_text(text)) == 66
    assert len(CharVocabulary.from_text(text, lowercase=True)) == 40


def test_corpus_has_the_eight_plays():
    text = shakespeare()
    # one speaker per play, in order: Coriolanus, Julius Caesar, Romeo and Juliet,
    # Richard III, Macbeth, King Lear, A Midsummer Night's Dream, Twelfth Night
    speakers = ["Menenius", "Cassius", "Romeo", "King Richard Iii", "Lady Macbeth",
                "King Lear", "Theseus", "Malvolio"]
    starts = [text.index(f"\n{name}:\n") for name in speakers]
    assert starts == sorted(starts)


def test_bundled_file_is_gzip_level_9_without_a_timestamp():
    blob = resources.files("seqnet.datasets").joinpath("data", "shakespeare.txt.gz").read_bytes()
    assert len(blob) == 398_178
    assert blob[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no flags (no file name)
    assert blob[4:8] == b"\x00\x00\x00\x00"  # mtime 0: reproducible bytes
    assert blob[8] == 2  # XFL 2: maximum compression
    assert gzip.decompress(blob).decode("utf-8") == shakespeare()


def test_corpus_is_cached():
    assert shakespeare() is shakespeare()


# --------------------------------------------------------------- load_text

def test_load_plain_text_as_is(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("Alas, poor Yorick!\r\nI knew him\u2014\n".encode())
    assert load_text(path) == "Alas, poor Yorick!\r\nI knew him\u2014\n"  # \r kept
    assert load_text(str(path)) == load_text(path)


@pytest.mark.parametrize("name", ["a.txt.gz", "A.TXT.GZ", "corpus.gz"])
def test_load_gzip_text(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress("\u00e9t\u00e9\n".encode()))
    assert load_text(path) == "\u00e9t\u00e9\n"


def test_load_with_another_encoding(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    assert load_text(path, encoding="latin-1") == "caf\u00e9"
    with pytest.raises(ValueError) as info:
        load_text(path)
    msg = str(info.value)
    assert str(path) in msg and "not valid utf-8 text" in msg
    assert "offset 3" in msg and "encoding=" in msg


def test_load_bundled_corpus_through_load_text(tmp_path):
    path = tmp_path / "s.txt.gz"
    path.write_bytes(resources.files("seqnet.datasets")
                     .joinpath("data", "shakespeare.txt.gz").read_bytes())
    assert load_text(path) == shakespeare()


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt") as info:
        load_text(path)
    assert info.value.filename == str(path)


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory") as info:
        load_text(tmp_path)
    assert info.value.filename == str(tmp_path)


@pytest.mark.parametrize("name,data", [
    ("empty.txt", b""),
    ("empty.txt.gz", gzip.compress(b"")),
    ("bom.txt", b"\xef\xbb\xbf"),
])
def test_empty_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"is empty") as info:
        load_text(path, encoding="utf-8-sig")
    assert str(path) in str(info.value)


def test_undecodable_gzip_content_names_path_and_encoding(tmp_path):
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(b"ok\xff"))
    with pytest.raises(ValueError, match=r"not valid utf-8 text.*offset 2 of the decompressed"):
        load_text(path)


def test_not_gzip_despite_the_name(tmp_path):
    path = tmp_path / "fake.txt.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(ValueError, match=r"name ends in .gz but the file is not valid gzip"):
        load_text(path)
    path.write_bytes(gzip.compress(b"truncated text")[:-6])
    with pytest.raises(ValueError, match=r"not valid gzip"):
        load_text(path)


def test_gzip_without_the_name_gets_a_hint(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(gzip.compress(b"text"))
    with pytest.raises(ValueError, match=r"looks gzip-compressed: give it a .gz name"):
        load_text(path)


@pytest.mark.parametrize("kw,exc,pattern", [
    ({"encoding": "no-such-codec"}, ValueError, r"encoding must be the name of a text encoding"),
    ({"encoding": "base64"}, ValueError, r"encoding must be the name of a text encoding"),
    ({"encoding": None}, TypeError, r"encoding must be a str"),
])
def test_bad_encoding(tmp_path, kw, exc, pattern):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    with pytest.raises(exc, match=pattern):
        load_text(path, **kw)


@pytest.mark.parametrize("bad", [None, 3, b"a.txt", ["a.txt"]])
def test_bad_path_type(bad):
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike"):
        load_text(bad)

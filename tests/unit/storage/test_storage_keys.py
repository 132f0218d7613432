"""Keys as folder and file names, and S3's listing rules (storage/keys.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailkeeper.storage.keys import ALT, EMPTY, JOINED, MAX_KEY_BYTES, decode_names, encode_key, list_page

# Keys biased towards what breaks paths: separators, dots, escapes, control and non-ASCII characters.
_PIECES = st.sampled_from(
    ["/", ".", "..", "%", "%2E", "%~", "%+", "%!", "a", "é", "😀", "\x00", "\n", " ", "+"]
)
_KEYS = st.lists(_PIECES | st.text(min_size=1, max_size=300), min_size=1, max_size=12).map("".join)
_VALID = _KEYS.filter(lambda k: len(k.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES)


@settings(max_examples=150, deadline=None)
@given(_VALID)
def test_encode_key_round_trips_any_key(key: str) -> None:
    assert decode_names(encode_key(key)) == key


@settings(max_examples=150, deadline=None)
@given(_VALID)
def test_encode_key_names_are_safe_file_names(key: str) -> None:
    for name in encode_key(key):
        assert name not in ("", ".", "..")
        assert not name.startswith(".")  # names that start with "." are the store's own files
        assert "/" not in name
        assert "\x00" not in name
        assert len(name.encode("utf-8", "surrogatepass")) <= 255 - len(".json") - len(ALT) - 1


@settings(max_examples=100, deadline=None)
@given(_VALID)
def test_encode_key_path_stays_inside_the_bucket_folder(key: str) -> None:
    bucket = Path("/srv/buckets/b")
    path = bucket.joinpath(*encode_key(key))
    assert Path(*path.parts).is_relative_to(bucket)
    assert ".." not in path.parts


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("AWSLogs/1/CloudTrail/x.json.gz", ["AWSLogs", "1", "CloudTrail", "x.json.gz"]),
        ("../../etc/passwd", ["%2E.", "%2E.", "etc", "passwd"]),
        ("/leading", [EMPTY, "leading"]),
        ("a//b/", ["a", EMPTY, "b", EMPTY]),
        ("100%/.hidden", ["100%25", "%2Ehidden"]),
        ("line\nbreak", ["line%0Abreak"]),
    ],
)
def test_encode_key_examples(key: str, names: list[str]) -> None:
    assert encode_key(key) == names


def test_encode_key_long_segment_is_split_into_joined_folders() -> None:
    names = encode_key("x" * 450 + "/tail")
    assert [len(n) for n in names[:-1]] == [202, 202, 50]
    assert names[0].endswith(JOINED)
    assert names[1].endswith(JOINED)
    assert names[2] == "x" * 50
    assert decode_names(names) == "x" * 450 + "/tail"


def _page(keys: list[str], **kwargs: object) -> tuple[list[str], list[str], bool, str | None]:
    options = {"prefix": "", "delimiter": "", "after": "", "max_keys": 1000} | kwargs
    page = list_page(sorted(keys), **options)  # type: ignore[arg-type]
    return page.keys, page.prefixes, page.truncated, page.next_marker


KEYS = ["a/1", "a/2", "a/b/3", "b", "c/4", "c/5", "d"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, (KEYS, [], False, None)),
        ({"delimiter": "/"}, (["b", "d"], ["a/", "c/"], False, None)),
        ({"delimiter": "/", "max_keys": 2}, (["b"], ["a/"], True, "b")),
        ({"delimiter": "/", "after": "a/"}, (["b", "d"], ["c/"], False, None)),  # skips every key under a/
        ({"prefix": "a/", "delimiter": "/"}, (["a/1", "a/2"], ["a/b/"], False, None)),
        ({"prefix": "a/", "after": "a/1"}, (["a/2", "a/b/3"], [], False, None)),
        ({"max_keys": 0}, ([], [], False, None)),
        ({"max_keys": 7}, (KEYS, [], False, None)),
        ({"max_keys": 6}, (KEYS[:6], [], True, "c/5")),
        ({"prefix": "zz"}, ([], [], False, None)),
        (
            {"delimiter": "b"},
            (["a/1", "a/2", "c/4", "c/5", "d"], ["a/b", "b"], False, None),
        ),  # "b" rolls up too
    ],
)
def test_list_page_follows_s3_semantics(
    options: dict[str, object], expected: tuple[list[str], list[str], bool, str | None]
) -> None:
    assert _page(KEYS, **options) == expected

"""The path resolver's lexical checks (supervisor/paths.py)."""

import pytest

from protocol.errors import ErrorCode, ServiceError
from supervisor import paths


def test_a_lone_surrogate_is_refused_rather_than_reaching_the_kernel_as_a_raw_byte():
    with pytest.raises(ServiceError) as caught:
        paths.split("a\udcffb")
    assert caught.value.code is ErrorCode.BAD_REQUEST and "surrogate" in str(caught.value.detail)


def test_a_plain_path_splits_into_its_components():
    assert paths.split("./a//b/c.txt") == ["a", "b", "c.txt"]

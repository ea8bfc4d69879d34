"""Settings' bounds: a value out of range is refused naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings


@pytest.mark.parametrize("value", [-1, 601, 1.5, "soon", None])
def test_the_shutdown_timeout_is_whole_seconds_up_to_ten_minutes(value: object) -> None:
    with pytest.raises(ValidationError, match="shutdown_timeout_s"):
        Settings(shutdown_timeout_s=value)


@pytest.mark.parametrize("value", [0, 10, 600])
def test_the_shutdown_timeout_takes_its_range(value: int) -> None:
    assert Settings(shutdown_timeout_s=value).shutdown_timeout_s == value


def test_the_shutdown_timeout_defaults_to_ten_seconds() -> None:
    assert Settings.model_fields["shutdown_timeout_s"].default == 10

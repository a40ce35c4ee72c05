"""hooks.durations."""

import pytest

from hooks import durations


@pytest.mark.parametrize(("text", "expected"), [("1h", 3600), ("1m30s", 90), ("500ms", 0.5), ("1.5h", 5400)])
def test_seconds(text: str, expected: float) -> None:
    assert durations.seconds(text) == expected


def test_whole_seconds_rounds_up() -> None:
    assert durations.whole_seconds("1500ms") == 2


@pytest.mark.parametrize("text", ["", "1", "1x", "h1", "1h 2m"])
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        durations.seconds(text)

"""hooks.messages: status messages and logged input stay bounded."""

from __future__ import annotations

from hooks.messages import MAX_STATUS_MESSAGE, cap_status, clip, join_capped


def test_clip_says_how_much_was_left_out() -> None:
    assert clip("short") == "short"
    assert clip("x" * 300, 10) == "xxxxxxxxxx... (290 more characters)"


def test_join_capped_fits_the_limit_and_counts_the_rest() -> None:
    text = join_capped([f"spec.x{i}: bad" for i in range(10_000)])
    assert len(text) <= MAX_STATUS_MESSAGE + 40 and text.endswith("more errors")
    assert join_capped(["a", "b"]) == "a; b"
    one_huge = join_capped(["y" * 100_000])
    assert len(one_huge) < 1_100


def test_cap_status_bounds_the_message_and_the_conditions() -> None:
    status = {"phase": "Failed", "message": "m" * 50_000,
              "conditions": [{"type": "Ready", "message": "c" * 50_000}, {"type": "Other", "message": "ok"}]}
    capped = cap_status(status)
    assert len(capped["message"]) < MAX_STATUS_MESSAGE + 40
    assert len(capped["conditions"][0]["message"]) < MAX_STATUS_MESSAGE + 40
    assert capped["conditions"][1] == {"type": "Other", "message": "ok"}
    assert len(status["message"]) == 50_000  # the input is not changed
    small = {"phase": "Ready", "message": "ok"}
    assert cap_status(small) is small and cap_status(None) is None

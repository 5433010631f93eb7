"""Console tests sign the same staff in many times: lift the per-phone code limit (its own
test is in tests/app/test_auth.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _many_sign_ins(rt: object) -> None:
    rt.settings = rt.settings.model_copy(update={"otp_free_sends": 10_000})  # type: ignore[attr-defined]

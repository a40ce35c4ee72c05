"""lattice_cell.proxy.tokenreview: what a TokenReview's status means (the review itself runs against
a real API server in tests/integration/test_api_proxy_access.py)."""

from __future__ import annotations

import pytest

from lattice_cell.proxy.identity import AuthnError, Failure
from lattice_cell.proxy.tokenreview import identity_from_review


def test_an_authenticated_review_gives_user_groups_uid_and_extra() -> None:
    who = identity_from_review({"authenticated": True, "audiences": ["lattice-proxy"], "user": {
        "username": "system:serviceaccount:ci:deployer", "uid": "u-1",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/credential-id": ["JTI=abc"]}}}, ["lattice-proxy"])
    assert who.service_account == ("ci", "deployer") and who.uid == "u-1"
    assert who.extra == (("authentication.kubernetes.io/credential-id", ("JTI=abc",)),)
    assert who.groups.count("system:authenticated") == 1


@pytest.mark.parametrize(("status", "reason"), [
    ({"authenticated": False, "error": "invalid bearer token"}, Failure.REJECTED),
    ({"authenticated": False, "error": 'token audiences ["https://kubernetes"] is invalid for the target audiences'},
     Failure.WRONG_AUDIENCE),
    ({"authenticated": True, "audiences": ["elsewhere"], "user": {"username": "x"}}, Failure.WRONG_AUDIENCE),
    ({"authenticated": True, "audiences": ["lattice-proxy"], "user": {}}, Failure.REJECTED),
])
def test_refusals(status: dict[str, object], reason: Failure) -> None:
    with pytest.raises(AuthnError) as err:
        identity_from_review(status, ["lattice-proxy"])
    assert err.value.reason is reason

"""Why a decision came out as it did."""

from lattice_cedar import PolicyStore, explain
from lattice_cedar.explain import describe
from lattice_cedar.schema import ACCESS_SECRET

from .support import example, secret


def test_allowed_names_the_permit() -> None:
    store = PolicyStore.from_policies([example("platform-database-secrets")])
    (d,) = store.decide_secrets([secret("platform", "api-gateway", "vault-prod", "database/prod/api-gateway")])
    why = explain(store, d)
    assert why.allowed and why.summary == "allowed: permitted by platform-database-secrets.0"
    [s] = why.statements
    assert describe(s) == "platform-database-secrets.0 (permit, CedarPolicy platform-database-secrets, line 1)"
    assert s.text.startswith("permit(")


def test_forbidden_names_the_forbid() -> None:
    store = PolicyStore.from_policies([example("platform-database-secrets"),
                                       example("forbid-prod-secrets", enabled=True)])
    (d,) = store.decide_secrets([secret("platform", "api-gateway", "vault-prod", "database/prod/api-gateway")])
    assert explain(store, d).summary == "denied: forbidden by forbid-prod-secrets.0"


def test_no_permit_says_so_with_what_was_considered() -> None:
    store = PolicyStore.from_policies([example("payments-secrets"), example("platform-database-secrets")])
    (d,) = store.decide_secrets([secret("orders", "cart", "vault-prod", "database/x")])
    why = explain(store, d, considered=store.count(ACCESS_SECRET, "orders"))
    assert why.summary == "denied: no permit matched (0 statements considered)"
    assert why.statements == ()
    why = explain(store, d, considered=store.count(ACCESS_SECRET))
    assert why.summary == "denied: no permit matched (2 statements considered)"

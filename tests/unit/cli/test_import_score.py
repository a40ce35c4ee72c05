"""``lattice import score`` and Score input to ``lattice render``, through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli.main import run

CORPUS = Path(__file__).resolve().parents[2] / "score" / "corpus"
BOUTIQUE = sorted(CORPUS.glob("examples__samples__onlineboutique__*__score.yaml"))


def test_import_prints_the_services_with_their_inbound_declarations(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["import", "score", "-n", "boutique"] + [a for p in BOUTIQUE for a in ("-f", str(p))]
    assert run(args) == 0
    out, err = capsys.readouterr()
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["LatticeService"] * len(BOUTIQUE)
    assert {d["metadata"]["namespace"] for d in docs} == {"boutique"}
    cart = next(d for d in docs if d["metadata"]["name"] == "cart")
    assert cart["spec"]["resources"]["checkout"] == {"type": "service", "direction": "inbound"}
    assert "note: added resources.checkout {type: service, direction: inbound} to cart" in err


def test_render_needs_image_for_dot_and_takes_it(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CORPUS / "examples__resources__postgres__score.yaml")
    assert run(["render", "-f", path]) == 1
    assert "containers.my-container.image: '.' means the image is chosen at deploy time: give it with --image" in \
        capsys.readouterr().err
    assert run(["render", "-f", path, "--image", "ghcr.io/x/y:1"]) == 0
    out, err = capsys.readouterr()
    docs = list(yaml.safe_load_all(out))
    assert docs[0]["kind"] == "LatticeService"  # the implied service first, then its children
    assert {"StatefulSet", "ExternalSecret", "Password", "Deployment"} <= {d["kind"] for d in docs}
    assert "error" not in err

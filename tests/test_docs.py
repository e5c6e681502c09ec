"""The documentation keeps up with the code."""

from __future__ import annotations

from settings import Settings
from tests.helpers import ROOT


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        variable = "CELERY_BROKER_URL" if name == "celery_broker_url" else f"NOTIFY_{name.upper()}"
        assert f"`{variable}`" in text, f"{variable} is missing from docs/configuration.md"


def test_readme_opens_with_the_run_and_the_test_command():
    readme = (ROOT / "README.md").read_text()
    run = readme.index("notify up")
    test = readme.index("python -m pytest")
    assert run < test < readme.index("## What it does")
    assert "pytest" in (ROOT / ".ci" / "run").read_text()

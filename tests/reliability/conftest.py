"""Fixtures for the reliability and security suite: the chat app served on 127.0.0.1 (real ReDial pipeline,
rule path), shared by the hostile-input, load and outage tests of this package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port


@pytest.fixture(scope="package")
def app_url(redial_settings, redial_pipeline) -> Iterator[str]:
    from ui.app import launch

    settings = redial_settings.model_copy(update={"ui_port": free_port()})
    demo = launch(settings, block=False, pipeline=redial_pipeline)
    yield f"http://127.0.0.1:{settings.ui_port}/"
    demo.close()

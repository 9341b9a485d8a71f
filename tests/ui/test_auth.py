"""With ``ui_auth=user:password`` the app, and its API, require that login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def guarded_url(redial_settings, redial_pipeline) -> Iterator[str]:
    from ui.app import launch

    settings = redial_settings.model_copy(update={"ui_port": free_port(), "ui_auth": "ann:s3cret"})
    demo = launch(settings, block=False, pipeline=redial_pipeline)
    yield f"http://127.0.0.1:{settings.ui_port}/"
    demo.close()


def test_the_api_needs_the_login(guarded_url):
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(guarded_url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(guarded_url, auth=("ann", "wrong"), verbose=False)
    client = Client(guarded_url, auth=("ann", "s3cret"), verbose=False)
    assert len(client.predict("a 90s comedy", api_name="/recommend")["items"]) == 5

"""Process-wide defaults that keep tailtalk off the network.

They are set before transformers, huggingface_hub, gradio or chromadb are imported,
because those libraries read them at import time (``import tailtalk`` applies them, so no
Makefile or shell has to). A user may still override each variable in the environment.

They are the second layer: the code switches telemetry off where it opens each library
(``gr.Blocks(analytics_enabled=False)`` in ui/app.py, Chroma's ``anonymized_telemetry=False``
in retrieval/index.py, ``VLLM_NO_USAGE_STATS`` and ``DO_NOT_TRACK`` for the vLLM server in
ui/vllm_server.py). tests/reliability/test_security.py runs chat turns with every
connection off loopback refused and recorded, and without these variables preset.
"""

import os
import socket

OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def free_loopback_port() -> int:
    """A free TCP port on 127.0.0.1, for a server that must listen on loopback only."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def apply_offline_defaults() -> None:
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)

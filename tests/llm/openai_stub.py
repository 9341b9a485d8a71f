"""A minimal OpenAI-compatible chat server on 127.0.0.1 for the client's failure tests.

``mode`` picks its behaviour per request: ``ok`` answers like vLLM (JSON for a
``response_format`` request, else one sentence per listed item, streamed as SSE),
``hang`` accepts and never answers, ``slow`` answers like ``ok`` but takes
``SLOW_SECONDS`` before a whole reply and between streamed pieces, ``garbage`` sends a
body that is not JSON, ``empty`` streams no content at all. The real server is tested in tests/integration/test_vllm.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


SLOW_SECONDS = 0.2


class StubServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                if stub.mode == "hang":
                    time.sleep(30)
                    return
                if stub.mode == "garbage":
                    self._raw(200, b"<html>this is not an API</html>", "application/json")
                    return
                text = "" if stub.mode == "empty" else _answer(body)
                pause = SLOW_SECONDS if stub.mode == "slow" else 0.0
                if body.get("stream"):
                    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
                    events = [
                        {
                            "id": "c",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": "stub",
                            "choices": [
                                {"index": 0, "delta": {"role": "assistant", "content": c}, "finish_reason": None}
                            ],
                        }
                        for c in chunks
                    ]
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in [*(f"data: {json.dumps(e)}\n\n" for e in events), "data: [DONE]\n\n"]:
                        time.sleep(pause)
                        self.wfile.write(event.encode())
                        self.wfile.flush()
                else:
                    time.sleep(pause)
                    self._send(
                        200,
                        {
                            "id": "c",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "stub",
                            "choices": [
                                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                            ],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        },
                    )

            def _send(self, status: int, data: dict) -> None:
                self._raw(status, json.dumps(data).encode(), "application/json")

            def _raw(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _answer(body: dict) -> str:
    if body.get("response_format"):
        return json.dumps({"query": "scary", "include_categories": [], "avoid": []})
    prompt = body["messages"][-1]["content"]
    titles = re.findall(r"^\d+\. (.+?) \(\d{4}\)", prompt, flags=re.MULTILINE)
    return " ".join(f"{title} fits what you asked for." for title in titles) or "What are you in the mood for?"

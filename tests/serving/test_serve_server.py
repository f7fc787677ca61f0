"""The app on a real uvicorn server on 127.0.0.1: decode latency, body limits on the wire, and `vaelab serve`."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

from vaelab.cli.main import main
from vaelab.serving.app import create_app
from vaelab.serving.limits import Limits
from vaelab.serving.server import background, bind


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def raw_exchange(url: str, head: bytes, parts: list[bytes], pause: float = 0.0,
                 timeout: float = 5.0) -> tuple[str, float]:
    """Send ``head`` then ``parts`` (pausing between them, stopping once an answer came); the status line and
    the seconds it took."""
    t0 = time.monotonic()
    with socket.create_connection(host_port(url), timeout=timeout) as s:
        s.sendall(head)
        s.setblocking(False)
        answer = b""
        for part in parts:
            try:
                answer += s.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                break
            time.sleep(pause)
        s.setblocking(True)
        s.settimeout(timeout)
        while b"\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(), time.monotonic() - t0


def test_decode_round_trip_on_loopback_is_well_under_50_ms(app2):
    with background(app2) as url:
        conn = http.client.HTTPConnection(*host_port(url), timeout=10)
        times = []
        rng = np.random.default_rng(0)
        for _ in range(150):
            body = json.dumps({"z": rng.normal(size=(1, 2)).tolist()})
            t0 = time.perf_counter()
            conn.request("POST", "/api/decode", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            doc = json.loads(r.read())
            times.append(1000 * (time.perf_counter() - t0))
            assert r.status == 200 and len(doc["images"]) == 1
        conn.close()
    p50 = float(np.percentile(times, 50))
    print(f"decode round trip over loopback: p50 {p50:.2f} ms, p90 {np.percentile(times, 90):.2f} ms")
    assert p50 < 25, times  # the issue asks for well under 50 ms


def test_oversized_bodies_are_refused_without_waiting_for_them(run2):
    app = create_app(run2.run_dir, Limits(max_body_bytes=10_000, body_timeout_s=1.0))
    with background(app) as url:
        # announced as 100 MB and never sent: 413 at once
        head = (b"POST /api/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000000\r\n\r\n")
        status, took = raw_exchange(url, head, [])
        assert status.startswith("HTTP/1.1 413") and took < 2
        # chunked, no length: refused once 10 kB arrived, before the 2 MB were sent
        head = (b"POST /api/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
        status, took = raw_exchange(url, head, [chunk] * 500, pause=0.01)
        assert status.startswith("HTTP/1.1 413") and took < 4
        # a body that stops arriving: 408 after the body timeout, not a hang
        head = (b"POST /api/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{\"z\": ")
        status, took = raw_exchange(url, head, [])
        assert status.startswith("HTTP/1.1 408") and 0.9 < took < 4
        # and the server still answers
        with urllib.request.urlopen(url + "/api/info", timeout=5) as r:
            assert json.loads(r.read())["latent_dim"] == 2


def test_vaelab_serve_binds_loopback_and_serves(run2):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vaelab", "serve", str(run2.run_dir), "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"at (http://[\d.]+:\d+)/", line)
            url = m.group(1) if m else None
        assert url is not None, "".join(lines)
        assert url.startswith("http://127.0.0.1:")
        assert any("latent map: 270 test examples of digits (z)" in line for line in lines)
        with urllib.request.urlopen(url + "/api/info", timeout=10) as r:
            info = json.loads(r.read())
        assert info["latent_dim"] == 2 and info["image_shape"] == [1, 8, 8]
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            assert b'id="map"' in r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_vaelab_serve_errors_are_one_line(run2, capsys, monkeypatch, tmp_path):
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "config.json: not found" in capsys.readouterr().err
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert main(["serve", str(run2.run_dir), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1
    finally:
        sock.close()
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    assert main(["serve", str(run2.run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "install vaelab[serve]" in err and "missing: fastapi" in err


def test_importing_vaelab_does_not_import_fastapi():
    code = ("import sys, vaelab, vaelab.serving, vaelab.cli.main; vaelab.cli.main.build_parser(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

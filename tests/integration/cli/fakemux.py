"""A fake sandbox mux for kata-runtime tests: speaks docs/protocol.md framing on S/mux.sock,
records every request, and answers from a table the test controls."""
import json
import os
import socket
import struct
import threading

MAGIC = 0x4B43
REQUEST, REPLY, EVENT, DATA, WINDOW = 1, 2, 3, 4, 5
HEADER = struct.Struct(">HBBII")


def frame(kind, fid, payload):
    return HEADER.pack(MAGIC, 1, kind, fid, len(payload)) + payload


def json_frame(kind, fid, obj):
    return frame(kind, fid, json.dumps(obj).encode())


class FakeMux:
    """answers: request type -> dict reply or callable(req, conn) returning a dict (or None to
    answer later). Defaults to {"ok": true}."""

    def __init__(self, sandbox_dir):
        self.path = os.path.join(sandbox_dir, "mux.sock")
        self.requests = []
        self.answers = {}
        self.on_data = None  # callable(conn, stream, payload)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o600)
        self.sock.listen(64)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def of_type(self, t):
        with self.lock:
            return [r for r in self.requests if r.get("type") == t]

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _recv_exact(self, c, n):
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def send(self, c, data):
        try:
            c.sendall(data)
        except OSError:
            pass

    def _serve(self, c):
        self.send(c, json_frame(EVENT, 0, {"type": "hello", "protocol": 1, "agent-version": "fake",
                                           "kernel": "6.1.0-fake"}))
        try:
            while True:
                magic, ver, kind, fid, length = HEADER.unpack(self._recv_exact(c, HEADER.size))
                payload = self._recv_exact(c, length)
                if magic != MAGIC or ver != 1:
                    return
                if kind == REQUEST:
                    req = json.loads(payload)
                    with self.lock:
                        self.requests.append(req)
                    ans = self.answers.get(req.get("type"), {"ok": True})
                    if callable(ans):
                        ans = ans(req, c, fid)
                    if ans is not None:
                        self.send(c, json_frame(REPLY, fid, ans))
                elif kind == DATA:
                    with self.lock:
                        self.requests.append({"type": "_data", "stream": fid, "data": payload.decode("latin-1")})
                    if payload:  # hand the credit back, as a consumer does
                        self.send(c, frame(WINDOW, fid, struct.pack(">I", len(payload))))
                    if self.on_data:
                        self.on_data(c, fid, payload)
        except (EOFError, OSError, ValueError):
            pass
        finally:
            c.close()

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except OSError:
            pass

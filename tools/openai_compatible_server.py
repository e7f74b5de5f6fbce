#!/usr/bin/env python3
"""A faithful local stand-in for an OpenAI-compatible chat-completions server, for tests.

Standard library only. It speaks OpenAI's wire format: `POST /v1/chat/completions` with
`"stream": true` answers `text/event-stream` (chunked transfer encoding, HTTP/1.1 keep-alive)
with `chat.completion.chunk` events -- a role chunk, content deltas a word at a time, a chunk
with `finish_reason: "stop"` and an empty delta, then `data: [DONE]`; `"stream": false`
answers a `chat.completion` object. Errors use OpenAI's `{"error": {...}}` body.

The reply is deterministic and depends on the conversation:
    "You said: <last user message>. I have seen <N> user messages."
Special last user messages:
    "please fail"    -> HTTP 500 with an error body
    "please stall"   -> the role chunk, then nothing for 30 s (timeout and cancel tests)
    "please ramble"  -> a 200-word reply (cancel tests)
    "please garble"  -> the role chunk, then an event that is not valid JSON

Inspection endpoints for tests:
    GET /v1/requests  -> JSON list of every chat-completions request body received
    GET /v1/headers   -> JSON list of their headers (lower-cased names)
    GET /v1/stats     -> {"requests": n, "completed": n, "disconnects": n}
    GET /v1/models    -> OpenAI model list

Usage:
    python3 tools/openai_compatible_server.py --port 0 [--delay-ms 30] [--require-key KEY]
Prints `LISTENING <port>` on stdout once bound.
"""

import argparse
import json
import select
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STALL_SECONDS = 30.0


class ClientGone(Exception):
    """The client closed the connection."""


class State:
    """What the server has seen, shared by the handler threads."""

    def __init__(self, model, delay, require_key, keepalive_comments):
        self.model = model
        self.delay = delay
        self.require_key = require_key
        self.keepalive_comments = keepalive_comments
        self.lock = threading.Lock()
        self.requests = []
        self.headers = []
        self.completed = 0
        self.disconnects = 0

    def record(self, body, headers):
        with self.lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in headers.items()})

    def count(self, field):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)

    def snapshot(self):
        with self.lock:
            return {
                "requests": len(self.requests),
                "completed": self.completed,
                "disconnects": self.disconnects,
            }


def error_body(message, type_, code=None, param=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def reply_text(messages):
    user_messages = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = user_messages[-1].get("content", "") if user_messages else ""
    if isinstance(last, list):  # content parts: [{"type": "text", "text": ...}]
        last = " ".join(p.get("text", "") for p in last if isinstance(p, dict))
    if last.strip().lower() == "please ramble":
        return " ".join(f"word{i}" for i in range(1, 201)) + "."
    return f"You said: {last}. I have seen {len(user_messages)} user messages."


def words(text):
    """Splits `text` into deltas of a word each, keeping the spaces (like tokens)."""
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-compatible-test-server/1.0"
    state: State = None  # set in main

    # -- plumbing --------------------------------------------------------------------------

    def log_message(self, format, *args):  # quiet; tests read stdout for LISTENING only
        pass

    def send_json(self, status, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def client_gone(self):
        """True when the peer closed the connection (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def write_chunk(self, data: bytes):
        if self.client_gone():
            raise ClientGone()
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            raise ClientGone() from e

    def write_event(self, obj):
        payload = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
        self.write_chunk(f"data: {payload}\n\n".encode())

    def sleep_watching(self, seconds):
        """Sleeps, but notices a client disconnect within ~50 ms."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.client_gone():
                raise ClientGone()
            time.sleep(min(0.05, left))

    # -- routes ----------------------------------------------------------------------------

    def do_GET(self):
        try:
            path = self.path.split("?", 1)[0].rstrip("/")
            st = self.state
            if path == "/v1/models":
                self.send_json(200, {
                    "object": "list",
                    "data": [{"id": st.model, "object": "model", "created": 1700000000, "owned_by": "duplex-test"}],
                })
            elif path == "/v1/requests":
                with st.lock:
                    bodies = list(st.requests)
                self.send_json(200, bodies)
            elif path == "/v1/headers":
                with st.lock:
                    headers = list(st.headers)
                self.send_json(200, headers)
            elif path == "/v1/stats":
                self.send_json(200, st.snapshot())
            else:
                self.send_json(404, error_body(f"Unknown request URL: GET {self.path}.", "invalid_request_error"))
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def do_POST(self):
        try:
            self.handle_post()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, ClientGone):
            self.state.count("disconnects")
            self.close_connection = True

    def handle_post(self):
        st = self.state
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path != "/v1/chat/completions":
            self.send_json(404, error_body(f"Unknown request URL: POST {self.path}.", "invalid_request_error"))
            return

        if st.require_key is not None:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                self.send_json(401, error_body(
                    "You didn't provide an API key. You need to provide your API key in an Authorization header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "invalid_request_error"))
                return
            key = auth[len("Bearer "):]
            if key != st.require_key:
                shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else "*" * len(key)
                self.send_json(401, error_body(
                    f"Incorrect API key provided: {shown}.", "invalid_request_error", code="invalid_api_key"))
                return

        try:
            body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            self.send_json(400, error_body(
                "We could not parse the JSON body of your request.", "invalid_request_error"))
            return
        st.record(body, dict(self.headers.items()))

        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self.send_json(400, error_body(
                "'messages' must be a non-empty array.", "invalid_request_error", param="messages"))
            return
        if "model" not in body:
            self.send_json(400, error_body(
                "you must provide a model parameter", "invalid_request_error", param="model"))
            return

        last_user = next((m.get("content") for m in reversed(messages)
                          if isinstance(m, dict) and m.get("role") == "user"), "")
        command = last_user.strip().lower() if isinstance(last_user, str) else ""
        if command == "please fail":
            self.send_json(500, error_body(
                "The server had an error while processing your request (you asked it to fail).", "server_error"))
            return

        model = body["model"]
        text = reply_text(messages)
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if body.get("stream"):
            self.stream(completion_id, created, model, text, command)
        else:
            n_prompt = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
            n_completion = len(text.split())
            self.send_json(200, {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_duplex_test",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
                          "total_tokens": n_prompt + n_completion},
            })
            st.count("completed")

    def stream(self, completion_id, created, model, text, command):
        st = self.state
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

        def chunk(delta, finish_reason=None):
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_duplex_test",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }

        if st.keepalive_comments:
            self.write_chunk(b": keep-alive\n\n")
        self.write_event(chunk({"role": "assistant", "content": "", "refusal": None}))
        if command == "please stall":
            self.sleep_watching(STALL_SECONDS)
        elif command == "please garble":
            self.write_event('{"id":"%s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oo' % completion_id)
            self.write_event("[DONE]")
            self.write_chunk(b"")
            st.count("completed")
            return
        for word in words(text):
            self.sleep_watching(st.delay)
            self.write_event(chunk({"content": word}))
        self.write_event(chunk({}, finish_reason="stop"))
        self.write_event("[DONE]")
        self.write_chunk(b"")  # the zero-length chunk ends the chunked body
        st.count("completed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--delay-ms", type=float, default=30.0, help="pause before each content delta")
    parser.add_argument("--require-key", default=None, help="answer 401 unless `Authorization: Bearer KEY`")
    parser.add_argument("--model", default="duplex-test-model", help="the model listed by GET /v1/models")
    parser.add_argument("--keepalive-comments", action="store_true",
                        help="send an SSE comment line before the first event (as some proxies do)")
    args = parser.parse_args()

    # A parent may spawn us with SIGTERM blocked (Foundation's Process started from a Swift
    # concurrency thread does): unblock it so `terminate()` stops us at once.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    Handler.state = State(args.model, args.delay_ms / 1000.0, args.require_key, args.keepalive_comments)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())

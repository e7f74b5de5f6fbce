"""Probes a Duplex server's access rules with the clients people use (urllib, the
`websockets` library, the `openai` SDK), over HTTP or HTTPS.

    python security_check.py BASE_URL KEY EXPIRED_TOKEN [CA_FILE]

BASE_URL is http://host:port or https://host:port; KEY a valid API key; EXPIRED_TOKEN an
access token signed with the server's secret whose expiry has passed; CA_FILE the
certificate authority for HTTPS. Prints one JSON object of observations (status codes,
error codes, messages); the Swift tests assert on it.
"""
import asyncio
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import openai
import websockets
from openai import OpenAI

BASE, KEY, EXPIRED = sys.argv[1], sys.argv[2], sys.argv[3]
CA = sys.argv[4] if len(sys.argv) > 4 else None
CONTEXT = ssl.create_default_context(cafile=CA) if CA else None
if CA:
    os.environ["SSL_CERT_FILE"] = CA  # the openai SDK's HTTP client trusts the test CA
WS = BASE.replace("https://", "wss://").replace("http://", "ws://")


def http(method, path, headers=None, body=None):
    request = urllib.request.Request(BASE + path, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, context=CONTEXT, timeout=30) as response:
            return {"status": response.status, "headers": dict(response.headers), "body": response.read().decode()}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "headers": dict(error.headers), "body": error.read().decode()}


def parsed(result):
    try:
        return json.loads(result["body"])
    except ValueError:
        return None


async def ws_status(path, headers=None):
    """The handshake status and the first message; for a refused connection also every
    message the server sent and its close code."""
    try:
        async with websockets.connect(WS + path, additional_headers=headers or {}, ssl=CONTEXT, open_timeout=30) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            result = {"status": 101, "first": first}
            if first.get("type") == "error":
                messages = [first]
                try:
                    while True:
                        messages.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
                except websockets.exceptions.ConnectionClosed as closed:
                    result["messages"] = messages
                    result["close_code"] = closed.rcvd.code if closed.rcvd else None
            return result
    except websockets.exceptions.InvalidStatus as error:
        return {"status": error.response.status_code, "body": error.response.body.decode(errors="replace")}


async def ws_speaks(path, headers=None):
    """A session that starts, speaks one sentence and ends it: frames and the end reason."""
    async with websockets.connect(WS + path, additional_headers=headers or {}, ssl=CONTEXT, open_timeout=30) as ws:
        start = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "text", "text": "Hello over a secure link.", "is_final": True}))
        frames, reason = 0, None
        while reason is None:
            message = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(message, bytes):
                frames += 1
            elif json.loads(message).get("type") == "tts_end":
                reason = json.loads(message).get("reason")
        return {"session_start": start.get("type"), "frames": frames, "reason": reason}


async def websocket_checks(report):
    bearer = {"Authorization": f"Bearer {KEY}"}
    report["ws_no_credentials"] = await ws_status("/ws")
    report["ws_wrong_key"] = await ws_status("/ws", {"Authorization": "Bearer wrong-key-0123456789"})
    report["ws_expired_header"] = await ws_status("/ws", {"Authorization": f"Bearer {EXPIRED}"})
    report["ws_key_header"] = await ws_status("/ws", bearer)
    report["ws_key_query"] = await ws_status(f"/ws?token={KEY}")
    report["ws_bad_query_token"] = await ws_status("/ws?token=not-a-key-0123456789")
    report["ws_expired_query_token"] = await ws_status(f"/ws?token={EXPIRED}")
    report["realtime_bad_query_token"] = await ws_status("/v1/realtime?model=x&token=not-a-key-0123456789")
    report["legacy_no_credentials"] = await ws_status("/")
    report["ws_foreign_origin"] = await ws_status("/ws", {**bearer, "Origin": "https://evil.example"})
    report["ws_localhost_origin"] = await ws_status("/ws", {**bearer, "Origin": "http://localhost:3000"})
    minted = parsed(http("POST", "/v1/auth/token", {**bearer, "Content-Type": "application/json"}, b'{"ttl_s": 120}'))
    report["minted"] = {k: v for k, v in (minted or {}).items() if k != "token"}
    token = (minted or {}).get("token", "")
    report["ws_minted_token_query"] = await ws_status(f"/ws?token={token}")
    report["token_mints_token"] = http("POST", "/v1/auth/token", {"Authorization": f"Bearer {token}"})["status"]
    report["speaks"] = await ws_speaks("/ws", bearer)


def main():
    report = {}
    report["health"] = http("GET", "/health")["status"]
    report["page"] = http("GET", "/")["status"]
    for name, headers in [
        ("models_no_credentials", {}),
        ("models_wrong_key", {"Authorization": "Bearer wrong-key-0123456789"}),
        ("models_expired_token", {"Authorization": f"Bearer {EXPIRED}"}),
        ("models_key", {"Authorization": f"Bearer {KEY}"}),
        ("models_query_key", None),
    ]:
        result = http("GET", "/v1/models" + ("?token=" + KEY if headers is None else ""), headers or {})
        body = parsed(result) or {}
        report[name] = {
            "status": result["status"],
            "www_authenticate": result["headers"].get("WWW-Authenticate"),
            "error_code": (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None,
            "message": (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else None,
        }
    report["metrics"] = http("GET", "/metrics")["status"]
    report["cors_preflight_foreign"] = http(
        "OPTIONS", "/v1/models", {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})["status"]
    allowed = http("OPTIONS", "/v1/models", {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET",
                                            "Access-Control-Request-Headers": "authorization"})
    report["cors_preflight_localhost"] = {
        "status": allowed["status"], "allow_origin": allowed["headers"].get("Access-Control-Allow-Origin"),
        "allow_headers": allowed["headers"].get("Access-Control-Allow-Headers"),
    }
    # The openai SDK: its api_key is the Bearer key.
    sdk = {}
    try:
        models = OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
        sdk["models"] = len(models.models.list().data)
    except Exception as error:  # noqa: BLE001 - reported, the test decides
        sdk["models_error"] = repr(error)
    try:
        OpenAI(base_url=BASE + "/v1", api_key="wrong-key-0123456789", max_retries=0).models.list()
        sdk["wrong_key"] = "accepted"
    except openai.AuthenticationError as error:
        sdk["wrong_key"] = f"AuthenticationError {error.status_code}"
    except Exception as error:  # noqa: BLE001
        sdk["wrong_key"] = repr(error)
    report["sdk"] = sdk
    asyncio.run(websocket_checks(report))
    print(json.dumps(report))


main()

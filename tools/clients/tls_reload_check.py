"""Certificate renewal on a live Duplex server: a WSS session stays up while the server's
certificate files are replaced and the server is sent SIGHUP.

    python tls_reload_check.py HOST PORT CA_FILE KEY SERVER_PID NEW_CERT NEW_KEY CERT KEY_FILE

Opens a session, moves NEW_CERT/NEW_KEY over CERT/KEY_FILE, signals SERVER_PID, waits until a
new handshake presents the new certificate, then speaks on the first session. Also checks
that plain HTTP on the TLS port gets no HTTP answer. Prints one JSON object.
"""
import asyncio
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import time

import websockets

HOST, PORT, CA, KEY, PID = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
NEW_CERT, NEW_KEY, CERT, KEY_FILE = sys.argv[6:10]
CONTEXT = ssl.create_default_context(cafile=CA)


def presented_fingerprint():
    with socket.create_connection((HOST, PORT), timeout=10) as raw:
        with CONTEXT.wrap_socket(raw, server_hostname=HOST) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def plaintext_answer():
    """What a plain HTTP request to the TLS port gets back (not an HTTP response)."""
    with socket.create_connection((HOST, PORT), timeout=10) as raw:
        raw.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n\r\n".encode())
        raw.settimeout(5)
        try:
            data = raw.recv(64)
        except (socket.timeout, ConnectionResetError):
            data = b""
        return data.decode("latin-1")


async def speak(ws):
    await ws.send(json.dumps({"type": "text", "text": "Still speaking after the certificate changed.", "is_final": True}))
    frames, reason = 0, None
    while reason is None:
        message = await asyncio.wait_for(ws.recv(), 60)
        if isinstance(message, bytes):
            frames += 1
        elif json.loads(message).get("type") == "tts_end":
            reason = json.loads(message).get("reason")
    return {"frames": frames, "reason": reason}


async def main():
    report = {"plaintext_answer": plaintext_answer()}
    report["before"] = presented_fingerprint()
    url = f"wss://{HOST}:{PORT}/ws"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}, ssl=CONTEXT) as live:
        report["live_start"] = json.loads(await live.recv()).get("type")
        os.replace(NEW_CERT, CERT)
        os.replace(NEW_KEY, KEY_FILE)
        os.kill(PID, signal.SIGHUP)
        deadline = time.monotonic() + 15
        after = report["before"]
        while after == report["before"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            after = presented_fingerprint()
        report["after"] = after
        report["live_after_reload"] = await speak(live)
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}, ssl=CONTEXT) as fresh:
        report["fresh_start"] = json.loads(await fresh.recv()).get("type")
    print(json.dumps(report))


asyncio.run(main())

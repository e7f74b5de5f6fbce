// WebSocket protocol v1 client (docs/WEBSOCKET_PROTOCOL.md): one connection with automatic
// reconnection and exponential backoff. Session options (`start` fields) are remembered and
// sent again on every new connection, so a reconnect restores model, speed and mode.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];

/** The WebSocket URL: `?ws=` overrides; otherwise ws(s)://<this host>/ws. */
export function defaultWebSocketURL(location) {
  const override = new URLSearchParams(location.search).get("ws");
  if (override) return override;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** `url` with `?token=` set (or removed when the token is empty). */
export function withToken(url, token) {
  const parsed = new URL(url);
  if (token) parsed.searchParams.set("token", token);
  else parsed.searchParams.delete("token");
  return parsed.href;
}

/** The HTTP base (scheme://host:port) of the server behind a WebSocket URL. */
export function httpBaseOf(wsURL) {
  const url = new URL(wsURL);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  return `${url.protocol}//${url.host}`;
}

export class DuplexConnection {
  /**
   * @param {string} url WebSocket URL.
   * @param {{onState?: Function, onMessage?: Function, onAudio?: Function, onOptionsSent?: Function}} handlers
   *   onState(state, info) with state `disconnected` | `connecting` | `connected` | `reconnecting`;
   *   onMessage(json); onAudio(ArrayBuffer); onOptionsSent(options) after options were (re)sent.
   */
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.state = "disconnected";
    this.wanted = false; // the user wants a connection (reconnect if it drops)
    this.attempt = 0;
    this.timer = null;
    this.options = {}; // start fields to restore on reconnect
    this.optionsSentThisConnection = false;
    this.sessionId = null;
  }

  connect() {
    this.wanted = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) return;
    this.open();
  }

  disconnect() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "client disconnect");
    this.setState("disconnected");
  }

  open() {
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this.setState("disconnected", { reason: "bad-url", message: String(error.message || error) });
      this.wanted = false;
      return;
    }
    ws.binaryType = "arraybuffer";
    let opened = false;
    this.ws = ws;
    this.optionsSentThisConnection = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      if (typeof event.data !== "string") {
        this.handlers.onAudio?.(event.data);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg.type === "session_start") this.onSessionStart(msg);
      this.handlers.onMessage?.(msg);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return; // a connection we already abandoned
      this.ws = null;
      this.sessionId = null;
      if (!this.wanted) {
        this.setState("disconnected");
        return;
      }
      // 4401 / 4403: the server refused the credentials or this page's origin
      // (docs/SECURITY.md). Retrying cannot help until the user changes the token.
      if (event.code === 4401 || event.code === 4403) {
        this.wanted = false;
        this.setState("disconnected", { reason: event.code === 4401 ? "unauthorized" : "forbidden" });
        return;
      }
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)] * (1 + Math.random() * 0.25);
      this.attempt++;
      this.setState("reconnecting", {
        reason: opened ? "closed" : "unreachable",
        code: event.code,
        delayMs: Math.round(delay),
        retryAt: performance.now() + delay,
      });
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.wanted && !this.ws) this.open();
      }, delay);
    };
  }

  onSessionStart(msg) {
    const fresh = this.sessionId !== msg.session_id;
    this.sessionId = msg.session_id;
    if (fresh) {
      this.attempt = 0;
      this.setState("connected", { sessionId: msg.session_id });
    }
    if (!this.optionsSentThisConnection) {
      this.optionsSentThisConnection = true;
      if (Object.keys(this.options).length > 0) {
        this.sendJSON({ type: "start", ...this.options });
        this.handlers.onOptionsSent?.({ ...this.options });
      }
    }
  }

  /** Merges session options and sends them (only the changed fields) when connected. */
  setOptions(fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined || value === null) delete this.options[key];
      else this.options[key] = value;
    }
    const sendable = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));
    if (this.isOpen && this.sessionId && Object.keys(sendable).length > 0) {
      this.sendJSON({ type: "start", ...sendable });
      this.handlers.onOptionsSent?.(sendable);
      return true;
    }
    return false;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  sendJSON(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  sendBinary(buffer) {
    if (!this.isOpen) return false;
    this.ws.send(buffer);
    return true;
  }

  /** Bytes queued in the socket but not yet sent (for back-pressure on the mic stream). */
  get bufferedAmount() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  setState(state, info = {}) {
    this.state = state;
    this.handlers.onState?.(state, info);
  }
}

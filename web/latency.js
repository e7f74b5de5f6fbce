// Per-turn latency: what the page measures itself (p) and what the server reports (s).

const MAX_ROWS = 6;

export class TurnTracker {
  constructor() {
    this.turns = new Map(); // turn_id → Turn
    this.order = [];
  }

  get(turnId) {
    let turn = this.turns.get(turnId);
    if (!turn) {
      turn = {
        id: turnId,
        label: shortTurn(turnId),
        textSentAt: null, // typed text: when it was sent
        speechEndAt: null, // conversation: wall time (performance.now) of the end of the user's speech
        firstFrameAt: null,
        firstAudioMs: null, // page: text sent → first frame
        s2sPage: null, // page: end of speech → first frame
        s2sServer: null, // server turn_metrics.speech_to_speech_ms
        asrMs: null,
        responderMs: null,
        bargePage: null, // page: talk-over onset → playback silent
        bargeServer: null, // server barge_in.latency_ms
        heardMs: null,
        flushed: false,
        bubble: null,
      };
      this.turns.set(turnId, turn);
      this.order.push(turnId);
      while (this.order.length > 50) this.turns.delete(this.order.shift());
    }
    return turn;
  }

  recent(n = MAX_ROWS) {
    return this.order.slice(-n).map((id) => this.turns.get(id)).filter(Boolean);
  }

  /** Plain objects for window.duplexStats. */
  snapshot() {
    return this.recent(20).map((t) => ({
      turn_id: t.id,
      firstAudioMs: t.firstAudioMs,
      speechToSpeechPageMs: t.s2sPage,
      speechToSpeechServerMs: t.s2sServer,
      asrMs: t.asrMs,
      responderMs: t.responderMs,
      bargeInPageMs: t.bargePage,
      bargeInServerMs: t.bargeServer,
      heardMs: t.heardMs,
    }));
  }
}

function shortTurn(turnId) {
  const match = /-(t\d+)$/.exec(turnId || "");
  return match ? match[1] : turnId || "—";
}

const fmt = (ms) => (ms === null || ms === undefined ? null : `${Math.round(ms)}`);

/** Renders the three headline metrics and the table of recent turns. */
export function renderLatency(tracker, els) {
  const turns = tracker.recent(50);
  const latest = (pick) => {
    for (let i = turns.length - 1; i >= 0; i--) {
      const value = pick(turns[i]);
      if (value) return value;
    }
    return null;
  };

  const first = latest((t) => (t.firstAudioMs !== null ? { v: t.firstAudioMs, src: "typed text → first frame (page)" } : null));
  // Speech → speech: the server's figure (end of speech → first reply frame sent) when it
  // reports one, with the page's own measurement (end of speech → first frame received) beside it.
  const s2s = latest((t) =>
    t.s2sServer !== null ? { v: t.s2sServer, src: `server${t.s2sPage !== null ? ` · page ${fmt(t.s2sPage)} ms` : ""}` }
      : t.s2sPage !== null ? { v: t.s2sPage, src: "end of speech → audio (page)" } : null);
  // Barge-in: what the listener experiences (speech onset → playback silent, page) first; the
  // server's figure (detection → last frame sent) beside it.
  const barge = latest((t) =>
    t.bargePage !== null ? { v: t.bargePage, src: `onset → silence${t.bargeServer !== null ? ` · server ${fmt(t.bargeServer)} ms` : " (page)"}` }
      : t.bargeServer !== null ? { v: t.bargeServer, src: "detection → last frame (server)" } : null);

  for (const [metric, el, note, fallback] of [
    [first, els.firstAudio, els.firstAudioNote, "typed text"],
    [s2s, els.s2s, els.s2sNote, "end of speech to reply"],
    [barge, els.barge, els.bargeNote, "talk-over to silence"],
  ]) {
    el.textContent = metric ? fmt(metric.v) : "—";
    el.nextElementSibling.hidden = !metric; // the "ms" unit
    note.textContent = metric ? metric.src : fallback;
  }

  const rows = tracker.recent();
  els.body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "turns-empty";
    tr.innerHTML = '<td colspan="5">No turns yet</td>';
    els.body.append(tr);
    return;
  }
  for (const t of rows.reverse()) {
    const tr = document.createElement("tr");
    const th = document.createElement("td");
    th.textContent = t.label;
    tr.append(th);
    tr.append(cell(t.firstAudioMs, "p"));
    tr.append(t.s2sServer !== null ? cell(t.s2sServer, "s") : cell(t.s2sPage, "p"));
    tr.append(cell(t.asrMs, "s"));
    tr.append(t.bargePage !== null ? cell(t.bargePage, "p") : cell(t.bargeServer, "s"));
    els.body.append(tr);
  }
}

function cell(value, src) {
  const td = document.createElement("td");
  if (value === null || value === undefined) {
    td.textContent = "—";
    return td;
  }
  td.textContent = fmt(value);
  const s = document.createElement("span");
  s.className = "src";
  s.textContent = src;
  td.append(s);
  return td;
}

// Duplex browser client: wires the protocol connection, microphone capture, playback and UI.
// Protocol: docs/WEBSOCKET_PROTOCOL.md. Counters for tests: window.duplexStats and #stats.

import { DuplexConnection, defaultWebSocketURL, httpBaseOf, withToken } from "./protocol.js";
import { Player } from "./audio-playback.js";
import { MicCapture, CAPTURE_RATE, describeMicError } from "./audio-capture.js";
import { ChatView, mergeReplyText } from "./chat.js";
import { TurnTracker, renderLatency } from "./latency.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const wsURL = defaultWebSocketURL(location);

// ---------- access token (docs/SECURITY.md) ----------
// A server with API keys needs a key or an access token: from `?token=` in the page's URL,
// the field in Settings, or the last one used here (localStorage).
let accessToken = params.get("token") || localStorage.getItem("duplex.token") || "";
if (params.get("token")) localStorage.setItem("duplex.token", accessToken);
/** Headers for fetch() calls to the API. */
function authHeaders() {
  return accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
}

// ---------- test counters ----------

const stats = {
  state: "disconnected",
  framesReceived: 0,
  framesPlayed: 0,
  underruns: 0,
  bargeIns: 0,
  flushes: 0,
  transcripts: [],
  replies: [],
  errors: [],
  errorMessages: [],
  lastEvent: null,
  micFramesSent: 0,
  // Extras for diagnostics.
  playback: "idle",
  bufferedMs: 0,
  targetMs: 60,
  framesPlayedAtFlush: null,
  ttsStarts: 0,
  ttsEnds: 0,
  sessionId: null,
  mode: null,
  modelId: null,
  micActive: false,
  userSpeaking: false,
  audioContextState: null,
  audioContextRate: null,
  latency: [],
  // Live partial transcripts received, and how the last turn ended (the end_of_turn object).
  partials: [],
  endOfTurn: null,
  turnProbes: 0,
};
window.duplexStats = stats;

const statsEl = $("stats");
let publishTimer = null;
function publish() {
  if (publishTimer) return;
  publishTimer = setTimeout(() => {
    publishTimer = null;
    stats.latency = turns.snapshot();
    for (const [key, value] of Object.entries(stats)) {
      const attr = "data-" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
      statsEl.setAttribute(attr, typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));
    }
    renderPlaybackPanel();
  }, 50);
}

// ---------- components ----------

const chat = new ChatView($("chat"), $("chat-empty"));
const turns = new TurnTracker();
const player = new Player(onPlaybackStats);
const mic = new MicCapture(onMicChunk);
mic.onEnded = () => {
  stopMic();
  notify("The microphone stopped (the device was disconnected or access was revoked).", { title: "Microphone" });
};

const conn = new DuplexConnection(withToken(wsURL, accessToken), {
  onState: onConnectionState,
  onMessage: onServerMessage,
  onAudio: onServerAudio,
  onOptionsSent: onOptionsSent,
});

// ---------- session state ----------

let micMode = "open"; // "open" | "ptt"
let pttHeld = false;
let conversationReady = false; // the server has our `mode: conversation` start (messages are ordered)
let wantConversation = false;
let currentTurn = null; // the turn between tts_start and tts_end
let dropFrames = false; // after barge-in / STOP: frames still in flight for the old turn are discarded
const pendingBubbles = []; // assistant bubbles waiting for their tts_start, in order
let replyBubble = null; // assistant bubble receiving streamed `reply` text
let lastSpeechEndAt = null; // wall time of the last vad speech_end (for speech-to-speech)
let talkOver = null; // {onsetAt, silentAt} while the user talks over a reply
let userSpeaking = false;
let assistantPlaying = false;
let lastFlushSeen = 0;
let level = 0;
let micOnConnect = false; // ?mic=1: open the microphone once the session is up

// Microphone stream time → wall time, so `vad.t_ms` can be dated in this page.
let streamSamples = 0;
const streamMarks = []; // [samplesEnd, wallTimeOfLastSample]

function wallTimeOfStreamMs(tMs) {
  const sample = (tMs * CAPTURE_RATE) / 1000;
  for (let i = streamMarks.length - 1; i >= 0; i--) {
    const prevEnd = i > 0 ? streamMarks[i - 1][0] : 0;
    if (sample > prevEnd || i === 0) {
      const [end, wall] = streamMarks[i];
      return wall - ((end - sample) * 1000) / CAPTURE_RATE;
    }
  }
  return null;
}

function markStream(samples, wall) {
  streamSamples += samples;
  streamMarks.push([streamSamples, wall]);
  if (streamMarks.length > 6000) streamMarks.splice(0, 1000);
}

// ---------- connection ----------

function onConnectionState(state, info) {
  stats.state = state;
  const pill = $("conn-status");
  pill.dataset.state = state;
  const btn = $("connect-btn");
  clearInterval(onConnectionState.countdown);
  if (state !== "connected") {
    conversationReady = false;
    endAllTurns();
  }
  switch (state) {
    case "connected":
      $("conn-text").textContent = "Connected";
      btn.textContent = "Disconnect";
      clearNotice("connection");
      if (micOnConnect) {
        micOnConnect = false;
        startMic();
      }
      break;
    case "connecting":
      $("conn-text").textContent = "Connecting…";
      btn.textContent = "Cancel";
      break;
    case "reconnecting": {
      btn.textContent = "Cancel";
      const tick = () => {
        const left = info.retryAt ? Math.max(0, Math.ceil((info.retryAt - performance.now()) / 1000)) : 0;
        $("conn-text").textContent = left > 0 ? `Reconnecting in ${left} s` : "Reconnecting…";
      };
      tick();
      if (info.retryAt) onConnectionState.countdown = setInterval(tick, 500);
      if (info.reason === "unreachable") {
        notify(`Can't reach the server at ${wsURL}. Retrying automatically with backoff.`, {
          key: "connection", title: "Server unreachable",
        });
      } else if (info.reason === "closed") {
        notify("The connection to the server was lost. Reconnecting and restoring your settings…", {
          key: "connection", title: "Disconnected", kind: "info",
        });
      }
      break;
    }
    default:
      $("conn-text").textContent = "Disconnected";
      btn.textContent = "Connect";
      if (info.reason === "bad-url") notify(`The WebSocket URL is not valid: ${wsURL}`, { title: "Configuration" });
      if (info.reason === "unauthorized") {
        notify("This server needs an API key or access token: enter it under Settings → Access token, then Connect.", {
          key: "connection", title: "Access token needed",
        });
        $("token-input")?.focus();
      }
      if (info.reason === "forbidden") {
        notify("The server does not accept connections from this page's address (security.allowed_origins).", {
          key: "connection", title: "Origin not allowed",
        });
      }
  }
  publish();
}

function onOptionsSent(options) {
  if (options.mode === "conversation") {
    // The server starts a new input stream (t_ms from 0) with this message.
    conversationReady = true;
    streamSamples = 0;
    streamMarks.length = 0;
  } else if (options.mode === "tts") {
    conversationReady = false;
  }
}

function toggleConnection() {
  unlockAudio();
  if (conn.state === "disconnected") {
    player.start();
    conn.connect();
  } else {
    conn.disconnect();
    if (mic.active) stopMic();
  }
}

// ---------- server messages ----------

function onServerMessage(msg) {
  stats.lastEvent = msg;
  switch (msg.type) {
    case "session_start":
      stats.sessionId = msg.session_id;
      stats.mode = msg.mode;
      stats.modelId = msg.model_id;
      $("pb-server").textContent = `${msg.session_id ? msg.session_id.slice(0, 8) : "—"} · ${msg.mode || "tts"}`;
      $("pb-server").title = `session ${msg.session_id}, ${msg.sample_rate || 48000} Hz, protocol ${msg.protocol}`;
      if (msg.model_id) reflectModel(msg.model_id);
      break;
    case "tts_start":
      onTtsStart(msg);
      break;
    case "tts_end":
      onTtsEnd(msg);
      break;
    case "audio": // base64 delivery (not requested by this page, but harmless)
      if (msg.pcm) onServerAudio(base64ToBuffer(msg.pcm));
      break;
    case "vad":
      onVad(msg);
      break;
    case "transcript":
      onTranscript(msg);
      break;
    case "reply":
      onReply(msg);
      break;
    case "barge_in":
      onBargeIn(msg);
      break;
    case "barge_in_resumed": // a short sound paused the reply; it continues where it paused
      if (currentTurn && !dropFrames) player.streamResumed();
      talkOver = null;
      break;
    case "turn_metrics":
      onTurnMetrics(msg);
      break;
    case "model_status":
      onModelStatus(msg);
      break;
    case "error":
      onError(msg);
      break;
    case "session_end":
      if (msg.reason === "session_limit") {
        notify("The server is at its session limit. Retrying automatically…", { key: "connection", title: "Server full" });
      }
      break;
  }
  publish();
}

function onServerAudio(buffer) {
  stats.framesReceived++;
  if (dropFrames) return;
  const now = performance.now();
  if (currentTurn && currentTurn.firstFrameAt === null) {
    currentTurn.firstFrameAt = now;
    if (currentTurn.textSentAt !== null) currentTurn.firstAudioMs = now - currentTurn.textSentAt;
    if (currentTurn.speechEndAt !== null) currentTurn.s2sPage = now - currentTurn.speechEndAt;
    updateLatency();
  }
  player.enqueue(buffer);
  publish();
}

function onTtsStart(msg) {
  stats.ttsStarts++;
  clearNotice("worker"); // replies play again
  dropFrames = false;
  const turn = turns.get(msg.turn_id);
  currentTurn = turn;
  let bubble = turn.bubble;
  if (!bubble) {
    bubble = pendingBubbles.shift() || null;
    if (!bubble) {
      // Reply text may stream after its audio starts (an LLM responder): open a bubble for it.
      bubble = chat.addAssistant();
      bubble.setStreaming(true);
      replyBubble = bubble;
    }
    bubble.turnId = msg.turn_id;
    turn.bubble = bubble;
  }
  if (bubble.sentAt !== undefined && turn.textSentAt === null) turn.textSentAt = bubble.sentAt;
  bubble.setSpeaking(true);
  bubble.tag("state", "speaking");
  player.streamResumed();
  updateLatency();
}

function onTtsEnd(msg) {
  stats.ttsEnds++;
  const turn = turns.get(msg.turn_id);
  if (msg.reason === "stopped") {
    if (!turn.flushed) flushPlayback(turn);
    dropFrames = true;
  } else {
    player.expectGap(); // the buffer drains to the end; that is not an underrun
  }
  const bubble = turn.bubble;
  if (bubble) {
    bubble.setSpeaking(false);
    bubble.setStreaming(false);
    if (msg.reason === "completed") bubble.tag("state", null);
    else if (msg.reason === "stopped" && turn.heardMs === null) bubble.tag("state", "stopped", "warn");
    else if (msg.reason === "error") bubble.tag("state", "ended by an error", "danger");
  }
  if (currentTurn === turn) currentTurn = null;
}

/** Shows the end-of-turn model's answer: at a pause (turn_probe) or at the turn's end. */
function showEndOfTurn(probability, text) {
  const box = $("eot");
  if (typeof probability !== "number") {
    box.hidden = !text;
    $("eot-fill").style.width = "0%";
    $("eot-text").textContent = text || "";
    return;
  }
  box.hidden = false;
  $("eot-fill").style.width = `${Math.round(probability * 100)}%`;
  $("eot-text").textContent = text;
}

function onVad(msg) {
  if (msg.state === "turn_probe") {
    // The user paused: the end-of-turn model judged the turn so far.
    stats.turnProbes++;
    const pct = Math.round(msg.probability * 100);
    showEndOfTurn(msg.probability, msg.complete ? `done ${pct}%` : `pause — ${pct}% done, listening`);
    return;
  }
  const at = wallTimeOfStreamMs(msg.t_ms);
  if (msg.state === "speech_start") {
    setUserSpeaking(true);
    showEndOfTurn(null, "");
    if (partialBubble) {
      // The previous turn's partial never got a final transcript (nothing speakable).
      partialBubble.el.remove();
      partialBubble = null;
    }
    if (currentTurn || assistantPlaying) {
      // The server paused the reply when it heard the user; the gap until barge_in or
      // barge_in_resumed is not an underrun (nor is a drain that happened just before this).
      player.expectGap();
      player.excuseUnderrun();
      talkOver = { onsetAt: at ?? performance.now(), silentAt: assistantPlaying ? null : performance.now() };
    } else {
      talkOver = null;
    }
  } else if (msg.state === "speech_end") {
    setUserSpeaking(false);
    if (msg.end_of_turn) {
      stats.endOfTurn = msg.end_of_turn;
      const e = msg.end_of_turn;
      const how = { model: "model", max_silence: "max silence", fixed_silence: "fixed silence", model_failed: "fallback", stream_ended: "stream end" }[e.reason] || e.reason;
      showEndOfTurn(e.probability, `turn ended (${how}, ${e.silence_ms} ms silence)`);
    }
    lastSpeechEndAt = at ?? performance.now();
    if (currentTurn && !dropFrames) player.streamResumed(); // a short sound: the reply resumes
  }
}

let partialBubble = null; // the user's turn in progress, as heard so far

function onTranscript(msg) {
  const text = (msg.text || "").trim();
  if (msg.final === false) {
    // A live partial transcript: one bubble that follows the user while they speak.
    stats.partials.push(text);
    if (!partialBubble) {
      partialBubble = chat.addUser(text);
      partialBubble.el.classList.add("msg-partial");
    } else {
      partialBubble.setText(text);
    }
    publish();
    return;
  }
  stats.transcripts.push(text);
  if (partialBubble) {
    // The final transcript replaces what was heard so far.
    partialBubble.setText(text);
    partialBubble.el.classList.remove("msg-partial");
    partialBubble = null;
  } else {
    chat.addUser(text);
  }
  const turn = turns.get(msg.turn_id);
  turn.speechEndAt = lastSpeechEndAt;
  if (typeof msg.asr_ms === "number") turn.asrMs = msg.asr_ms;
  replyBubble = null; // a new user turn: the next reply text opens a new bubble
  updateLatency();
}

function onReply(msg) {
  let bubble = null;
  if (msg.turn_id && turns.turns.get(msg.turn_id)?.bubble) bubble = turns.turns.get(msg.turn_id).bubble;
  else if (replyBubble && (!msg.turn_id || !replyBubble.turnId || replyBubble.turnId === msg.turn_id)) bubble = replyBubble;
  if (!bubble) {
    bubble = chat.addAssistant();
    if (msg.turn_id) {
      const turn = turns.get(msg.turn_id);
      turn.bubble = bubble;
      bubble.turnId = msg.turn_id;
    } else {
      pendingBubbles.push(bubble);
    }
  }
  bubble.setText(mergeReplyText(bubble.text, msg.text || ""));
  if (msg.final === false) {
    bubble.setStreaming(true);
    replyBubble = bubble;
  } else {
    bubble.setStreaming(false);
    stats.replies.push(bubble.text);
    if (replyBubble === bubble) replyBubble = null;
  }
}

function onBargeIn(msg) {
  stats.bargeIns++;
  const turn = turns.get(msg.turn_id);
  flushPlayback(turn);
  player.excuseUnderrun();
  dropFrames = true;
  const now = performance.now();
  if (typeof msg.latency_ms === "number") turn.bargeServer = msg.latency_ms;
  if (typeof msg.heard_ms === "number") turn.heardMs = msg.heard_ms;
  if (talkOver) {
    const silentAt = talkOver.silentAt ?? now;
    turn.bargePage = Math.max(0, silentAt - talkOver.onsetAt);
    talkOver = null;
  }
  if (turn.bubble) {
    turn.bubble.setSpeaking(false);
    if (typeof msg.heard_text === "string") turn.bubble.markHeard(msg.heard_text);
    const heard = turn.heardMs !== null ? ` after ${(turn.heardMs / 1000).toFixed(1)} s` : "";
    turn.bubble.tag("state", `interrupted${heard}`, "warn");
  }
  updateLatency();
}

function onTurnMetrics(msg) {
  const turn = turns.get(msg.turn_id);
  if (typeof msg.speech_to_speech_ms === "number") turn.s2sServer = msg.speech_to_speech_ms;
  if (typeof msg.asr_ms === "number") turn.asrMs = msg.asr_ms;
  if (typeof msg.responder_ms === "number") turn.responderMs = msg.responder_ms;
  if (typeof msg.first_audio_ms === "number" && turn.firstAudioMs === null) turn.firstAudioMs = msg.first_audio_ms;
  updateLatency();
}

function onModelStatus(msg) {
  const el = $("model-status");
  el.dataset.state = msg.state;
  const label = {
    loading: `Loading ${msg.model_id}…`,
    ready: `${msg.model_id} ready${msg.message ? ` (${msg.message})` : ""}`,
    failed: `${msg.model_id} failed to load${msg.message ? `: ${msg.message}` : ""}`,
  }[msg.state] || `${msg.model_id}: ${msg.state}`;
  el.textContent = label;
  if (msg.state === "ready") {
    reflectModel(msg.model_id);
    setTimeout(() => { if (el.dataset.state === "ready") el.textContent = `Using ${msg.model_id}`; }, 4000);
  }
}

const ERROR_TEXT = {
  WORKER_UNAVAILABLE: "The speech worker is unavailable, so replies can't be spoken right now. The server keeps trying; try again in a moment.",
  SESSION_LIMIT: "The server is full. Try again shortly.",
  OVERLOADED: "The server is busy; that reply was not queued. Wait for the current replies to finish.",
  TEXT_TOO_LONG: "That text is too long for one message. Split it into shorter pieces.",
  UNKNOWN_MODEL: "That voice model is not installed on the server.",
  MODEL_LOAD_FAILED: "The server could not load that voice model.",
  SYNTHESIS_FAILED: "The voice failed while speaking that reply.",
  INVALID_AUDIO: "The server refused the microphone audio.",
  MESSAGE_TOO_LARGE: "A message was too large for the server.",
};

function onError(msg) {
  stats.errors.push(msg.code || "UNKNOWN");
  stats.errorMessages.push(`${msg.code}: ${msg.message}`);
  const friendly = ERROR_TEXT[msg.code];
  notify(friendly ? `${friendly} ${msg.message ? `(${msg.message})` : ""}` : msg.message || "Unknown error", {
    title: "Server error",
    code: msg.code,
    key: msg.code === "WORKER_UNAVAILABLE" ? "worker" : undefined,
  });
  if ((msg.code === "OVERLOADED" || msg.code === "TEXT_TOO_LONG") && pendingBubbles.length > 0) {
    const bubble = pendingBubbles.pop();
    bubble.tag("state", "not spoken", "danger");
  }
  if (msg.code === "UNKNOWN_MODEL" || msg.code === "MODEL_LOAD_FAILED") {
    if (stats.modelId) reflectModel(stats.modelId);
  }
  if (msg.code === "INVALID_MESSAGE" && /conversation|binary/i.test(msg.message || "") && wantConversation) {
    // This server can't take microphone audio: stop streaming it rather than repeat the error.
    stopMic();
  }
}

function flushPlayback(turn) {
  stats.flushes++;
  if (turn) turn.flushed = true;
  player.flush();
}

function endAllTurns() {
  // The connection is gone: whatever was playing or pending is over.
  if (currentTurn?.bubble) {
    currentTurn.bubble.setSpeaking(false);
    currentTurn.bubble.tag("state", "connection lost", "danger");
  }
  currentTurn = null;
  for (const bubble of pendingBubbles.splice(0)) bubble.tag("state", "not spoken", "danger");
  replyBubble?.setStreaming(false);
  replyBubble = null;
  if (assistantPlaying) flushPlayback(null);
  setUserSpeaking(false);
}

// ---------- playback stats ----------

function onPlaybackStats(s) {
  stats.framesPlayed = s.framesPlayed;
  stats.underruns = s.underruns;
  stats.lastUnderrunFrame = s.lastUnderrunFrame;
  stats.playback = s.state;
  stats.bufferedMs = s.bufferedMs;
  stats.targetMs = s.targetMs;
  if (s.flushes !== lastFlushSeen) {
    lastFlushSeen = s.flushes;
    stats.framesPlayedAtFlush = s.framesPlayed;
  }
  const playing = s.state === "playing";
  if (playing !== assistantPlaying) {
    assistantPlaying = playing;
    if (!playing && talkOver && talkOver.silentAt === null) talkOver.silentAt = performance.now();
    const ind = $("assistant-indicator");
    ind.dataset.active = String(playing);
    $("assistant-state").textContent = playing ? "speaking" : "quiet";
  }
  publish();
}

function renderPlaybackPanel() {
  $("pb-buffer").textContent = stats.bufferedMs;
  $("pb-target").textContent = stats.targetMs;
  $("pb-underruns").textContent = stats.underruns;
  $("pb-played").textContent = stats.framesPlayed;
  $("pb-received").textContent = stats.framesReceived;
  $("pb-mic").textContent = stats.micFramesSent;
  const ctx = player.node ? player.node.context : null;
  if (ctx) {
    stats.audioContextState = ctx.state;
    stats.audioContextRate = ctx.sampleRate;
  }
}

function updateLatency() {
  renderLatency(turns, {
    firstAudio: $("m-first-audio"), firstAudioNote: $("m-first-audio-note"),
    s2s: $("m-s2s"), s2sNote: $("m-s2s-note"),
    barge: $("m-barge"), bargeNote: $("m-barge-note"),
    body: $("turns-body"),
  });
  publish();
}

// ---------- microphone ----------

function micSending() {
  return mic.active && conversationReady && conn.isOpen && (micMode === "open" || pttHeld);
}

function onMicChunk(pcm, lvl) {
  level = Math.max(lvl.peak, level * 0.85);
  if (!micSending()) return;
  if (conn.bufferedAmount > 64 * 1024) return; // the network stalls: drop instead of queueing seconds of audio
  const now = performance.now();
  conn.sendBinary(pcm);
  stats.micFramesSent++;
  markStream(pcm.byteLength / 2, now);
  publish();
}

async function startMic() {
  if (mic.active) return;
  unlockAudio();
  wantConversation = true;
  setMicButton("starting");
  try {
    await mic.start();
  } catch (error) {
    wantConversation = false;
    setMicButton("off");
    notify(describeMicError(error), { title: "Microphone", key: "mic" });
    stats.errors.push("MIC_" + (error.name || "ERROR"));
    publish();
    return;
  }
  clearNotice("mic");
  stats.micActive = true;
  setMicButton("on");
  conn.setOptions({ mode: "conversation", input_sample_rate: CAPTURE_RATE, partial_transcripts: true });
  if (conn.state === "disconnected") {
    player.start();
    conn.connect();
  }
  publish();
}

function stopMic() {
  const wasActive = mic.active;
  mic.stop();
  wantConversation = false;
  stats.micActive = false;
  setPtt(false);
  setMicButton("off");
  if (wasActive || conn.options.mode === "conversation") conn.setOptions({ mode: "tts", input_sample_rate: null, partial_transcripts: null });
  conversationReady = false;
  setUserSpeaking(false);
  publish();
}

function setMicButton(state) {
  const btn = $("mic-btn");
  btn.setAttribute("aria-pressed", String(state === "on"));
  btn.disabled = state === "starting";
  $("mic-btn-text").textContent = state === "on" ? "Stop microphone" : state === "starting" ? "Starting…" : "Start microphone";
}

// Push-to-talk: frames are sent only while held. On release, a short stretch of silence
// closes the turn (the server's VAD ends a turn after `vad.min_silence_ms` of silence).
const PTT_TAIL_MS = 800;

function setPtt(held) {
  if (held === pttHeld) return;
  pttHeld = held;
  const btn = $("ptt-btn");
  btn.setAttribute("aria-pressed", String(held));
  btn.textContent = held ? "Listening… release to send" : "Hold to talk";
  if (!held && mic.active && conversationReady && conn.isOpen && micMode === "ptt") {
    const samples = (CAPTURE_RATE * PTT_TAIL_MS) / 1000;
    conn.sendBinary(new ArrayBuffer(samples * 2));
    // Date the tail as if it were recorded from now on, so the release point maps to now.
    markStream(samples, performance.now() + PTT_TAIL_MS);
  }
}

async function pressPtt() {
  if (micMode !== "ptt") return;
  if (!mic.active) await startMic();
  if (mic.active) setPtt(true);
}

function setMicMode(mode) {
  micMode = mode;
  const ptt = mode === "ptt";
  $("ptt-btn").hidden = !ptt;
  $("ptt-hint").hidden = !ptt;
  setPtt(false);
}

function setUserSpeaking(on) {
  userSpeaking = on;
  stats.userSpeaking = on;
  $("user-indicator").dataset.active = String(on);
  $("user-state").textContent = on ? "speaking" : mic.active ? "listening" : "quiet";
}

function drawMeter() {
  const fill = $("mic-meter-fill");
  const db = level > 0 ? 20 * Math.log10(level) : -100;
  const pct = mic.active ? Math.max(0, Math.min(100, ((db + 60) / 60) * 100)) : 0;
  fill.style.width = `${pct.toFixed(1)}%`;
  fill.parentElement.dataset.sending = String(micSending());
  if (!mic.active) level = 0;
  if (!userSpeaking) {
    $("user-state").textContent = !mic.active ? "quiet" : micSending() ? "listening" : micMode === "ptt" ? "hold to talk" : "not sending";
  }
  requestAnimationFrame(drawMeter);
}

// ---------- text mode ----------

function sendText(event) {
  event.preventDefault();
  const input = $("text-input");
  const text = input.value.trim();
  if (!text) return;
  unlockAudio();
  if (!conn.isOpen || !conn.sessionId) {
    notify("Not connected. Connect first, then send the text again.", { title: "Not sent", key: "connection", kind: "info" });
    return;
  }
  player.start();
  conn.sendJSON({ type: "text", text });
  const bubble = chat.addAssistant("Assistant · reading your text");
  bubble.setText(text);
  bubble.sentAt = performance.now();
  bubble.tag("state", "queued");
  pendingBubbles.push(bubble);
  input.value = "";
  publish();
}

function sendControl(command) {
  if (!conn.isOpen) return;
  conn.sendJSON({ type: "control", command });
  if (command === "STOP") {
    // Silence at once; frames still in flight for this reply are dropped.
    if (currentTurn) {
      flushPlayback(currentTurn);
      dropFrames = true;
    }
  } else if (command === "PAUSE") {
    player.expectGap();
    currentTurn?.bubble?.tag("state", "paused");
  } else if (command === "RESUME") {
    player.streamResumed();
    if (currentTurn?.bubble) currentTurn.bubble.tag("state", "speaking");
  }
}

// ---------- models and speed ----------

let catalog = null;

async function loadModels() {
  const select = $("model-select");
  const urls = [`${httpBaseOf(wsURL)}/v1/models`];
  const relative = new URL("v1/models", location.href).href;
  if (!urls.includes(relative)) urls.push(relative);
  for (const url of urls) {
    try {
      const response = await fetch(url, { cache: "no-store", headers: authHeaders() });
      if (!response.ok) continue;
      const body = await response.json();
      if (!Array.isArray(body.models)) continue;
      catalog = body;
      break;
    } catch {
      // absent or cross-origin: try the next, then fall back to "default"
    }
  }
  select.replaceChildren();
  if (!catalog) {
    select.append(new Option("default", ""));
    if (stats.modelId) reflectModel(stats.modelId);
    return;
  }
  for (const model of catalog.models) {
    const langs = (model.languages || []).join(", ");
    const parts = [model.model_id];
    if (model.family || langs) parts.push(`— ${[model.family, langs].filter(Boolean).join(" · ")}`);
    if (model.model_id === catalog.default_model_id) parts.push("(default)");
    else if (model.is_loaded) parts.push("(loaded)");
    select.append(new Option(parts.join(" "), model.model_id));
  }
  select.value = stats.modelId || catalog.default_model_id || "";
}

function reflectModel(modelId) {
  const select = $("model-select");
  if (![...select.options].some((o) => o.value === modelId)) {
    if (!catalog && select.options.length === 1 && select.options[0].value === "") select.options[0].text = `default (${modelId})`;
    else select.append(new Option(modelId, modelId));
  }
  if (catalog || select.options[0].value !== "") select.value = modelId;
}

function onModelChange() {
  const value = $("model-select").value;
  if (!value) return;
  conn.setOptions({ model_id: value });
}

function onSpeedInput() {
  $("speed-output").textContent = `${Number($("speed-input").value).toFixed(2)}×`;
}

function onSpeedChange() {
  const speed = Math.round(Number($("speed-input").value) * 100) / 100;
  conn.setOptions({ speed });
}

// ---------- notices ----------

const notices = new Map();

function notify(text, { title = "Error", code = "", key, kind = "error" } = {}) {
  const id = key || `n${Date.now()}${Math.random()}`;
  let el = notices.get(id);
  if (!el) {
    el = document.createElement("div");
    el.className = "notice";
    const body = document.createElement("p");
    body.className = "notice-body";
    body.style.margin = "0";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn btn-quiet";
    close.textContent = "Dismiss";
    close.addEventListener("click", () => clearNotice(id));
    el.append(body, close);
    notices.set(id, el);
    $("notices").append(el);
    while (notices.size > 3) clearNotice(notices.keys().next().value);
  }
  el.dataset.kind = kind;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  const body = el.querySelector(".notice-body");
  body.replaceChildren();
  const t = document.createElement("span");
  t.className = "notice-title";
  t.textContent = title;
  body.append(t, document.createTextNode(text));
  if (code) {
    const c = document.createElement("span");
    c.className = "notice-code";
    c.textContent = code;
    body.append(c);
  }
  if (!key) setTimeout(() => clearNotice(id), 15000);
}

function clearNotice(key) {
  const el = notices.get(key);
  if (!el) return;
  el.remove();
  notices.delete(key);
}

// ---------- audio unlock (autoplay policy) ----------

function unlockAudio() {
  player.start();
  if (player.suspended) player.resumeContext().then(() => clearNotice("audio")).catch(() => {});
}

async function checkAudioUnlocked() {
  await player.start().catch(() => {});
  setTimeout(() => {
    if (player.suspended) {
      notify("The browser is holding audio until you interact with the page. Click anywhere or press a key to enable sound.", {
        key: "audio", title: "Sound is paused", kind: "info",
      });
    }
  }, 300);
}

// ---------- helpers ----------

function base64ToBuffer(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

function isTextField(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) &&
    !(target instanceof HTMLInputElement && (target.type === "radio" || target.type === "range"));
}

// ---------- wiring ----------

$("connect-btn").addEventListener("click", toggleConnection);
$("mic-btn").addEventListener("click", () => (mic.active ? stopMic() : startMic()));
$("text-form").addEventListener("submit", sendText);
$("text-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendText(event);
});
for (const btn of document.querySelectorAll(".transport [data-command]")) {
  btn.addEventListener("click", () => sendControl(btn.dataset.command));
}
for (const radio of document.querySelectorAll('input[name="mic-mode"]')) {
  radio.addEventListener("change", () => radio.checked && setMicMode(radio.value));
}
$("model-select").addEventListener("change", onModelChange);
$("speed-input").addEventListener("input", onSpeedInput);
$("speed-input").addEventListener("change", onSpeedChange);

const ptt = $("ptt-btn");
ptt.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  ptt.setPointerCapture(event.pointerId);
  pressPtt();
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) ptt.addEventListener(type, () => setPtt(false));
ptt.addEventListener("contextmenu", (event) => event.preventDefault());
ptt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.repeat) { event.preventDefault(); pressPtt(); }
});
ptt.addEventListener("keyup", (event) => { if (event.key === "Enter") setPtt(false); });

// Space held anywhere outside a text field is push-to-talk (in that mode).
document.addEventListener("keydown", (event) => {
  if (event.code !== "Space" || micMode !== "ptt" || isTextField(event.target)) return;
  event.preventDefault();
  if (!event.repeat) pressPtt();
});
document.addEventListener("keyup", (event) => {
  if (event.code !== "Space" || micMode !== "ptt" || isTextField(event.target)) return;
  event.preventDefault();
  setPtt(false);
});
window.addEventListener("blur", () => setPtt(false));
document.addEventListener("pointerdown", unlockAudio, { capture: true });
document.addEventListener("keydown", unlockAudio, { capture: true });

// ---------- start ----------

onSpeedInput();
setMicMode("open");
drawMeter();
loadModels();
publish();

$("token-input").value = accessToken;
$("token-input").addEventListener("change", () => {
  accessToken = $("token-input").value.trim();
  if (accessToken) localStorage.setItem("duplex.token", accessToken);
  else localStorage.removeItem("duplex.token");
  conn.url = withToken(wsURL, accessToken);
  clearNotice("connection");
  loadModels();
});
if (params.get("ptt") === "1") {
  $("mode-ptt").checked = true;
  setMicMode("ptt");
}
if (params.get("autoconnect") === "1") {
  player.start();
  checkAudioUnlocked();
  micOnConnect = params.get("mic") === "1";
  conn.connect();
}

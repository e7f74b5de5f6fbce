import DuplexCore
import Foundation

/// Messages the server sends as WebSocket text (protocol v1).
public enum ServerMessage: Sendable {
    case sessionStart(sessionID: String, modelID: String, audioFormat: ClientMessage.AudioDelivery, mode: String, worker: String)
    case ttsStart(turnID: String)
    case ttsEnd(turnID: String, frames: Int, reason: String)
    case audio(pcm: Data, sequence: Int)
    case error(DuplexError)
    case sessionEnd(sessionID: String, reason: String)
    case modelStatus(modelID: String, state: String, message: String?)
    case vad(state: String, atMs: Int)
    case transcript(text: String, turnID: String, decodeMs: Int)
    /// Reply text: non-final messages carry the next piece (a delta), the final one the whole text.
    case reply(text: String, isFinal: Bool, turnID: String)
    /// `latencyMs`: from the barge-in edge (speech detected over the reply) to the last reply
    /// frame sent; `heardText`: the part of the reply the user heard (kept in the history).
    case bargeIn(turnID: String, heardMs: Int, latencyMs: Int, heardText: String)
    /// A reply paused by a short sound resumed where it paused.
    case bargeInResumed(turnID: String, pausedMs: Int)
    /// The session moved to another worker (the previous one failed); the reply goes on there
    /// from segment `resumeSegment` (its first unplayed clause).
    case workerChanged(turnID: String, from: String, to: String, resumeSegment: Int)
    /// Per-turn figures once the reply's first frame is sent.
    case turnMetrics(turnID: String, speechToSpeechMs: Int, asrMs: Int, responderMs: Int)

    /// The JSON text of the message.
    public var json: String {
        var object: [String: Any]
        switch self {
        case .sessionStart(let sessionID, let modelID, let format, let mode, let worker):
            object = [
                "type": "session_start", "session_id": sessionID, "model_id": modelID, "sample_rate": OutputFormat.sampleRate,
                "frame_ms": OutputFormat.frameMilliseconds, "audio_format": format.rawValue, "mode": mode, "protocol": 1,
                "worker": worker,
            ]
        case .ttsStart(let turnID):
            object = ["type": "tts_start", "turn_id": turnID]
        case .ttsEnd(let turnID, let frames, let reason):
            object = ["type": "tts_end", "turn_id": turnID, "frames": frames, "reason": reason]
        case .audio(let pcm, let sequence):
            object = [
                "type": "audio", "pcm": pcm.base64EncodedString(), "sample_rate": OutputFormat.sampleRate,
                "frame_ms": OutputFormat.frameMilliseconds, "sequence": sequence,
            ]
        case .error(let error):
            object = ["type": "error", "code": error.code.rawValue, "message": error.message]
        case .sessionEnd(let sessionID, let reason):
            object = ["type": "session_end", "session_id": sessionID, "reason": reason]
        case .modelStatus(let modelID, let state, let message):
            object = ["type": "model_status", "model_id": modelID, "state": state]
            if let message { object["message"] = message }
        case .vad(let state, let atMs):
            object = ["type": "vad", "state": state, "t_ms": atMs]
        case .transcript(let text, let turnID, let decodeMs):
            object = ["type": "transcript", "text": text, "final": true, "turn_id": turnID, "asr_ms": decodeMs]
        case .reply(let text, let isFinal, let turnID):
            object = ["type": "reply", "text": text, "final": isFinal, "turn_id": turnID]
        case .bargeIn(let turnID, let heardMs, let latencyMs, let heardText):
            object = ["type": "barge_in", "turn_id": turnID, "heard_ms": heardMs, "latency_ms": latencyMs, "heard_text": heardText]
        case .bargeInResumed(let turnID, let pausedMs):
            object = ["type": "barge_in_resumed", "turn_id": turnID, "paused_ms": pausedMs]
        case .workerChanged(let turnID, let from, let to, let resumeSegment):
            object = ["type": "worker_changed", "turn_id": turnID, "from": from, "to": to, "resume_segment": resumeSegment]
        case .turnMetrics(let turnID, let speechToSpeechMs, let asrMs, let responderMs):
            object = [
                "type": "turn_metrics", "turn_id": turnID, "speech_to_speech_ms": speechToSpeechMs, "asr_ms": asrMs,
                "responder_ms": responderMs,
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

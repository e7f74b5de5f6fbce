import DuplexCore
import DuplexEngine
import Foundation

extension SessionEvent {
    /// The event as a WebSocket protocol v1 text message (docs/WEBSOCKET_PROTOCOL.md).
    /// Audio frames go as binary messages unless the client chose `base64` delivery; then
    /// this is their `audio` message too. The legacy dialect's `session_start` says
    /// `"dialect": "legacy"`; its messages are otherwise v1's.
    func webSocketJSON(audioFormat: ClientMessage.AudioDelivery, dialect: WebSocketDialect = .v1) -> String {
        var object: [String: Any]
        switch self {
        case .sessionStarted(let session):
            object = [
                "type": "session_start", "session_id": session.sessionID, "model_id": session.modelID,
                "sample_rate": OutputFormat.sampleRate, "frame_ms": OutputFormat.frameMilliseconds, "audio_format": audioFormat.rawValue,
                "mode": session.mode.rawValue, "protocol": 1, "worker": session.worker,
            ]
            if dialect != .v1 { object["dialect"] = dialect.rawValue }
        case .replyStarted(let turnID):
            object = ["type": "tts_start", "turn_id": turnID]
        case .replyEnded(let turnID, let frames, let reason, let lateFrames):
            object = ["type": "tts_end", "turn_id": turnID, "frames": frames, "reason": reason.rawValue, "late_frames": lateFrames]
        case .audio(_, let pcm, let sequence):
            object = [
                "type": "audio", "pcm": pcm.base64EncodedString(), "sample_rate": OutputFormat.sampleRate,
                "frame_ms": OutputFormat.frameMilliseconds, "sequence": sequence,
            ]
        case .error(let error):
            object = ["type": "error", "code": error.code.rawValue, "message": error.message]
            if let retry = error.retryAfterMs { object["retry_after_ms"] = retry }
        case .sessionEnded(let sessionID, let reason):
            object = ["type": "session_end", "session_id": sessionID, "reason": reason]
        case .modelStatus(let modelID, let state, let message):
            object = ["type": "model_status", "model_id": modelID, "state": state.rawValue]
            if let message { object["message"] = message }
        case .voiceActivity(let activity, let atMs, let endOfTurn):
            object = ["type": "vad", "state": activity.rawValue, "t_ms": atMs]
            if let endOfTurn { object["end_of_turn"] = endOfTurn.wireObject }
        case .turnProbe(let probe):
            object = [
                "type": "vad", "state": "turn_probe", "t_ms": probe.atMs, "probability": Self.rounded(probe.probability),
                "silence_ms": probe.silenceMs, "complete": probe.complete,
            ]
        case .transcript(let text, let turnID, let asrMs):
            object = ["type": "transcript", "text": text, "final": true, "turn_id": turnID, "asr_ms": asrMs]
        case .partialTranscript(let text):
            object = ["type": "transcript", "text": text, "final": false]
        case .replyText(let text, let isFinal, let turnID):
            object = ["type": "reply", "text": text, "final": isFinal, "turn_id": turnID]
        case .bargeIn(let report):
            object = [
                "type": "barge_in", "turn_id": report.turnID, "heard_ms": report.heardMs, "latency_ms": report.latencyMs,
                "heard_text": report.heardText,
            ]
        case .bargeInResumed(let turnID, let pausedMs):
            object = ["type": "barge_in_resumed", "turn_id": turnID, "paused_ms": pausedMs]
        case .workerChanged(let turnID, let from, let to, let resumeSegment, let modelID):
            object = [
                "type": "worker_changed", "turn_id": turnID, "from": from, "to": to, "resume_segment": resumeSegment, "model_id": modelID,
            ]
        case .turnMetrics(let turnID, let speechToSpeechMs, let asrMs, let responderMs, let endOfTurn):
            object = [
                "type": "turn_metrics", "turn_id": turnID, "speech_to_speech_ms": speechToSpeechMs, "asr_ms": asrMs,
                "responder_ms": responderMs,
            ]
            if let endOfTurn { object["end_of_turn"] = endOfTurn.wireObject }
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Probabilities with 3 decimals (what a client can act on; no float noise on the wire).
    static func rounded(_ value: Float) -> Double { (Double(value) * 1000).rounded() / 1000 }
}

extension EndOfTurnDecision {
    /// `{"reason", "silence_ms", "probability"?}`.
    var wireObject: [String: Any] {
        var object: [String: Any] = ["reason": reason.rawValue, "silence_ms": silenceMs]
        if let probability { object["probability"] = SessionEvent.rounded(probability) }
        return object
    }
}

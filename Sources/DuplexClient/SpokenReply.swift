import DuplexCore
import Foundation

/// Everything received for one reply (`tts_start` … `tts_end`).
public struct SpokenReply: Sendable {
    /// The reply's turn id.
    public var turnID = ""
    /// Concatenated s16le 48 kHz PCM.
    public var pcm = Data()
    /// Sizes of the binary frames, in order.
    public var frameSizes: [Int] = []
    /// Arrival time of each frame.
    public var frameTimes: [ContinuousClock.Instant] = []
    /// `tts_end.reason`.
    public var reason = ""
    /// `tts_end.frames`.
    public var reportedFrames = 0
    /// Error events received during the reply.
    public var errors: [String] = []
    /// Every JSON event received during the reply, in order (`tts_start` … `tts_end`).
    public var events: [IncomingMessage] = []
    /// When the text was sent.
    public var sentAt: ContinuousClock.Instant

    /// Text sent → first frame received.
    public var firstAudioLatency: Duration? { frameTimes.first.map { sentAt.duration(to: $0) } }

    /// The samples.
    public var samples: [Int16] {
        pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
    }

    /// `tts_end.late_frames`: frames the worker sent after the listener's buffer ran dry.
    public var reportedLateFrames: Int {
        events.last { $0.type == "tts_end" }.flatMap { $0.json?["late_frames"] as? Int } ?? 0
    }

    /// Frames that arrived after a player would have needed them: a player that starts
    /// playing at the first frame (holding the lead the server sends at once), plus an extra
    /// jitter `buffer`, plays frame *i* at `first + buffer + i × 20 ms`; a frame arriving later
    /// is an underrun (an audible gap), after which the player restarts from that frame.
    public func playoutUnderruns(buffer: Duration = .zero) -> Int {
        guard var start = frameTimes.first else { return 0 }
        var base = 0
        var underruns = 0
        for (i, arrival) in frameTimes.enumerated() {
            let due = start.advanced(by: buffer + OutputFormat.frameDuration * (i - base))
            if arrival > due {
                underruns += 1
                start = arrival
                base = i
            }
        }
        return underruns
    }

    /// Deviations of frame inter-arrival times from 20 ms, in ms (after the initial lead burst).
    public func jitterMilliseconds(skipping lead: Int = 3) -> [Double] {
        guard frameTimes.count > lead + 1 else { return [] }
        return (lead + 1..<frameTimes.count).map { i in
            abs(frameTimes[i - 1].duration(to: frameTimes[i]).millisecondsDouble - Double(OutputFormat.frameMilliseconds))
        }
    }
}

extension DuplexConnection {
    /// Sends `text` as one final `text` message and collects the reply.
    public func speak(_ text: String) async throws -> SpokenReply {
        let sentAt = ContinuousClock.now
        try await send(json: ["type": "text", "text": text, "is_final": true])
        return try await collectReply(sentAt: sentAt)
    }

    /// Collects messages until `tts_end`, calling `onFrame` after each audio frame (with the
    /// frame count) and `onEvent` after each JSON event.
    public func collectReply(
        sentAt: ContinuousClock.Instant, onFrame: (Int, DuplexConnection) async throws -> Void = { _, _ in },
        onEvent: (IncomingMessage, DuplexConnection) async throws -> Void = { _, _ in }
    ) async throws -> SpokenReply {
        var reply = SpokenReply(sentAt: sentAt)
        while let message = try await next() {
            if let data = message.binary {
                reply.pcm.append(data)
                reply.frameSizes.append(data.count)
                reply.frameTimes.append(message.receivedAt)
                try await onFrame(reply.frameSizes.count, self)
                continue
            }
            guard let json = message.json, let type = json["type"] as? String else { continue }
            reply.events.append(message)
            if type != "audio" { try await onEvent(message, self) }
            switch type {
            case "tts_start": reply.turnID = json["turn_id"] as? String ?? ""
            case "audio":
                if let b64 = json["pcm"] as? String, let data = Data(base64Encoded: b64) {
                    reply.pcm.append(data)
                    reply.frameSizes.append(data.count)
                    reply.frameTimes.append(message.receivedAt)
                    try await onFrame(reply.frameSizes.count, self)
                }
            case "error": reply.errors.append("\(json["code"] ?? "?"): \(json["message"] ?? "")")
            case "session_end":
                throw DuplexError(.workerUnavailable, "The server ended the session (\(json["reason"] ?? "unknown")).")
            case "tts_end":
                reply.reason = json["reason"] as? String ?? ""
                reply.reportedFrames = json["frames"] as? Int ?? -1
                return reply
            default: break
            }
        }
        throw DuplexError(.workerUnavailable, "The server closed the connection during the reply.")
    }
}

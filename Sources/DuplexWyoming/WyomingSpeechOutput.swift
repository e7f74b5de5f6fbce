import DuplexCore
import DuplexEngine
import Foundation
import Synchronization

/// The engine's events for a Wyoming connection: a reply's frames go straight out as
/// `audio-start` / `audio-chunk` / `audio-stop` (48 kHz s16le mono, one 20 ms frame per
/// chunk), and what the connection's state machine waits for (the voice taking effect, the
/// reply ending) is posted to its lane.
final class WyomingSpeechOutput: SessionOutput {
    private let writer: WyomingEventWriter
    private let lane: AsyncBoundedQueue<WyomingConnectionInput>
    private let state = Mutex(State())

    private struct State {
        /// A voice the connection asked for and waits on: `.some(nil)` is the default voice.
        var expected: String??
        /// The model the engine bound first (the default voice).
        var defaultModel: String?
    }

    init(writer: WyomingEventWriter, lane: AsyncBoundedQueue<WyomingConnectionInput>) {
        self.writer = writer
        self.lane = lane
    }

    /// The engine's default voice, once its first worker session opened.
    var defaultModel: String? { state.withLock { $0.defaultModel } }

    /// The connection sent a `start` for `model` (nil: whatever the engine binds) and waits
    /// for it: the next `session_start` with that model posts `voiceReady`, an `error` first
    /// posts `voiceFailed`.
    func expectVoice(_ model: String?) {
        state.withLock { $0.expected = .some(model) }
    }

    func write(_ event: SessionEvent) async {
        switch event {
        case .sessionStarted(let description):
            let ready = state.withLock { s -> Bool in
                if s.defaultModel == nil, !description.modelID.isEmpty { s.defaultModel = description.modelID }
                guard let expected = s.expected, expected == nil || expected == description.modelID else { return false }
                s.expected = nil
                return true
            }
            if ready { try? await lane.send(.voiceReady) }
        case .error(let error):
            let awaited = state.withLock { s -> Bool in
                guard s.expected != nil else { return false }
                s.expected = nil
                return true
            }
            if awaited {
                try? await lane.send(.voiceFailed(error))
            } else {
                await writer.write(error)
            }
        case .replyStarted:
            await writer.write(WyomingEvent("audio-start", data: WyomingAudioFormat.output.data.merging(["timestamp": 0]) { a, _ in a }))
        case .audio(_, let pcm, let sequence):
            var data = WyomingAudioFormat.output.data
            data["timestamp"] = .int((sequence - 1) * OutputFormat.frameMilliseconds)
            await writer.write(WyomingEvent("audio-chunk", data: data, payload: [UInt8](pcm)))
        case .replyEnded(_, let frames, _, _):
            // The lane writes `audio-stop` once it is idle again: a client that sends its next
            // request the moment it reads `audio-stop` is never told the connection is busy.
            try? await lane.send(.replyEnded(frames: frames))
        default:
            break
        }
    }
}

import DuplexCore
import DuplexEngine
import Foundation
import Logging

/// One-shot speech through the conversation engine: a `tts` session that speaks one text
/// and ends, so `/v1/audio/speech` and the WebSocket share routing, voices, text
/// segmentation and failover. The worker is asked not to pace frames (`pacing: false`):
/// an HTTP client wants the audio as fast as it is made, not in real time.
struct SpeechSynthesis: Sendable {
    /// What the session produces, in order.
    enum Chunk: Sendable {
        /// One 20 ms frame of 48 kHz s16le mono PCM.
        case frame(Data)
        /// The reply failed (before or during the audio).
        case failed(DuplexError)
    }

    let pool: WorkerPool
    let configuration: SessionConfiguration
    let responder: any Responder
    let logger: Logger
    let probe: SessionProbe?

    /// Speaks `text` with `modelID` (nil: the default voice), delivering frames into `chunks`
    /// (bounded: a slow HTTP client slows the session down instead of buffering the reply),
    /// then finishes `chunks`. Returns when the session has ended and released its worker.
    /// - Parameter quota: the client key's budget (reply audio, fair scheduling).
    func run(text: String, modelID: String?, speed: Double, quota: KeyQuota? = nil, into chunks: AsyncBoundedQueue<Chunk>) async {
        let (input, continuation) = AsyncStream.makeStream(of: SessionInput.self)
        var voiceOptions = ["pacing": "false"]
        if speed != 1 { voiceOptions["speed"] = String(speed) }
        continuation.yield(.start(SessionOptions(modelID: modelID, mode: .tts, voiceOptions: voiceOptions)))
        continuation.yield(.text(text, isFinal: true))
        let output = Collector(chunks: chunks, input: continuation)
        let engine = SessionEngine(
            id: "speech-" + UUID().uuidString.lowercased(), configuration: configuration, pool: pool, speech: nil,
            responder: responder, clock: ContinuousClock(), logger: logger, probe: probe, quota: quota)
        await engine.run(input, output: output)
        chunks.finish()
    }

    /// Turns engine events into chunks; ends the session's input once the reply ended.
    private struct Collector: SessionOutput {
        let chunks: AsyncBoundedQueue<Chunk>
        let input: AsyncStream<SessionInput>.Continuation

        func write(_ event: SessionEvent) async {
            switch event {
            case .audio(_, let pcm, _):
                do {
                    try await chunks.send(.frame(pcm))
                } catch {
                    input.finish()  // the client is gone (the queue was finished): end the session
                }
            case .replyEnded(_, _, let reason, _):
                if reason == .error {
                    _ = chunks.trySend(.failed(DuplexError(.synthesisFailed, "The worker failed while synthesizing.")))
                }
                input.finish()
            case .error(let error):
                // An error before the reply started (no worker, a bad option) ends it; an error
                // event during a reply is followed by its `replyEnded`.
                try? await chunks.send(.failed(error))
                input.finish()
            case .sessionEnded(_, let reason):
                try? await chunks.send(.failed(DuplexError(.workerUnavailable, "The session ended: \(reason).")))
                input.finish()
            default:
                break
            }
        }
    }
}

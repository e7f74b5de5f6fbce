import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import GRPCCore
import Synchronization

/// One `Synthesize` call as a conformance check sees it: every frame with its arrival time,
/// how the stream ended, and a hook to act (PAUSE, STOP, vanish) at a given frame.
struct SynthesisProbe: Sendable {
    /// A frame and when it arrived.
    struct Received: Sendable {
        var frame: Duplex_Tts_V1_AudioFrame
        var at: ContinuousClock.Instant
    }

    /// What happened.
    struct Outcome: Sendable {
        var frames: [Received] = []
        /// When the last text chunk was written.
        var textSentAt: ContinuousClock.Instant?
        /// When the call ended.
        var endedAt: ContinuousClock.Instant?
        /// The call failed (gRPC status, mapped).
        var error: DuplexError?
        /// The client cancelled it (``Next/vanish``).
        var vanished = false

        var data: [Received] { frames.filter { !$0.frame.isFinal || !$0.frame.audioData.isEmpty } }
        var finals: [Received] { frames.filter(\.frame.isFinal) }
        var endReason: Duplex_Tts_V1_EndReason? { finals.last?.frame.endReason }
        /// The PCM of all data frames.
        var pcm: Data { data.reduce(into: Data()) { $0.append($1.frame.audioData) } }
        /// Time from the last text chunk to the first data frame.
        var firstAudio: Duration? {
            guard let sent = textSentAt, let first = data.first else { return nil }
            return sent.duration(to: first.at)
        }
    }

    let worker: WorkerConnection
    let sessionID: String
    let text: String
    let synthesisID: String?

    /// Runs the call. When `frame` data frames have arrived, `action` runs beside the reading
    /// (so arrival times stay true while it waits, e.g. between PAUSE and RESUME); with
    /// `vanishAt`, the client cancels the call after that many frames, as a client that goes away.
    func run(at frame: Int? = nil, action: (@Sendable () async -> Void)? = nil, vanishAt: Int? = nil) async -> Outcome {
        let outcome = Locked(Outcome())
        let reached = AsyncSignal()
        let done = AsyncSignal()
        let (worker, sessionID, text, synthesisID) = (self.worker, self.sessionID, self.text, self.synthesisID)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await worker.tts.synthesize(options: worker.streamOptions, requestProducer: { writer in
                        var chunk = Duplex_Tts_V1_TextChunk()
                        chunk.sessionID = sessionID
                        chunk.text = text
                        chunk.isFinal = true
                        chunk.sequenceNumber = 1
                        if let synthesisID { chunk.synthesisID = synthesisID }
                        try await writer.write(chunk)
                        outcome.withLock { $0.textSentAt = .now }
                    }) { response in
                        var data = 0
                        for try await received in response.messages {
                            outcome.withLock { $0.frames.append(Received(frame: received, at: .now)) }
                            guard !received.isFinal || !received.audioData.isEmpty else { continue }
                            data += 1
                            if data == frame { reached.fire() }
                            if data == vanishAt {
                                outcome.withLock { $0.vanished = true }
                                return
                            }
                        }
                    }
                } catch {
                    if !outcome.withLock({ $0.vanished }) {
                        let mapped = WireErrors.duplexError(error, worker: worker.address)
                        outcome.withLock { $0.error = mapped }
                    }
                }
                outcome.withLock { $0.endedAt = .now }
                done.fire()
            }
            if let action {
                group.addTask {
                    // The action runs if the frame comes; a stream that ends before it does not.
                    let fired = await withTaskGroup(of: Bool.self) { race in
                        race.addTask {
                            await reached.wait()
                            return true
                        }
                        race.addTask {
                            await done.wait()
                            return false
                        }
                        let first = await race.next() ?? false
                        race.cancelAll()
                        return first || reached.isFired
                    }
                    if fired { await action() }
                }
            }
            await group.waitForAll()
        }
        return outcome.value
    }
}

extension WorkerConnection {
    /// A unary call whose failure is kept as a value (checks look at the code).
    func attempt<T: Sendable>(
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (any Duplex_Tts_V1_TTSService.ClientProtocol, CallOptions) async throws -> T
    ) async -> Result<T, DuplexError> {
        do {
            return .success(try await call(timeout: timeout, body))
        } catch {
            return .failure(error)
        }
    }

    /// StartSession.
    func startSession(_ id: String, model: String = "", options: [String: String] = [:]) async -> Result<Duplex_Tts_V1_StartSessionResponse, DuplexError> {
        var request = Duplex_Tts_V1_StartSessionRequest()
        request.sessionID = id
        request.modelID = model
        request.options = options
        return await attempt { [request] client, options in try await client.startSession(request, options: options) }
    }

    /// EndSession.
    func endSession(_ id: String) async -> Result<Duplex_Tts_V1_EndSessionResponse, DuplexError> {
        var request = Duplex_Tts_V1_EndSessionRequest()
        request.sessionID = id
        return await attempt { [request] client, options in try await client.endSession(request, options: options) }
    }

    /// Control.
    func control(_ command: Duplex_Tts_V1_ControlCommand, session: String, synthesis: String? = nil) async -> Result<Duplex_Tts_V1_ControlResponse, DuplexError> {
        var request = Duplex_Tts_V1_ControlRequest()
        request.sessionID = session
        request.command = command
        if let synthesis { request.synthesisID = synthesis }
        return await attempt { [request] client, options in try await client.control(request, options: options) }
    }

    /// GetCapabilities.
    func capabilities() async -> Result<Duplex_Tts_V1_GetCapabilitiesResponse, DuplexError> {
        await attempt { client, options in try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options) }
    }
}

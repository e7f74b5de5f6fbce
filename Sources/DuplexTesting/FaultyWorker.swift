import DuplexCore
import DuplexProto
import DuplexWorker
import Foundation
import GRPCCore
import Synchronization

/// A real worker (a ``TTSWorkerService``) with one deliberate defect, to prove that
/// `duplex conformance` catches it and says why.
public final class FaultyWorker: Duplex_Tts_V1_TTSService.SimpleServiceProtocol, Sendable {
    /// The defects.
    public enum Fault: String, Sendable, CaseIterable {
        /// Data frames of 1000 bytes instead of 1920.
        case wrongFrameSize
        /// The stream ends without its final frame.
        case noFinalFrame
        /// PAUSE answers success but does not pause.
        case ignoresPause
        /// RESUME sends the three frames before the pause again.
        case replaysOnResume
        /// A synthesis whose client vanished is never freed (it stays counted and controllable).
        case neverFreesCancelled
        /// STOP is answered at once but the synthesis goes on for another 300 ms.
        case stopsLate
        /// Claims ABI 1.2 but answers Control in the 1.0/1.1 layout: the frame count in field 3
        /// (`timestamp_ms`), nothing in field 4.
        case frameCountAsTimestamp
    }

    /// The defect.
    public let fault: Fault
    private let inner: TTSWorkerService
    private let state = Mutex(State())

    private struct State {
        var recent: [String: [Duplex_Tts_V1_AudioFrame]] = [:]
        var replay: Set<String> = []
        var leaked: Set<String> = []
    }

    /// Wraps `inner` with `fault`.
    public init(_ inner: TTSWorkerService, fault: Fault) {
        self.inner = inner
        self.fault = fault
    }

    public func startSession(request: Duplex_Tts_V1_StartSessionRequest, context: ServerContext) async throws -> Duplex_Tts_V1_StartSessionResponse {
        try await inner.startSession(request: request, context: context)
    }

    public func endSession(request: Duplex_Tts_V1_EndSessionRequest, context: ServerContext) async throws -> Duplex_Tts_V1_EndSessionResponse {
        try await inner.endSession(request: request, context: context)
    }

    public func synthesize(
        request: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>, response: RPCWriter<Duplex_Tts_V1_AudioFrame>, context: ServerContext
    ) async throws {
        let writer = FaultyWriter(base: response, worker: self)
        do {
            try await inner.synthesize(request: request, response: RPCWriter(wrapping: writer), context: context)
        } catch {
            if fault == .neverFreesCancelled, let id = writer.synthesisID.value {
                // The bug: the record of a synthesis whose client went away is kept for good.
                state.withLock { _ = $0.leaked.insert(id) }
            }
            throw error
        }
    }

    public func control(request: Duplex_Tts_V1_ControlRequest, context: ServerContext) async throws -> Duplex_Tts_V1_ControlResponse {
        switch (fault, request.command) {
        case (.ignoresPause, .pause):
            var response = Duplex_Tts_V1_ControlResponse()
            response.success = true
            return response.stamped()
        case (.replaysOnResume, .resume):
            state.withLock { _ = $0.replay.insert(request.sessionID) }
        case (.stopsLate, .stop):
            // The frame count now (a RESUME of a running synthesis changes nothing), the
            // stop itself only later: frames go on after the answer.
            var probe = request
            probe.command = .resume
            var response = try await inner.control(request: probe, context: context)
            try await Task.sleep(for: .milliseconds(300))
            let stopped = try await inner.control(request: request, context: context)
            response.success = stopped.success
            return response
        case (.neverFreesCancelled, _) where state.withLock({ $0.leaked.contains(request.synthesisID) }):
            var response = Duplex_Tts_V1_ControlResponse()
            response.success = true
            return response.stamped()
        case (.frameCountAsTimestamp, _):
            var response = try await inner.control(request: request, context: context)
            response.timestampMs = Int64(response.framesEmitted)
            response.framesEmitted = 0
            return response
        default:
            break
        }
        return try await inner.control(request: request, context: context)
    }

    public func listModels(request: Duplex_Tts_V1_ListModelsRequest, context: ServerContext) async throws -> Duplex_Tts_V1_ListModelsResponse {
        try await inner.listModels(request: request, context: context)
    }

    public func loadModel(request: Duplex_Tts_V1_LoadModelRequest, context: ServerContext) async throws -> Duplex_Tts_V1_LoadModelResponse {
        try await inner.loadModel(request: request, context: context)
    }

    public func unloadModel(request: Duplex_Tts_V1_UnloadModelRequest, context: ServerContext) async throws -> Duplex_Tts_V1_UnloadModelResponse {
        try await inner.unloadModel(request: request, context: context)
    }

    public func getCapabilities(
        request: Duplex_Tts_V1_GetCapabilitiesRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_GetCapabilitiesResponse {
        var response = try await inner.getCapabilities(request: request, context: context)
        let leaked = state.withLock { $0.leaked.count }
        if leaked > 0 { response.metrics["active_syntheses", default: 0] += Double(leaked) }
        return response
    }

    /// Rewrites the frames of one Synthesize stream according to the fault.
    private struct FaultyWriter: RPCWriterProtocol {
        let base: RPCWriter<Duplex_Tts_V1_AudioFrame>
        let worker: FaultyWorker
        let synthesisID = Locked<String?>(nil)

        func write(_ frame: Duplex_Tts_V1_AudioFrame) async throws {
            if !frame.synthesisID.isEmpty { synthesisID.withLock { if $0 == nil { $0 = frame.synthesisID } } }
            var frame = frame
            switch worker.fault {
            case .wrongFrameSize where !frame.audioData.isEmpty:
                frame.audioData = frame.audioData.prefix(1000)
            case .noFinalFrame where frame.isFinal:
                return
            case .replaysOnResume:
                let replay = worker.state.withLock { s -> [Duplex_Tts_V1_AudioFrame] in
                    guard !frame.isFinal else { return [] }
                    defer {
                        s.recent[frame.sessionID, default: []].append(frame)
                        s.recent[frame.sessionID] = Array(s.recent[frame.sessionID]!.suffix(3))
                    }
                    guard s.replay.remove(frame.sessionID) != nil else { return [] }
                    return s.recent[frame.sessionID] ?? []
                }
                for old in replay { try await base.write(old) }
            default:
                break
            }
            try await base.write(frame)
        }

        func write(contentsOf frames: some Sequence<Duplex_Tts_V1_AudioFrame>) async throws {
            for frame in frames { try await write(frame) }
        }
    }
}

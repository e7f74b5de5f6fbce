import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import GRPCCore
import GRPCInProcessTransport
import Synchronization

/// A TTS worker whose every move a test scripts. It speaks the real worker ABI (v1.1, or
/// v1.0 without synthesis ids and segment announcements) over gRPC's in-process transport,
/// but frames leave only when the test emits them, so engine tests are deterministic.
///
/// ```swift
/// let synthesis = await worker.waitForSynthesis(1)
/// synthesis.emit(segment: 0, frames: 5, announce: "Hello there.", range: 0..<12)
/// synthesis.end()
/// ```
///
/// Frames carry their identity (`tag`, index) in their first bytes (``ScriptedWorker/identity(of:)``),
/// so a test can check that nothing was lost or repeated.
public final class ScriptedWorker: Duplex_Tts_V1_TTSService.SimpleServiceProtocol, Sendable {
    /// Which ABI the worker speaks.
    public enum ABI: Sendable {
        /// Synthesis ids, addressed control, segment announcements.
        case v1_1
        /// The first version: none of those.
        case v1_0
    }

    /// What the worker has seen and holds.
    public struct Snapshot: Sendable {
        /// Open worker sessions: session id → model.
        public var sessions: [String: String] = [:]
        /// Every Synthesize call, in order.
        public var syntheses: [ScriptedSynthesis] = []
        /// Every Control call: (session, synthesis id, command, success).
        public var controls: [(session: String, synthesis: String, command: Duplex_Tts_V1_ControlCommand, success: Bool)] = []
        /// StartSession calls (model asked).
        public var startSessions: [String] = []
        /// The `admission` option of each StartSession (`strict` when absent), in order.
        public var admissions: [String] = []
        /// EndSession calls.
        public var endSessions = 0
        /// The `duplex-tenant` metadata of each Synthesize call (nil when absent), in order.
        public var tenants: [String?] = []
        /// LoadModel calls.
        public var loads: [String] = []
        /// Models and whether they are resident.
        public var models: [String: Bool]
        /// Syntheses whose stream is still open.
        public var openSyntheses: Int { syntheses.filter(\.isOpen).count }
        /// Model leases held: one per session and one per running synthesis (as the real worker).
        public var leases: Int { sessions.count + openSyntheses }
    }

    /// The worker's address in the pool (its name).
    public let name: String
    /// The ABI it speaks.
    public let abi: ABI
    /// Its state, observable.
    public let state: Observed<Snapshot>
    private let control = Mutex(Control())

    private struct Control {
        var frozen: AsyncSignal?
        var dead = false
        var holdStartSession: AsyncSignal?
        var holdLoad: AsyncSignal?
        var refusal: DuplexError.Code?
    }

    /// Creates a worker with these models (all resident unless listed in `unloaded`).
    public init(name: String, abi: ABI = .v1_1, models: [String] = ["voice-a", "voice-b"], unloaded: Set<String> = []) {
        self.name = name
        self.abi = abi
        var resident: [String: Bool] = [:]
        for model in models { resident[model] = !unloaded.contains(model) }
        state = Observed(Snapshot(models: resident))
    }

    // MARK: Test controls

    /// Every RPC (and every frame) waits until ``thaw()`` — like a process stopped with SIGSTOP.
    public func freeze() {
        control.withLock { if $0.frozen == nil { $0.frozen = AsyncSignal() } }
    }

    /// Lets a frozen worker go on.
    public func thaw() {
        let gate = control.withLock { c in
            defer { c.frozen = nil }
            return c.frozen
        }
        gate?.fire()
    }

    /// The worker dies: open streams fail with UNAVAILABLE, later calls too.
    public func kill() {
        control.withLock { $0.dead = true }
        for synthesis in state.value.syntheses where synthesis.isOpen { synthesis.fail(.unavailable) }
    }

    /// Whether ``kill()`` was called.
    public var isDead: Bool { control.withLock { $0.dead } }

    /// New sessions are refused with `code` (`overloaded` or `sessionLimit`, as a busy or full
    /// worker does); an `overloaded` refusal yields to `admission: force`. nil accepts again.
    public func refuseSessions(_ code: DuplexError.Code?) {
        control.withLock { $0.refusal = code }
    }

    /// StartSession calls wait until ``releaseStartSession()``.
    public func holdStartSession() {
        control.withLock { $0.holdStartSession = AsyncSignal() }
    }

    /// Lets held StartSession calls go on.
    public func releaseStartSession() {
        control.withLock { c in
            defer { c.holdStartSession = nil }
            return c.holdStartSession
        }?.fire()
    }

    /// LoadModel calls wait until ``releaseLoad()``.
    public func holdLoads() {
        control.withLock { $0.holdLoad = AsyncSignal() }
    }

    /// Lets held LoadModel calls finish.
    public func releaseLoad() {
        control.withLock { c in
            defer { c.holdLoad = nil }
            return c.holdLoad
        }?.fire()
    }

    /// Waits for the `n`-th Synthesize call (1-based).
    public func waitForSynthesis(_ n: Int) async -> ScriptedSynthesis {
        let snapshot = await state.wait { $0.syntheses.count >= n }
        return snapshot!.syntheses[n - 1]
    }

    /// Waits for `n` Control calls.
    public func waitForControls(_ n: Int) async {
        await state.wait { $0.controls.count >= n }
    }

    /// Waits until the worker holds no session and no synthesis.
    public func waitUntilIdle() async {
        await state.wait { $0.leases == 0 }
    }

    // MARK: Frames

    /// A frame whose first 8 bytes say which it is.
    public static func frame(tag: UInt32, index: UInt32) -> Data {
        var data = Data(count: OutputFormat.bytesPerFrame)
        withUnsafeBytes(of: tag.littleEndian) { data.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: index.littleEndian) { data.replaceSubrange(4..<8, with: $0) }
        return data
    }

    /// The identity of a frame made by ``frame(tag:index:)``.
    public static func identity(of frame: Data) -> (tag: UInt32, index: UInt32) {
        let bytes = [UInt8](frame.prefix(8))
        guard bytes.count == 8 else { return (0, 0) }
        let tag = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        let index = UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24
        return (tag, index)
    }

    // MARK: Gates

    private func gate() async throws {
        let (frozen, dead) = control.withLock { ($0.frozen, $0.dead) }
        if let frozen { await frozen.wait() }
        try Task.checkCancellation()
        if dead || control.withLock({ $0.dead }) { throw RPCError(code: .unavailable, message: "worker \(name) is dead") }
    }

    func frozenGate() async {
        if let frozen = control.withLock({ $0.frozen }) { await frozen.wait() }
    }

    // MARK: Service

    public func startSession(request: Duplex_Tts_V1_StartSessionRequest, context: ServerContext) async throws -> Duplex_Tts_V1_StartSessionResponse {
        try await withRPCCancellationAsTaskCancellation { try await self.openSession(request) }
    }

    private func openSession(_ request: Duplex_Tts_V1_StartSessionRequest) async throws -> Duplex_Tts_V1_StartSessionResponse {
        try await gate()
        let admission = request.options["admission"] ?? "strict"
        state.update {
            $0.startSessions.append(request.modelID)
            $0.admissions.append(admission)
        }
        if let hold = control.withLock({ $0.holdStartSession }) { await hold.wait() }
        try Task.checkCancellation()
        if let refusal = control.withLock({ $0.refusal }), !(refusal == .overloaded && admission == "force") {
            throw DuplexError(refusal, "\(name) refuses new sessions (\(refusal.rawValue)).")
        }
        let models = state.value.models
        let model = request.modelID.isEmpty ? models.keys.sorted().first ?? "" : request.modelID
        guard models[model] != nil else { throw DuplexError(.unknownModel, "No model '\(model)' on \(name).") }
        state.update { $0.sessions[request.sessionID] = model }
        var response = Duplex_Tts_V1_StartSessionResponse()
        response.success = true
        response.modelID = model
        return response
    }

    public func endSession(request: Duplex_Tts_V1_EndSessionRequest, context: ServerContext) async throws -> Duplex_Tts_V1_EndSessionResponse {
        try await withRPCCancellationAsTaskCancellation { try await self.close(request) }
    }

    private func close(_ request: Duplex_Tts_V1_EndSessionRequest) async throws -> Duplex_Tts_V1_EndSessionResponse {
        try await gate()
        let (existed, running) = state.update { s -> (Bool, [ScriptedSynthesis]) in
            s.endSessions += 1
            let existed = s.sessions.removeValue(forKey: request.sessionID) != nil
            return (existed, s.syntheses.filter { $0.sessionID == request.sessionID && $0.isOpen })
        }
        running.forEach { $0.end(.stopped) }
        var response = Duplex_Tts_V1_EndSessionResponse()
        response.success = existed
        return response
    }

    public func synthesize(
        request: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>, response: RPCWriter<Duplex_Tts_V1_AudioFrame>, context: ServerContext
    ) async throws {
        try await withRPCCancellationAsTaskCancellation { try await self.run(request: request, response: response) }
    }

    /// Records the call's `duplex-tenant`, then runs it as ``synthesize(request:response:context:)``.
    public func synthesize(
        request: StreamingServerRequest<Duplex_Tts_V1_TextChunk>, context: ServerContext
    ) async throws -> StreamingServerResponse<Duplex_Tts_V1_AudioFrame> {
        let tenant: String? = request.metadata[stringValues: "duplex-tenant"].first { _ in true }.map { String($0) }
        state.update { $0.tenants.append(tenant) }
        return StreamingServerResponse { writer in
            try await self.synthesize(request: request.messages, response: writer, context: context)
            return [:]
        }
    }

    private func run(request: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>, response: RPCWriter<Duplex_Tts_V1_AudioFrame>) async throws {
        try await gate()
        var chunks = request.makeAsyncIterator()
        guard let first = try await chunks.next() else { return }
        guard state.value.sessions[first.sessionID] != nil else {
            throw DuplexError(.sessionNotFound, "No worker session '\(first.sessionID)'.")
        }
        let id = abi == .v1_1 && !first.synthesisID.isEmpty ? first.synthesisID : "\(name)-s\(state.value.syntheses.count + 1)"
        let synthesis = ScriptedSynthesis(sessionID: first.sessionID, synthesisID: id, worker: self)
        synthesis.received(first)
        state.update { $0.syntheses.append(synthesis) }
        defer { synthesis.closed(); state.update { _ in } }
        let reader = ChunkReader(chunks)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while let chunk = try await reader.next() {
                    synthesis.received(chunk)
                    if chunk.isFinal { break }
                }
            }
            // The stream ends when the frames end (the reader may still wait for text).
            try await synthesis.play(into: response, abi: self.abi)
            group.cancelAll()
        }
    }

    public func control(request: Duplex_Tts_V1_ControlRequest, context: ServerContext) async throws -> Duplex_Tts_V1_ControlResponse {
        try await withRPCCancellationAsTaskCancellation { try await self.apply(request).stamped() }
    }

    private func apply(_ request: Duplex_Tts_V1_ControlRequest) async throws -> Duplex_Tts_V1_ControlResponse {
        try await gate()
        let current = state.value.syntheses.last { $0.sessionID == request.sessionID && $0.isOpen }
        var response = Duplex_Tts_V1_ControlResponse()
        if let current, abi == .v1_0 || request.synthesisID.isEmpty || request.synthesisID == current.synthesisID {
            switch request.command {
            case .pause: current.paused(true)
            case .resume: current.paused(false)
            case .stop: current.end(.stopped)
            default: break
            }
            response.success = true
        }
        state.update { $0.controls.append((request.sessionID, request.synthesisID, request.command, response.success)) }
        return response
    }

    public func listModels(request: Duplex_Tts_V1_ListModelsRequest, context: ServerContext) async throws -> Duplex_Tts_V1_ListModelsResponse {
        try await gate()
        var response = Duplex_Tts_V1_ListModelsResponse()
        response.models = state.value.models.sorted { $0.key < $1.key }.map { id, loaded in
            var info = Duplex_Tts_V1_ModelInfo()
            info.modelID = id
            info.family = "scripted"
            info.isLoaded = loaded
            return info
        }
        return response
    }

    public func loadModel(request: Duplex_Tts_V1_LoadModelRequest, context: ServerContext) async throws -> Duplex_Tts_V1_LoadModelResponse {
        try await withRPCCancellationAsTaskCancellation { try await self.load(request) }
    }

    private func load(_ request: Duplex_Tts_V1_LoadModelRequest) async throws -> Duplex_Tts_V1_LoadModelResponse {
        try await gate()
        state.update { $0.loads.append(request.modelID) }
        guard state.value.models[request.modelID] != nil else { throw DuplexError(.unknownModel, "No model '\(request.modelID)'.") }
        if let hold = control.withLock({ $0.holdLoad }) { await hold.wait() }
        try Task.checkCancellation()
        state.update { $0.models[request.modelID] = true }
        var response = Duplex_Tts_V1_LoadModelResponse()
        response.success = true
        response.loadDurationMs = 7
        return response
    }

    public func unloadModel(request: Duplex_Tts_V1_UnloadModelRequest, context: ServerContext) async throws -> Duplex_Tts_V1_UnloadModelResponse {
        try await gate()
        state.update { $0.models[request.modelID] = false }
        var response = Duplex_Tts_V1_UnloadModelResponse()
        response.success = true
        return response
    }

    public func getCapabilities(
        request: Duplex_Tts_V1_GetCapabilitiesRequest, context: ServerContext
    ) async throws -> Duplex_Tts_V1_GetCapabilitiesResponse {
        try await gate()
        var response = Duplex_Tts_V1_GetCapabilitiesResponse()
        response.ready = true
        response.workerName = name
        response.residentModels = state.value.models.filter(\.value).keys.sorted()
        response.abiVersion = abi == .v1_1 ? "1.1" : ""
        return response
    }
}

/// The request stream's iterator, read by one child task only.
private final class ChunkReader: @unchecked Sendable {
    private var iterator: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>.AsyncIterator

    init(_ iterator: RPCAsyncSequence<Duplex_Tts_V1_TextChunk, any Error>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> Duplex_Tts_V1_TextChunk? {
        try await iterator.next()
    }
}

/// One Synthesize call on a ``ScriptedWorker``: the text it received, and the frames the
/// test makes it send.
public final class ScriptedSynthesis: Sendable {
    /// What the test scripts.
    enum Step: Sendable {
        case frames(segment: Int, count: Int, tag: UInt32, first: UInt32, announce: TextSegmenter.Segment?)
        case end(Duplex_Tts_V1_EndReason, lateFrames: UInt32)
        case fail(RPCError.Code)
    }

    /// What the synthesis has seen.
    public struct Progress: Sendable {
        /// All text received, in order.
        public var text = ""
        /// The final chunk arrived.
        public var finalReceived = false
        /// The chunks received.
        public var chunks = 0
        /// Data frames sent.
        public var framesSent = 0
        /// Paused by Control.
        public var paused = false
        /// The stream is open.
        public var open = true
        /// It ended by Control STOP or EndSession.
        public var stoppedByControl = false
    }

    /// The worker session.
    public let sessionID: String
    /// The synthesis id (the client's, or the worker's own for v1.0).
    public let synthesisID: String
    /// Its progress, observable.
    public let progress = Observed(Progress())
    private weak let worker: ScriptedWorker?
    private let steps: AsyncStream<Step>
    private let continuation: AsyncStream<Step>.Continuation

    init(sessionID: String, synthesisID: String, worker: ScriptedWorker) {
        self.sessionID = sessionID
        self.synthesisID = synthesisID
        self.worker = worker
        (steps, continuation) = AsyncStream.makeStream()
    }

    /// Whether the stream is open.
    public var isOpen: Bool { progress.value.open }

    /// Sends `frames` frames of segment `segment` (tagged `tag`, indexes from `first`); the
    /// first carries a v1.1 segment announcement when `announce` is given.
    public func emit(segment: Int, frames: Int, tag: UInt32 = 0, first: UInt32 = 0, announce: String? = nil, range: Range<Int>? = nil) {
        let announcement = announce.map { TextSegmenter.Segment(text: $0, range: range ?? 0..<0) }
        continuation.yield(.frames(segment: segment, count: frames, tag: tag, first: first, announce: announcement))
    }

    /// Ends the stream with an end marker (reporting `lateFrames` late frames, ABI v1.1).
    public func end(_ reason: Duplex_Tts_V1_EndReason = .completed, lateFrames: UInt32 = 0) {
        if reason == .stopped { progress.update { $0.stoppedByControl = true } }
        continuation.yield(.end(reason, lateFrames: lateFrames))
    }

    /// Fails the stream with a gRPC status.
    public func fail(_ code: RPCError.Code) {
        continuation.yield(.fail(code))
    }

    /// Waits until the text received satisfies `predicate`.
    public func waitForText(_ predicate: @escaping @Sendable (Progress) -> Bool) async {
        await progress.wait(until: predicate)
    }

    /// Waits until `n` data frames were sent.
    public func waitForFrames(_ n: Int) async {
        await progress.wait { $0.framesSent >= n }
    }

    func received(_ chunk: Duplex_Tts_V1_TextChunk) {
        progress.update { p in
            p.text += chunk.text
            p.chunks += 1
            if chunk.isFinal { p.finalReceived = true }
        }
    }

    func paused(_ paused: Bool) {
        progress.update { $0.paused = paused }
    }

    func closed() {
        continuation.finish()
        progress.update { $0.open = false }
    }

    func play(into response: RPCWriter<Duplex_Tts_V1_AudioFrame>, abi: ScriptedWorker.ABI) async throws {
        var sequence: UInt64 = 0
        var lastSegment: UInt32 = 0
        func message(_ pcm: Data, segment: UInt32) -> Duplex_Tts_V1_AudioFrame {
            sequence += 1
            var frame = Duplex_Tts_V1_AudioFrame()
            frame.sessionID = sessionID
            frame.audioData = pcm
            frame.sampleRate = UInt32(OutputFormat.sampleRate)
            frame.frameDurationMs = UInt32(OutputFormat.frameMilliseconds)
            frame.sequenceNumber = sequence
            frame.segmentIndex = segment
            if abi == .v1_1, sequence == 1 { frame.synthesisID = synthesisID }
            return frame
        }
        for await step in steps {
            await worker?.frozenGate()
            try Task.checkCancellation()
            switch step {
            case .frames(let segment, let count, let tag, let first, let announce):
                lastSegment = UInt32(segment)
                for offset in 0..<count {
                    var frame = message(ScriptedWorker.frame(tag: tag, index: first + UInt32(offset)), segment: UInt32(segment))
                    if offset == 0, abi == .v1_1, let announce {
                        var start = Duplex_Tts_V1_SegmentStart()
                        start.index = UInt32(segment)
                        start.text = announce.text
                        start.inputStart = UInt64(announce.range.lowerBound)
                        start.inputEnd = UInt64(announce.range.upperBound)
                        frame.segmentStart = start
                    }
                    try await response.write(frame)
                    progress.update { $0.framesSent += 1 }
                }
            case .end(let reason, let lateFrames):
                var marker = message(Data(), segment: lastSegment)
                marker.isFinal = true
                marker.endReason = reason
                marker.lateFrames = lateFrames
                if abi == .v1_1 { marker.synthesisID = synthesisID }
                try await response.write(marker)
                return
            case .fail(let code):
                throw RPCError(code: code, message: "scripted failure")
            }
        }
    }
}

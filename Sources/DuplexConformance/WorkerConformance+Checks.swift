import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import GRPCCore

extension WorkerConformance {
    private func check(_ name: String, _ summary: String, _ body: () async -> String?) async -> ConformanceCheck {
        let failure = await body()
        return ConformanceCheck(name: name, summary: summary, status: failure.map { .failed($0) } ?? .passed)
    }

    private static func isNotFound(_ error: DuplexError, _ code: DuplexError.Code) -> Bool {
        error.code == code || (error.cause as? RPCError)?.code == .notFound
    }

    // MARK: Capabilities and models

    func capabilities(_ context: inout Context) async -> ConformanceCheck {
        let deadline = ContinuousClock.now + settings.readyTimeout
        var last: Result<Duplex_Tts_V1_GetCapabilitiesResponse, DuplexError> = .failure(DuplexError(.workerUnavailable, "no answer"))
        while ContinuousClock.now < deadline {
            last = await worker.capabilities()
            if case .success(let caps) = last, caps.ready { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
        switch last {
        case .failure(let error):
            return ConformanceCheck(name: "capabilities", summary: "", status: .failed("GetCapabilities failed: \(error.message)"))
        case .success(let caps):
            guard caps.ready else {
                return ConformanceCheck(name: "capabilities", summary: "", status: .failed("ready is still false after \(settings.readyTimeout)"))
            }
            context.ready = true
            context.abi11 = caps.abiVersion.hasPrefix("1.") && caps.abiVersion != "1.0"
            if let version = Self.abiVersion(caps.abiVersion) {
                context.abi12 = version.major > 1 || (version.major == 1 && version.minor >= 2)
            }
            context.maxSessions = Int(caps.capabilities.maxConcurrentSessions)
            context.metricKeys = Set(caps.metrics.keys)
            var problems: [String] = []
            if !caps.capabilities.streaming { problems.append("capabilities.streaming is false") }
            if caps.capabilities.maxConcurrentSessions <= 0 { problems.append("max_concurrent_sessions is \(caps.capabilities.maxConcurrentSessions)") }
            if caps.workerName.isEmpty { problems.append("worker_name is empty") }
            for key in ["active_sessions", "active_syntheses"] where caps.metrics[key] == nil {
                problems.append("metrics lacks \(key)")
            }
            let version = caps.abiVersion.isEmpty ? "1.0 (no abi_version)" : caps.abiVersion
            context.figures.append(("ABI version", version))
            return ConformanceCheck(
                name: "capabilities", summary: "ready, ABI \(version), \(caps.capabilities.maxConcurrentSessions) sessions",
                status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
        }
    }

    func models(_ context: inout Context) async -> ConformanceCheck {
        let listing = await worker.attempt { client, options in try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options) }
        guard case .success(let response) = listing else {
            if case .failure(let error) = listing {
                return ConformanceCheck(name: "models", summary: "", status: .failed("ListModels failed: \(error.message)"))
            }
            return ConformanceCheck(name: "models", summary: "", status: .failed("ListModels failed"))
        }
        context.listed = response.models
        var problems: [String] = []
        if response.models.isEmpty { problems.append("no model listed") }
        let ids = response.models.map(\.modelID)
        if Set(ids).count != ids.count { problems.append("model ids repeat: \(ids)") }
        for model in response.models where model.modelID.isEmpty || model.family.isEmpty {
            problems.append("a model lacks model_id or family: '\(model.modelID)'")
        }
        if !response.models.contains(where: \.isLoaded) { problems.append("no model is loaded although the worker is ready") }
        if let wanted = settings.model, !ids.contains(wanted) { problems.append("model '\(wanted)' is not listed (listed: \(ids.joined(separator: ", ")))") }
        return ConformanceCheck(
            name: "models", summary: "\(ids.count) listed, \(response.models.filter(\.isLoaded).count) loaded",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    // MARK: Sessions

    func sessions(_ context: inout Context) async -> ConformanceCheck {
        var problems: [String] = []
        let id = sessionID(&context)
        switch await worker.startSession(id, model: settings.model ?? "") {
        case .success(let response):
            if response.modelID.isEmpty { problems.append("StartSession answered no model_id") } else { context.model = response.modelID }
        case .failure(let error):
            return ConformanceCheck(name: "sessions", summary: "", status: .failed("StartSession failed: \(error.code): \(error.message)"))
        }
        if case .success(let response) = await worker.endSession(id), !response.success {
            problems.append("EndSession of an open session answered success = false")
        }
        if case .success(let response) = await worker.endSession(id), response.success {
            problems.append("EndSession of a closed session answered success = true (want false)")
        } else if case .failure(let error) = await worker.endSession(id) {
            problems.append("EndSession of a closed session failed (\(error.code)); want success = false, not an error")
        }
        switch await worker.startSession(sessionID(&context), model: "no-such-model-\(prefix)") {
        case .success: problems.append("StartSession with an unknown model succeeded")
        case .failure(let error) where !Self.isNotFound(error, .unknownModel):
            problems.append("an unknown model gave \(error.code), want UNKNOWN_MODEL (NOT_FOUND)")
        default: break
        }
        switch await worker.startSession("", model: context.model ?? "") {
        case .success: problems.append("StartSession with an empty session_id succeeded")
        case .failure(let error) where error.code != .invalidMessage && (error.cause as? RPCError)?.code != .invalidArgument:
            problems.append("an empty session_id gave \(error.code), want INVALID_MESSAGE (INVALID_ARGUMENT)")
        default: break
        }
        switch await worker.startSession(sessionID(&context), model: context.model ?? "", options: ["speed": "9"]) {
        case .success(let response):
            problems.append("StartSession with speed 9 succeeded")
            _ = response
        case .failure(let error) where error.code != .invalidMessage && (error.cause as? RPCError)?.code != .invalidArgument:
            problems.append("speed 9 gave \(error.code), want INVALID_MESSAGE (INVALID_ARGUMENT)")
        default: break
        }
        let ghost = fresh(context, "never-opened")
        let outcome = await SynthesisProbe(worker: worker, sessionID: ghost, text: "Hello.", synthesisID: nil).run()
        if let error = outcome.error {
            if !Self.isNotFound(error, .sessionNotFound) { problems.append("Synthesize on an unknown session gave \(error.code), want SESSION_NOT_FOUND") }
        } else {
            problems.append("Synthesize on an unknown session did not fail")
        }
        return ConformanceCheck(
            name: "sessions", summary: "open, re-end, unknown model, bad id, bad option, unknown session",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    func sessionLimit(_ context: Context) async -> ConformanceCheck {
        let max = context.maxSessions
        guard max > 0, max <= 64 else {
            return ConformanceCheck(name: "session-limit", summary: "", status: .skipped("max_concurrent_sessions \(max) is too many to open here"))
        }
        var opened: [String] = []
        var problem: String?
        for index in 0..<max {
            let id = fresh(context, "limit-\(index)")
            if case .failure(let error) = await worker.startSession(id, model: context.model ?? "") {
                problem = "session \(index + 1) of \(max) was refused: \(error.code)"
                break
            }
            opened.append(id)
        }
        if problem == nil {
            let extra = fresh(context, "limit-extra")
            switch await worker.startSession(extra, model: context.model ?? "") {
            case .success:
                opened.append(extra)
                problem = "session \(max + 1) was accepted beyond max_concurrent_sessions"
            case .failure(let error) where error.code != .sessionLimit && (error.cause as? RPCError)?.code != .resourceExhausted:
                problem = "session \(max + 1) gave \(error.code), want SESSION_LIMIT (RESOURCE_EXHAUSTED)"
            default: break
            }
        }
        // Every path reaches here: the sessions opened are ended before the check returns.
        for id in opened { _ = await worker.endSession(id) }
        return ConformanceCheck(name: "session-limit", summary: "\(max) open, one more refused", status: problem.map { .failed($0) } ?? .passed)
    }

    // MARK: Frames

    /// Framing, announcements and pacing of one plain synthesis.
    func framing(_ context: inout Context) async -> [ConformanceCheck] {
        let id = sessionID(&context)
        guard case .success = await worker.startSession(id, model: context.model ?? "") else {
            return [ConformanceCheck(name: "framing", summary: "", status: .failed("StartSession failed"))]
        }
        let synthesis = "\(prefix)-framing"
        let outcome = await SynthesisProbe(worker: worker, sessionID: id, text: settings.text, synthesisID: synthesis).run()
        var checks: [ConformanceCheck] = []
        checks.append(ConformanceCheck(
            name: "framing", summary: "\(outcome.data.count) frames of 1920 bytes, sequence 1…n, one final frame",
            status: Self.framingProblems(outcome, session: id).map { .failed($0) } ?? .passed))
        if context.abi11 {
            checks.append(ConformanceCheck(
                name: "announcements", summary: "synthesis id echoed, every segment announced with its text and range",
                status: Self.announcementProblems(outcome, text: settings.text, synthesisID: synthesis).map { .failed($0) } ?? .passed))
        } else {
            checks.append(ConformanceCheck(name: "announcements", summary: "", status: .skipped("ABI 1.0 worker")))
        }
        if let first = outcome.firstAudio { context.figures.append(("first audio", Self.milliseconds(first))) }
        let audio = Duration.milliseconds(outcome.data.count * OutputFormat.frameMilliseconds)
        if let start = outcome.textSentAt, let end = outcome.data.last?.at, outcome.data.count > 10 {
            let wall = start.duration(to: end)
            context.figures.append(("audio / wall", String(format: "%.2f (%.2f s of audio in %.2f s)", audio / wall, audio.millisecondsDouble / 1000, wall.millisecondsDouble / 1000)))
            // Paced: the whole reply cannot arrive faster than real time, minus a lead of up to
            // 200 ms (workers send a few frames at once at the start).
            let tooFast = wall + .milliseconds(200) < audio
            let status: ConformanceCheck.Status =
                tooFast && settings.enforceTiming
                ? .failed("frames are not paced in real time: \(Self.milliseconds(audio)) of audio arrived in \(Self.milliseconds(wall))") : .passed
            checks.append(ConformanceCheck(name: "pacing", summary: "frames paced in real time (audio/wall ≤ 1 after the lead)", status: status))
        } else {
            checks.append(ConformanceCheck(name: "pacing", summary: "", status: .skipped("too few frames to judge")))
        }
        _ = await worker.endSession(id)
        return checks
    }

    static func framingProblems(_ outcome: SynthesisProbe.Outcome, session: String) -> String? {
        if let error = outcome.error { return "Synthesize failed: \(error.code): \(error.message)" }
        var problems: [String] = []
        let frames = outcome.frames.map(\.frame)
        let finals = frames.enumerated().filter { $0.element.isFinal }
        if finals.count != 1 { problems.append("\(finals.count) final frames (want exactly one)") }
        if let last = frames.last, !last.isFinal { problems.append("the stream ended without a final frame") }
        if let final = finals.first, final.offset != frames.count - 1 { problems.append("frames followed the final frame") }
        if let final = finals.last?.element, final.endReason != .completed { problems.append("end_reason \(final.endReason), want COMPLETED") }
        let sequences = frames.map(\.sequenceNumber)
        if sequences != Array(1...UInt64(max(1, frames.count))).prefix(frames.count).map({ $0 }) {
            problems.append("sequence numbers are not 1…\(frames.count): \(Array(sequences.prefix(8)))…")
        }
        let data = outcome.data.map(\.frame)
        if data.isEmpty { problems.append("no audio") }
        for (index, frame) in data.enumerated() {
            if frame.audioData.count != OutputFormat.bytesPerFrame, index != data.count - 1 || frame.audioData.count > OutputFormat.bytesPerFrame {
                problems.append("frame \(frame.sequenceNumber) has \(frame.audioData.count) bytes, want \(OutputFormat.bytesPerFrame) (20 ms of 48 kHz s16le)")
                break
            }
            if frame.sampleRate != UInt32(OutputFormat.sampleRate) || frame.frameDurationMs != UInt32(OutputFormat.frameMilliseconds) {
                problems.append("frame \(frame.sequenceNumber) says \(frame.sampleRate) Hz / \(frame.frameDurationMs) ms, want 48000 / 20")
                break
            }
            if frame.sessionID != session {
                problems.append("frame \(frame.sequenceNumber) names session '\(frame.sessionID)', want '\(session)'")
                break
            }
        }
        let segments = data.map(\.segmentIndex)
        if zip(segments, segments.dropFirst()).contains(where: { $0 > $1 }) { problems.append("segment_index goes backwards") }
        let samples = outcome.pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let rms = samples.isEmpty ? 0 : (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)).squareRoot() / 32768
        if rms < 0.005 { problems.append(String(format: "the audio is silent (RMS %.4f)", rms)) }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    static func announcementProblems(_ outcome: SynthesisProbe.Outcome, text: String, synthesisID: String) -> String? {
        guard outcome.error == nil else { return "Synthesize failed" }
        var problems: [String] = []
        let frames = outcome.frames.map(\.frame)
        if frames.first?.synthesisID != synthesisID { problems.append("the first frame's synthesis_id is '\(frames.first?.synthesisID ?? "")', want '\(synthesisID)'") }
        if let final = frames.last(where: \.isFinal), final.synthesisID != synthesisID {
            problems.append("the final frame's synthesis_id is '\(final.synthesisID)', want '\(synthesisID)'")
        }
        let scalars = Array(text.unicodeScalars)
        var seen: Set<UInt32> = []
        var lastEnd = 0
        for frame in outcome.data.map(\.frame) where !seen.contains(frame.segmentIndex) {
            seen.insert(frame.segmentIndex)
            guard frame.hasSegmentStart else {
                problems.append("segment \(frame.segmentIndex)'s first frame has no segment_start")
                continue
            }
            let start = frame.segmentStart
            let lower = Int(start.inputStart), upper = Int(start.inputEnd)
            if start.index != frame.segmentIndex { problems.append("segment_start.index \(start.index) on a frame of segment \(frame.segmentIndex)") }
            guard lower <= upper, upper <= scalars.count, lower >= lastEnd else {
                problems.append("segment \(start.index)'s range \(lower)..<\(upper) is outside the input or overlaps the previous one")
                continue
            }
            lastEnd = upper
            let slice = String(String.UnicodeScalarView(scalars[lower..<upper])).trimmingCharacters(in: .whitespacesAndNewlines)
            if start.text.isEmpty || slice != start.text {
                problems.append("segment \(start.index) announces '\(start.text)' but its range holds '\(slice)'")
            }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}

import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import GRPCCore
import Synchronization

extension WorkerConformance {
    /// Opens a session for one check (ended when `body` returns).
    private func withSession<T: Sendable>(_ context: Context, _ tag: String, _ body: (String) async -> T) async -> Result<T, DuplexError> {
        let id = fresh(context, tag)
        switch await worker.startSession(id, model: context.model ?? "") {
        case .failure(let error): return .failure(error)
        case .success:
            let result = await body(id)
            _ = await worker.endSession(id)
            return .success(result)
        }
    }

    private func failed(_ name: String, _ error: DuplexError) -> ConformanceCheck {
        ConformanceCheck(name: name, summary: "", status: .failed("StartSession failed: \(error.code): \(error.message)"))
    }

    // MARK: PAUSE / RESUME

    /// PAUSE holds emission (no frame the worker had not emitted when PAUSE took effect arrives
    /// before RESUME), takes effect within the deadline, and RESUME loses and repeats nothing:
    /// byte-exact against an unpaused run when the model is deterministic, otherwise no audio
    /// frame twice and the same segments.
    func pauseResume(_ context: inout Context) async -> ConformanceCheck {
        let name = "pause-resume"
        let settings = self.settings
        let worker = self.worker
        let references = await withSession(context, "reference") { id -> [SynthesisProbe.Outcome] in
            var runs: [SynthesisProbe.Outcome] = []
            for run in 0..<2 {
                runs.append(await SynthesisProbe(worker: worker, sessionID: id, text: settings.longText, synthesisID: "\(prefix)-ref-\(run)").run())
            }
            return runs
        }
        guard case .success(let reference) = references else {
            if case .failure(let error) = references { return failed(name, error) }
            return failed(name, DuplexError(.internal, "no reference"))
        }
        if let error = reference.compactMap(\.error).first {
            return ConformanceCheck(name: name, summary: "", status: .failed("the unpaused reference failed: \(error.message)"))
        }
        context.deterministic = reference[0].pcm == reference[1].pcm
        struct Pause: Sendable {
            var sentAt: ContinuousClock.Instant?
            var answeredAt: ContinuousClock.Instant?
            var emitted: UInt64 = 0
            var success = false
            var timestampProblem: String?
            var error: DuplexError?
            var resumeAt: ContinuousClock.Instant?
        }
        let pause = Locked(Pause())
        let snapshot = context
        let synthesis = "\(prefix)-paused"
        let paused = await withSession(context, "paused") { id in
            await SynthesisProbe(worker: worker, sessionID: id, text: settings.longText, synthesisID: synthesis).run(at: 10) {
                pause.withLock { $0.sentAt = .now }
                switch await worker.control(.pause, session: id, synthesis: synthesis) {
                case .success(let response):
                    pause.withLock { p in
                        p.answeredAt = .now
                        p.success = response.success
                        p.emitted = Self.framesEmitted(response, snapshot)
                        p.timestampProblem = Self.timestampProblem("PAUSE", response, snapshot)
                    }
                case .failure(let error):
                    pause.withLock { $0.error = error }
                }
                try? await Task.sleep(for: .milliseconds(400))
                pause.withLock { $0.resumeAt = .now }
                _ = await worker.control(.resume, session: id, synthesis: synthesis)
            }
        }
        guard case .success(let outcome) = paused else {
            if case .failure(let error) = paused { return failed(name, error) }
            return failed(name, DuplexError(.internal, "no run"))
        }
        let p = pause.value
        var problems: [String] = []
        if let error = p.error { problems.append("PAUSE failed: \(error.code): \(error.message)") }
        if p.error == nil, !p.success { problems.append("PAUSE answered success = false during a synthesis") }
        if let problem = p.timestampProblem { problems.append(problem) }
        if let error = outcome.error { problems.append("the paused synthesis failed: \(error.message)") }
        if outcome.endReason != .completed { problems.append("the paused synthesis ended with \(outcome.endReason.map { "\($0)" } ?? "no final frame"), want COMPLETED") }
        if let sent = p.sentAt, let resumeAt = p.resumeAt {
            // Frames the worker emitted after PAUSE took effect, arriving before RESUME.
            let late = outcome.data.filter { $0.at < resumeAt && $0.frame.sequenceNumber > max(p.emitted, 10) }
            if !late.isEmpty {
                problems.append("\(late.count) frames beyond the \(p.emitted) emitted when PAUSE took effect arrived before RESUME: PAUSE did not hold")
            }
            if let answered = p.answeredAt {
                let latency = sent.duration(to: answered)
                context.figures.append(("PAUSE latency", Self.milliseconds(latency)))
                if settings.enforceTiming, latency > settings.pauseDeadline {
                    problems.append("PAUSE took \(Self.milliseconds(latency)) to take effect (want ≤ \(Self.milliseconds(settings.pauseDeadline)))")
                }
            }
        }
        let expected = reference[0]
        if context.deterministic {
            if outcome.pcm != expected.pcm {
                problems.append(
                    "after RESUME the audio differs from an unpaused run of this deterministic model (\(outcome.data.count) frames vs \(expected.data.count)): audio lost or repeated")
            }
        } else {
            var seen: Set<Data> = []
            var repeated = 0
            for frame in outcome.data where frame.frame.audioData.contains(where: { $0 != 0 }) {
                if !seen.insert(frame.frame.audioData).inserted { repeated += 1 }
            }
            if repeated > 0 { problems.append("\(repeated) audio frames were sent twice: RESUME replayed audio") }
            let segmentsPaused = Set(outcome.data.map(\.frame.segmentIndex)), segmentsReference = Set(expected.data.map(\.frame.segmentIndex))
            if segmentsPaused != segmentsReference { problems.append("segments \(segmentsPaused.sorted()) after RESUME, \(segmentsReference.sorted()) unpaused") }
            let ratio = Double(outcome.data.count) / Double(max(1, expected.data.count))
            if ratio < 0.8 || ratio > 1.25 {
                problems.append("\(outcome.data.count) frames with a pause vs \(expected.data.count) without: audio lost or repeated")
            }
        }
        return ConformanceCheck(
            name: name,
            summary: context.deterministic ? "held, resumed byte-exact (deterministic model)" : "held, resumed with no frame repeated (non-deterministic model)",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    // MARK: STOP, replacement, addressed control

    func stop(_ context: inout Context) async -> ConformanceCheck {
        let worker = self.worker, settings = self.settings
        let synthesis = "\(prefix)-stopped"
        let stoppedAt = Locked<ContinuousClock.Instant?>(nil)
        let emittedAtStop = Locked<UInt64?>(nil)
        let stampProblem = Locked<String?>(nil)
        let snapshot = context
        let run = await withSession(context, "stop") { id in
            await SynthesisProbe(worker: worker, sessionID: id, text: settings.longText, synthesisID: synthesis).run(at: 5) {
                stoppedAt.withLock { $0 = .now }
                if case .success(let response) = await worker.control(.stop, session: id, synthesis: synthesis) {
                    emittedAtStop.withLock { $0 = Self.framesEmitted(response, snapshot) }
                    stampProblem.withLock { $0 = Self.timestampProblem("STOP", response, snapshot) }
                }
            }
        }
        guard case .success(let outcome) = run else {
            if case .failure(let error) = run { return failed("stop", error) }
            return failed("stop", DuplexError(.internal, ""))
        }
        var problems: [String] = []
        if let error = outcome.error { problems.append("the stream failed instead of ending: \(error.code)") }
        if outcome.endReason != .stopped { problems.append("end_reason \(outcome.endReason.map { "\($0)" } ?? "missing"), want STOPPED") }
        if let problem = stampProblem.value { problems.append(problem) }
        if let emitted = emittedAtStop.value {
            // Whatever the load: no frame the worker had not emitted when it answered STOP.
            let beyond = outcome.data.filter { $0.frame.sequenceNumber > max(emitted, 5) }.count
            if beyond > 0 { problems.append("\(beyond) frames beyond the \(emitted) emitted when STOP was answered") }
        } else {
            problems.append("STOP during a synthesis was not answered")
        }
        if let at = stoppedAt.value, let end = outcome.finals.last?.at {
            context.figures.append(("STOP → final frame", Self.milliseconds(at.duration(to: end))))
            let after = outcome.data.filter { $0.at > at.advanced(by: .milliseconds(200)) }.count
            if settings.enforceTiming, after > 0 { problems.append("\(after) frames arrived more than 200 ms after STOP") }
            if settings.enforceTiming, at.duration(to: end) > .seconds(2) { problems.append("the final frame came \(Self.milliseconds(at.duration(to: end))) after STOP") }
        }
        return ConformanceCheck(name: "stop", summary: "STOP ends the stream with a STOPPED final frame", status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    /// A new Synthesize on a session replaces the running one, which ends as STOPPED.
    func replacement(_ context: Context) async -> ConformanceCheck {
        let worker = self.worker, settings = self.settings
        let prefix = self.prefix
        let run = await withSession(context, "replace") { id -> (SynthesisProbe.Outcome, SynthesisProbe.Outcome) in
            let second = Locked<SynthesisProbe.Outcome?>(nil)
            let first = await SynthesisProbe(worker: worker, sessionID: id, text: settings.longText, synthesisID: "\(prefix)-first").run(at: 5) {
                // The replacement, beside the first stream (it must end the first).
                let outcome = await SynthesisProbe(worker: worker, sessionID: id, text: "Replaced.", synthesisID: "\(prefix)-second").run()
                second.withLock { $0 = outcome }
            }
            return (first, second.value ?? SynthesisProbe.Outcome())
        }
        guard case .success(let (first, second)) = run else {
            if case .failure(let error) = run { return failed("replacement", error) }
            return failed("replacement", DuplexError(.internal, ""))
        }
        var problems: [String] = []
        if first.endReason != .stopped { problems.append("the replaced synthesis ended with \(first.endReason.map { "\($0)" } ?? "no final frame"), want STOPPED") }
        if second.endReason != .completed { problems.append("the replacing synthesis ended with \(second.endReason.map { "\($0)" } ?? "no final frame"), want COMPLETED") }
        return ConformanceCheck(name: "replacement", summary: "a new Synthesize stops the running one", status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    /// A command naming a finished synthesis is refused and does not touch the running one.
    func addressedControl(_ context: Context) async -> ConformanceCheck {
        guard context.abi11 else { return ConformanceCheck(name: "addressed-control", summary: "", status: .skipped("ABI 1.0 worker")) }
        let worker = self.worker
        let prefix = self.prefix
        let refused = Locked<Result<Duplex_Tts_V1_ControlResponse, DuplexError>?>(nil)
        let run = await withSession(context, "addressed") { id -> (SynthesisProbe.Outcome, SynthesisProbe.Outcome) in
            let old = await SynthesisProbe(worker: worker, sessionID: id, text: "Finished.", synthesisID: "\(prefix)-old").run()
            let current = await SynthesisProbe(worker: worker, sessionID: id, text: "The current reply keeps playing.", synthesisID: "\(prefix)-current").run(at: 3) {
                let answer = await worker.control(.stop, session: id, synthesis: "\(prefix)-old")
                refused.withLock { $0 = answer }
            }
            return (old, current)
        }
        guard case .success(let (_, current)) = run else {
            if case .failure(let error) = run { return failed("addressed-control", error) }
            return failed("addressed-control", DuplexError(.internal, ""))
        }
        var problems: [String] = []
        switch refused.value {
        case .success(let response)?: if response.success { problems.append("STOP naming a finished synthesis answered success = true") }
        case .failure(let error)?: problems.append("STOP naming a finished synthesis failed (\(error.code)); want success = false, not an error")
        case nil: problems.append("the current synthesis sent fewer than 3 frames")
        }
        if current.endReason != .completed { problems.append("the current synthesis ended \(current.endReason.map { "\($0)" } ?? "without a final frame"): the command hit it") }
        return ConformanceCheck(
            name: "addressed-control", summary: "a command for a finished synthesis is refused harmlessly",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    // MARK: Models, cancellation, concurrency

    func loadUnload(_ context: Context) async -> ConformanceCheck {
        var problems: [String] = []
        let unknown = "no-such-model-\(prefix)"
        var load = Duplex_Tts_V1_LoadModelRequest()
        load.modelID = unknown
        switch await worker.attempt(timeout: .seconds(120), { [load] client, options in try await client.loadModel(load, options: options) }) {
        case .success: problems.append("LoadModel of an unknown model succeeded")
        case .failure(let error) where !Self.notFound(error): problems.append("LoadModel of an unknown model gave \(error.code), want UNKNOWN_MODEL")
        default: break
        }
        if let model = context.model {
            load.modelID = model
            if case .failure(let error) = await worker.attempt(timeout: .seconds(120), { [load] client, options in try await client.loadModel(load, options: options) }) {
                problems.append("LoadModel of the resident model failed: \(error.code)")
            }
            let inUse = await withSession(context, "in-use") { _ -> Result<Duplex_Tts_V1_UnloadModelResponse, DuplexError> in
                var unload = Duplex_Tts_V1_UnloadModelRequest()
                unload.modelID = model
                return await worker.attempt { [unload] client, options in try await client.unloadModel(unload, options: options) }
            }
            switch inUse {
            case .success(.success): problems.append("UnloadModel of a model an open session uses succeeded (want MODEL_IN_USE)")
            case .success(.failure(let error)) where error.code != .modelInUse && (error.cause as? RPCError)?.code != .failedPrecondition:
                problems.append("UnloadModel of a model in use gave \(error.code), want MODEL_IN_USE (FAILED_PRECONDITION)")
            case .failure(let error): problems.append("StartSession failed: \(error.code)")
            default: break
            }
        }
        var unload = Duplex_Tts_V1_UnloadModelRequest()
        unload.modelID = unknown
        switch await worker.attempt({ [unload] client, options in try await client.unloadModel(unload, options: options) }) {
        case .success: problems.append("UnloadModel of an unknown model succeeded")
        case .failure(let error) where !Self.notFound(error): problems.append("UnloadModel of an unknown model gave \(error.code), want UNKNOWN_MODEL")
        default: break
        }
        return ConformanceCheck(
            name: "load-unload", summary: "unknown refused, resident loads, in-use unload refused",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    private static func notFound(_ error: DuplexError) -> Bool {
        error.code == .unknownModel || (error.cause as? RPCError)?.code == .notFound
    }

    /// The client vanishes mid-stream: the worker stops the synthesis and frees it.
    func cancellation(_ context: inout Context) async -> ConformanceCheck {
        guard context.metricKeys.contains("active_syntheses") else {
            return ConformanceCheck(name: "cancellation", summary: "", status: .skipped("the worker does not report active_syntheses"))
        }
        let worker = self.worker, settings = self.settings
        let synthesis = "\(prefix)-vanished"
        // With timing enforced the goal is 1 s; otherwise (a loaded machine, where a running
        // inference may take a while to notice) up to 10 s, and the time is a figure.
        let limit: Duration = settings.enforceTiming ? .seconds(1) : .seconds(10)
        let run = await withSession(context, "vanish") { id -> (Double, Double, Duration, Result<Duplex_Tts_V1_ControlResponse, DuplexError>) in
            let before = Self.activeSyntheses(await worker.capabilities())
            _ = await SynthesisProbe(worker: worker, sessionID: id, text: settings.longText, synthesisID: synthesis).run(vanishAt: 3)
            let vanished = ContinuousClock.now
            var after = Double.infinity
            repeat {
                after = Self.activeSyntheses(await worker.capabilities())
                if after <= before { break }
                try? await Task.sleep(for: .milliseconds(50))
            } while vanished.duration(to: .now) < limit
            let freedIn = vanished.duration(to: .now)
            let control = await worker.control(.pause, session: id, synthesis: context.abi11 ? synthesis : nil)
            return (before, after, freedIn, control)
        }
        guard case .success(let (before, after, freedIn, control)) = run else {
            if case .failure(let error) = run { return failed("cancellation", error) }
            return failed("cancellation", DuplexError(.internal, ""))
        }
        var problems: [String] = []
        if after > before {
            problems.append("\(Self.milliseconds(limit)) after the client vanished the worker still counts \(Int(after)) active syntheses (\(Int(before)) before): the cancelled synthesis was not freed")
        } else {
            context.figures.append(("vanished client → freed", Self.milliseconds(freedIn)))
        }
        if case .success(let response) = control, response.success { problems.append("PAUSE of the vanished synthesis succeeded: it is still running") }
        return ConformanceCheck(
            name: "cancellation", summary: "a vanished client's synthesis is stopped and freed within \(Self.milliseconds(limit))",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }

    private static func activeSyntheses(_ result: Result<Duplex_Tts_V1_GetCapabilitiesResponse, DuplexError>) -> Double {
        if case .success(let caps) = result { return caps.metrics["active_syntheses"] ?? .infinity }
        return .infinity
    }

    func concurrency(_ context: Context) async -> ConformanceCheck {
        let count = max(1, min(settings.concurrentSessions, context.maxSessions))
        let worker = self.worker, settings = self.settings, prefix = self.prefix, model = context.model ?? ""
        let problems = await withTaskGroup(of: String?.self) { group -> [String] in
            for index in 0..<count {
                group.addTask {
                    let id = "\(prefix)-concurrent-\(index)"
                    guard case .success = await worker.startSession(id, model: model) else { return "session \(index) could not be opened" }
                    let outcome = await SynthesisProbe(worker: worker, sessionID: id, text: settings.text, synthesisID: "\(prefix)-c\(index)").run()
                    _ = await worker.endSession(id)
                    return Self.framingProblems(outcome, session: id).map { "session \(index): \($0)" }
                }
            }
            var found: [String] = []
            for await problem in group { if let problem { found.append(problem) } }
            return found
        }
        return ConformanceCheck(
            name: "concurrency", summary: "\(count) sessions synthesizing at once, each framed correctly",
            status: problems.isEmpty ? .passed : .failed(problems.joined(separator: "; ")))
    }
}

import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import DuplexWorker
import Foundation
import GRPCCore
import Testing

/// Real time under load: a Piper worker serves several real-time sessions at once (staggered,
/// as conversations are) and an unpaced one beside them, through the inference scheduler.
/// Every stream must stay correct; the late-frame counts are printed as figures (timing goals
/// live in `duplex bench capacity`: the whole suite runs beside this test).
@Suite(.timeLimit(.minutes(3))) struct PiperCapacityStressTests {
    static let text = "Let me check that for you. The next train leaves at a quarter past six from platform four, so you should be there well before seven."

    struct Stream: Sendable {
        var frames: [Duplex_Tts_V1_AudioFrame] = []
        var sentAt = ContinuousClock.now
        var firstAt: ContinuousClock.Instant?
        var endedAt: ContinuousClock.Instant?
    }

    static func synthesize(_ worker: WorkerConnection, session: String, pacing: Bool) async throws -> Stream {
        var start = Duplex_Tts_V1_StartSessionRequest()
        start.sessionID = session
        if !pacing { start.options["pacing"] = "false" }
        // Served even when the worker predicts it is busy (its refusal is AdmissionTests' and
        // InferenceSchedulerTests' subject; here every session must play).
        start.options["admission"] = "force"
        _ = try await worker.call { [start] client, options in try await client.startSession(start, options: options) }
        let stream = Locked(Stream())
        try await worker.tts.synthesize(options: worker.streamOptions, requestProducer: { writer in
            var chunk = Duplex_Tts_V1_TextChunk()
            chunk.sessionID = session
            chunk.text = text
            chunk.isFinal = true
            chunk.synthesisID = "\(session)-a1"
            stream.withLock { $0.sentAt = .now }
            try await writer.write(chunk)
        }) { response in
            for try await frame in response.messages {
                stream.withLock { s in
                    if s.firstAt == nil { s.firstAt = .now }
                    s.frames.append(frame)
                    if frame.isFinal { s.endedAt = .now }
                }
            }
        }
        return stream.withLock { $0 }
    }

    @Test func sixStaggeredRealTimeSessionsAndAnUnpacedOneAllPlayCorrectly() async throws {
        let config = InProcessWorker.configuration(adapters: ["piper"], defaultModel: "piper-en-us-joe", voicepacks: TestAssets.voicepacks)
        try await InProcessWorker.withRuntime(config) { worker, runtime in
            let results = try await withThrowingTaskGroup(of: (String, Stream).self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(150 * index))
                        return ("paced-\(index)", try await Self.synthesize(worker, session: "paced-\(index)", pacing: true))
                    }
                }
                group.addTask { ("unpaced", try await Self.synthesize(worker, session: "unpaced", pacing: false)) }
                var all: [String: Stream] = [:]
                for try await (name, stream) in group { all[name] = stream }
                return all
            }
            #expect(results.count == 7)
            for (name, stream) in results.sorted(by: { $0.key < $1.key }) {
                let data = stream.frames.filter { !$0.isFinal }
                let end = try #require(stream.frames.last, "\(name): no frames")
                // Framing: full frames, sequence 1…n, one end marker, completed.
                #expect(data.allSatisfy { $0.audioData.count == OutputFormat.bytesPerFrame }, "\(name)")
                #expect(stream.frames.map(\.sequenceNumber) == Array(1...UInt64(stream.frames.count)), "\(name)")
                #expect(end.isFinal && end.endReason == .completed, "\(name)")
                #expect(stream.frames.filter(\.isFinal).count == 1, "\(name)")
                // The announced segments cover the whole text, in order, once.
                let spoken = data.filter(\.hasSegmentStart).map(\.segmentStart.text).joined(separator: " ")
                #expect(spoken == Self.text, "\(name): \(spoken)")
                #expect(Double(data.count) * 0.02 > 5, "\(name): \(data.count) frames")
                let audio = Double(data.count) * 0.02
                let wall = stream.sentAt.duration(to: stream.endedAt ?? .now).millisecondsDouble / 1000
                let first = stream.firstAt.map { stream.sentAt.duration(to: $0).millisecondsDouble } ?? -1
                print(String(
                    format: "%@: %.2f s of audio in %.2f s, first audio %.0f ms, late frames %d (worst %d ms)", name, audio, wall, first,
                    end.lateFrames, end.maxLatenessMs))
                // Unpaced: no lateness to count (that it never waits for the clock is proven with a
                // manual clock in SynthesisPacingTests; its speed here depends on the paced load,
                // which always goes first).
                if name == "unpaced" { #expect(end.lateFrames == 0) }
            }
            let load = runtime.scheduler.load
            print("scheduler after: busy \(String(format: "%.2f", load.busyFraction)), wide call \(Int(load.wideCallMs)) ms, one-thread call \(Int(load.narrowCallMs)) ms")
            #expect(load.waiting == 0 && load.running == 0)
        }
    }
}

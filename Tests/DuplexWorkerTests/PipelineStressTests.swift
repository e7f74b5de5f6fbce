import DuplexCore
import DuplexDSP
import DuplexTesting
@testable import DuplexWorker
import Foundation
import Testing

@Suite struct PipelineStressTests {
    @Test func manyConcurrentPipelinesAllFinish() async throws {
        let voice = try await SineAdapter().load(SineAdapter().builtInModels()[0])
        let model = LoadedModel(voice: voice, gain: 1, loadDuration: .zero, warmupDuration: .zero)
        let done = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for round in 0..<60 {
                        let pipeline = SynthesisPipeline(
                            model: model, options: VoiceOptions(), leadFrames: 3, synthesisAhead: 2, maxCharacters: 10_000,
                            clock: ImmediateClock())
                        let texts = Locked([TextPiece(text: "One two three four five six seven. Eight nine ten eleven twelve.", isFinal: true)])
                        let count = Locked(0)
                        let (reason, _) = try await pipeline.run(
                            SynthesisRun(), nextText: { texts.withLock { $0.isEmpty ? nil : $0.removeFirst() } },
                            emit: { _ in count.withLock { $0 += 1 } })
                        #expect(reason == .completed)
                        if round % 20 == 0 { print("worker \(worker) round \(round) frames \(count.withLock { $0 })") }
                    }
                    done.withLock { $0 += 1 }
                }
            }
            try await group.waitForAll()
        }
        #expect(done.withLock { $0 } == 8)
    }
}

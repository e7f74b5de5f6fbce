import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexWorker
import Foundation
import Logging

/// `duplex bench segments`: what one inference call costs by segment length, on every
/// inference thread (wide) and on one (narrow), alone and two at once — the figures the
/// scheduler's width policy and the segmenter's segment lengths are chosen from.
struct BenchSegments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments",
        abstract: "Inference cost per segment length (wide vs narrow calls, alone and two at once), in process.")

    @Option(help: "Model to use (default: the worker's default).")
    var model: String?

    @Option(help: "Runs per figure.")
    var runs = 5

    @Option(help: "Segment lengths in words (comma-separated).")
    var words = "3,6,12,24"

    @OptionGroup var options: ConfigOptions

    static let corpus = """
        the quick brown fox jumps over the lazy dog and then it runs back home before dark while the \
        farmer counts his sheep in the long grass by the river where the old mill still turns slowly \
        every morning as the sun comes up over the hills
        """

    func run() async throws {
        let lengths = words.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !lengths.isEmpty, lengths.allSatisfy({ (1...40).contains($0) }) else {
            throw ValidationError("--words must list word counts from 1 to 40.")
        }
        let corpus = Self.corpus.split(separator: " ")
        print("duplex bench segments  model=\(model ?? "(default)") runs=\(runs)")
        print("words  audio ms   wide ms  (RTF)    narrow ms  (RTF)    2×narrow at once: ms each  (throughput vs wide)")
        var results: [String: [Int: Double]] = [:]
        for width in ["wide", "narrow"] {
            let runtime = try makeRuntime(width: width)
            let lease = try await runtime.service.manager.acquire(model ?? runtime.service.defaultModelID ?? "")
            for count in lengths {
                let text = corpus.prefix(count).joined(separator: " ") + "."
                var times: [Double] = []
                var audioMs = 0.0
                for _ in 0..<max(1, runs) {
                    let start = ContinuousClock.now
                    let audio = try await lease.model.voice.synthesize(text, options: VoiceOptions())
                    times.append(start.duration(to: .now).millisecondsDouble)
                    audioMs = Double(audio.count) * 1000 / Double(lease.model.voice.sampleRate)
                }
                results[width, default: [:]][count] = percentile(times.sorted(), 0.5)
                results["audio", default: [:]][count] = audioMs
                if width == "narrow" {
                    // Two calls at once, one thread each.
                    var pair: [Double] = []
                    for _ in 0..<max(1, runs) {
                        let elapsed = try await withThrowingTaskGroup(of: Double.self) { group in
                            for _ in 0..<2 {
                                group.addTask {
                                    let start = ContinuousClock.now
                                    _ = try await lease.model.voice.synthesize(text, options: VoiceOptions())
                                    return start.duration(to: .now).millisecondsDouble
                                }
                            }
                            return try await group.reduce(0) { max($0, $1) }
                        }
                        pair.append(elapsed)
                    }
                    results["pair", default: [:]][count] = percentile(pair.sorted(), 0.5)
                }
            }
            await runtime.service.manager.release(lease)
            runtime.scheduler.shutdown()
        }
        for count in lengths {
            let audio = results["audio"]?[count] ?? 0
            let wide = results["wide"]?[count] ?? 0
            let narrow = results["narrow"]?[count] ?? 0
            let pair = results["pair"]?[count] ?? 0
            print(String(
                format: "%5d  %8.0f  %8.1f  (%.3f)  %9.1f  (%.3f)   %24.1f  (%.2f×)", count, audio, wide, wide / max(audio, 1), narrow,
                narrow / max(audio, 1), pair, pair > 0 ? 2 * wide / pair : 0))
        }
    }

    private func makeRuntime(width: String) throws -> WorkerRuntime {
        var config = try options.load()
        config.worker.inferenceWidth = width
        config.modelManager.preloadModelIDs = []
        var logger = Logger(label: "duplex.bench")
        logger.logLevel = .error
        return WorkerRuntime(configuration: config, logger: logger)
    }
}

import ArgumentParser
import DuplexClient
import DuplexCore
import Foundation
import Logging

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks against a running server.", subcommands: [BenchTTS.self])
}

struct BenchTTS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tts",
        abstract: "First-audio latency and frame jitter for N concurrent WebSocket sessions.")

    @Option(help: "Server WebSocket URL.")
    var url = "ws://127.0.0.1:8080/ws"

    @Option(help: "Concurrent sessions (comma-separated list runs each).")
    var sessions = "1,4"

    @Option(help: "Replies per session.")
    var repeats = 5

    @Option(help: "Model to use (default: the server's default).")
    var model: String?

    @Option(help: "Text of each reply.")
    var text = "The quick brown fox jumps over the lazy dog, and then it runs back home before dark."

    func run() async throws {
        let counts = sessions.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--sessions must be a comma-separated list of counts from 1 to 256.")
        }
        print("duplex bench tts  url=\(url) model=\(model ?? "(default)") repeats=\(repeats)")
        print("text: \(text)")
        print(String(repeating: "-", count: 96))
        print("sessions  replies  first-audio p50  p95  max (ms)   jitter p95 (ms)  audio/wall  realtime  errors")
        for count in counts {
            let result = try await runRound(sessions: count)
            let fa = result.firstAudio.sorted()
            let jitter = result.jitter.sorted()
            print(String(
                format: "%8d  %7d  %15.1f  %5.1f  %6.1f   %15.2f  %10.2f  %8@  %6d",
                count, fa.count, percentile(fa, 0.5), percentile(fa, 0.95), fa.last ?? 0, percentile(jitter, 0.95),
                result.audioSeconds / max(result.wallSeconds, 1e-9), (result.underruns == 0 ? "yes" : "no(\(result.underruns))") as NSString,
                result.errors))
        }
    }

    private struct Round: Sendable {
        var firstAudio: [Double] = []
        var jitter: [Double] = []
        var audioSeconds = 0.0
        var wallSeconds = 0.0
        var underruns = 0
        var errors = 0
    }

    private func runRound(sessions: Int) async throws -> Round {
        let logger = Logger(label: "duplex.bench")
        let start = ContinuousClock.now
        let (url, model, text, repeats) = (self.url, self.model, self.text, self.repeats)
        var round = try await withThrowingTaskGroup(of: Round.self) { group in
            for _ in 0..<sessions {
                group.addTask {
                    try await DuplexConnection.connect(url: url, logger: logger) { connection in
                        var partial = Round()
                        try await connection.startSession(model.map { ["model_id": $0] } ?? [:])
                        for _ in 0..<repeats {
                            let reply = try await connection.speak(text)
                            if let latency = reply.firstAudioLatency { partial.firstAudio.append(latency.millisecondsDouble) }
                            let jitter = reply.jitterMilliseconds()
                            partial.jitter += jitter
                            // An interval over 60 ms past the lead means the client's buffer could run dry.
                            partial.underruns += jitter.filter { $0 > 60 }.count
                            partial.audioSeconds += Double(reply.pcm.count / 2) / 48_000
                            partial.errors += reply.errors.count + (reply.reason == "completed" ? 0 : 1)
                        }
                        return partial
                    }
                }
            }
            var total = Round()
            for try await partial in group {
                total.firstAudio += partial.firstAudio
                total.jitter += partial.jitter
                total.audioSeconds += partial.audioSeconds
                total.underruns += partial.underruns
                total.errors += partial.errors
            }
            return total
        }
        round.wallSeconds = start.duration(to: .now).millisecondsDouble / 1000
        return round
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
    return sorted[index]
}

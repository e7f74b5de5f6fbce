import ArgumentParser
import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexWorker
import Foundation
import NIOSSL
import Logging

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: TTS and conversation against a running server, ASR in process.", subcommands: [BenchTTS.self, BenchSegments.self, BenchCapacity.self, BenchASR.self, BenchConversation.self])
}

struct BenchTTS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tts",
        abstract: "First-audio latency and frame jitter for N concurrent WebSocket sessions.")

    @Option(help: "Server WebSocket URL.")
    var url = "ws://127.0.0.1:8080/ws"

    @Option(help: "Concurrent sessions (comma-separated list runs each).")
    var sessions = "1,4"

    @Option(help: "With a wss:// URL: the CA certificate (PEM) that signed the server's certificate (default: the system's roots).")
    var caFile: String?

    @Option(help: "API key or access token, sent as `?token=` (docs/SECURITY.md).")
    var token: String?

    @Option(help: "Replies per session.")
    var repeats = 5

    @Option(help: "Model to use (default: the server's default).")
    var model: String?

    @Option(help: "Text of each reply.")
    var text = "The quick brown fox jumps over the lazy dog, and then it runs back home before dark."

    @Flag(inversion: .prefixedNo, help: "Also measure the model's real-time factor in this process (same code as the worker).")
    var localRtf = true

    @Flag(help: "Also run the Python piper-tts package on the same voice and text (tools/piper_reference_bench.py).")
    var comparePython = false

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let counts = sessions.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--sessions must be a comma-separated list of counts from 1 to 256.")
        }
        print("duplex bench tts  url=\(url) model=\(model ?? "(default)") repeats=\(repeats)")
        print("text: \(text)")
        print(String(repeating: "-", count: 96))
        print("sessions  replies  first-audio p50  p95  max (ms)   jitter p95 (ms)  audio/wall  realtime  late(worker)  gaps(player)  errors")
        if let health = try? await serverHealth() { print("server: \(health)") }
        for count in counts {
            let result = try await runRound(sessions: count)
            let fa = result.firstAudio.sorted()
            let jitter = result.jitter.sorted()
            print(String(
                format: "%8d  %7d  %15.1f  %5.1f  %6.1f   %15.2f  %10.2f  %8@  %12d  %12d  %6d",
                count, fa.count, percentile(fa, 0.5), percentile(fa, 0.95), fa.last ?? 0, percentile(jitter, 0.95),
                result.audioSeconds / max(result.wallSeconds, 1e-9), (result.underruns == 0 ? "yes" : "no(\(result.underruns))") as NSString,
                result.lateFrames, result.playerGaps, result.errors))
            for message in result.errorMessages.sorted().prefix(3) { print("          error: \(message)") }
        }
        if let health = try? await serverHealth() { print("server after: \(health)") }
        if localRtf { try await measureLocalRTF(counts: counts) }
        if comparePython { try comparePythonPiper() }
    }

    /// The client TLS configuration for `--ca-file`.
    private func clientTLS() throws -> TLSConfiguration? {
        guard let caFile else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        return tls
    }

    /// The URL with `?token=` (the WebSocket client sends no custom headers).
    private func authorizedURL() throws -> String {
        guard let token else { return url }
        guard var components = URLComponents(string: url) else { throw ValidationError("--url is not a URL") }
        components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "token", value: token)]
        return components.string ?? url
    }

    /// Model, RSS and session count from the server's /health.
    private func serverHealth() async throws -> String {
        guard var components = URLComponents(string: url) else { return "?" }
        components.scheme = components.scheme == "wss" ? "https" : "http"
        components.path = "/health"
        guard let host = components.host, let port = components.port else { return "?" }
        let body = try await PlainHTTP.get(host: host, port: port, path: "/health").body
        guard let json = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { return "?" }
        let rss = (json["rss_bytes"] as? Int).map { String(format: "%.0f MB", Double($0) / 1_048_576) } ?? "?"
        let models = ((json["workers"] as? [[String: Any]]) ?? []).flatMap { ($0["resident_models"] as? [String]) ?? [] }
        return "rss \(rss), resident models \(models.joined(separator: ","))"
    }

    /// Real-time factor of the model itself: N concurrent syntheses of the text, segment by
    /// segment as the worker does, timed in this process.
    private func measureLocalRTF(counts: [Int]) async throws {
        let config = try options.load()
        var logger = Logger(label: "duplex.bench")
        logger.logLevel = .error
        let runtime = WorkerRuntime(configuration: config, logger: logger)
        let modelID = model ?? runtime.service.manager.catalog.preferredDefault()?.modelID ?? "espeak-en-us"
        let lease = try await runtime.service.manager.acquire(modelID)
        defer { Task { await runtime.service.manager.release(lease) } }
        var segmenter = TextSegmenter()
        let segments = segmenter.append(text) + segmenter.flush()
        print(String(repeating: "-", count: 96))
        print("local synthesis, model \(modelID): \(segments.count) segments, first \"\(segments.first ?? "")\"")
        print("sessions  first-segment p50  p95 (ms)   RTF p50   p95")
        for count in counts {
            let results = try await withThrowingTaskGroup(of: (Double, [Double]).self) { group in
                for _ in 0..<count {
                    group.addTask {
                        var firstMs = 0.0
                        var rtfs: [Double] = []
                        for _ in 0..<max(1, repeats) {
                            for (index, segment) in segments.enumerated() {
                                let start = ContinuousClock.now
                                let audio = try await lease.model.voice.synthesize(segment, options: VoiceOptions())
                                let elapsed = start.duration(to: .now).millisecondsDouble
                                if index == 0 { firstMs = elapsed }
                                let seconds = Double(audio.count) / Double(lease.model.voice.sampleRate)
                                if seconds > 0 { rtfs.append(elapsed / 1000 / seconds) }
                            }
                        }
                        return (firstMs, rtfs)
                    }
                }
                var all: [(Double, [Double])] = []
                for try await result in group { all.append(result) }
                return all
            }
            let first = results.map(\.0).sorted()
            let rtf = results.flatMap(\.1).sorted()
            print(String(
                format: "%8d  %16.1f  %5.1f      %7.3f  %5.3f", count, percentile(first, 0.5), percentile(first, 0.95),
                percentile(rtf, 0.5), percentile(rtf, 0.95)))
        }
    }

    /// Runs the Python piper-tts package on the same voice pack and text.
    private func comparePythonPiper() throws {
        let config = try options.load()
        var logger = Logger(label: "duplex.bench")
        logger.logLevel = .error
        let runtime = WorkerRuntime(configuration: config, logger: logger)
        let catalog = runtime.service.manager.catalog
        guard let pack = (model.flatMap { catalog.model($0) } ?? catalog.preferredDefault()), pack.family == "piper",
            let onnx = pack.files["model"]
        else {
            print("compare-python: needs a Piper model (--model piper-…)")
            return
        }
        print(String(repeating: "-", count: 96))
        print("Python piper-tts 1.8.0 on \(pack.modelID) (same text, \(max(3, repeats)) runs):")
        var arguments = ["--model", onnx, "--text", text, "--runs", "\(max(3, repeats))"]
        if let json = pack.files["config"] { arguments += ["--config", json] }
        let (status, output) = try ProjectTools.run("piper_reference_bench.py", arguments, captureOutput: true)
        guard status == 0, let data = output.data(using: .utf8),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            print("compare-python: the Python benchmark failed (status \(status)); is .deps/venv installed?")
            return
        }
        let first = json["first_chunk_ms"] as? [String: Any] ?? [:]
        let rtf = json["rtf"] as? [String: Any] ?? [:]
        print(String(
            format: "python    first chunk p50 %.1f  p95 %.1f ms   RTF p50 %.3f  p95 %.3f   load %.0f ms",
            first["p50"] as? Double ?? 0, first["p95"] as? Double ?? 0, rtf["p50"] as? Double ?? 0, rtf["p95"] as? Double ?? 0,
            json["load_ms"] as? Double ?? 0))
    }

    private struct Round: Sendable {
        var firstAudio: [Double] = []
        var jitter: [Double] = []
        var audioSeconds = 0.0
        var wallSeconds = 0.0
        var underruns = 0
        var errors = 0
        var errorMessages: Set<String> = []
        var lateFrames = 0
        var playerGaps = 0
    }

    private func runRound(sessions: Int) async throws -> Round {
        let logger = Logger(label: "duplex.bench")
        let start = ContinuousClock.now
        let (model, text, repeats) = (self.model, self.text, self.repeats)
        let tls = try clientTLS()
        let authorized = try authorizedURL()
        var round = try await withThrowingTaskGroup(of: Round.self) { group in
            for _ in 0..<sessions {
                group.addTask {
                    try await DuplexConnection.connect(url: authorized, tls: tls, logger: logger) { connection in
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
                            partial.errorMessages.formUnion(reply.errors)
                            if reply.reason != "completed" { partial.errorMessages.insert("tts_end reason \(reply.reason)") }
                            partial.lateFrames += reply.reportedLateFrames
                            partial.playerGaps += reply.playoutUnderruns()
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
                total.errorMessages.formUnion(partial.errorMessages)
                total.lateFrames += partial.lateFrames
                total.playerGaps += partial.playerGaps
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

import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexSherpa
import DuplexWorker
import Foundation
import Logging

/// Whisper latency and real-time factor for utterances of about 5 s and 10 s.
struct BenchASR: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asr", abstract: "Whisper ASR latency and RTF for a 5 s and a 10 s utterance (in process).")

    @Option(help: "Decodes per utterance.")
    var runs = 5

    @Option(help: "A 16 kHz WAV to use instead of synthesized speech (repeatable).")
    var wav: [String] = []

    @OptionGroup var options: ConfigOptions

    static let texts = [
        "Please remind me to call the dentist tomorrow morning at nine, and to pick up the dry cleaning after lunch.",
        "The train to the airport leaves every twenty minutes from platform four, so we should leave the house by half past seven to be safe. If it is late again, we can still take a taxi from the station and arrive before the gate closes.",
    ]

    func run() async throws {
        let config = try options.load()
        var logger = Logger(label: "duplex.bench")
        logger.logLevel = .error
        let clock = ContinuousClock()
        let loadStart = clock.now
        let whisper = try WhisperRecognizer(
            modelDirectory: config.asr.modelDir, language: config.asr.language,
            inference: InferenceOptions(provider: config.worker.executionProvider, threads: config.asr.threads))
        print("duplex bench asr  model=\(config.asr.modelDir) threads=\(config.asr.threads) load \(Int(loadStart.duration(to: clock.now).millisecondsDouble)) ms")

        var utterances: [(name: String, samples: [Float], reference: String?)] = []
        if wav.isEmpty {
            let runtime = WorkerRuntime(configuration: config, logger: logger)
            guard let model = runtime.service.manager.catalog.preferredDefault() else {
                throw ValidationError("No voice installed to synthesize test speech; pass --wav files.")
            }
            let lease = try await runtime.service.manager.acquire(model.modelID)
            for text in Self.texts {
                let audio = try await lease.model.voice.synthesize(text, options: VoiceOptions())
                let resampler = try Resampler(from: lease.model.voice.sampleRate, to: 16_000)
                let samples = resampler.process(audio) + resampler.flush()
                utterances.append((String(format: "%.1f s (%@)", Double(samples.count) / 16_000, model.modelID), samples, text))
            }
            await runtime.service.manager.release(lease)
        } else {
            for path in wav {
                let file = try WAVFile.read(path: path)
                guard file.sampleRate == 16_000 else { throw ValidationError("\(path) is \(file.sampleRate) Hz; Whisper needs 16 kHz.") }
                let samples = SampleConversion.float(from: file.samples)
                utterances.append((String(format: "%.1f s (%@)", Double(samples.count) / 16_000, path), samples, nil))
            }
        }
        print("utterance                       latency p50   p95 (ms)   RTF p50   text")
        for utterance in utterances {
            var latencies: [Double] = []
            var text = ""
            for _ in 0..<max(1, runs) {
                let start = clock.now
                text = whisper.transcribe(utterance.samples).text
                latencies.append(start.duration(to: clock.now).millisecondsDouble)
            }
            latencies.sort()
            let seconds = Double(utterance.samples.count) / 16_000
            print(String(
                format: "%-30@  %11.0f  %5.0f      %7.3f   %@", utterance.name as NSString, percentile(latencies, 0.5),
                percentile(latencies, 0.95), percentile(latencies, 0.5) / 1000 / seconds, text as NSString))
        }
        print(String(format: "process RSS with Whisper (and the voice) loaded: %.0f MB", Double(ProcessMemory.residentBytes) / 1_048_576))
    }
}

/// A minimal blocking HTTP GET for the server's JSON endpoints (run on its own thread).
enum HealthProbe {
    static func get(host: String, port: Int, path: String) async throws -> Data {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try fetch(host: host, port: port, path: path) })
            }.start()
        }
    }

    private static func fetch(host: String, port: Int, path: String) throws -> Data {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DuplexError(.io, "socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw DuplexError(.io, "connect to \(host):\(port) failed") }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        guard let split = response.range(of: Data("\r\n\r\n".utf8)) else { throw DuplexError(.io, "bad HTTP response") }
        return Data(response[split.upperBound...])
    }
}

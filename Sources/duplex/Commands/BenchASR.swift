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

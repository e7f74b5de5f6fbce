import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexEspeak
import DuplexSherpa
import DuplexTurn
import DuplexWorker
import Foundation
import Logging

/// Checks the installation: libraries, models, a sample synthesis and recognition.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the installation (libraries load, models present, sample synthesis and recognition work).")

    @OptionGroup var options: ConfigOptions

    private final class Report: @unchecked Sendable {
        var failures = 0
        func ok(_ what: String, _ detail: String = "") {
            print("  ok    \(what)\(detail.isEmpty ? "" : " — \(detail)")")
        }
        func warn(_ what: String, fix: String) {
            print("  warn  \(what)\n        fix: \(fix)")
        }
        func fail(_ what: String, fix: String) {
            failures += 1
            print("  FAIL  \(what)\n        fix: \(fix)")
        }
    }

    func run() async throws {
        let config = try options.load()
        let report = Report()
        var logger = Logger(label: "duplex.doctor")
        logger.logLevel = .error
        let clock = ContinuousClock()
        print("duplex doctor")

        // espeak-ng (phonemizer and fallback voice).
        do {
            let voices = try await EspeakEngine.shared.voiceNames()
            let pcm = try await EspeakEngine.shared.synthesize("Testing.", voice: "en-us")
            report.ok("espeak-ng", "\(voices.count) voices, sample \(pcm.count) samples")
        } catch {
            report.fail("espeak-ng: \(error.message)", fix: "sudo apt-get install espeak-ng-data libespeak-ng1 (or run scripts/setup.sh)")
        }

        // sherpa-onnx is linked into this binary; reaching here means it loaded.
        report.ok("sherpa-onnx runtime", "linked (\(ProcessInfo.processInfo.environment["DUPLEX_SHERPA_LIB"] ?? "rpath"))")

        // Voice packs.
        let runtime = WorkerRuntime(configuration: config, logger: logger)
        let catalog = runtime.service.manager.catalog
        let problems = catalog.rescan()
        let packs = catalog.all
        report.ok("voice packs in \(config.worker.voicepacksDir)", packs.map(\.modelID).joined(separator: ", "))
        for problem in problems { report.warn("rejected pack: \(problem.message)", fix: "fix or remove the folder") }
        let piper = packs.first { $0.family == "piper" }
        var sample: (samples: [Float], rate: Int)?
        if let piper {
            do {
                let start = clock.now
                let lease = try await runtime.service.manager.acquire(piper.modelID)
                let loaded = start.duration(to: clock.now)
                let text = "Duplex is installed and speaking clearly."
                let synthStart = clock.now
                let audio = try await lease.model.voice.synthesize(text, options: VoiceOptions())
                let elapsed = synthStart.duration(to: clock.now).millisecondsDouble / 1000
                let seconds = Double(audio.count) / Double(lease.model.voice.sampleRate)
                sample = (audio, lease.model.voice.sampleRate)
                report.ok(
                    "Piper voice \(piper.modelID)",
                    String(format: "load+warmup %.0f ms, %.2f s of audio, RTF %.3f", loaded.millisecondsDouble, seconds, elapsed / max(seconds, 1e-9)))
                await runtime.service.manager.release(lease)
            } catch {
                report.fail("Piper voice \(piper.modelID): \(error)", fix: "run scripts/setup.sh, or `duplex models install piper-en-us-joe --force`")
            }
        } else {
            report.warn(
                "no Piper voice installed: `duplex serve` falls back to espeak", fix: "duplex models install piper-en-us-joe")
        }

        // Silero VAD.
        let vadParameters = VADParameters.preset(aggressiveness: config.vad.aggressiveness)
        do {
            let vad = try VoiceActivityDetector(model: config.vad.model, parameters: vadParameters)
            let events = vad.accept([Float](repeating: 0, count: 16_000)) + vad.flush()
            report.ok("Silero VAD \(config.vad.model)", "\(events.count) events on 1 s of silence")
        } catch {
            report.fail("Silero VAD: \(error.message)", fix: "run scripts/setup.sh (installs .deps/models/silero_vad.onnx) or set vad.model")
        }

        // Whisper ASR, on the Piper sample when there is one.
        do {
            let start = clock.now
            let whisper = try WhisperRecognizer(
                modelDirectory: config.asr.modelDir, language: config.asr.language,
                inference: InferenceOptions(provider: config.worker.executionProvider, threads: config.asr.threads))
            let loaded = start.duration(to: clock.now).millisecondsDouble
            if let sample {
                let resampler = try Resampler(from: sample.rate, to: 16_000)
                let pcm = resampler.process(sample.samples) + resampler.flush()
                let decodeStart = clock.now
                let heard = whisper.transcribe(pcm)
                report.ok(
                    "Whisper \(config.asr.modelDir)",
                    String(format: "load %.0f ms, decode %.0f ms, heard \"%@\"", loaded,
                           decodeStart.duration(to: clock.now).millisecondsDouble, heard.text))
            } else {
                report.ok("Whisper \(config.asr.modelDir)", String(format: "load %.0f ms", loaded))
            }
        } catch {
            report.fail("Whisper: \(error.message)", fix: "run scripts/setup.sh, or `duplex models import-whisper <faster-whisper dir> <out>` and set asr.model_dir")
        }

        // End-of-turn model: one call on 8 s of the sample (features + inference), timed.
        if config.turn.usesModel {
            do {
                let start = clock.now
                let model = try SmartTurnModel(path: config.turn.modelPath, threads: config.turn.threads)
                let loaded = start.duration(to: clock.now).millisecondsDouble
                var audio = [Float](repeating: 0, count: 16_000 * SmartTurnModel.windowSeconds)
                if let sample {
                    let resampler = try Resampler(from: sample.rate, to: 16_000)
                    let pcm = resampler.process(sample.samples) + resampler.flush()
                    audio = Array((audio + pcm).suffix(audio.count))
                }
                var best = Double.infinity
                var probability: Float = 0
                for _ in 0..<5 {
                    let callStart = clock.now
                    probability = try model.completionProbability(of: audio)
                    best = min(best, callStart.duration(to: clock.now).millisecondsDouble)
                }
                report.ok(
                    "Smart Turn \(config.turn.modelPath)",
                    String(format: "load %.0f ms, call %.0f ms (%d thread%@), end of the sample judged %.2f complete", loaded, best,
                           config.turn.threads, config.turn.threads == 1 ? "" : "s", probability))
            } catch {
                report.fail("Smart Turn: \(error.message)", fix: "run scripts/install-models.sh, set turn.model_path, or turn.model: none")
            }
        }

        // Cache folder.
        let probe = "\(config.worker.cacheDir)/.doctor-\(ProcessInfo.processInfo.processIdentifier)"
        if (try? FileManager.default.createDirectory(atPath: config.worker.cacheDir, withIntermediateDirectories: true)) != nil,
            FileManager.default.createFile(atPath: probe, contents: Data())
        {
            try? FileManager.default.removeItem(atPath: probe)
            report.ok("cache folder \(config.worker.cacheDir) is writable")
        } else {
            report.fail("cache folder \(config.worker.cacheDir) is not writable", fix: "set worker.cache_dir to a writable folder")
        }

        print(String(format: "  info  process RSS with the models above loaded: %.0f MB", Double(ProcessMemory.residentBytes) / 1_048_576))
        print(report.failures == 0 ? "All checks passed." : "\(report.failures) check(s) failed.")
        if report.failures > 0 { throw ExitCode(1) }
    }
}

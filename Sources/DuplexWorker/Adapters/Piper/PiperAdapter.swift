import DuplexCore
import DuplexEspeak
import DuplexSherpa
import Foundation
import Synchronization

/// Piper neural voices (VITS, `.onnx` + `.onnx.json`) run through sherpa-onnx.
///
/// A pack is `voicepacks/piper/<model_id>/` with the two Piper files and, optionally, a
/// `metadata.yaml` (`files: {model: …, config: …}`); a folder holding just a voice from the
/// public Piper collection works too (see ``describe(folder:)``). Loading prepares a
/// sherpa-ready copy in the cache (``PiperModelPreparer``), loads it twice (one instance on
/// every inference thread, one on a single thread: see ``InferenceScheduler``) and phonemizes
/// with espeak-ng (``PiperPhonemizer``).
public struct PiperAdapter: TTSAdapter {
    /// The family name.
    public let family = "piper"
    /// Where prepared copies of voices are written.
    public let cacheDirectory: String
    /// The execution provider; `inference.threads` is ignored (the scheduler's budget rules).
    public let inference: InferenceOptions
    /// Runs inference in deadline order on its thread budget.
    public let scheduler: InferenceScheduler

    /// Creates the adapter.
    /// - Parameters:
    ///   - inference: the execution provider.
    ///   - scheduler: the worker's inference scheduler (shared by every neural voice).
    public init(cacheDirectory: String, inference: InferenceOptions, scheduler: InferenceScheduler) {
        self.cacheDirectory = cacheDirectory
        self.inference = inference
        self.scheduler = scheduler
    }

    /// Creates the adapter with its own scheduler of `inference.threads` threads.
    public init(cacheDirectory: String, inference: InferenceOptions) {
        self.init(
            cacheDirectory: cacheDirectory, inference: inference,
            scheduler: InferenceScheduler(name: "piper", threadBudget: inference.threads, aheadWindow: .seconds(2)))
    }

    public func builtInModels() -> [ModelDescriptor] { [] }

    public func validate(_ pack: ModelDescriptor) throws(DuplexError) {
        let (model, config) = try files(of: pack)
        guard model.hasSuffix(".onnx") else {
            throw DuplexError(.invalidVoicePack, "Piper pack '\(pack.modelID)': files.model must be an .onnx file (got '\(model)').")
        }
        let voice = try PiperVoiceConfig.load(path: config)
        guard voice.sampleRate == pack.sampleRate else {
            throw DuplexError(
                .invalidVoicePack,
                "Piper pack '\(pack.modelID)': metadata.yaml says sample_rate \(pack.sampleRate) but \(config) says \(voice.sampleRate).")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: model)[.size] as? NSNumber)?.intValue ?? 0
        guard size > 1024 else {
            throw DuplexError(.invalidVoicePack, "Piper pack '\(pack.modelID)': model file '\(model)' is empty or truncated (\(size) bytes).")
        }
    }

    public func describe(folder path: String, family: String, name: String) throws(DuplexError) -> ModelDescriptor? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let models = entries.filter { $0.hasSuffix(".onnx") }.sorted()
        guard !models.isEmpty else { return nil }
        guard models.count == 1 else {
            throw DuplexError(
                .invalidVoicePack,
                "Voice pack \(path): \(models.count) .onnx files and no metadata.yaml; keep one voice per folder or add a metadata.yaml with files.model.")
        }
        let model = "\(path)/\(models[0])"
        let configPath = model + ".json"
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw DuplexError(.invalidVoicePack, "Voice pack \(path): '\(models[0]).json' (the Piper voice config) is missing.")
        }
        let config = try PiperVoiceConfig.load(path: configPath)
        let speaker = config.datasetName.map { " \($0)" } ?? ""
        return ModelDescriptor(
            modelID: name, family: family,
            displayName: "Piper\(speaker) (\(config.languageTag)\(config.quality.map { ", \($0)" } ?? ""))",
            languages: [config.languageTag], sampleRate: config.sampleRate, tags: ["cpu_ok", "streaming"], directory: path,
            files: ["model": model, "config": configPath], metadata: ["source": "Piper voice (no metadata.yaml)"])
    }

    public func load(_ model: ModelDescriptor) async throws(DuplexError) -> any TTSVoice {
        let (modelPath, configPath) = try files(of: model)
        let config = try PiperVoiceConfig.load(path: configPath)
        let preparer = PiperModelPreparer(cacheDirectory: cacheDirectory)
        let inference = self.inference
        let budget = scheduler.threadBudget
        let scales = Scales(
            noise: Float(model.metadata["noise_scale"].flatMap(Double.init) ?? config.noiseScale),
            width: Float(model.metadata["noise_w"].flatMap(Double.init) ?? config.noiseWidth),
            length: Float(model.metadata["length_scale"].flatMap(Double.init) ?? config.lengthScale))
        let loaded: LoadedFiles
        do {
            loaded = try await scheduler.run(.now, measured: false) { _ in
                let prepared = try preparer.prepare(model: modelPath, config: config, configPath: configPath)
                let synthesizers = try SynthesizerPair(scales: scales, prepared: prepared, inference: inference, budget: budget)
                return LoadedFiles(prepared: prepared, synthesizers: synthesizers)
            }
        } catch {
            throw DuplexError.wrap(error, as: .modelLoadFailed, "Loading Piper voice '\(model.modelID)' failed.")
        }
        let phonemizer = PiperPhonemizer(voice: config.espeakVoice, knownCodepoints: config.knownCodepoints())
        return PiperVoice(
            descriptor: model, sampleRate: loaded.synthesizers.wide.sampleRate, prepared: loaded.prepared, scales: scales,
            inference: inference, base: loaded.synthesizers, phonemizer: phonemizer, scheduler: scheduler)
    }

    private func files(of pack: ModelDescriptor) throws(DuplexError) -> (model: String, config: String) {
        guard let model = pack.files["model"] else {
            throw DuplexError(.invalidVoicePack, "Piper pack '\(pack.modelID)' names no model: add `files: {model: voice.onnx, config: voice.onnx.json}`.")
        }
        let config = pack.files["config"] ?? model + ".json"
        guard FileManager.default.fileExists(atPath: config) else {
            throw DuplexError(.invalidVoicePack, "Piper pack '\(pack.modelID)': the voice config '\(config)' is missing.")
        }
        return (model, config)
    }
}

private struct LoadedFiles: Sendable {
    var prepared: PiperModelPreparer.Prepared
    var synthesizers: SynthesizerPair
}

/// One voice loaded twice: onnxruntime fixes a session's intra-op threads when it is created,
/// so a call given every thread (alone in the queue) runs on `wide`, and calls given one
/// thread each (several ready at once) share `narrow` (its `Run` is thread-safe).
struct SynthesizerPair: Sendable {
    var wide: SherpaSynthesizer
    var narrow: SherpaSynthesizer

    init(scales: Scales, prepared: PiperModelPreparer.Prepared, inference: InferenceOptions, budget: Int) throws(DuplexError) {
        var options = inference
        options.threads = max(1, budget)
        wide = try SherpaSynthesizer(scales.configuration(prepared: prepared, inference: options))
        options.threads = 1
        narrow = budget > 1 ? try SherpaSynthesizer(scales.configuration(prepared: prepared, inference: options)) : wide
    }

    func synthesizer(for lane: InferenceLane) -> SherpaSynthesizer {
        lane.threads > 1 ? wide : narrow
    }
}

/// VITS sampling scales of a loaded voice.
struct Scales: Sendable, Hashable {
    var noise: Float
    var width: Float
    var length: Float

    func configuration(prepared: PiperModelPreparer.Prepared, inference: InferenceOptions) -> SherpaSynthesizer.Configuration {
        SherpaSynthesizer.Configuration(
            model: prepared.model, tokens: prepared.tokens, noiseScale: noise, noiseWidth: width, lengthScale: length,
            inference: inference)
    }
}

/// A loaded Piper voice. Sessions that ask for other noise scales get their own sherpa
/// instance of the same prepared model (loaded on first use, at most two kept).
final class PiperVoice: TTSVoice {
    let descriptor: ModelDescriptor
    let sampleRate: Int
    private let prepared: PiperModelPreparer.Prepared
    private let scales: Scales
    private let inference: InferenceOptions
    private let base: SynthesizerPair
    private let phonemizer: PiperPhonemizer
    private let scheduler: InferenceScheduler
    private let normalizer = TextNormalizer()
    private let variants = Mutex<[(Scales, SynthesizerPair)]>([])
    private static let maxVariants = 2

    init(
        descriptor: ModelDescriptor, sampleRate: Int, prepared: PiperModelPreparer.Prepared, scales: Scales,
        inference: InferenceOptions, base: SynthesizerPair, phonemizer: PiperPhonemizer, scheduler: InferenceScheduler
    ) {
        self.descriptor = descriptor
        self.sampleRate = sampleRate
        self.prepared = prepared
        self.scales = scales
        self.inference = inference
        self.base = base
        self.phonemizer = phonemizer
        self.scheduler = scheduler
    }

    func synthesize(_ text: String, options: VoiceOptions, urgency: InferenceUrgency) async throws(DuplexError) -> [Float] {
        let sentences = try await phonemizer.phonemize(normalizer.normalize(text))
        guard !sentences.isEmpty else { return [] }
        let synthesizers = try await synthesizers(for: options)
        let speed = Float(options.speed)
        do {
            return try await scheduler.run(urgency, tenant: options.tenant) { lane in
                try synthesizers.synthesizer(for: lane).generate(sentences: sentences, speed: speed)
            }
        } catch {
            throw DuplexError.wrap(error, as: .synthesisFailed, "Piper synthesis failed.")
        }
    }

    private func synthesizers(for options: VoiceOptions) async throws(DuplexError) -> SynthesizerPair {
        guard options.noiseScale != nil || options.noiseWidth != nil else { return base }
        let wanted = Scales(
            noise: options.noiseScale.map(Float.init) ?? scales.noise, width: options.noiseWidth.map(Float.init) ?? scales.width,
            length: scales.length)
        if wanted == scales { return base }
        if let found = variants.withLock({ list in list.first { $0.0 == wanted }?.1 }) { return found }
        let (prepared, inference, budget) = (self.prepared, self.inference, scheduler.threadBudget)
        let variant: SynthesizerPair
        do {
            variant = try await scheduler.run(.now, measured: false) { _ in
                try SynthesizerPair(scales: wanted, prepared: prepared, inference: inference, budget: budget)
            }
        } catch {
            throw DuplexError.wrap(error, as: .modelLoadFailed, "Loading a Piper variant with custom noise scales failed.")
        }
        variants.withLock { list in
            list.removeAll { $0.0 == wanted }
            list.append((wanted, variant))
            if list.count > Self.maxVariants { list.removeFirst() }
        }
        return variant
    }

    func unload() async {
        variants.withLock { $0.removeAll() }
    }
}

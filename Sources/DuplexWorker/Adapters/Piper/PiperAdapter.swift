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
/// sherpa-ready copy in the cache (``PiperModelPreparer``), loads it on the adapter's
/// inference executor and phonemizes with espeak-ng (``PiperPhonemizer``).
public struct PiperAdapter: TTSAdapter {
    /// The family name.
    public let family = "piper"
    /// Where prepared copies of voices are written.
    public let cacheDirectory: String
    /// Provider and intra-op threads of each inference call.
    public let inference: InferenceOptions
    /// Runs inference: its thread count is the number of concurrent inference calls.
    public let executor: BlockingExecutor

    /// Creates the adapter.
    /// - Parameters:
    ///   - concurrency: inference calls that may run at the same time (each uses
    ///     `inference.threads` threads).
    public init(cacheDirectory: String, inference: InferenceOptions, concurrency: Int = 1, queueCapacity: Int = 256) {
        self.cacheDirectory = cacheDirectory
        self.inference = inference
        self.executor = BlockingExecutor(name: "piper", threads: max(1, concurrency), queueCapacity: queueCapacity)
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
        let scales = Scales(
            noise: Float(model.metadata["noise_scale"].flatMap(Double.init) ?? config.noiseScale),
            width: Float(model.metadata["noise_w"].flatMap(Double.init) ?? config.noiseWidth),
            length: Float(model.metadata["length_scale"].flatMap(Double.init) ?? config.lengthScale))
        let loaded: LoadedFiles
        do {
            loaded = try await executor.run {
                let prepared = try preparer.prepare(model: modelPath, config: config, configPath: configPath)
                let synthesizer = try SherpaSynthesizer(scales.configuration(prepared: prepared, inference: inference))
                return LoadedFiles(prepared: prepared, synthesizer: synthesizer)
            }
        } catch {
            throw DuplexError.wrap(error, as: .modelLoadFailed, "Loading Piper voice '\(model.modelID)' failed.")
        }
        let phonemizer = PiperPhonemizer(voice: config.espeakVoice, knownCodepoints: config.knownCodepoints())
        return PiperVoice(
            descriptor: model, sampleRate: loaded.synthesizer.sampleRate, prepared: loaded.prepared, scales: scales,
            inference: inference, base: loaded.synthesizer, phonemizer: phonemizer, executor: executor)
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
    var synthesizer: SherpaSynthesizer
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
    private let base: SherpaSynthesizer
    private let phonemizer: PiperPhonemizer
    private let executor: BlockingExecutor
    private let normalizer = TextNormalizer()
    private let variants = Mutex<[(Scales, SherpaSynthesizer)]>([])
    private static let maxVariants = 2

    init(
        descriptor: ModelDescriptor, sampleRate: Int, prepared: PiperModelPreparer.Prepared, scales: Scales,
        inference: InferenceOptions, base: SherpaSynthesizer, phonemizer: PiperPhonemizer, executor: BlockingExecutor
    ) {
        self.descriptor = descriptor
        self.sampleRate = sampleRate
        self.prepared = prepared
        self.scales = scales
        self.inference = inference
        self.base = base
        self.phonemizer = phonemizer
        self.executor = executor
    }

    func synthesize(_ text: String, options: VoiceOptions, priority: BlockingExecutor.Priority) async throws(DuplexError) -> [Float] {
        let sentences = try await phonemizer.phonemize(normalizer.normalize(text))
        guard !sentences.isEmpty else { return [] }
        let synthesizer = try await synthesizer(for: options)
        let speed = Float(options.speed)
        do {
            return try await executor.run(priority: priority) {
                try synthesizer.generate(sentences: sentences, speed: speed)
            }
        } catch {
            throw DuplexError.wrap(error, as: .synthesisFailed, "Piper synthesis failed.")
        }
    }

    private func synthesizer(for options: VoiceOptions) async throws(DuplexError) -> SherpaSynthesizer {
        guard options.noiseScale != nil || options.noiseWidth != nil else { return base }
        let wanted = Scales(
            noise: options.noiseScale.map(Float.init) ?? scales.noise, width: options.noiseWidth.map(Float.init) ?? scales.width,
            length: scales.length)
        if wanted == scales { return base }
        if let found = variants.withLock({ list in list.first { $0.0 == wanted }?.1 }) { return found }
        let configuration = wanted.configuration(prepared: prepared, inference: inference)
        let variant: SherpaSynthesizer
        do {
            variant = try await executor.run { try SherpaSynthesizer(configuration) }
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

import CSherpaOnnx
import DuplexCore
import Foundation

/// A VITS/Piper text-to-speech model loaded through the sherpa-onnx C API.
///
/// The synthesizer takes phonemes (IPA codepoints, one array per sentence) rather than text:
/// sherpa-onnx 2.x leaves phonemization to the caller (see ``PiperPhonemizer`` in
/// `DuplexWorker`). Every method blocks the calling thread; call them from a
/// ``BlockingExecutor`` thread, never from the cooperative pool or an event loop.
/// ``generate(sentences:speed:speakerID:)`` may run on several threads at once.
public final class SherpaSynthesizer: @unchecked Sendable {
    // Immutable after init; sherpa's generate is const and onnxruntime sessions are thread-safe.
    private let handle: OpaquePointer

    /// The model's output sample rate.
    public let sampleRate: Int
    /// Speakers in the model (1 for single-speaker voices).
    public let speakerCount: Int

    /// What to load.
    public struct Configuration: Sendable, Hashable {
        /// The ONNX file, carrying sherpa's metadata (see ``OnnxMetadata``).
        public var model: String
        /// `tokens.txt`: one `SYMBOL ID` per line.
        public var tokens: String
        /// VITS noise scale (expressiveness).
        public var noiseScale: Float
        /// VITS duration noise.
        public var noiseWidth: Float
        /// Phoneme length scale (> 1 is slower).
        public var lengthScale: Float
        /// Provider and threads.
        public var inference: InferenceOptions

        /// Creates a configuration.
        public init(
            model: String, tokens: String, noiseScale: Float = 0.667, noiseWidth: Float = 0.8,
            lengthScale: Float = 1, inference: InferenceOptions = InferenceOptions()
        ) {
            self.model = model
            self.tokens = tokens
            self.noiseScale = noiseScale
            self.noiseWidth = noiseWidth
            self.lengthScale = lengthScale
            self.inference = inference
        }
    }

    /// Loads the model (blocking; about a second for a medium Piper voice).
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when a file is missing or sherpa rejects it.
    public init(_ configuration: Configuration) throws(DuplexError) {
        let inference = try configuration.inference.validated()
        for path in [configuration.model, configuration.tokens] where !FileManager.default.isReadableFile(at: path) {
            throw DuplexError(.modelLoadFailed, "Model file '\(path)' is missing or unreadable.")
        }
        let strings = CStrings()
        var config = SherpaOnnxOfflineTtsConfig()
        config.model.vits.model = strings(configuration.model)
        config.model.vits.tokens = strings(configuration.tokens)
        config.model.vits.lexicon = strings("")
        config.model.vits.data_dir = strings("")
        config.model.vits.dict_dir = strings("")
        config.model.vits.noise_scale = configuration.noiseScale
        config.model.vits.noise_scale_w = configuration.noiseWidth
        config.model.vits.length_scale = configuration.lengthScale
        config.model.num_threads = Int32(inference.threads)
        config.model.provider = strings(inference.provider)
        config.model.debug = 0
        config.max_num_sentences = 1
        config.silence_scale = 0.2
        guard let handle = withExtendedLifetime(strings, { SherpaOnnxCreateOfflineTts(&config) }) else {
            throw DuplexError(
                .modelLoadFailed,
                "sherpa-onnx could not load '\(configuration.model)' (is it a VITS/Piper model with sherpa metadata?).")
        }
        self.handle = handle
        sampleRate = Int(SherpaOnnxOfflineTtsSampleRate(handle))
        speakerCount = Int(SherpaOnnxOfflineTtsNumSpeakers(handle))
    }

    deinit {
        SherpaOnnxDestroyOfflineTts(handle)
    }

    /// Synthesizes phoneme sentences to mono float samples at ``sampleRate`` (blocking).
    /// - Parameters:
    ///   - sentences: IPA codepoints, one array per sentence (punctuation included).
    ///   - speed: speaking rate, 1 = the voice's rate.
    ///   - speakerID: speaker for multi-speaker models.
    /// - Throws: ``DuplexError`` (`synthesisFailed`).
    public func generate(sentences: [[Int32]], speed: Float = 1, speakerID: Int = 0) throws(DuplexError) -> [Float] {
        let nonEmpty = sentences.filter { !$0.isEmpty }
        guard !nonEmpty.isEmpty else { return [] }
        let flat = nonEmpty.flatMap { $0 }
        let lengths = nonEmpty.map { Int32($0.count) }
        var config = SherpaOnnxGenerationConfig()
        config.speed = speed
        config.sid = Int32(max(0, min(speakerID, speakerCount - 1)))
        config.silence_scale = 0.2
        config.phoneme_codepoints_num_sentences = Int32(lengths.count)
        let audio: UnsafePointer<SherpaOnnxGeneratedAudio>? = flat.withUnsafeBufferPointer { codepoints in
            lengths.withUnsafeBufferPointer { lengths in
                config.phoneme_codepoints = codepoints.baseAddress
                config.phoneme_codepoints_lens = lengths.baseAddress
                return SherpaOnnxOfflineTtsGenerateWithConfig(handle, "", &config, nil, nil)
            }
        }
        guard let audio else {
            throw DuplexError(.synthesisFailed, "sherpa-onnx returned no audio for \(flat.count) phonemes.")
        }
        defer { SherpaOnnxDestroyOfflineTtsGeneratedAudio(audio) }
        let count = Int(audio.pointee.n)
        guard count > 0, let samples = audio.pointee.samples else { return [] }
        return Array(UnsafeBufferPointer(start: samples, count: count))
    }
}

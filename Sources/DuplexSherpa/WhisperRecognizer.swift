import CSherpaOnnx
import DuplexCore
import Foundation

/// What the recognizer heard.
public struct Transcription: Sendable, Hashable {
    /// The text, trimmed.
    public var text: String
    /// The detected or configured language, when the model reports one.
    public var language: String?
    /// Seconds of audio transcribed.
    public var audioSeconds: Double
}

/// Whisper speech recognition through the sherpa-onnx C API.
///
/// Loads a model in sherpa's Whisper layout: a folder with `*encoder*.onnx`,
/// `*decoder*.onnx` (int8 files are preferred when both exist) and `*tokens.txt`, such as
/// the ones `tools/whisper_import.py` converts from faster-whisper weights or the
/// `sherpa-onnx-whisper-*` releases. ``transcribe(_:)`` blocks: call it from a
/// ``BlockingExecutor``. Calls on one recognizer may run concurrently (each uses its own stream).
public final class WhisperRecognizer: @unchecked Sendable {
    /// Input sample rate.
    public static let sampleRate = 16_000
    /// Whisper sees at most 30 s at once; longer audio is transcribed in pieces this long.
    static let maxChunkSeconds = 28.0

    private let handle: OpaquePointer
    /// The model folder.
    public let modelDirectory: String

    /// The files of a model folder.
    public struct Files: Sendable, Hashable {
        /// Encoder ONNX file.
        public var encoder: String
        /// Decoder ONNX file.
        public var decoder: String
        /// Tokens file.
        public var tokens: String

        /// Finds the files in a folder.
        /// - Throws: ``DuplexError`` (`modelLoadFailed`) naming what is missing.
        public static func find(in directory: String) throws(DuplexError) -> Files {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                throw DuplexError(
                    .modelLoadFailed,
                    "Whisper model folder '\(directory)' does not exist; run scripts/setup.sh or `duplex models import-whisper`.")
            }
            func pick(_ part: String, suffix: String) throws(DuplexError) -> String {
                let candidates = names.filter { $0.contains(part) && $0.hasSuffix(suffix) }.sorted()
                guard let best = candidates.first(where: { $0.contains("int8") }) ?? candidates.first else {
                    throw DuplexError(.modelLoadFailed, "Whisper model folder '\(directory)' has no \(part) file (*\(part)*\(suffix)).")
                }
                return "\(directory)/\(best)"
            }
            return Files(
                encoder: try pick("encoder", suffix: ".onnx"), decoder: try pick("decoder", suffix: ".onnx"),
                tokens: try pick("tokens", suffix: ".txt"))
        }
    }

    /// Loads the model (blocking; well under a second for tiny/base int8).
    /// - Parameters:
    ///   - language: a hint such as `en` for multilingual models; empty lets Whisper detect it
    ///     (and is required for English-only `.en` models).
    public init(modelDirectory: String, language: String = "", inference: InferenceOptions = InferenceOptions()) throws(DuplexError) {
        let inference = try inference.validated()
        let files = try Files.find(in: modelDirectory)
        let strings = CStrings()
        var config = SherpaOnnxOfflineRecognizerConfig()
        config.feat_config.sample_rate = Int32(Self.sampleRate)
        config.feat_config.feature_dim = 80
        config.model_config.whisper.encoder = strings(files.encoder)
        config.model_config.whisper.decoder = strings(files.decoder)
        config.model_config.whisper.language = strings(language)
        config.model_config.whisper.task = strings("transcribe")
        config.model_config.whisper.tail_paddings = -1
        config.model_config.tokens = strings(files.tokens)
        config.model_config.num_threads = Int32(inference.threads)
        config.model_config.provider = strings(inference.provider)
        config.model_config.debug = 0
        config.decoding_method = strings("greedy_search")
        guard let handle = withExtendedLifetime(strings, { SherpaOnnxCreateOfflineRecognizer(&config) }) else {
            throw DuplexError(.modelLoadFailed, "sherpa-onnx could not load the Whisper model in '\(modelDirectory)'.")
        }
        self.handle = handle
        self.modelDirectory = modelDirectory
    }

    deinit {
        SherpaOnnxDestroyOfflineRecognizer(handle)
    }

    /// Transcribes one utterance of 16 kHz mono samples in [-1, 1] (blocking).
    public func transcribe(_ samples: [Float]) -> Transcription {
        let chunk = Int(Self.maxChunkSeconds * Double(Self.sampleRate))
        var texts: [String] = []
        var language: String?
        var start = 0
        while start < samples.count {
            let end = min(samples.count, start + chunk)
            let (text, lang) = decode(samples[start..<end])
            if !text.isEmpty { texts.append(text) }
            language = language ?? lang
            start = end
        }
        return Transcription(
            text: texts.joined(separator: " "), language: language,
            audioSeconds: Double(samples.count) / Double(Self.sampleRate))
    }

    private func decode(_ samples: ArraySlice<Float>) -> (String, String?) {
        guard let stream = SherpaOnnxCreateOfflineStream(handle) else { return ("", nil) }
        defer { SherpaOnnxDestroyOfflineStream(stream) }
        samples.withUnsafeBufferPointer { buffer in
            SherpaOnnxAcceptWaveformOffline(stream, Int32(Self.sampleRate), buffer.baseAddress, Int32(buffer.count))
        }
        SherpaOnnxDecodeOfflineStream(handle, stream)
        guard let result = SherpaOnnxGetOfflineStreamResult(stream) else { return ("", nil) }
        defer { SherpaOnnxDestroyOfflineRecognizerResult(result) }
        let text = result.pointee.text.map { String(cString: $0) } ?? ""
        let lang = result.pointee.lang.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        return (text.trimmingCharacters(in: .whitespacesAndNewlines), lang)
    }
}

import DuplexCore
import Foundation
import Synchronization

/// Smart Turn v3 (pipecat-ai, BSD-2-Clause): an end-of-turn classifier over the last 8 s
/// of a turn, run through onnxruntime.
///
/// Input: Whisper-style log-mel features (``LogMelFeatures``) of the last 8 s at 16 kHz,
/// left-padded with silence when the turn is shorter; output: the probability that the
/// turn is complete. About 50 ms per call on one core (the features take a few ms).
///
/// Thread-safe: the feature extractors are pooled, the onnxruntime session is shared.
public final class SmartTurnModel: EndOfTurnModel {
    /// Seconds of audio the model hears.
    public static let windowSeconds = 8
    /// The model file.
    public var path: String { model.path }
    private let model: ONNXModel
    private let extractors = Mutex<[LogMelFeatures]>([])
    private static let frames = windowSeconds * LogMelFeatures.sampleRate / LogMelFeatures.hop

    /// Loads the model and checks it with one call.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`: missing or invalid file, or a model that
    ///   is not shaped like Smart Turn v3).
    public init(path: String, threads: Int = 1) throws(DuplexError) {
        model = try ONNXModel(path: path, threads: threads)
        guard model.inputName == "input_features" else {
            throw DuplexError(.modelLoadFailed, "'\(path)' is not a Smart Turn v3 model (its input is '\(model.inputName)', not 'input_features').")
        }
        do throws(DuplexError) {
            _ = try completionProbability(of: [])
        } catch {
            throw DuplexError(.modelLoadFailed, "'\(path)' did not run as a Smart Turn v3 model: \(error.message)")
        }
    }

    /// The probability that the turn in `audio` is complete.
    public func completionProbability(of audio: [Float]) throws(DuplexError) -> Float {
        // Each call takes an extractor (its ~1 MB of buffers) from the pool and returns it.
        var extractor = extractors.withLock { $0.popLast() } ?? LogMelFeatures(frames: Self.frames)
        let features = extractor.compute(Self.window(audio))
        extractors.withLock { $0.append(extractor) }
        return try completionProbability(features: features)
    }

    /// The probability from already computed ``features(of:)`` (for reference checks).
    public func completionProbability(features: [Float]) throws(DuplexError) -> Float {
        let output = try model.run(features, shape: [1, Int64(LogMelFeatures.melBins), Int64(Self.frames)], outputCount: 1)
        guard let probability = output.first, probability.isFinite else {
            throw DuplexError(.internal, "Smart Turn returned no probability.")
        }
        return min(1, max(0, probability))
    }

    /// The features of audio as the model would see it (for reference checks).
    public static func features(of audio: [Float]) -> [Float] {
        var extractor = LogMelFeatures(frames: frames)
        return extractor.compute(window(audio))
    }

    /// The last 8 s of `audio`, left-padded with silence.
    private static func window(_ audio: [Float]) -> [Float] {
        let samples = windowSeconds * LogMelFeatures.sampleRate
        if audio.count >= samples { return Array(audio[(audio.count - samples)...]) }
        return [Float](repeating: 0, count: samples - audio.count) + audio
    }
}

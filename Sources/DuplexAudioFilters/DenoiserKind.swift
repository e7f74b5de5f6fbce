import DuplexCore

/// The noise suppressor on the microphone path: the values of `input.denoise`.
public enum DenoiserKind: String, Sendable, Hashable, CaseIterable {
    /// No noise suppression.
    case none
    /// DeepFilterNet 3 (best quality, about 1 ms of CPU per 10 ms of audio).
    case deepfilternet
    /// RNNoise (lighter, less suppression of non-stationary noise).
    case rnnoise

    /// Creates a denoiser for one session from the files in `directory`, or `nil` for
    /// ``none``.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when a file is missing or unusable; the
    ///   message names `input.denoise` and says to run `scripts/install-models.sh`.
    public func makeDenoiser(directory: String) throws(DuplexError) -> (any Denoiser)? {
        switch self {
        case .none: nil
        case .deepfilternet: try DeepFilterNetDenoiser(directory: directory)
        case .rnnoise: try RNNoiseDenoiser(directory: directory)
        }
    }
}

import DuplexCore

/// Where and how ONNX inference runs: the onnxruntime execution provider and thread count.
///
/// `provider` is passed to sherpa-onnx as is. The CPU build installed by `scripts/setup.sh`
/// supports `cpu`; a CUDA build of sherpa-onnx accepts `cuda` (and falls back to the CPU with
/// a warning when no GPU is present).
public struct InferenceOptions: Sendable, Hashable {
    /// Providers sherpa-onnx knows.
    public static let knownProviders: Set<String> = ["cpu", "cuda", "coreml", "directml", "trt", "xnnpack", "nnapi"]

    /// The onnxruntime execution provider (`cpu`, `cuda`, …).
    public var provider: String
    /// Intra-op threads per inference call (1–64).
    public var threads: Int

    /// Creates options; validated by ``validated()``.
    public init(provider: String = "cpu", threads: Int = 2) {
        self.provider = provider
        self.threads = threads
    }

    /// Returns the options if they are usable.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming the bad value.
    public func validated() throws(DuplexError) -> InferenceOptions {
        guard Self.knownProviders.contains(provider) else {
            throw DuplexError(
                .invalidConfiguration,
                "Unknown inference provider '\(provider)'; use one of \(Self.knownProviders.sorted().joined(separator: ", ")).")
        }
        guard (1...64).contains(threads) else {
            throw DuplexError(.invalidConfiguration, "Inference threads must be 1–64 (got \(threads)).")
        }
        return self
    }
}

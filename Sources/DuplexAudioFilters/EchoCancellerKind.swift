import DuplexCore

/// The echo canceller on the microphone path: the values of `input.echo_cancel`.
public enum EchoCancellerKind: String, Sendable, Hashable, CaseIterable {
    /// No echo cancellation (the client cancels echo itself, or uses headphones).
    case none
    /// SpeexDSP's acoustic echo canceller with residual echo suppression (``EchoCanceller``).
    case speex

    /// Creates an echo canceller for one session, or `nil` for ``none``.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for settings out of range.
    public func makeEchoCanceller(
        configuration: EchoCanceller.Configuration = EchoCanceller.Configuration()
    ) throws(DuplexError) -> EchoCanceller? {
        switch self {
        case .none: nil
        case .speex: try EchoCanceller(configuration: configuration)
        }
    }
}

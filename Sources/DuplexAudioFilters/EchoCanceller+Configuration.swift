extension EchoCanceller {
    /// Settings of an ``EchoCanceller``; the defaults suit a client a local network away.
    public struct Configuration: Sendable, Hashable {
        /// The longest echo path the adaptive filter models: from the moment reply audio is
        /// handed to ``EchoCanceller/playback(_:)`` until its echo is in the microphone audio
        /// given to ``EchoCanceller/capture(_:)`` (network round trip, the client's playback
        /// and capture buffers, and the room's reverberation). Default 300 ms; the cost
        /// grows with it. 20 ms ... 2 s.
        public var tail: Duration
        /// The most reply audio queued ahead of the microphone (sent, not yet played).
        /// Default 30 s; audio beyond it is not cancelled.
        public var playbackLimit: Duration
        /// Attenuation of the echo left after the adaptive filter, in dB (negative),
        /// while the user is silent. Default -40.
        public var echoSuppression: Int
        /// The same while the user speaks (double talk): milder, so the user's speech
        /// survives. Default -15.
        public var echoSuppressionWhileSpeaking: Int

        /// Creates a configuration.
        public init(
            tail: Duration = .milliseconds(300),
            playbackLimit: Duration = .seconds(30),
            echoSuppression: Int = -40,
            echoSuppressionWhileSpeaking: Int = -15
        ) {
            self.tail = tail
            self.playbackLimit = playbackLimit
            self.echoSuppression = echoSuppression
            self.echoSuppressionWhileSpeaking = echoSuppressionWhileSpeaking
        }
    }
}

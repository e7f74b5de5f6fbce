import DuplexCore

/// Creates the ``StreamingAudioEncoder`` for an ``AudioFormat``.
public enum AudioEncoders {
    /// Sample rates every encoder accepts (the server feeds 24 kHz, as OpenAI's API does).
    public static let supportedSampleRates: Set<Int> = [8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000]

    /// Creates an encoder for mono s16 input at `sampleRate`.
    /// - Throws: ``DuplexError`` `invalidConfiguration` for an unsupported sample rate,
    ///   `internal` when a codec library refuses to start.
    public static func make(_ format: AudioFormat, sampleRate: Int) throws(DuplexError) -> any StreamingAudioEncoder {
        guard supportedSampleRates.contains(sampleRate) else {
            let rates = supportedSampleRates.sorted().map(String.init).joined(separator: ", ")
            throw DuplexError(.invalidConfiguration, "Cannot encode \(format.rawValue) at \(sampleRate) Hz; supported rates: \(rates).")
        }
        switch format {
        case .wav: return WAVStreamEncoder(sampleRate: sampleRate)
        case .pcm: return PCMStreamEncoder(sampleRate: sampleRate)
        case .opus: return try OggOpusEncoder(sampleRate: sampleRate)
        case .mp3: return try MP3StreamEncoder(sampleRate: sampleRate)
        case .flac: return try FLACStreamEncoder(sampleRate: sampleRate)
        }
    }
}

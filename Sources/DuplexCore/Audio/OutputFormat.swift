/// The fixed audio format that leaves every Duplex worker and reaches every client:
/// 20 ms frames of 48 kHz mono signed 16-bit little-endian PCM.
public enum OutputFormat {
    /// Samples per second of all output audio.
    public static let sampleRate = 48_000
    /// Duration of one frame in milliseconds.
    public static let frameMilliseconds = 20
    /// Samples in one full frame (960).
    public static let samplesPerFrame = sampleRate * frameMilliseconds / 1000
    /// Bytes in one full frame (1920).
    public static let bytesPerFrame = samplesPerFrame * 2
    /// Duration of one frame.
    public static let frameDuration = Duration.milliseconds(frameMilliseconds)
}

import DuplexCore

/// The PCM format an `audio-start` or `audio-chunk` declares: `rate` (Hz), `width` (bytes
/// per sample: 1 unsigned, 2 or 4 signed little-endian) and `channels` (interleaved).
public struct WyomingAudioFormat: Sendable, Hashable {
    /// Samples per second.
    public var rate: Int
    /// Bytes per sample.
    public var width: Int
    /// Interleaved channels.
    public var channels: Int

    /// Creates a format.
    public init(rate: Int, width: Int, channels: Int) {
        self.rate = rate
        self.width = width
        self.channels = channels
    }

    /// What Duplex sends: the engine's frames, 48 kHz s16le mono.
    public static let output = WyomingAudioFormat(rate: OutputFormat.sampleRate, width: 2, channels: 1)

    /// Reads and checks the format in an event's data.
    /// - Throws: ``DuplexError`` (`invalidAudio`) naming the bad field.
    public init(data: [String: JSONValue]) throws(DuplexError) {
        guard let rate = data["rate"]?.int, let width = data["width"]?.int, let channels = data["channels"]?.int else {
            throw DuplexError(.invalidAudio, "Audio events need integer rate, width and channels.")
        }
        guard (1000...384_000).contains(rate) else {
            throw DuplexError(.invalidAudio, "Audio rate \(rate) Hz is not supported (1000–384000).")
        }
        guard [1, 2, 4].contains(width) else {
            throw DuplexError(.invalidAudio, "Audio width \(width) is not supported (1, 2 or 4 bytes per sample).")
        }
        guard (1...16).contains(channels) else {
            throw DuplexError(.invalidAudio, "Audio channels \(channels) is not supported (1–16).")
        }
        self.init(rate: rate, width: width, channels: channels)
    }

    /// The format as event data.
    public var data: [String: JSONValue] {
        ["rate": .int(rate), "width": .int(width), "channels": .int(channels)]
    }

    /// Bytes of one sample frame (all channels).
    var frameBytes: Int { width * channels }
}

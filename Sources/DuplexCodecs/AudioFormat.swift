/// The audio formats Duplex encodes, named as OpenAI's `response_format` names them.
///
/// `aac` is absent on purpose: no library Debian ships encodes AAC (only ffmpeg does).
public enum AudioFormat: String, Sendable, Hashable, CaseIterable {
    /// RIFF/WAVE, 16-bit PCM, streamed with unknown-length sizes (see ``WAVStreamEncoder``).
    case wav
    /// Raw signed 16-bit little-endian mono PCM, no header.
    case pcm
    /// Opus in an Ogg container (RFC 7845).
    case opus
    /// MPEG-1/2 Layer III, constant bit rate.
    case mp3
    /// FLAC, 16-bit, as a stream without seek-back (STREAMINFO totals left unknown).
    case flac

    /// The HTTP `Content-Type` of a response in this format.
    public var contentType: String {
        switch self {
        case .wav: "audio/wav"
        case .pcm: "audio/pcm"
        case .opus: "audio/ogg"
        case .mp3: "audio/mpeg"
        case .flac: "audio/flac"
        }
    }

    /// The supported names, comma-separated, for error messages (`"wav, pcm, opus, mp3, flac"`).
    public static let supportedNames: String = allCases.map(\.rawValue).joined(separator: ", ")
}

import DuplexCore
import Foundation

/// Decodes uploaded audio files (for transcription) to mono float samples.
///
/// The container is recognized from its magic bytes (``AudioContainer``):
/// - wav, aiff, flac, ogg (Vorbis, Opus, FLAC), mp3: libsndfile over the in-memory bytes
///   (Debian's libsndfile 1.2 reads mp3 through mpg123 and Ogg Opus through libopus);
/// - webm/Matroska with Opus audio (browsers' MediaRecorder, e.g. Open WebUI's uploads):
///   a small EBML demuxer and libopus at 48 kHz, honouring pre-skip and discard padding;
/// - m4a/mp4 and ADTS (AAC) are refused: no library Debian ships decodes AAC except ffmpeg.
///
/// Any bad input (empty, garbage, truncated headers, corrupt packets) throws
/// ``DuplexError`` `invalidAudio`; decoded audio longer than `maxSeconds` throws
/// `messageTooLarge` as soon as the limit is passed, so a small compressed file cannot
/// expand into gigabytes of samples. A file truncated in the middle of its audio decodes
/// to the audio before the cut.
///
/// ```swift
/// let audio = try AudioFileDecoder.decode(upload, maxSeconds: 600)
/// let pcm16k = try audio.whisperSamples()
/// ```
public enum AudioFileDecoder {
    /// The default cap on decoded audio (one hour).
    public static let defaultMaxSeconds: Double = 3_600

    /// Decodes a whole file held in memory.
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - maxSeconds: the longest audio accepted; longer audio throws `messageTooLarge`.
    public static func decode(_ data: Data, maxSeconds: Double = defaultMaxSeconds) throws(DuplexError) -> DecodedAudio {
        guard !data.isEmpty else {
            throw DuplexError(.invalidAudio, "The audio file is empty. Supported: \(AudioContainer.decodableNames).")
        }
        let container = AudioContainer.detect(data)
        switch container {
        case .mp4:
            throw DuplexError(
                .invalidAudio,
                "m4a/mp4 (AAC) audio cannot be decoded by this server (no AAC decoder is available). Supported: \(AudioContainer.decodableNames).")
        case .adts:
            throw DuplexError(
                .invalidAudio,
                "AAC audio cannot be decoded by this server (no AAC decoder is available). Supported: \(AudioContainer.decodableNames).")
        case .webm:
            return try WebMOpusDecoder.decode([UInt8](data), maxSeconds: maxSeconds)
        case .wav, .flac, .ogg, .mp3, .aiff:
            return try SndfileDecoder.decode(data, container: container, maxSeconds: maxSeconds)
        case .unknown:
            throw DuplexError(
                .invalidAudio, "Unrecognized audio format (the file does not start like any known container). Supported: \(AudioContainer.decodableNames).")
        }
    }

    /// The most frames `maxSeconds` allows at `sampleRate` (any non-finite or huge cap is
    /// clamped, so the multiplication cannot trap).
    static func frameLimit(maxSeconds: Double, sampleRate: Int) -> Int {
        let frames = maxSeconds * Double(sampleRate)
        guard frames.isFinite else { return frames > 0 ? Int.max / 4 : 0 }
        return Int(max(0, min(frames, Double(Int.max / 4))))
    }

    static func tooLong(maxSeconds: Double) -> DuplexError {
        DuplexError(.messageTooLarge, "The audio is longer than the \(Int(maxSeconds)) s this server accepts; send a shorter file.")
    }
}

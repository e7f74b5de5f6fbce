/// The container of an uploaded audio file, recognized from its first bytes.
public enum AudioContainer: String, Sendable, Hashable {
    /// RIFF/WAVE.
    case wav
    /// Native FLAC (`fLaC`).
    case flac
    /// Ogg (Vorbis, Opus or FLAC inside).
    case ogg
    /// MPEG audio (an ID3v2 tag or a Layer I/II/III frame sync).
    case mp3
    /// AIFF/AIFC (`FORM`).
    case aiff
    /// WebM/Matroska (EBML magic `1A 45 DF A3`), as browsers' MediaRecorder writes.
    case webm
    /// ISO base media (`ftyp`: m4a, mp4, 3gp), usually AAC: not decodable with Debian's libraries.
    case mp4
    /// Raw AAC in ADTS frames: not decodable with Debian's libraries.
    case adts
    /// Anything else.
    case unknown

    /// The formats uploads may use, for error messages.
    public static let decodableNames = "wav, mp3, ogg (Vorbis or Opus), flac, webm (Opus, as browsers record), aiff"

    /// Recognizes the container from the first bytes of a file.
    public static func detect<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> AudioContainer {
        let head = Array(bytes.prefix(12))
        func matches(_ tag: String, at offset: Int = 0) -> Bool {
            let utf8 = Array(tag.utf8)
            return head.count >= offset + utf8.count && Array(head[offset..<offset + utf8.count]) == utf8
        }
        if matches("RIFF"), matches("WAVE", at: 8) { return .wav }
        if matches("fLaC") { return .flac }
        if matches("OggS") { return .ogg }
        if matches("FORM"), matches("AIFF", at: 8) || matches("AIFC", at: 8) { return .aiff }
        if head.starts(with: [0x1A, 0x45, 0xDF, 0xA3]) { return .webm }
        if matches("ftyp", at: 4) { return .mp4 }
        if matches("ID3") { return .mp3 }
        if head.count >= 2, head[0] == 0xFF, head[1] & 0xE0 == 0xE0 {
            // The layer bits are 00 in ADTS (AAC) headers and 01–11 for MPEG Layer III–I.
            return head[1] & 0x06 == 0 ? .adts : .mp3
        }
        return .unknown
    }
}

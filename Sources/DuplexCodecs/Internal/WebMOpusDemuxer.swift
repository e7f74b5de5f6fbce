import DuplexCore

/// A minimal WebM/Matroska demuxer for the first audio track, which must be Opus.
///
/// It walks Segment → Tracks (TrackEntry: TrackNumber, TrackType, CodecID `A_OPUS`,
/// CodecPrivate = `OpusHead`, CodecDelay, Audio/Channels) → Clusters → SimpleBlock and
/// BlockGroup/Block (+ DiscardPadding). Segment and Cluster are entered rather than skipped,
/// so "unknown size" (live-written) files work; all lacing modes are unpacked. Everything
/// else is skipped by its size.
struct WebMOpusDemuxer {
    /// One Opus packet and the 48 kHz samples to drop from the end of its output.
    struct Packet {
        var range: Range<Int>
        var discardSamples: Int
    }

    /// The audio track's description and packets.
    struct Stream {
        var opusHead: [UInt8]?
        var channels: Int
        var codecDelaySamples: Int
        var packets: [Packet]
    }

    private enum ID {
        static let ebml: UInt32 = 0x1A45_DFA3
        static let docType: UInt32 = 0x4282
        static let segment: UInt32 = 0x1853_8067
        static let cluster: UInt32 = 0x1F43_B675
        static let tracks: UInt32 = 0x1654_AE6B
        static let trackEntry: UInt32 = 0xAE
        static let trackNumber: UInt32 = 0xD7
        static let trackType: UInt32 = 0x83
        static let codecID: UInt32 = 0x86
        static let codecPrivate: UInt32 = 0x63A2
        static let codecDelay: UInt32 = 0x56AA
        static let audio: UInt32 = 0xE1
        static let channels: UInt32 = 0x9F
        static let simpleBlock: UInt32 = 0xA3
        static let blockGroup: UInt32 = 0xA0
        static let block: UInt32 = 0xA1
        static let discardPadding: UInt32 = 0x75A2
    }

    private let reader: EBMLReader
    private var bytes: [UInt8] { reader.bytes }

    init(_ bytes: [UInt8]) {
        reader = EBMLReader(bytes: bytes)
    }

    /// Demuxes the whole file.
    func demux() throws(DuplexError) -> Stream {
        guard let ebml = reader.header(at: 0), ebml.id == ID.ebml, let ebmlSize = ebml.size,
              ebml.dataStart + ebmlSize <= bytes.count
        else { throw malformed("the EBML header is cut off or malformed") }
        let docType = children(of: ebml.dataStart..<ebml.dataStart + ebmlSize)
            .first { $0.id == ID.docType }.map { reader.string($0.range) } ?? "matroska"
        guard docType == "webm" || docType == "matroska" else {
            throw malformed("its EBML document type is '\(docType)', not webm or matroska")
        }

        var track: (number: UInt64, stream: Stream)?
        var offset = ebml.dataStart + ebmlSize
        while offset < bytes.count, let header = reader.header(at: offset) {
            let end = header.size.map { header.dataStart + $0 }
            switch header.id {
            case ID.segment, ID.cluster:
                offset = header.dataStart  // enter: its children follow
                continue
            case ID.tracks:
                guard let end, end <= bytes.count else { throw malformed("its Tracks element is cut off") }
                track = try audioTrack(in: header.dataStart..<end)
            case ID.simpleBlock:
                guard let end, end <= bytes.count else { break }  // cut off mid-block: keep what came before
                if let number = track?.number, let packets = blockPackets(header.dataStart..<end, track: number) {
                    track?.stream.packets += packets.map { Packet(range: $0, discardSamples: 0) }
                }
            case ID.blockGroup:
                guard let end, end <= bytes.count else { break }
                guard let number = track?.number else { break }
                let parts = children(of: header.dataStart..<end)
                let discard = parts.first { $0.id == ID.discardPadding }.map { reader.signed($0.range) } ?? 0
                for part in parts where part.id == ID.block {
                    guard let packets = blockPackets(part.range, track: number) else { continue }
                    for (i, range) in packets.enumerated() {
                        let last = i == packets.count - 1
                        track?.stream.packets.append(
                            Packet(range: range, discardSamples: last ? Self.samples48k(nanoseconds: discard) : 0))
                    }
                }
            default:
                if header.size == nil {  // an unknown-size master element: enter it
                    offset = header.dataStart
                    continue
                }
            }
            guard let end, end <= bytes.count else { break }
            offset = end
        }
        guard let track else { throw malformed("it has no Tracks element before its audio") }
        return track.stream
    }

    /// The first audio track, which must be Opus.
    private func audioTrack(in range: Range<Int>) throws(DuplexError) -> (number: UInt64, stream: Stream) {
        for entry in children(of: range) where entry.id == ID.trackEntry {
            let fields = children(of: entry.range)
            func field(_ id: UInt32) -> Range<Int>? { fields.first { $0.id == id }?.range }
            guard let type = field(ID.trackType), reader.unsigned(type) == 2 else { continue }
            let codec = field(ID.codecID).map { reader.string($0) } ?? ""
            guard codec == "A_OPUS" else {
                throw DuplexError(
                    .invalidAudio,
                    "The WebM audio track uses codec '\(codec)'; only Opus (A_OPUS) is decodable. Supported: \(AudioContainer.decodableNames).")
            }
            guard let number = field(ID.trackNumber).map({ reader.unsigned($0) }) else {
                throw malformed("its audio track has no TrackNumber")
            }
            let channels = field(ID.audio)
                .flatMap { audio in children(of: audio).first { $0.id == ID.channels } }
                .map { Int(reader.unsigned($0.range)) } ?? 1
            let delayNanoseconds = field(ID.codecDelay).map { reader.unsigned($0) } ?? 0
            let stream = Stream(
                opusHead: field(ID.codecPrivate).map { Array(bytes[$0]) },
                channels: channels,
                codecDelaySamples: Self.samples48k(nanoseconds: Int64(min(delayNanoseconds, 1_000_000_000))),
                packets: [])
            return (number, stream)
        }
        throw DuplexError(.invalidAudio, "The WebM file has no audio track. Supported: \(AudioContainer.decodableNames).")
    }

    /// The frames of a (Simple)Block for `track`, unlaced; nil for other tracks or malformed blocks.
    private func blockPackets(_ range: Range<Int>, track: UInt64) -> [Range<Int>]? {
        guard let (number, length) = reader.variableInteger(at: range.lowerBound, keepMarker: false),
              number == track
        else { return nil }
        let flagsOffset = range.lowerBound + length + 2
        guard flagsOffset < range.upperBound else { return nil }
        let lacing = (bytes[flagsOffset] >> 1) & 0x03
        var offset = flagsOffset + 1
        if lacing == 0 { return [offset..<range.upperBound] }

        guard offset < range.upperBound else { return nil }
        let count = Int(bytes[offset]) + 1
        offset += 1
        var sizes: [Int] = []
        switch lacing {
        case 1:  // Xiph: each size as a run of 255s plus a final byte
            for _ in 0..<count - 1 {
                var size = 0
                while true {
                    guard offset < range.upperBound else { return nil }
                    let byte = Int(bytes[offset])
                    offset += 1
                    size += byte
                    if byte < 255 { break }
                }
                sizes.append(size)
            }
        case 3:  // EBML: first size, then signed differences
            guard count > 1 else { break }
            guard let (first, firstLength) = reader.variableInteger(at: offset, keepMarker: false) else { return nil }
            offset += firstLength
            var size = Int(first)
            guard size <= range.count else { return nil }
            sizes.append(size)
            for _ in 0..<count - 2 {
                guard let (raw, rawLength) = reader.variableInteger(at: offset, keepMarker: false) else { return nil }
                offset += rawLength
                let bias = (1 << (7 * rawLength - 1)) - 1
                size += Int(raw) - bias
                guard size >= 0, size <= range.count else { return nil }
                sizes.append(size)
            }
        default:  // fixed: equal sizes
            let total = range.upperBound - offset
            guard total % count == 0 else { return nil }
            sizes = Array(repeating: total / count, count: count - 1)
        }
        let used = sizes.reduce(0, +)
        guard offset + used <= range.upperBound else { return nil }
        sizes.append(range.upperBound - offset - used)
        var frames: [Range<Int>] = []
        for size in sizes {
            frames.append(offset..<offset + size)
            offset += size
        }
        return frames
    }

    /// A duration in nanoseconds as 48 kHz samples (negative → 0, capped at one second).
    private static func samples48k(nanoseconds: Int64) -> Int {
        Int(min(max(0, nanoseconds), 1_000_000_000) * 48_000 / 1_000_000_000)
    }

    /// The direct children of a master element's data (stops at the first malformed header).
    private func children(of range: Range<Int>) -> [(id: UInt32, range: Range<Int>)] {
        var result: [(id: UInt32, range: Range<Int>)] = []
        var offset = range.lowerBound
        while offset < range.upperBound, let header = reader.header(at: offset),
              let size = header.size, header.dataStart + size <= range.upperBound {
            result.append((header.id, header.dataStart..<header.dataStart + size))
            offset = header.dataStart + size
        }
        return result
    }

    private func malformed(_ reason: String) -> DuplexError {
        DuplexError(.invalidAudio, "Cannot read the WebM file: \(reason).")
    }
}

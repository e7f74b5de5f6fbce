import CSndfile
import DuplexCore
import Foundation

/// Decodes a whole in-memory file with libsndfile's virtual I/O (wav, aiff, flac,
/// ogg vorbis/opus/flac, mp3 through mpg123).
enum SndfileDecoder {
    /// The bytes libsndfile reads through the virtual I/O callbacks.
    private final class MemoryFile {
        let data: Data
        var position = 0
        init(data: Data) { self.data = data }
    }

    static func decode(_ data: Data, container: AudioContainer, maxSeconds: Double) throws(DuplexError) -> DecodedAudio {
        let file = MemoryFile(data: data)
        var io = SF_VIRTUAL_IO(
            get_filelen: { user in
                sf_count_t(Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue().data.count)
            },
            seek: { offset, whence, user in
                let file = Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue()
                let base: Int
                switch whence {
                case SEEK_CUR: base = file.position
                case SEEK_END: base = file.data.count
                default: base = 0
                }
                let target = base + Int(offset)
                guard target >= 0 else { return -1 }
                file.position = target
                return sf_count_t(target)
            },
            read: { pointer, count, user in
                let file = Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue()
                guard let pointer, count > 0, file.position < file.data.count else { return 0 }
                let length = min(Int(count), file.data.count - file.position)
                let start = file.data.startIndex + file.position
                file.data.copyBytes(to: pointer.assumingMemoryBound(to: UInt8.self), from: start..<start + length)
                file.position += length
                return sf_count_t(length)
            },
            write: { _, _, _ in 0 },
            tell: { user in
                sf_count_t(Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue().position)
            })
        var info = SF_INFO()
        let handle = withExtendedLifetime(file) {
            sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(file).toOpaque())
        }
        guard let handle else {
            let reason = String(cString: sf_strerror(nil))
            throw DuplexError(
                .invalidAudio,
                "Cannot decode the \(container.rawValue) audio: \(reason). Supported: \(AudioContainer.decodableNames).")
        }
        defer {
            sf_close(handle)
            withExtendedLifetime(file) {}  // the callbacks read `file` until the handle is closed
        }

        let channels = Int(info.channels)
        let rate = Int(info.samplerate)
        guard channels > 0, rate > 0 else {
            throw DuplexError(.invalidAudio, "The \(container.rawValue) audio declares \(channels) channels at \(rate) Hz.")
        }
        let maxFrames = AudioFileDecoder.frameLimit(maxSeconds: maxSeconds, sampleRate: rate)
        var samples: [Float] = []
        if info.frames > 0, info.frames < Int64(maxFrames) {
            samples.reserveCapacity(Int(info.frames))
        }
        let chunkFrames = 8_192
        var chunk = [Float](repeating: 0, count: chunkFrames * channels)
        while true {
            let read = chunk.withUnsafeMutableBufferPointer { buffer in
                Int(sf_readf_float(handle, buffer.baseAddress, sf_count_t(chunkFrames)))
            }
            if read <= 0 { break }
            if samples.count + read > maxFrames {
                throw AudioFileDecoder.tooLong(maxSeconds: maxSeconds)
            }
            if channels == 1 {
                samples.append(contentsOf: chunk[0..<read])
            } else {
                let scale = 1 / Float(channels)
                for frame in 0..<read {
                    var sum: Float = 0
                    for channel in 0..<channels { sum += chunk[frame * channels + channel] }
                    samples.append(sum * scale)
                }
            }
        }
        let status = sf_error(handle)
        if samples.isEmpty, status != 0 {
            throw DuplexError(
                .invalidAudio, "Cannot decode the \(container.rawValue) audio: \(String(cString: sf_error_number(status))).")
        }
        return DecodedAudio(samples: samples, sampleRate: rate, container: container, sourceChannels: channels)
    }
}

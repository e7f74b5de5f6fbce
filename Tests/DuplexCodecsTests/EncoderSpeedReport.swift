import DuplexCodecs
import DuplexCore
import Foundation
import Testing

@Suite("Encoder speed (printed, not asserted)")
struct EncoderSpeedReport {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// CPU time of the calling thread, which a loaded machine does not inflate as it does wall time.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    @Test("Real-time factor of each encoder on 10 s of 24 kHz audio in 40 ms chunks")
    func realTimeFactor() throws {
        let input = TestSignal.tones(seconds: 10, sampleRate: 24_000)
        let clock = ContinuousClock()
        for format in AudioFormat.allCases {
            var chunks: [[UInt8]] = []
            var tail: [UInt8] = []
            let cpuStart = Self.threadCPUSeconds()
            let encode = try clock.measure {
                (chunks, tail) = try TestSignal.encode(input, format: format, sampleRate: 24_000)
            }
            let cpu = Self.threadCPUSeconds() - cpuStart
            var file: [UInt8] = []
            for chunk in chunks { file.append(contentsOf: chunk) }
            file.append(contentsOf: tail)
            var decodeText = "n/a"
            if format != .pcm {
                let data = Data(file)
                let decode = try clock.measure { _ = try AudioFileDecoder.decode(data) }
                decodeText = String(format: "%.1f ms", Self.seconds(decode) * 1000)
            }
            print(String(
                format: "codec-speed %@: encode RTF %.4f CPU (%.1f ms CPU, %.1f ms wall for 10 s), %.1f kbit/s, decode %@",
                format.rawValue, cpu / 10, cpu * 1000, Self.seconds(encode) * 1000,
                Double(file.count) * 8 / 10 / 1000, decodeText))
            #expect(!file.isEmpty)
        }
    }
}

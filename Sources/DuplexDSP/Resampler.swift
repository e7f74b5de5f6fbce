import CSoxr
import DuplexCore

/// A streaming, high-quality mono resampler (libsoxr, "HQ" quality: 20-bit precision,
/// steep anti-aliasing filter, linear phase).
///
/// Feed it any chunk sizes with ``process(_:)``; the output is sample-for-sample the same
/// as resampling the concatenated input in one go, so chunk boundaries never click.
/// Call ``flush()`` at the end of a stream to get the filter's tail, then the resampler
/// is ready for a new stream.
///
/// Not thread-safe: one resampler belongs to one stream (one task).
public final class Resampler {
    /// Input sample rate in Hz.
    public let inputRate: Int
    /// Output sample rate in Hz.
    public let outputRate: Int
    private let handle: soxr_t?
    private var scratch: [Float] = []

    /// Creates a resampler.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) for unsupported rates.
    public init(from inputRate: Int, to outputRate: Int) throws(DuplexError) {
        guard inputRate > 0, outputRate > 0 else {
            throw DuplexError(.invalidConfiguration, "Sample rates must be positive (got \(inputRate) → \(outputRate)).")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        if inputRate == outputRate {
            handle = nil
            return
        }
        var error: soxr_error_t? = nil
        var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var quality = soxr_quality_spec(UInt(SOXR_HQ), 0)
        var runtime = soxr_runtime_spec(1)
        let created = soxr_create(Double(inputRate), Double(outputRate), 1, &error, &io, &quality, &runtime)
        guard error == nil, let created else {
            let reason = error.map { String(cString: $0) } ?? "unknown"
            throw DuplexError(.internal, "libsoxr could not create a \(inputRate)→\(outputRate) Hz resampler: \(reason)")
        }
        handle = created
    }

    deinit {
        if let handle { soxr_delete(handle) }
    }

    /// Resamples a chunk and returns the output produced so far.
    public func process(_ input: [Float]) -> [Float] {
        var output: [Float] = []
        process(input, into: &output)
        return output
    }

    /// Resamples a chunk, appending the produced output to `output`.
    public func process(_ input: [Float], into output: inout [Float]) {
        guard let handle else {
            output.append(contentsOf: input)
            return
        }
        guard !input.isEmpty else { return }
        let capacity = Int((Double(input.count) * Double(outputRate) / Double(inputRate)).rounded(.up)) + 64
        run(handle, input: input, capacity: capacity, into: &output)
    }

    /// Ends the stream: returns the remaining output and resets for a new stream.
    public func flush() -> [Float] {
        guard let handle else { return [] }
        var output: [Float] = []
        var produced = 0
        repeat {
            let start = output.count
            output.append(contentsOf: repeatElement(0, count: 4096))
            var done = 0
            output.withUnsafeMutableBufferPointer { out in
                _ = soxr_process(handle, nil, 0, nil, out.baseAddress! + start, 4096, &done)
            }
            output.removeLast(4096 - done)
            produced = done
        } while produced > 0
        soxr_clear(handle)
        return output
    }

    private func run(_ handle: soxr_t, input: [Float], capacity: Int, into output: inout [Float]) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: capacity))
        var consumed = 0
        var produced = 0
        input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                _ = soxr_process(
                    handle, inBuffer.baseAddress, inBuffer.count, &consumed,
                    outBuffer.baseAddress! + start, capacity, &produced)
            }
        }
        output.removeLast(capacity - produced)
    }
}

import Foundation

/// A real-input FFT of any size whose factors are small primes (Whisper's 400 = 2⁴·5²),
/// returning the power spectrum (|X[k]|², k = 0…n/2).
///
/// The n-point real transform runs as an n/2-point complex transform of the even and odd
/// samples packed together, then split (the usual real-FFT identity), so each frame costs
/// about (n/2)·Σfactors complex multiply-adds. The complex transform is a mixed-radix
/// decimation in time over precomputed twiddles, in `Double` (the features it feeds are
/// compared with numpy's float64 reference).
///
/// A value with scratch buffers: give each thread its own copy.
public struct RealFFT: Sendable {
    /// The transform size.
    public let size: Int
    private let half: Int
    private let factors: [Int]
    /// e^(-2πi·j/half), j < half.
    private let twiddleRe: [Double], twiddleIm: [Double]
    /// e^(-2πi·k/size), k ≤ half: the split step's twiddles.
    private let splitRe: [Double], splitIm: [Double]
    private var re: [Double], im: [Double]
    private var scratchRe: [Double], scratchIm: [Double]

    /// Plans a transform of `size` samples.
    /// - Precondition: `size` is even and its half has only factors 2, 3, 4 and 5.
    public init(size: Int) {
        precondition(size >= 2 && size % 2 == 0, "RealFFT needs an even size")
        self.size = size
        half = size / 2
        var rest = half, factors: [Int] = []
        for factor in [4, 2, 3, 5] { while rest % factor == 0 { factors.append(factor); rest /= factor } }
        precondition(rest == 1, "RealFFT supports sizes whose half factors into 2, 3 and 5 (got \(size))")
        self.factors = factors
        twiddleRe = (0..<half).map { cos(-2 * Double.pi * Double($0) / Double(size / 2)) }
        twiddleIm = (0..<half).map { sin(-2 * Double.pi * Double($0) / Double(size / 2)) }
        splitRe = (0...half).map { cos(-2 * Double.pi * Double($0) / Double(size)) }
        splitIm = (0...half).map { sin(-2 * Double.pi * Double($0) / Double(size)) }
        re = [Double](repeating: 0, count: half)
        im = re
        scratchRe = re
        scratchIm = re
    }

    /// |X[k]|² for k = 0…size/2 of `input` (exactly `size` samples), written to `power`
    /// (at least size/2 + 1 values).
    public mutating func powerSpectrum(_ input: UnsafeBufferPointer<Double>, into power: UnsafeMutableBufferPointer<Double>) {
        precondition(input.count == size && power.count > half)
        // Pack: z[j] = x[2j] + i·x[2j+1], transformed in place.
        for j in 0..<half {
            scratchRe[j] = input[2 * j]
            scratchIm[j] = input[2 * j + 1]
        }
        transform()
        // Split: X[k] = (Z[k] + conj Z[n/2-k])/2 − i·W^k·(Z[k] − conj Z[n/2-k])/2.
        for k in 0...half {
            let a = k == half ? 0 : k, b = k == 0 ? 0 : half - k
            let zr = re[a], zi = im[a], cr = re[b % half], ci = -im[b % half]
            let er = (zr + cr) / 2, ei = (zi + ci) / 2
            let or = (zr - cr) / 2, oi = (zi - ci) / 2
            // −i·W·o: W = (wr, wi); W·o = (wr·or − wi·oi, wr·oi + wi·or); −i·(x + iy) = y − ix.
            let wr = splitRe[k], wi = splitIm[k]
            let pr = wr * or - wi * oi, pi = wr * oi + wi * or
            let xr = er + pi, xi = ei - pr
            power[k] = xr * xr + xi * xi
        }
    }

    /// The complex transform of `scratch` into `re`/`im`.
    private mutating func transform() {
        re.withUnsafeMutableBufferPointer { outRe in
            im.withUnsafeMutableBufferPointer { outIm in
                scratchRe.withUnsafeBufferPointer { inRe in
                    scratchIm.withUnsafeBufferPointer { inIm in
                        twiddleRe.withUnsafeBufferPointer { wRe in
                            twiddleIm.withUnsafeBufferPointer { wIm in
                                Self.step(
                                    inRe.baseAddress!, inIm.baseAddress!, stride: 1, count: half,
                                    outRe.baseAddress!, outIm.baseAddress!, factors: factors[...],
                                    wRe.baseAddress!, wIm.baseAddress!, total: half)
                            }
                        }
                    }
                }
            }
        }
    }

    /// One decimation-in-time level: `count` inputs spaced `stride` apart → `count` outputs.
    private static func step(
        _ inRe: UnsafePointer<Double>, _ inIm: UnsafePointer<Double>, stride: Int, count: Int,
        _ outRe: UnsafeMutablePointer<Double>, _ outIm: UnsafeMutablePointer<Double>, factors: ArraySlice<Int>,
        _ wRe: UnsafePointer<Double>, _ wIm: UnsafePointer<Double>, total: Int
    ) {
        if count == 1 {
            outRe[0] = inRe[0]
            outIm[0] = inIm[0]
            return
        }
        let radix = factors.first!
        let sub = count / radix
        for r in 0..<radix {
            step(inRe + r * stride, inIm + r * stride, stride: stride * radix, count: sub,
                 outRe + r * sub, outIm + r * sub, factors: factors.dropFirst(), wRe, wIm, total: total)
        }
        // X[k + q·sub] = Σ_r W_count^{r(k + q·sub)} · Y_r[k]; W_count = W_total^(total/count).
        let scale = total / count
        var sumRe = (0.0, 0.0, 0.0, 0.0, 0.0), sumIm = (0.0, 0.0, 0.0, 0.0, 0.0)
        for k in 0..<sub {
            withUnsafeMutableBytes(of: &sumRe) { sr in
                withUnsafeMutableBytes(of: &sumIm) { si in
                    let sRe = sr.bindMemory(to: Double.self), sIm = si.bindMemory(to: Double.self)
                    for q in 0..<radix {
                        var accRe = 0.0, accIm = 0.0
                        for r in 0..<radix {
                            let yr = outRe[r * sub + k], yi = outIm[r * sub + k]
                            let e = (r * (k + q * sub) * scale) % total
                            let wr = wRe[e], wi = wIm[e]
                            accRe += yr * wr - yi * wi
                            accIm += yr * wi + yi * wr
                        }
                        sRe[q] = accRe
                        sIm[q] = accIm
                    }
                    for q in 0..<radix {
                        outRe[q * sub + k] = sRe[q]
                        outIm[q * sub + k] = sIm[q]
                    }
                }
            }
        }
    }
}

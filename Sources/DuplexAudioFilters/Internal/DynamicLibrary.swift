import DuplexCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared library opened at run time with `dlopen`, so Duplex builds and runs without it
/// and only the sessions that ask for it (e.g. `input.denoise: rnnoise`) need it installed.
///
/// Each path is opened once per process and never closed: the handles live in a
/// process-wide cache, because `dlopen` state is process-global anyway and libraries with
/// thread-local destructors (the Rust runtime in libdeepfilter) cannot be unloaded safely.
///
/// `@unchecked Sendable`: the handle is immutable after `dlopen`, `dlsym` is thread-safe,
/// and the library is never unloaded, so resolved symbols stay valid on any thread.
final class DynamicLibrary: @unchecked Sendable {
    /// The path the library was opened from.
    let path: String
    private let handle: UnsafeMutableRawPointer

    private static let opened = Mutex<[String: DynamicLibrary]>([:])

    private init(path: String, handle: UnsafeMutableRawPointer) {
        self.path = path
        self.handle = handle
    }

    /// Opens `path` (or returns the handle opened earlier in this process).
    /// - Parameter setting: the configuration that needs the library, e.g.
    ///   `input.denoise: rnnoise`, named in the error message.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when the file is missing or not a
    ///   loadable library for this machine.
    static func open(_ path: String, for setting: String) throws(DuplexError) -> DynamicLibrary {
        let result: Result<DynamicLibrary, DuplexError> = opened.withLock { cache in
            if let library = cache[path] { return .success(library) }
            guard access(path, R_OK) == 0 else {
                return .failure(missingFile(path, for: setting))
            }
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
                let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
                return .failure(DuplexError(
                    .modelLoadFailed,
                    "\(setting) could not load '\(path)': \(reason). Re-run scripts/install-models.sh "
                        + "to reinstall it, or set \(settingKey(setting)) to none."))
            }
            let library = DynamicLibrary(path: path, handle: handle)
            cache[path] = library
            return .success(library)
        }
        return try result.get()
    }

    /// Resolves a C function; `T` must be the matching `@convention(c)` function type.
    /// - Throws: ``DuplexError`` (`modelLoadFailed`) when the library lacks the symbol
    ///   (a different or corrupt build).
    func function<T>(_ name: String, as type: T.Type, for setting: String) throws(DuplexError) -> T {
        guard let symbol = dlsym(handle, name) else {
            throw DuplexError(
                .modelLoadFailed,
                "\(setting): '\(path)' has no function \(name); it is not the expected build. "
                    + "Re-run scripts/install-models.sh --force to reinstall it.")
        }
        return unsafeBitCast(symbol, to: type)
    }

    /// The error for a library or model file that is not there.
    static func missingFile(_ path: String, for setting: String) -> DuplexError {
        DuplexError(
            .modelLoadFailed,
            "\(setting) needs '\(path)', which is missing or unreadable. Run scripts/install-models.sh "
                + "(it installs the noise-suppression files into $DUPLEX_DEPS/models/denoise), "
                + "or set \(settingKey(setting)) to none.")
    }

    /// `input.denoise` from `input.denoise: rnnoise`.
    private static func settingKey(_ setting: String) -> Substring {
        setting.split(separator: ":").first ?? Substring(setting)
    }
}

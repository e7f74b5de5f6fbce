import Foundation

/// Keeps C strings alive for the duration of a sherpa-onnx configuration call.
///
/// sherpa-onnx configuration structs hold `const char *` fields; the strings must stay valid
/// until the `SherpaOnnxCreate…` call returns. `CStrings` owns `strdup` copies and frees them
/// when it goes away.
final class CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>] = []

    init() {}

    /// A C copy of `string`, valid while this object lives.
    func callAsFunction(_ string: String) -> UnsafePointer<CChar> {
        let pointer = strdup(string)!
        pointers.append(pointer)
        return UnsafePointer(pointer)
    }

    deinit {
        for pointer in pointers { free(pointer) }
    }
}

extension FileManager {
    /// Whether a regular, readable file exists at `path`.
    func isReadableFile(at path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue && isReadableFile(atPath: path)
    }
}

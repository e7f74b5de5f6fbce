import Foundation

/// WAVFile.parse on arbitrary bytes: it either throws a DuplexError or returns a file whose
/// encoding parses back to the same samples and rate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let file = try? WAVFile.parse(bytes) else { return 0 }
    precondition(file.sampleRate > 0, "a parsed WAV has a positive sample rate")
    let again = try? WAVFile.parse(file.encoded())
    precondition(again == file, "a parsed WAV does not survive its own encoding")
    return 0
}

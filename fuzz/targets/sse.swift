@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // Whole, then split at a point chosen by the first byte: the events must be the same.
    var whole = SSEParser(maximumEventBytes: 4096)
    var a: [ServerSentEvent] = []
    var aFailed = false
    do { a = try whole.feed(bytes); if let last = whole.finish() { a.append(last) } } catch { aFailed = true }
    let cut = size == 0 ? 0 : Int(bytes[0]) % (size + 1)
    var split = SSEParser(maximumEventBytes: 4096)
    var b: [ServerSentEvent] = []
    var bFailed = false
    do {
        b = try split.feed(bytes[0..<cut])
        b += try split.feed(bytes[cut..<size])
        if let last = split.finish() { b.append(last) }
    } catch { bFailed = true }
    precondition(aFailed == bFailed, "a chunk boundary changed whether the stream fails")
    if !aFailed { precondition(a == b, "a chunk boundary changed the events") }
    return 0
}

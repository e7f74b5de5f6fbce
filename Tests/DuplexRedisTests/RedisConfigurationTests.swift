import DuplexRedis
import Testing

@Suite("RedisConfiguration URL parsing")
struct RedisConfigurationTests {
    @Test("host only uses defaults")
    func hostOnly() throws {
        let configuration = try RedisConfiguration(url: "redis://cache.local")
        #expect(configuration.host == "cache.local")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.password == nil)
        #expect(configuration.username == nil)
        #expect(configuration.poolSize == 4)
    }

    @Test("password, port and database")
    func passwordPortDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://:s3cr%40t@10.0.0.5:6380/3")
        #expect(configuration.host == "10.0.0.5")
        #expect(configuration.port == 6380)
        #expect(configuration.password == "s3cr@t")
        #expect(configuration.username == nil)
        #expect(configuration.database == 3)
    }

    @Test("user and password")
    func userAndPassword() throws {
        let configuration = try RedisConfiguration(url: "redis://worker:pw@localhost")
        #expect(configuration.username == "worker")
        #expect(configuration.password == "pw")
    }

    @Test("IPv6 host")
    func ipv6() throws {
        let configuration = try RedisConfiguration(url: "redis://[::1]:7000")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 7000)
    }

    @Test("rediss:// is a typed unsupported error")
    func tlsUnsupported() {
        #expect {
            try RedisConfiguration(url: "rediss://localhost:6380")
        } throws: { error in
            let error = error as? RedisError
            return error?.code == .unsupported && error?.message.contains("TLS not supported yet") == true
        }
    }

    @Test("invalid URLs", arguments: ["http://localhost", "redis://", "redis://host/abc", "redis://host/-1", "not a url"])
    func invalid(_ url: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            (error as? RedisError)?.code == .invalidConfiguration
        }
    }

    @Test("the description hides the password")
    func redacted() throws {
        let configuration = try RedisConfiguration(url: "redis://user:topsecret@host:1/2")
        #expect(!configuration.description.contains("topsecret"))
        #expect(configuration.description == "redis://user:***@host:1/2")
        #expect {
            try RedisConfiguration(url: "ftp://user:topsecret@host")
        } throws: { error in
            !"\(error)".contains("topsecret")
        }
    }

    @Test("validation names the bad setting")
    func validation() {
        var configuration = RedisConfiguration()
        configuration.poolSize = 0
        #expect {
            try configuration.validate()
        } throws: { error in
            (error as? RedisError)?.message.contains("poolSize") == true
        }
    }
}

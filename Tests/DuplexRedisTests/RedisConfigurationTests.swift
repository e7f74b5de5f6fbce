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

    @Test("rediss:// turns TLS on, with redis-py's file parameters")
    func tlsURL() throws {
        let plain = try RedisConfiguration(url: "rediss://duplex:pw@cache.internal:6380/1")
        #expect(plain.tls == RedisTLS())
        #expect(plain.username == "duplex" && plain.password == "pw" && plain.database == 1)
        #expect(plain.description == "rediss://duplex:***@cache.internal:6380/1")
        let files = try RedisConfiguration(url: "rediss://127.0.0.1:6380?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem")
        #expect(files.tls == RedisTLS(caFile: "/ca.pem", certificateFile: "/c.pem", keyFile: "/k.pem"))
        #expect(try RedisConfiguration(url: "redis://127.0.0.1").tls == nil)
    }

    @Test("bad rediss:// parameters are typed errors", arguments: [
        "rediss://h?ssl_certfile=/c.pem", "rediss://h?ssl_verify=none", "redis+tls://h",
    ])
    func tlsInvalid(_ url: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            (error as? RedisError)?.code == .invalidConfiguration
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

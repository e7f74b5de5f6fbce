import DuplexCore
import DuplexTesting
import Foundation
import Testing

/// The original project's clients, unchanged, against Duplex: a gRPC client compiled at test
/// time from the proto with `package tts;` (and the original `ControlResponse`), and a
/// `websockets` client speaking the legacy dialect on `/`.
@Suite(.serialized) struct LegacyClientTests {
    /// Our proto as the original project's clients have it: `package tts;` and a
    /// `ControlResponse` whose field 3 is `int64 timestamp_ms` (and which knows no field 4).
    static func legacyProto() throws -> String {
        let ours = try String(contentsOfFile: "\(TestAssets.repositoryRoot)/Protos/tts.proto", encoding: .utf8)
        let proto = ours
            .replacingOccurrences(of: "package duplex.tts.v1;", with: "package tts;")
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("uint64 frames_emitted = 4;") }
            .joined(separator: "\n")
        try #require(proto.contains("package tts;"))
        try #require(proto.contains("int64 timestamp_ms = 3;"))
        try #require(!proto.contains("frames_emitted = "))
        return proto
    }

    /// Writes the legacy proto into a fresh directory and compiles it with grpcio-tools.
    static func compileLegacyStubs() async throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-tts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try legacyProto().write(to: directory.appendingPathComponent("tts.proto"), atomically: true, encoding: .utf8)
        let run = try await ProgramRun.run(
            TestAssets.python,
            ["-m", "grpc_tools.protoc", "-I", directory.path, "--python_out=\(directory.path)", "--grpc_python_out=\(directory.path)",
             directory.appendingPathComponent("tts.proto").path])
        try #require(run.status == 0, "grpc_tools.protoc failed: \(run.errors)")
        let generated = try String(contentsOf: directory.appendingPathComponent("tts_pb2_grpc.py"), encoding: .utf8)
        try #require(generated.contains("/tts.TTSService/Synthesize"), "the stubs must address the original service name")
        return directory
    }

    @Test func theOriginalGRPCClientReachesAWorkerUnderBothServiceNames() async throws {
        let stubs = try await Self.compileLegacyStubs()
        defer { try? FileManager.default.removeItem(at: stubs) }
        let worker = try WorkerProcess()
        defer { worker.kill() }
        let run = try await ProgramRun.run(TestAssets.python, ["-c", Self.grpcClient, stubs.path, "127.0.0.1:\(worker.port)"], timeout: .seconds(120))
        try #require(run.status == 0, "the legacy gRPC client failed:\n\(run.errors)\n\(run.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "output: \(run.output)")
        for service in ["tts.TTSService", "duplex.tts.v1.TTSService"] {
            let calls = try #require(report[service] as? [String: Any], "no report for \(service)")
            #expect((calls["models"] as? [String])?.contains("espeak-en-us") == true)
            #expect(calls["ready"] as? Bool == true)
            #expect(calls["abi_version"] as? String == "1.2")
            #expect(calls["started"] as? Bool == true)
            let sizes = try #require(calls["frame_sizes"] as? [Int])
            #expect(sizes == [1920], "data frame sizes \(sizes)")
            #expect((calls["frames"] as? Int ?? 0) > 10, "a sentence is more than 10 frames of 20 ms")
            #expect(calls["sequence_ok"] as? Bool == true)
            #expect(calls["final_reason"] as? Int == 1)  // END_REASON_COMPLETED
            for command in ["pause", "stop"] {
                let control = try #require(calls[command] as? [String: Any])
                #expect(control["success"] as? Bool == true, "\(service) \(command)")
                // timestamp_ms: epoch ms when the command took effect (same machine: seconds at most).
                let skew = try #require(control["skew_ms"] as? Int)
                #expect(abs(skew) < 5000, "\(service) \(command) timestamp_ms is \(skew) ms off the client's clock")
            }
            #expect(calls["stopped_reason"] as? Int == 2)  // END_REASON_STOPPED
            #expect(calls["ended"] as? Bool == true)
            #expect(calls["unknown_model"] as? String == "NOT_FOUND UNKNOWN_MODEL")
        }
        #expect(report["unknown_service"] as? String == "UNIMPLEMENTED")
        #expect(report["unknown_method"] as? String == "UNIMPLEMENTED")
    }

    @Test func aWebSocketClientOnTheRootPathSpeaksTheLegacyDialect() async throws {
        try await TestServer.with { server in
            let run = try await ProgramRun.run(TestAssets.python, ["-c", Self.webSocketClient, "\(server.port)"], timeout: .seconds(120))
            try #require(run.status == 0, "the legacy WebSocket client failed:\n\(run.errors)\n\(run.output)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], "output: \(run.output)")
            let start = try #require(report["session_start"] as? [String: Any])
            #expect(start["audio_format"] as? String == "base64")
            #expect(start["dialect"] as? String == "legacy")
            let replies = try #require(report["replies"] as? [[String: Any]])
            try #require(replies.count == 2)
            var expected = 1
            for reply in replies {
                let sequences = try #require(reply["sequences"] as? [Int])
                let sizes = try #require(reply["frame_sizes"] as? [Int])
                #expect(sizes == [1920])
                #expect(!sequences.isEmpty)
                // One count for the whole session: the second reply goes on from the first.
                #expect(sequences == Array(expected..<(expected + sequences.count)), "sequences \(sequences.prefix(3))… want from \(expected)")
                #expect(reply["tts_end_frames"] as? Int == sequences.count)
                #expect(reply["binary_messages"] as? Int == 0)
                expected += sequences.count
            }
            let malformed = try #require(report["malformed"] as? [String: Any])
            #expect(malformed["type"] as? String == "error")
            #expect(malformed["code"] as? String == "INVALID_MESSAGE")
            let v1 = try #require(report["v1"] as? [String: Any])
            #expect(v1["audio_format"] as? String == "binary")
            #expect(v1["has_dialect"] as? Bool == false)
            #expect(v1["binary_sizes"] as? [Int] == [1920])
            #expect((v1["binary_frames"] as? Int ?? 0) == (v1["tts_end_frames"] as? Int ?? -1))
            #expect(v1["audio_json"] as? Int == 0)
            #expect(report["http_root"] as? String == "200 text/html")
        }
    }

    /// The original project's gRPC client: stubs from the legacy proto (`/tts.TTSService/…`),
    /// and the same messages sent to `/duplex.tts.v1.TTSService/…` by path.
    static let grpcClient = #"""
        import json, sys, threading, time
        sys.path.insert(0, sys.argv[1])
        import grpc
        import tts_pb2 as pb
        import tts_pb2_grpc as pbg

        channel = grpc.insecure_channel(sys.argv[2])
        grpc.channel_ready_future(channel).result(timeout=60)

        class ByPath:
            """The same calls under another service name (identical messages on the wire)."""
            def __init__(self, service):
                for name, req, resp in [("ListModels", pb.ListModelsRequest, pb.ListModelsResponse),
                                        ("GetCapabilities", pb.GetCapabilitiesRequest, pb.GetCapabilitiesResponse),
                                        ("StartSession", pb.StartSessionRequest, pb.StartSessionResponse),
                                        ("EndSession", pb.EndSessionRequest, pb.EndSessionResponse),
                                        ("Control", pb.ControlRequest, pb.ControlResponse)]:
                    setattr(self, name, channel.unary_unary(f"/{service}/{name}", request_serializer=req.SerializeToString,
                                                            response_deserializer=resp.FromString))
                self.Synthesize = channel.stream_stream(f"/{service}/Synthesize", request_serializer=pb.TextChunk.SerializeToString,
                                                        response_deserializer=pb.AudioFrame.FromString)

        def now_ms():
            return int(time.time() * 1000)

        def exercise(stub, tag):
            out = {}
            deadline = time.time() + 60
            while True:
                caps = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=10)
                if caps.ready or time.time() > deadline:
                    break
                time.sleep(0.2)
            out["ready"] = caps.ready
            out["abi_version"] = caps.abi_version
            out["models"] = [m.model_id for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models]
            session = f"legacy-{tag}"
            out["started"] = stub.StartSession(pb.StartSessionRequest(session_id=session), timeout=30).success
            frames = list(stub.Synthesize(iter([pb.TextChunk(session_id=session, text="Hello from the original client.", is_final=True)]),
                                          timeout=60))
            data = [f for f in frames if not f.is_final]
            out["frames"] = len(data)
            out["frame_sizes"] = sorted({len(f.audio_data) for f in data})
            out["sequence_ok"] = [f.sequence_number for f in frames] == list(range(1, len(frames) + 1))
            out["final_reason"] = frames[-1].end_reason if frames and frames[-1].is_final else -1

            # A long synthesis: PAUSE, RESUME, then STOP it while it plays.
            long_text = "This is a long reply that keeps going for quite a while. " * 6
            received = []
            def read():
                for frame in stub.Synthesize(iter([pb.TextChunk(session_id=session, text=long_text, is_final=True)]), timeout=60):
                    received.append(frame)
            reader = threading.Thread(target=read)
            reader.start()
            while len(received) < 5 and reader.is_alive():
                time.sleep(0.01)
            for command, name in [(pb.PAUSE, "pause"), (pb.RESUME, "resume"), (pb.STOP, "stop")]:
                sent = now_ms()
                response = stub.Control(pb.ControlRequest(session_id=session, command=command), timeout=10)
                out[name] = {"success": response.success, "skew_ms": response.timestamp_ms - sent}
                time.sleep(0.1)
            reader.join(timeout=30)
            out["stopped_reason"] = received[-1].end_reason if received and received[-1].is_final else -1
            out["ended"] = stub.EndSession(pb.EndSessionRequest(session_id=session), timeout=10).success
            try:
                stub.StartSession(pb.StartSessionRequest(session_id=session + "-x", model_id="no-such-model"), timeout=10)
                out["unknown_model"] = "OK"
            except grpc.RpcError as error:
                code = dict(error.trailing_metadata() or ()).get("duplex-error-code", "")
                out["unknown_model"] = f"{error.code().name} {code}"
            return out

        report = {"tts.TTSService": exercise(pbg.TTSServiceStub(channel), "legacy"),
                  "duplex.tts.v1.TTSService": exercise(ByPath("duplex.tts.v1.TTSService"), "v1")}
        for key, path in [("unknown_service", "/tts.NoSuchService/ListModels"), ("unknown_method", "/tts.TTSService/NoSuchMethod")]:
            try:
                channel.unary_unary(path, request_serializer=pb.ListModelsRequest.SerializeToString,
                                    response_deserializer=pb.ListModelsResponse.FromString)(pb.ListModelsRequest(), timeout=10)
                report[key] = "OK"
            except grpc.RpcError as error:
                report[key] = error.code().name
        print(json.dumps(report))
        """#

    /// The original project's WebSocket client on `/`, then a v1 client on `/ws`.
    static let webSocketClient = #"""
        import asyncio, base64, json, sys, urllib.request
        from websockets.asyncio.client import connect

        port = sys.argv[1]

        async def reply(ws, text):
            await ws.send(json.dumps({"type": "text", "text": text}))
            sequences, sizes, binary = [], set(), 0
            while True:
                message = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(message, bytes):
                    binary += 1
                    continue
                event = json.loads(message)
                if event["type"] == "audio":
                    sequences.append(event["sequence"])
                    sizes.add(len(base64.b64decode(event["pcm"])))
                elif event["type"] == "error":
                    raise SystemExit(f"unexpected error: {event}")
                elif event["type"] == "tts_end":
                    return {"sequences": sequences, "frame_sizes": sorted(sizes), "tts_end_frames": event["frames"],
                            "binary_messages": binary}

        async def main():
            report = {}
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                report["session_start"] = json.loads(await asyncio.wait_for(ws.recv(), 30))
                first = await reply(ws, "Hello there.")
                await ws.send("{this is not json")
                report["malformed"] = json.loads(await asyncio.wait_for(ws.recv(), 30))
                second = await reply(ws, "And a second reply.")
                report["replies"] = [first, second]
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                start = json.loads(await asyncio.wait_for(ws.recv(), 30))
                await ws.send(json.dumps({"type": "text", "text": "Version one."}))
                sizes, frames, audio_json = set(), 0, 0
                while True:
                    message = await asyncio.wait_for(ws.recv(), 30)
                    if isinstance(message, bytes):
                        frames += 1
                        sizes.add(len(message))
                        continue
                    event = json.loads(message)
                    if event["type"] == "audio":
                        audio_json += 1
                    if event["type"] == "tts_end":
                        break
                report["v1"] = {"audio_format": start.get("audio_format"), "has_dialect": "dialect" in start,
                                "binary_sizes": sorted(sizes), "binary_frames": frames, "tts_end_frames": event["frames"],
                                "audio_json": audio_json}
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                report["http_root"] = f"{response.status} {response.headers.get_content_type()}"
            print(json.dumps(report))

        asyncio.run(main())
        """#
}

"""The ABI over real gRPC (loopback) against an in-process worker serving test tones."""

import asyncio
import threading
import time
import unittest

import grpc
import numpy as np

from .support import Collector, SineModel, WorkerCase, chunks, error_of, pb

TEXT = "Hello there. How are you today, my friend? I am fine."


class SlowLoadingSine(SineModel):
    """Loads in 0.3 s (to see concurrent loads coalesce)."""

    def load(self):
        time.sleep(0.3)
        super().load()


class UnpacedTests(WorkerCase):
    """Semantics that do not depend on timing; frames go out as fast as they are read."""

    config_overrides = {"paced": False, "max_sessions": 4, "max_synthesis_characters": 2000}

    @classmethod
    def models(cls):
        return [SineModel(), SineModel("sine-22k", sample_rate=22050, chunk_ms=45), SineModel("sine-b"),
                SineModel("sine-fail", fail_on="boom"), SlowLoadingSine("sine-slow")]

    def check_stream(self, frames, text, segment_count=None):
        data, final = frames[:-1], frames[-1]
        self.assertTrue(final.is_final)
        self.assertEqual(final.audio_data, b"")
        self.assertEqual(final.end_reason, pb.END_REASON_COMPLETED)
        self.assertEqual([f.sequence_number for f in frames], list(range(1, len(frames) + 1)))
        self.assertFalse(any(f.is_final for f in data))
        for f in frames:
            self.assertEqual((f.sample_rate, f.frame_duration_ms), (48000, 20))
        for f in data:
            self.assertEqual(len(f.audio_data), 1920)
            self.assertEqual(f.end_reason, pb.END_REASON_UNSPECIFIED)
        self.assertTrue(data[0].synthesis_id)
        self.assertEqual(final.synthesis_id, data[0].synthesis_id)
        self.assertFalse(any(f.synthesis_id for f in data[1:]))
        # segment_start on the first frame of each segment, with its range in the input.
        starts = [f for f in data if f.HasField("segment_start")]
        indices = [f.segment_index for f in data]
        self.assertEqual(indices, sorted(indices))
        self.assertEqual([s.segment_start.index for s in starts], sorted(set(indices)))
        for f in starts:
            first = next(x for x in data if x.segment_index == f.segment_index)
            self.assertIs(first, f)
            s = f.segment_start
            self.assertEqual(s.index, f.segment_index)
            self.assertEqual(text[s.input_start:s.input_end], s.text)
        self.assertEqual(final.segment_index, data[-1].segment_index)
        if segment_count is not None:
            self.assertEqual(len(starts), segment_count)
        return starts

    def test_framing_and_segment_announcements(self):
        session = self.new_session()
        frames = self.synthesize(session, TEXT)
        starts = self.check_stream(frames, TEXT, 4)  # "How are you today," is cut at 5 words
        self.assertEqual([s.segment_start.text for s in starts], ["Hello there.", "How are you today,", "my friend?", "I am fine."])
        # The tone of each segment lasts 90 ms per word: 2 words = 8640 samples = 9 frames exactly.
        self.assertEqual(sum(1 for f in frames[:-1] if f.segment_index == 0), 9)

    def test_streamed_text_and_resampled_chunked_model(self):
        session = self.new_session("sine-22k")
        pieces = ["Café 👍", "🏽 is op", "en. Come in, pl", "ease. Thanks"]
        text = "".join(pieces)
        frames = self.synthesize(session, *pieces, synthesis_id="my-synthesis")
        starts = self.check_stream(frames, text)
        self.assertEqual(frames[0].synthesis_id, "my-synthesis")
        self.assertEqual(starts[0].segment_start.text, "Café 👍🏽 is open.")
        # 22050 Hz chunks resampled to 48 kHz: 4 words at 22050 Hz = 7938 samples -> 17280 at 48 kHz = 18 frames.
        self.assertEqual(sum(1 for f in frames[:-1] if f.segment_index == 0), 18)
        audio = np.frombuffer(b"".join(f.audio_data for f in frames[:-1] if f.segment_index == 0), "<i2")
        self.assertEqual(np.abs(audio).max() <= 32767, True)

    def test_loudness_gain_applies(self):
        session = self.new_session()
        frames = self.synthesize(session, "one two three four five six seven eight nine ten.")
        audio = np.frombuffer(b"".join(f.audio_data for f in frames[:-1]), "<i2").astype(np.float32) / 32768
        from duplex_worker.dsp.loudness import integrated_loudness
        self.assertAlmostEqual(integrated_loudness(audio), -16.0, delta=0.5)

    def test_empty_request_stream_returns_no_frames(self):
        self.assertEqual(list(self.stub.Synthesize(iter([]), timeout=5)), [])

    def test_errors(self):
        stub = self.stub
        NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
        self.assertEqual(error_of(lambda: list(stub.Synthesize(iter([pb.TextChunk(session_id="nope", text="Hi", is_final=True)])))),
                         (NOT_FOUND, "SESSION_NOT_FOUND"))
        self.assertEqual(error_of(lambda: stub.Control(pb.ControlRequest(session_id="nope", command=pb.PAUSE))),
                         (NOT_FOUND, "SESSION_NOT_FOUND"))
        self.assertFalse(stub.EndSession(pb.EndSessionRequest(session_id="nope")).success)
        self.assertEqual(error_of(lambda: stub.StartSession(pb.StartSessionRequest(session_id="x", model_id="nope"))),
                         (NOT_FOUND, "UNKNOWN_MODEL"))
        self.assertEqual(error_of(lambda: stub.LoadModel(pb.LoadModelRequest(model_id="nope"))), (NOT_FOUND, "UNKNOWN_MODEL"))
        self.assertEqual(error_of(lambda: stub.UnloadModel(pb.UnloadModelRequest(model_id="nope"))), (NOT_FOUND, "UNKNOWN_MODEL"))
        for bad in ("", "x" * 129):
            self.assertEqual(error_of(lambda: stub.StartSession(pb.StartSessionRequest(session_id=bad))),
                             (INVALID, "INVALID_MESSAGE"))
        for options in ({"speed": "3"}, {"speed": "fast"}, {"speed": " 1"}, {"noise_w": "-1"}, {"voice": ""},
                        {"language": "x" * 65}, {"pitch": "1"}):
            self.assertEqual(error_of(lambda: stub.StartSession(pb.StartSessionRequest(session_id="x", options=options))),
                             (INVALID, "INVALID_MESSAGE"), options)
        ok = stub.StartSession(pb.StartSessionRequest(session_id="opts", options={
            "speed": "0.5", "language": "en-us", "noise_scale": "0", "noise_w": "2"}))
        self.assertEqual((ok.success, ok.model_id), (True, "sine-440"))
        stub.EndSession(pb.EndSessionRequest(session_id="opts"))
        session = self.new_session()
        long_id = [pb.TextChunk(session_id=session, text="Hi", is_final=True, synthesis_id="s" * 129)]
        self.assertEqual(error_of(lambda: list(stub.Synthesize(iter(long_id)))), (INVALID, "INVALID_MESSAGE"))
        too_long = [pb.TextChunk(session_id=session, text="word " * 300), pb.TextChunk(session_id=session, text="word " * 300)]
        self.assertEqual(error_of(lambda: list(stub.Synthesize(iter(too_long)))), (INVALID, "TEXT_TOO_LONG"))

    def test_model_failure_is_synthesis_failed_without_end_marker(self):
        session = self.new_session("sine-fail")
        call = self.stub.Synthesize(iter([pb.TextChunk(session_id=session, text="Fine. Then boom. ", is_final=True)]))
        received = []
        with self.assertRaises(grpc.RpcError) as caught:
            for frame in call:
                received.append(frame)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INTERNAL)
        self.assertEqual(dict(caught.exception.trailing_metadata())["duplex-error-code"], "SYNTHESIS_FAILED")
        self.assertFalse(any(f.is_final for f in received))
        self.wait_until(lambda: self.metrics()["active_syntheses"] == 0)

    def test_session_limit(self):
        sessions = [self.new_session() for _ in range(4)]
        self.assertEqual(error_of(lambda: self.stub.StartSession(pb.StartSessionRequest(session_id="one-too-many"))),
                         (grpc.StatusCode.RESOURCE_EXHAUSTED, "SESSION_LIMIT"))
        # Re-binding an open session is not a new session.
        self.assertTrue(self.stub.StartSession(pb.StartSessionRequest(session_id=sessions[0], model_id="sine-b")).success)
        self.assertEqual(self.metrics()["active_sessions"], 4)
        self.assertTrue(self.stub.EndSession(pb.EndSessionRequest(session_id=sessions[1])).success)
        self.assertTrue(self.stub.StartSession(pb.StartSessionRequest(session_id="now-fits")).success)
        self.stub.EndSession(pb.EndSessionRequest(session_id="now-fits"))

    def test_unload_in_use_is_refused(self):
        session = self.new_session("sine-b")
        self.assertIn("sine-b", self.stub.GetCapabilities(pb.GetCapabilitiesRequest()).resident_models)
        self.assertEqual(error_of(lambda: self.stub.UnloadModel(pb.UnloadModelRequest(model_id="sine-b"))),
                         (grpc.StatusCode.FAILED_PRECONDITION, "MODEL_IN_USE"))
        self.assertTrue(self.stub.EndSession(pb.EndSessionRequest(session_id=session)).success)
        self.assertEqual(self.stub.UnloadModel(pb.UnloadModelRequest(model_id="sine-b")).message, "unloaded")
        listed = {m.model_id: m for m in self.stub.ListModels(pb.ListModelsRequest()).models}
        self.assertFalse(listed["sine-b"].is_loaded)
        self.assertTrue(listed["sine-440"].is_loaded)
        self.assertIn("memory_bytes", listed["sine-440"].metadata)
        self.assertEqual(listed["sine-440"].metadata["device"], "cpu")
        self.assertEqual(listed["sine-440"].family, "sine")

    def test_concurrent_loads_coalesce(self):
        model = next(m for m in self.worker.worker.manager.catalog.values() if m.model_id == "sine-slow")
        results = []
        threads = [threading.Thread(target=lambda: results.append(self.stub.LoadModel(pb.LoadModelRequest(model_id="sine-slow"))))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r.success for r in results], [True] * 3)
        self.assertEqual(model.loads, 1)
        self.assertRegex(results[0].message, r"^loaded in \d+ ms, warmed up in \d+ ms$")

    def test_capabilities(self):
        response = self.stub.GetCapabilities(pb.GetCapabilitiesRequest())
        self.assertEqual(response.abi_version, "1.2")
        self.assertTrue(response.ready)
        self.assertEqual(response.worker_name, "worker")
        self.assertTrue(response.capabilities.streaming and response.capabilities.cpu_ok)
        self.assertEqual(response.capabilities.max_concurrent_sessions, 4)
        self.assertEqual(list(response.capabilities.languages), ["*"])
        for key in ("active_sessions", "active_syntheses", "queue_depth", "rtf_p50", "first_audio_p50_ms", "model_loads",
                    "model_evictions", "resident_models_memory_bytes", "rss_bytes"):
            self.assertIn(key, response.metrics)
        self.assertGreater(response.metrics["rss_bytes"], 0)

    def test_reload(self):
        response = self.stub.Control(pb.ControlRequest(command=pb.RELOAD))
        self.assertTrue(response.success)
        self.assertEqual(response.message, "5 models; 0 rejected packs")
        self.assertLess(abs(response.timestamp_ms - time.time() * 1000), 5000)

    def test_legacy_service_name(self):
        """The original project's clients address the same handlers as ``/tts.TTSService/…``."""
        def legacy(method, request, response_type):
            call = self.channel.unary_unary(f"/tts.TTSService/{method}", request_serializer=type(request).SerializeToString,
                                            response_deserializer=response_type.FromString)
            return call(request, timeout=10)
        listing = legacy("ListModels", pb.ListModelsRequest(), pb.ListModelsResponse)
        self.assertIn("sine-440", [m.model_id for m in listing.models])
        started = legacy("StartSession", pb.StartSessionRequest(session_id="legacy-1"), pb.StartSessionResponse)
        self.assertTrue(started.success)
        synthesize = self.channel.stream_stream("/tts.TTSService/Synthesize", request_serializer=pb.TextChunk.SerializeToString,
                                                response_deserializer=pb.AudioFrame.FromString)
        frames = list(synthesize(iter(chunks("legacy-1", "Hello.")), timeout=20))
        self.assertTrue(frames[-1].is_final)
        self.assertEqual({len(f.audio_data) for f in frames[:-1]}, {1920})
        idle = legacy("Control", pb.ControlRequest(session_id="legacy-1", command=pb.STOP), pb.ControlResponse)
        self.assertFalse(idle.success)
        self.assertLess(abs(idle.timestamp_ms - time.time() * 1000), 5000)
        self.assertTrue(legacy("EndSession", pb.EndSessionRequest(session_id="legacy-1"), pb.EndSessionResponse).success)
        with self.assertRaises(grpc.RpcError) as caught:
            self.channel.unary_unary("/tts.Other/ListModels", request_serializer=pb.ListModelsRequest.SerializeToString,
                                     response_deserializer=pb.ListModelsResponse.FromString)(pb.ListModelsRequest(), timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)


class PacedTests(WorkerCase):
    """Real-time behaviour: pacing, PAUSE/RESUME, STOP, replacement, cancellation."""

    @classmethod
    def models(cls):
        return [SineModel(), SineModel("sine-slow", chunk_ms=100, delay=0.3)]

    LONG = "Alpha bravo charlie delta. Echo foxtrot golf hotel india. Juliett kilo lima mike."

    def test_pacing_is_real_time_with_a_lead(self):
        session = self.new_session()
        collector = Collector(self.stub, session, "one two three four five six seven eight nine ten.")
        frames = collector.join()
        times = [t for t, _ in collector.frames[:-1]]
        audio_seconds = (len(frames) - 1) * 0.020
        wall = times[-1] - times[0]
        # The first 3 frames leave at once; then one per 20 ms.
        self.assertAlmostEqual(wall, audio_seconds - 0.020 * 3, delta=0.05)
        self.assertLess(times[2] - times[0], 0.010)

    def test_pause_holds_and_resume_loses_nothing(self):
        # Reference: the same text, unpaused.
        reference = self.synthesize(self.new_session(), self.LONG)
        session = self.new_session()
        collector = Collector(self.stub, session, self.LONG, synthesis_id="paused-one")
        collector.wait_frames(20)
        sent = time.monotonic()
        sent_wall_ms = time.time() * 1000
        paused = self.stub.Control(pb.ControlRequest(session_id=session, command=pb.PAUSE, synthesis_id="paused-one"))
        self.assertTrue(paused.success)
        time.sleep(0.4)
        late = [t for t, _ in collector.frames if t > sent + 0.050]
        self.assertEqual(late, [], "frames kept coming after PAUSE")
        held = len(collector.frames)
        self.assertLessEqual(abs(held - paused.frames_emitted), 1)
        # ABI 1.2: field 3 is the epoch-ms time the command took effect.
        self.assertLess(abs(paused.timestamp_ms - sent_wall_ms), 5000)
        resumed = self.stub.Control(pb.ControlRequest(session_id=session, command=pb.RESUME, synthesis_id="paused-one"))
        self.assertTrue(resumed.success)
        frames = collector.join()
        self.assertEqual([f.sequence_number for f in frames], list(range(1, len(frames) + 1)))
        self.assertEqual(len(frames), len(reference))
        self.assertEqual(b"".join(f.audio_data for f in frames), b"".join(f.audio_data for f in reference))
        self.assertEqual(frames[-1].end_reason, pb.END_REASON_COMPLETED)
        # The fresh lead after RESUME: 3 frames at once.
        after = [t for t, _ in collector.frames[held:held + 4]]
        self.assertLess(after[2] - after[0], 0.010)

    def test_stop(self):
        session = self.new_session()
        collector = Collector(self.stub, session, self.LONG, synthesis_id="to-stop")
        collector.wait_frames(5)
        response = self.stub.Control(pb.ControlRequest(session_id=session, command=pb.STOP))
        self.assertTrue(response.success)
        frames = collector.join(2)
        final = frames[-1]
        self.assertTrue(final.is_final)
        self.assertEqual((final.end_reason, final.synthesis_id), (pb.END_REASON_STOPPED, "to-stop"))
        self.assertEqual(final.sequence_number, len(frames))
        self.assertLess(len(frames), 50)
        # Nothing runs any more: control is refused harmlessly.
        again = self.stub.Control(pb.ControlRequest(session_id=session, command=pb.RESUME))
        self.assertFalse(again.success)
        self.assertIn("no active synthesis", again.message)

    def test_addressed_control_for_another_synthesis_is_refused(self):
        session = self.new_session()
        collector = Collector(self.stub, session, "Short one. Two three four.", synthesis_id="current")
        collector.wait_frames(2)
        for command in (pb.PAUSE, pb.STOP):
            response = self.stub.Control(pb.ControlRequest(session_id=session, command=command, synthesis_id="earlier"))
            self.assertFalse(response.success)
        frames = collector.join()
        self.assertEqual(frames[-1].end_reason, pb.END_REASON_COMPLETED)
        late = self.stub.Control(pb.ControlRequest(session_id=session, command=pb.STOP, synthesis_id="current"))
        self.assertFalse(late.success)

    def test_a_new_synthesis_replaces_the_running_one(self):
        session = self.new_session()
        first = Collector(self.stub, session, self.LONG, synthesis_id="A")
        first.wait_frames(3)
        second = Collector(self.stub, session, "Replacement text.", synthesis_id="B")
        a = first.join(2)
        self.assertEqual((a[-1].end_reason, a[-1].synthesis_id), (pb.END_REASON_STOPPED, "A"))
        b = second.join()
        self.assertEqual((b[0].synthesis_id, b[-1].end_reason), ("B", pb.END_REASON_COMPLETED))
        self.assertFalse(self.stub.Control(pb.ControlRequest(session_id=session, command=pb.PAUSE, synthesis_id="A")).success)

    def test_end_session_stops_its_synthesis(self):
        session = self.new_session()
        collector = Collector(self.stub, session, self.LONG)
        collector.wait_frames(3)
        self.assertTrue(self.stub.EndSession(pb.EndSessionRequest(session_id=session)).success)
        frames = collector.join(2)
        self.assertEqual(frames[-1].end_reason, pb.END_REASON_STOPPED)

    def worker_tasks(self) -> int:
        async def count():
            return len(asyncio.all_tasks())
        return self.worker.call(count())

    def test_cancellation_frees_the_synthesis(self):
        manager = self.worker.worker.manager
        baseline_tasks = self.worker_tasks()
        for model in ("sine-440", "sine-slow"):   # sine-slow: cancelled while the model call blocks
            session = self.new_session(model)
            collector = Collector(self.stub, session, self.LONG)
            collector.wait_frames(4)
            self.assertEqual(self.metrics()["active_syntheses"], 1)
            collector.call.cancel()
            self.wait_until(lambda: self.metrics()["active_syntheses"] == 0, 1.0, "active_syntheses back to 0")
            # Nothing leaks: no pipeline task is left, and only the session holds the model.
            self.wait_until(lambda: self.worker_tasks() <= baseline_tasks, 1.0, "pipeline tasks gone")
            self.assertEqual(manager.user_count(model), 1)
            # The synthesis' lease is gone too: after EndSession the model can be unloaded.
            self.stub.EndSession(pb.EndSessionRequest(session_id=session))
            if model == "sine-slow":
                self.assertEqual(self.stub.UnloadModel(pb.UnloadModelRequest(model_id=model)).message, "unloaded")
                self.wait_until(lambda: self.worker.worker.executor.depth == 0, 1.0, "inference queue drained")

    def test_figures_are_reported(self):
        self.synthesize(self.new_session(), "Figures please.")
        metrics = self.metrics()
        self.assertGreater(metrics["first_audio_p50_ms"], 0)
        self.assertGreater(metrics["rtf_p50"], 0)


if __name__ == "__main__":
    unittest.main()

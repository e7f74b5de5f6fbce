"""Model manager policy (TTL, min residency, cap, pinning, leases, RELOAD) and the pacer,
on manual clocks."""

import asyncio
import unittest

import numpy as np

from .support import SineModel
from duplex_worker.errors import MODEL_IN_USE, UNKNOWN_MODEL, DuplexError
from duplex_worker.executor import InferenceExecutor
from duplex_worker.manager import ModelManager, ModelPolicy
from duplex_worker.model import as_float_mono, audio_chunks
from duplex_worker.options import VoiceOptions
from duplex_worker.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ManagerTests(unittest.TestCase):
    def run_async(self, coroutine):
        return asyncio.run(coroutine)

    def make(self, *ids, **policy):
        executor = InferenceExecutor(1)
        self.addCleanup(executor.shutdown)
        clock = Clock()
        models = [SineModel(i) for i in ids]
        policy.setdefault("warmup", False)
        manager = ModelManager(models, executor, policy=ModelPolicy(**policy), clock=clock)
        return manager, clock, {m.model_id: m for m in models}

    def test_ttl_eviction_respects_leases_min_residency_and_pins(self):
        async def body():
            manager, clock, models = self.make("a", "b", "c", ttl=60, min_residency=30, pinned={"a"})
            for model_id in ("a", "b", "c"):
                await manager.load(model_id)
            lease = await manager.acquire("c")
            clock.now += 20
            self.assertEqual(await manager.evict_idle(), [])          # within min residency
            clock.now += 100
            self.assertEqual(await manager.evict_idle(), ["b"])       # a is pinned, c is leased
            self.assertEqual(models["b"].unloads, 1)
            manager.release(lease)
            clock.now += 61
            self.assertEqual(await manager.evict_idle(), ["c"])
            self.assertEqual(manager.resident_ids, ["a"])
            self.assertEqual((manager.counters.loads, manager.counters.evictions), (3, 2))
        self.run_async(body())

    def test_resident_cap_evicts_least_recently_used(self):
        async def body():
            manager, clock, _ = self.make("a", "b", "c", "d", resident_cap=2, min_residency=0)
            await manager.load("a")
            clock.now += 1
            await manager.load("b")
            clock.now += 1
            await manager.load("a")        # a is used again: b is now the LRU
            clock.now += 1
            await manager.load("c")
            self.assertEqual(manager.resident_ids, ["a", "c"])
            lease_a = await manager.acquire("a")
            lease_c = await manager.acquire("c")
            await manager.load("d")        # everyone else is leased: over the cap until released
            self.assertEqual(manager.resident_ids, ["a", "c", "d"])
            manager.release(lease_a)
            manager.release(lease_c)
            clock.now += 1
            await manager.evict_idle()
            self.assertEqual(len(manager.resident_ids), 2)
        self.run_async(body())

    def test_unload_rules_and_unknown_models(self):
        async def body():
            manager, _, _ = self.make("a")
            with self.assertRaises(DuplexError) as caught:
                await manager.load("zzz")
            self.assertEqual(caught.exception.code, UNKNOWN_MODEL)
            with self.assertRaises(DuplexError) as caught:
                await manager.unload("a")            # not loaded
            self.assertEqual(caught.exception.code, UNKNOWN_MODEL)
            lease = await manager.acquire("a")
            with self.assertRaises(DuplexError) as caught:
                await manager.unload("a")
            self.assertEqual(caught.exception.code, MODEL_IN_USE)
            manager.release(lease)
            await manager.unload("a")
            self.assertEqual(manager.resident_ids, [])
        self.run_async(body())

    def test_reload_replaces_changed_models_when_released(self):
        async def body():
            manager, _, models = self.make("a", "b")
            lease = await manager.acquire("a")
            await manager.load("b")
            changed = SineModel("a")
            changed.fingerprint = lambda: "new files"
            dropped = await manager.replace_catalog([changed, models["b"]])
            self.assertEqual(dropped, [])                  # a is in use; b is unchanged
            self.assertIn("a", manager.resident_ids)
            manager.release(lease)
            await asyncio.sleep(0.05)
            self.assertNotIn("a", manager.resident_ids)
            self.assertIs(manager.model("a"), changed)
            self.assertEqual(await manager.replace_catalog([changed]), ["b"])   # b removed from the catalog
        self.run_async(body())

    def test_warmup_measures_a_gain(self):
        async def body():
            manager, _, _ = self.make("a", warmup=True)
            loaded = await manager.load("a")
            # A 0.5-amplitude 440 Hz tone is about -9 LUFS: the gain brings it down to -16.
            self.assertLess(loaded.gain, 1.0)
            self.assertGreater(loaded.gain, 0.2)
        self.run_async(body())


class PacerTests(unittest.TestCase):
    def test_lead_then_one_frame_per_interval_without_drift(self):
        pacer = Pacer(0.020, 3)
        deadlines = [pacer.next_deadline(10.0) for _ in range(6)]
        self.assertEqual(deadlines[:3], [9.94, 9.96, 9.98])   # due already: sent at once
        self.assertAlmostEqual(deadlines[5], 10.04)

    def test_late_emission_restarts_the_schedule(self):
        pacer = Pacer(0.020, 3)
        pacer.next_deadline(10.0)
        self.assertAlmostEqual(pacer.next_deadline(11.0), 11.0 - 0.06)  # an underrun: fresh lead
        pacer.reanchor()
        self.assertAlmostEqual(pacer.next_deadline(20.0), 20.0 - 0.06)

    def test_a_frame_after_the_listeners_buffer_ran_dry_is_counted_late(self):
        pacer = Pacer(0.020, 3)
        pacer.next_deadline(10.0)          # frame 0: the listener starts playing at 10.0
        pacer.next_deadline(10.0)          # frame 1 plays at 10.02: on time
        self.assertEqual(pacer.late_frames, 0)
        pacer.next_deadline(10.09)         # frame 2 plays at 10.04: 50 ms late
        self.assertEqual(pacer.late_frames, 1)
        self.assertAlmostEqual(pacer.max_lateness, 0.05)
        pacer.reanchor()                   # a pause is not lateness
        pacer.next_deadline(30.0)
        self.assertEqual(pacer.late_frames, 1)


class ChunkTests(unittest.TestCase):
    def test_model_output_shapes(self):
        samples, rate = as_float_mono(np.array([16384, -32768], np.int16), 16000)
        np.testing.assert_array_equal(samples, np.array([0.5, -1.0], np.float32))
        stereo, _ = as_float_mono(np.ones((100, 2), np.float32), 8000)
        self.assertEqual(stereo.shape, (100,))
        with self.assertRaises(DuplexError):
            as_float_mono(np.zeros(4, np.int32), 16000)
        with self.assertRaises(DuplexError):
            as_float_mono(np.zeros(4, np.float32), 0)
        self.assertEqual(len(list(audio_chunks((np.zeros(3), 8000)))), 1)
        self.assertEqual(len(list(audio_chunks(None))), 0)
        self.assertEqual(len(list(SineModel(chunk_ms=20).synthesize("a b", VoiceOptions()))), 9)


if __name__ == "__main__":
    unittest.main()


class OptionTests(unittest.TestCase):
    def test_session_options_parse_as_in_swift(self):
        self.assertTrue(VoiceOptions.parse({}).pacing)
        self.assertFalse(VoiceOptions.parse({"pacing": "false"}).pacing)
        self.assertEqual(VoiceOptions.parse({"admission": "force"}).admission, "force")
        for bad in ({"pacing": "maybe"}, {"admission": "please"}, {"tempo": "2"}):
            with self.assertRaises(DuplexError):
                VoiceOptions.parse(bad)

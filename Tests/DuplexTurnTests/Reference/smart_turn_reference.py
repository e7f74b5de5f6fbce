"""The Python reference for DuplexTurn's tests: Smart Turn v3 as pipecat runs it.

    smart_turn_reference.py MODEL FEATURE_CODE_DIR AUDIO_F32 FEATURES_OUT FEATURES_IN

AUDIO_F32 is raw float32 16 kHz audio (the turn so far); the script keeps its last 8 s,
left-pads it, computes the features with the wheel's numpy code (FEATURE_CODE_DIR holds
`_whisper_features.py`, extracted by scripts/install-models.sh) and writes them to
FEATURES_OUT as raw float32 [80 x 800]. It prints two probabilities (Python onnxruntime):
the model on its own features, and on FEATURES_IN (the features Duplex computed), so the
model call is compared on identical input: Smart Turn quantizes its activations at run
time, and a 1e-6 difference in a feature can move one of them across a rounding step.
"""
import sys

import numpy as np
import onnxruntime as ort

model, code_dir, audio_path, features_out, features_in = sys.argv[1:6]
sys.path.insert(0, code_dir)
from _whisper_features import compute_whisper_log_mel_features  # noqa: E402

audio = np.fromfile(audio_path, dtype=np.float32)
window = 8 * 16000
audio = audio[-window:] if len(audio) > window else np.pad(audio, (window - len(audio), 0))
features = compute_whisper_log_mel_features(audio, do_normalize=True)
features.astype(np.float32).tofile(features_out)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
probability = session.run(None, {"input_features": features[None]})[0].ravel()[0]
theirs = np.fromfile(features_in, dtype=np.float32).reshape(1, 80, 800)
on_given = session.run(None, {"input_features": theirs})[0].ravel()[0]
print(f"{float(probability):.7f} {float(on_given):.7f}")
print(ort.__version__, file=sys.stderr)

"""The Python reference for DuplexTurn's tests: Smart Turn v3 as pipecat runs it.

    smart_turn_reference.py MODEL FEATURE_CODE_DIR AUDIO_F32 FEATURES_OUT

AUDIO_F32 is raw float32 16 kHz audio (the turn so far); the script keeps its last 8 s,
left-pads it, computes the features with the wheel's numpy code (FEATURE_CODE_DIR holds
`_whisper_features.py`, extracted by scripts/install-models.sh), writes them to FEATURES_OUT
as raw float32 [80 x 800], and prints the model's probability (Python onnxruntime).
"""
import sys

import numpy as np
import onnxruntime as ort

model, code_dir, audio_path, features_out = sys.argv[1:5]
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
print(f"{float(probability):.7f}")
print(ort.__version__, file=sys.stderr)

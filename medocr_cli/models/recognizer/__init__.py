"""The handwriting recognizer: a CRNN read with CTC.

spec.py       architecture name, line geometry, network sizes; `RecognizerSpec`
vocab.py      the character sets (the dataset generator writes with them) and the vocabulary
network.py    the CRNN (registered as `crnn-ctc`)
lines.py      line crops to network input: grey, height 32, widened, normalised, padded
decode.py     CTC greedy and beam decoding, `read_batch`
predictor.py  `Recognizer`: line crops in, (text, confidence) out
grow.py       widening a trained network (`widen_recognizer`)
training.py   the training task, `train_recognizer`, `evaluate_recognizer`, `stage_trainer`
data.py       dataset lines, cached, and their augmentation

Weights are loaded through `medocr_cli.models.zoo`. Nothing is imported here, so the spec and
the vocabulary can be read without torch.
"""

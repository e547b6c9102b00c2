"""The text-line detector: a light U-Net predicting line cores and text pixels.

spec.py       architecture name, widths, normalisation, post-processing settings; `DetectorSpec`
network.py    the network (registered as `text-detector`), its input and batched forward pass
boxes.py      post-processing: probability maps to line boxes
predictor.py  `Detector`: frames in, line boxes and maps out (tiles for large frames)
training.py   the training task, `train_detector`, `evaluate_detector`, `stage_trainer`
evaluate.py   line recall, box precision and the report the training and evaluation print
data.py       dataset splits, crops and core targets, augmentation

Weights are loaded through `medocr_cli.models.zoo`. Nothing is imported here, so the spec can
be read without torch.
"""

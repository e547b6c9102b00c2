"""The text / non-text check: a small CNN that says whether a detected region holds characters.

spec.py       architecture name, widths, region size, thresholds; `ConfirmSpec`
network.py    the network (registered as `text-confirm`) and its region inputs
predictor.py  `Confirmer`: regions of a frame in, P(text) out
training.py   the training task, `train_confirm`, `evaluate_confirm`, `stage_trainer`
data.py       mining the detector's proposals on a dataset and labelling them

Weights are loaded through `medocr_cli.models.zoo`. Nothing is imported here, so the spec can
be read without torch.
"""

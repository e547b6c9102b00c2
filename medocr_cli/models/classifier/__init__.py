"""The None / P / H / PH classifier: a ResNet18 deciding whether a frame holds text.

spec.py       architecture name, labels, input size, normalisation; `ClassifierSpec`
network.py    the network (registered as `resnet18-classifier`) and its input
predictor.py  `Classifier`: frames in, `Verdict`s out (what `classify` and `scrub` run)
training.py   the training task, `train_classifier`, `evaluate_classifier`, `stage_trainer`
data.py       dataset splits as cached uint8 tensors, augmentation
head.py       refitting only the final layer on more datasets (`train --refit-head`)

Weights are loaded through `medocr_cli.models.zoo`. Nothing is imported here, so the spec can
be read without torch.
"""

"""The learned inpainter: gated convolutions over parameter-free membrane and directional fills.

spec.py       architecture name, widths, dilations, fill directions; `InpainterSpec`
network.py    the network (registered as `gated-inpainter`)
fills.py      the parameter-free fills it starts from (membrane, directional, their blend)
repaint.py    running it on whole images: windows around clusters of holes
predictor.py  `LearnedInpainter`: repaints stored frames of any dtype
training.py   the training task, `train_inpainter`, `evaluate_inpainter`, `stage_trainer`
data.py       training crops and evaluation images with their holes

Weights are loaded through `medocr_cli.models.zoo`. Nothing is imported here, so the spec can
be read without torch.
"""

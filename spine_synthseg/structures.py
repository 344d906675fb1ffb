"""The four segmentation classes shared by every dataset, model and metric."""

STRUCTURES = ("background", "vertebra", "intervertebral_disc", "spinal_canal")
BACKGROUND, VERTEBRA, DISC, CANAL = range(4)
NUM_CLASSES = len(STRUCTURES)
FOREGROUND = STRUCTURES[1:]
SHORT_NAMES = {"vertebra": "vertebra", "intervertebral_disc": "disc", "spinal_canal": "canal"}


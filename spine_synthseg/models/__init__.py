"""Models: the 2D U-Net, the Dice + CE loss, LR schedules, the LightningModule and inference."""

"""Models: the 2D U-Net and the LightningModule shared by Model A (synthetic) and Model B (real)."""

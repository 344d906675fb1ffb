"""Data: readers (PNG folders, SPIDER .mha), sagittal orientation, preprocessing, cache, catalogue + splits, datasets."""

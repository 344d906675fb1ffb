"""Data: readers (PNG folders, SPIDER .mha), preprocessing, caching, splits, datasets, DataModules."""

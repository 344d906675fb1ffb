"""Training: Lightning DataModules (real images, or label maps synthesised on the fly), callbacks, the train entry."""

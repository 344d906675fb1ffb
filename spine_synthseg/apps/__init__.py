"""Applications on top of the library: prediction on volumes / PNG folders, the generator gallery, train + evaluate."""

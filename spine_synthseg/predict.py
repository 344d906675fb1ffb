"""``python -m spine_synthseg.predict CHECKPOINT INPUT OUTPUT``: the command line of ``apps/predict.py``."""

import sys

from spine_synthseg.apps.predict import main

if __name__ == "__main__":
    sys.exit(main())

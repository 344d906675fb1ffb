"""Ship an experiment's seed-0 checkpoints as models/*.ckpt with their cards: the command line of
spine_synthseg/apps/ship_models.py (its docstring gives the usage).

  python scripts/ship_models.py RUNS RESULTS models --mode MODE --qc-threshold QC.json --entry N
"""

from spine_synthseg.apps.ship_models import main

if __name__ == "__main__":
    main()
